#!/bin/sh
# Removes what functional-test harnesses left on this host: processes in their cgroups and
# network namespaces, the fleetfn-* network namespaces, cgroup directories and state directories.
#
#   clean.sh          only harnesses whose owner process is gone (safe while others run)
#   clean.sh --all    every harness, running or not
#
# Prints one line per thing removed; exits 1 if something could not be removed.
set -u

base=${FLEETFN_STATE_BASE:-${TMPDIR:-/tmp}}
all=0
[ "${1:-}" = --all ] && all=1
status=0

ids() {
  {
    ls /run/netns 2>/dev/null
    ls /sys/fs/cgroup/systemd 2>/dev/null
    ls /sys/fs/cgroup/unified 2>/dev/null
    ls "$base" 2>/dev/null
  } | sed -n 's/^fleetfn-\([0-9a-f]\{6\}\)$/\1/p' | sort -u
}

# An owner is alive when its PID still runs with the start time recorded at creation.
owner_alive() {
  f=$base/fleetfn-$1/owner
  [ -r "$f" ] || return 1
  read -r pid start <"$f" || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  now=$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f20)
  [ "$now" = "$start" ]
}

pids_of() {
  id=$1
  for h in systemd unified; do
    d=/sys/fs/cgroup/$h/fleetfn-$id
    [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  [ -e "/run/netns/fleetfn-$id" ] && ip netns pids "fleetfn-$id" 2>/dev/null
}

for id in $(ids); do
  if [ "$all" = 0 ] && owner_alive "$id"; then
    continue
  fi
  echo "cleaning harness fleetfn-$id"
  tries=0
  while :; do
    pids=$(pids_of "$id" | sort -u)
    [ -n "$pids" ] || break
    tries=$((tries + 1))
    [ "$tries" -gt 200 ] && { echo "  processes remain: $pids" >&2; status=1; break; }
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null
    sleep 0.05
  done
  if [ -e "/run/netns/fleetfn-$id" ]; then
    ip netns delete "fleetfn-$id" && echo "  removed netns fleetfn-$id"
  fi
  for h in systemd unified; do
    d=/sys/fs/cgroup/$h/fleetfn-$id
    [ -d "$d" ] || continue
    tries=0
    while [ -d "$d" ] && [ "$tries" -lt 100 ]; do
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
      tries=$((tries + 1))
      [ -d "$d" ] && sleep 0.05
    done
    if [ -d "$d" ]; then echo "  cannot remove $d" >&2; status=1; else echo "  removed $d"; fi
  done
  s=$base/fleetfn-$id
  if [ -d "$s" ]; then
    if awk -v p="$s" '$5 == p || index($5, p "/") == 1 { found = 1 } END { exit !found }' \
      /proc/self/mountinfo; then
      echo "  $s has mounts beneath it; not removing" >&2
      status=1
    else
      rm -rf --one-file-system "$s" && echo "  removed $s"
    fi
  fi
done
exit $status
