#!/bin/sh
# Boots a real systemd as PID 1 of its own namespaces over a copy-on-write view of the host.
# See docs/harness.md. Spawned by harness/machine.ts; run
# as root. Configuration comes from the environment:
#
#   FLEETFN_NAME        machine name (hostname, container=)
#   FLEETFN_MACHINE_ID  32 lowercase hex digits, written to /etc/machine-id
#   FLEETFN_STATE       host directory of this machine (mount point of the tmpfs holding the
#                       overlay's upper, work and merged directories; the `go` file appears here)
#   FLEETFN_CG_SYSTEMD  host cgroup directory in the name=systemd hierarchy (already created)
#   FLEETFN_CG_UNIFIED  host cgroup directory in the unified (cgroup2) hierarchy (already created)
#   FLEETFN_BINDS       colon-separated host paths bound into the machine at the same path
#   FLEETFN_TARGET      name of the boot target written into the overlay
#   FLEETFN_GO_TIMEOUT  seconds to wait for the `go` file (network configured by the harness)
#
# Phase `outer` (host namespaces): join the machine's cgroups, then re-exec this script as
# PID 1 of fresh pid/mount/uts/ipc/cgroup/net namespaces (phase `inner`).
# Phase `inner`: build the machine's root and exec systemd in it.
set -eu

phase=${1:-outer}

if [ "$phase" = outer ]; then
  echo $$ >"$FLEETFN_CG_SYSTEMD/cgroup.procs"
  echo $$ >"$FLEETFN_CG_UNIFIED/cgroup.procs"
  exec unshare --pid --fork --mount --uts --ipc --cgroup --net --propagation private \
    -- /bin/sh "$0" inner
fi

[ "$phase" = inner ] || { echo "boot-machine.sh: unknown phase $phase" >&2; exit 2; }

name=$FLEETFN_NAME
state=$FLEETFN_STATE
root=$state/root
m=$root/merged

# Nothing we mount below may leak back to the host.
mount --make-rprivate /

# The writable layer lives in a tmpfs of this mount namespace: it vanishes with the machine.
mount -t tmpfs -o mode=0755 "fleetfn-$name" "$root"
mkdir "$root/upper" "$root/work" "$m"
mount -t overlay -o "lowerdir=/,upperdir=$root/upper,workdir=$root/work" "fleetfn-$name" "$m"

# /dev: the host's devices (rbind), but a private /dev/shm.
mount --rbind /dev "$m/dev"
mount -t tmpfs -o mode=1777,nosuid,nodev "fleetfn-shm" "$m/dev/shm"
# Keep the machine off the host's console and kernel log.
[ ! -e "$m/dev/console" ] || mount --bind /dev/null "$m/dev/console"
[ ! -e "$m/dev/kmsg" ] || mount --bind /dev/null "$m/dev/kmsg"

# /sys: the host's sysfs bound non-recursively and read-only (so nothing in the machine
# re-triggers or reconfigures host devices), with a tmpfs on fs/cgroup holding a fresh
# name=systemd hierarchy and a fresh cgroup2: in this cgroup namespace both are rooted at the
# directories the outer phase joined, so the machine's units live in its own host subtree.
mount --bind /sys "$m/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$m/sys"
mount -t tmpfs -o mode=0755,nosuid,nodev,noexec "fleetfn-cgroup" "$m/sys/fs/cgroup"
mkdir "$m/sys/fs/cgroup/systemd" "$m/sys/fs/cgroup/unified"
mount -t cgroup -o none,name=systemd,nosuid,nodev,noexec cgroup "$m/sys/fs/cgroup/systemd"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$m/sys/fs/cgroup/unified"

# A proc of the new pid namespace. /proc/sys is read-only (kernel.* and fs.* sysctls are
# host-wide), except /proc/sys/net, which belongs to the machine's own network namespace.
mount -t proc -o nosuid,nodev,noexec proc "$m/proc"
mount --bind "$m/proc/sys" "$m/proc/sys"
mount -o remount,bind,ro "$m/proc/sys"
mount --bind "$m/proc/sys/net" "$m/proc/sys/net"
mount -o remount,bind,rw "$m/proc/sys/net"
[ ! -e "$m/proc/sysrq-trigger" ] || mount --bind /dev/null "$m/proc/sysrq-trigger"
# systemd mounts every v1 controller that /proc/cgroups lists. Those hierarchies are not
# namespaced here (the cgroup namespace roots them at the host's own cgroups), so machines would
# create and share host cgroups such as pids:/system.slice/probe.service. A /proc/cgroups that
# lists no controller keeps each machine to its name=systemd and cgroup2 trees.
printf '#subsys_name\thierarchy\tnum_cgroups\tenabled\n' >"$root/proc-cgroups"
mount --bind "$root/proc-cgroups" "$m/proc/cgroups"
mount -o remount,bind,ro "$m/proc/cgroups"

# Fresh /run and /tmp (the host's /tmp must never be seen, let alone cleaned, by the machine).
mount -t tmpfs -o mode=0755,nosuid,nodev "fleetfn-run" "$m/run"
mount -t tmpfs -o mode=1777,nosuid,nodev "fleetfn-tmp" "$m/tmp"

# Host paths shared with the machine at the same path (the project checkout).
old_ifs=$IFS
IFS=:
for p in ${FLEETFN_BINDS:-}; do
  [ -n "$p" ] || continue
  mkdir -p "$m$p"
  mount --bind "$p" "$m$p"
done
IFS=$old_ifs

# Identity.
printf '%s\n' "$FLEETFN_MACHINE_ID" >"$m/etc/machine-id"
if [ -e "$m/var/lib/dbus/machine-id" ] || [ -L "$m/var/lib/dbus/machine-id" ]; then
  rm -f "$m/var/lib/dbus/machine-id"
  ln -s /etc/machine-id "$m/var/lib/dbus/machine-id"
fi
printf '%s\n' "$name" >"$m/etc/hostname"
hostname "$name"
# fleet.socket's SocketGroup=: systemd fails a socket whose group does not exist.
grep -q '^fleet:' "$m/etc/group" || groupadd --root "$m" --system fleet

# The boot target and the units masked so that the machine neither fights the host nor idles.
sysdir=$m/etc/systemd/system
mkdir -p "$sysdir"
cat >"$sysdir/$FLEETFN_TARGET" <<EOF
[Unit]
Description=fleet functional-test machine $name
Requires=basic.target dbus.socket
Wants=dbus.service
After=basic.target dbus.socket dbus.service
AllowIsolate=yes
EOF
mkdir -p "$m/etc/systemd/journald.conf.d"
printf '[Journal]\nReadKMsg=no\n' >"$m/etc/systemd/journald.conf.d/fleetfn.conf"
for unit in \
  systemd-sysctl.service systemd-modules-load.service kmod-static-nodes.service \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
  systemd-tmpfiles-setup-dev.service systemd-random-seed.service systemd-pstore.service \
  systemd-timesyncd.service systemd-networkd.service systemd-networkd.socket \
  systemd-resolved.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-udev-settle.service systemd-hwdb-update.service systemd-firstboot.service \
  systemd-repart.service sys-kernel-debug.mount sys-kernel-tracing.mount \
  sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount \
  getty.target console-getty.service serial-getty@.service getty@.service \
  systemd-ask-password-console.path systemd-ask-password-wall.path \
  apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
  fstrim.timer man-db.timer; do
  rm -f "$sysdir/$unit"
  ln -s /dev/null "$sysdir/$unit"
done

# Wait until the harness has plugged the network in (veth, address, default route).
ready=0
deadline=$(($(date +%s) + ${FLEETFN_GO_TIMEOUT:-30}))
while [ "$(date +%s)" -le "$deadline" ]; do
  if [ -e "$state/go" ]; then
    ready=1
    break
  fi
  sleep 0.02
done
[ "$ready" = 1 ] || { echo "boot-machine.sh: no go from the harness" >&2; exit 1; }

exec env -i "container=$name" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  chroot "$m" /lib/systemd/systemd --system "--unit=$FLEETFN_TARGET" --show-status=false
