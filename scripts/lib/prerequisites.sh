# Installs what building and testing need on a Debian machine, as root. Sourced by the
# README's two commands so each works on a fresh machine.

DEBIAN_PACKAGES=(etcd-server etcd-client openssl iproute2 util-linux procps systemd dbus curl openssh-server sudo)
MINIMUM_NODE_MAJOR=20

# Arguments: more Debian packages this command needs (the tests: chromium, for the dashboard).
ensure_prerequisites() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "Run this as root: it installs Debian packages and boots test machines." >&2
    return 1
  fi
  if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt "$MINIMUM_NODE_MAJOR" ]; then
    echo "Node.js ${MINIMUM_NODE_MAJOR}.19 or newer is needed (found: $(node --version 2>/dev/null || echo none))." >&2
    return 1
  fi
  local missing=()
  for package in "${DEBIAN_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" || return 1
  fi
  # Where systemd runs the host, the etcd package starts a server on the default ports;
  # the tests start their own, so the packaged one is not wanted.
  if [ -d /run/systemd/system ]; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
  echo "== installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error || return 1
}
