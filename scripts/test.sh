#!/usr/bin/env bash
# Runs every test suite of the project on a Debian machine as root, installing what the
# suites need first. Ends with one line: "N passed, M failed" over every suite it ran.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh

# chromium: the dashboard's functional test drives it headless.
ensure_prerequisites chromium || exit 1

results_dir=.test-results
rm -rf "$results_dir" && mkdir -p "$results_dir"
total_passed=0
total_failed=0

record() { # suite passed failed
  echo "== $1: $2 passed, $3 failed"
  total_passed=$((total_passed + $2))
  total_failed=$((total_failed + $3))
}

echo "== build"
if npm run --silent build; then record build 1 0; else record build 0 1; fi

echo "== static checks (biome, tsc)"
if npx biome check --error-on-warnings .; then record lint 1 0; else record lint 0 1; fi
if npx tsc -p tsconfig.json --noEmit; then record typecheck 1 0; else record typecheck 0 1; fi

echo "== unit and integration tests"
npx vitest run --reporter=default --reporter=json --outputFile="$results_dir/unit.json"
read -r passed failed < <(node scripts/vitest-counts.mjs "$results_dir/unit.json")
record "unit and integration" "$passed" "$failed"

echo "== conformance vectors"
npm run --silent conformance | tee "$results_dir/conformance.txt"
if read -r passed failed < <(tail -n 1 "$results_dir/conformance.txt" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p'); then
  record conformance "$passed" "$failed"
else
  record conformance 0 1
fi

if [ -f vitest.functional.config.ts ]; then
  echo "== functional tests (real systemd machines)"
  npx vitest run -c vitest.functional.config.ts --reporter=verbose --reporter=json \
    --outputFile="$results_dir/functional.json"
  read -r passed failed < <(node scripts/vitest-counts.mjs "$results_dir/functional.json")
  record functional "$passed" "$failed"
fi

echo "== chaos soak (about 2 minutes, real systemd machines; each invariant check counts once)"
npm run --silent soak -- --minutes 2 | tee "$results_dir/soak.txt"
soak_status=${PIPESTATUS[0]}
if read -r checked violated < <(sed -nE 's/^invariants: ([0-9]+) checked, ([0-9]+) violated$/\1 \2/p' "$results_dir/soak.txt"); then
  # A soak that stopped early (its exit status says so) fails once more than it counted.
  if [ "$soak_status" -ne 0 ] && [ "$violated" -eq 0 ]; then
    record soak "$checked" 1
  else
    record soak $((checked - violated)) "$violated"
  fi
else
  record soak 0 1
fi

echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
