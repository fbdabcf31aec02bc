#!/usr/bin/env bash
# Builds the Debian package of fleetd and fleetctl with dpkg-deb: the npm package's content
# (npm pack, whose prepack builds dist/) under /usr/lib/fleet with its production
# node_modules, commands in /usr/bin, the units in the system unit directory, and a
# fleet.conf with every option commented out. See docs/deployment.md.
#
#   bash packaging/deb/build.sh [--no-build] [--version V] [--out DIR]
#
# --no-build packs the dist/ already built (npm pack --ignore-scripts); --version overrides
# the Debian version (default: package.json's); --out is where the .deb goes (default
# packaging/out). Prints the .deb's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=packaging/deb

build=1
version=
out=packaging/out
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --version) version=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$version" ] || version=$(node -p 'require("./package.json").version')

staging=$(mktemp -d "${TMPDIR:-/tmp}/fleet-deb.XXXXXX")
trap 'rm -rf "$staging"' EXIT
root=$staging/root
lib=$root/usr/lib/fleet

echo "== npm pack" >&2
pack_flags=(--silent --pack-destination "$staging")
[ "$build" -eq 1 ] || pack_flags+=(--ignore-scripts)
tarball=$staging/$(npm pack "${pack_flags[@]}" | tail -n 1)
mkdir -p "$lib"
tar -xzf "$tarball" -C "$lib" --strip-components=1 --no-same-owner

echo "== production node_modules" >&2
# The repository's lock file pins what the package runs with; npm ci's cache serves it.
cp package-lock.json "$lib/"
(cd "$lib" && npm ci --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error >&2)
rm "$lib/package-lock.json"

mkdir -p "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/etc/fleet" "$root/DEBIAN"
ln -s ../lib/fleet/bin/fleetd "$root/usr/bin/fleetd"
ln -s ../lib/fleet/bin/fleetctl "$root/usr/bin/fleetctl"
sed 's|^ExecStart=/usr/local/bin/fleetd$|ExecStart=/usr/bin/fleetd|' units/fleet.service \
  >"$root/usr/lib/systemd/system/fleet.service"
grep -qx 'ExecStart=/usr/bin/fleetd' "$root/usr/lib/systemd/system/fleet.service"
cp units/fleet.socket "$root/usr/lib/systemd/system/fleet.socket"
node "$here/fleet-conf.mjs" "$lib" >"$root/etc/fleet/fleet.conf"
chmod 0640 "$root/etc/fleet/fleet.conf"

installed_kib=$(du -sk --apparent-size "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$(dpkg --print-architecture)|" \
  -e "s|@INSTALLED_SIZE@|$installed_kib|" "$here/control" >"$root/DEBIAN/control"
echo /etc/fleet/fleet.conf >"$root/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"

mkdir -p "$out"
deb=$out/fleet_${version}_$(dpkg --print-architecture).deb
echo "== dpkg-deb --build $deb" >&2
dpkg-deb --root-owner-group -Zgzip -z1 --build "$root" "$deb" >&2
echo "$deb"
