# Shared by the hack/ scripts: source it, then `ensure_packages pkg...`.

# Installs the Debian packages that are missing, keeping their services from starting
# (the scripts and tests start their own servers). Uses sudo when not root.
ensure_packages() {
  local missing=() p placed=""
  for p in "$@"; do
    { dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true; } | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "== installing ${missing[*]}" >&2
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    placed=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$placed" ] || $sudo rm -f /usr/sbin/policy-rc.d
}
