#!/usr/bin/env bash
# The README's first command: sets up a Debian machine (as root) and runs the main job.
# Until the local cluster lands, the main job parses the example units and prints the
# canonical hashes and scheduling requirements that fleet would store for them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh

ensure_prerequisites
npm run --silent build
node scripts/describe-units.mjs examples/*.service
