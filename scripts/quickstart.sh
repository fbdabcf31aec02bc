#!/usr/bin/env bash
# The README's first command: sets up a Debian machine (as root), builds, brings up a local
# fleet cluster of three real systemd machines (npm run cluster -- up) and starts
# examples/hello.service on it through fleetctl. Run it again at any time: a cluster left by an
# earlier run is torn down first. See docs/cluster.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh

ensure_prerequisites
# fleet.socket gives its socket to group fleet (SocketGroup=), and systemd fails a socket
# whose group does not exist. Members of the group may use fleetctl without sudo.
if ! getent group fleet >/dev/null; then
  echo "== creating the system group fleet"
  groupadd --system fleet
fi
echo "== building"
npm run --silent build

cluster() { npm run --silent cluster -- "$@"; }
fleetctl() { cluster fleetctl -- "$@"; }

echo "== removing any cluster of an earlier run"
cluster down
echo "== starting a three-machine cluster"
cluster up --machines 3

echo "== fleetctl start examples/hello.service"
# fleetctl waits until the unit is launched and systemd reports it active; its 2 s window for
# systemd can be too short on a busy machine, so the loop below has the last word.
fleetctl start examples/hello.service || true
active=""
for _ in $(seq 1 60); do
  if fleetctl list-units --no-legend --fields unit,active | grep -Eq '^hello\.service[[:space:]]+active$'; then
    active=yes
    break
  fi
  sleep 1
done

echo "== fleetctl list-units"
fleetctl list-units
echo
if [ -z "$active" ]; then
  echo "hello.service did not become active; see: npm run cluster -- exec m1 -- journalctl -u fleet" >&2
  echo "Tear the cluster down with: npm run cluster -- down" >&2
  exit 1
fi
cat <<'EOF'
hello.service runs on one of the three machines. Try:
  npm run cluster -- ls                                  # the machines
  npm run cluster -- fleetctl -- list-machines           # fleetctl against the cluster
  npm run cluster -- fleetctl -- list-unit-files         # what the cluster stores
  npm run cluster -- exec m1 -- journalctl -u fleet      # a command inside a machine
Tear the cluster down with: npm run cluster -- down
EOF
