#!/usr/bin/env bash
# The demo: a CoreDNS replica's node dies, and a pod's lookups are timed with today's
# resolv.conf, with per-replica nameservers, and with the dns-sidecar, side by side.
# Everything runs in network namespaces on this machine (root needed); it cleans up after
# itself, also when interrupted. About a minute after the first build.
#   hack/demo.sh [--svg chart.svg]   a replica's node dies
#   hack/demo.sh rollout             CoreDNS rolled (every replica replaced at a new address)
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

source hack/lib.sh
ensure_packages nsd bind9-dnsutils iproute2 nftables curl
echo "== building"
cargo build --quiet --release -p dns-sidecar-proxy
cargo build --quiet -p dns-sidecar-tests --bin demo
export DNS_SIDECAR_PROXY_BIN=$PWD/target/release/dns-sidecar-proxy

pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  # The demo names its namespaces dsc<its pid>x<n>-...; remove any it could not.
  if [ -n "$pid" ]; then
    for ns in $($sudo ip netns list | awk '{print $1}' | grep "^dsc${pid}x" || true); do
      $sudo ip netns del "$ns" 2>/dev/null || true
      $sudo rm -rf "/etc/netns/$ns"
    done
  fi
}
trap cleanup EXIT INT TERM
$sudo env DNS_SIDECAR_PROXY_BIN="$DNS_SIDECAR_PROXY_BIN" target/debug/demo "$@" & pid=$!
wait "$pid"
