#!/usr/bin/env bash
# The demo: a CoreDNS replica's node dies, and a pod's lookups are timed with today's
# resolv.conf, with per-replica nameservers, and with the dns-sidecar, side by side.
# Everything runs in network namespaces on this machine (root needed); it cleans up after
# itself, also when interrupted. About a minute after the first build.
#   hack/demo.sh [--svg chart.svg]   a replica's node dies
#   hack/demo.sh rollout             CoreDNS rolled (every replica replaced at a new address)
#   hack/demo.sh cluster             a replica's node dies on the real one-node cluster of
#                                    hack/cluster.sh (brought up if it is not, and taken
#                                    down again at the end if the demo brought it up)
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

if [ "${1:-}" = cluster ]; then
  cargo build --quiet -p dns-sidecar-tests --bin demo
  started=""
  if ! { $sudo bash hack/cluster.sh status 2>/dev/null || true; } | grep -q '^kube-apiserver: running'; then
    $sudo bash hack/cluster.sh up >/dev/null || { echo "demo.sh: hack/cluster.sh up failed" >&2; exit 1; }
    started=1
  fi
  trap '[ -z "$started" ] || $sudo bash hack/cluster.sh down >/dev/null 2>&1' EXIT INT TERM
  $sudo target/debug/demo cluster
  exit
fi

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
