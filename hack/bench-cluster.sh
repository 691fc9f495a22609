#!/usr/bin/env bash
# The cluster-scale benchmark: nodes and pods in network namespaces (root needed), CoreDNS
# replicas (NSD behind relays that drop what exceeds a capacity, answer late from a queue,
# or die), and side by side in one run the ways a pod can resolve: asking the VIP (today's
# pods, no cache), one unbound per node on 169.254.20.10 forwarding to the VIP (as NodeLocal
# DNSCache), a dns-sidecar in every pod, and the two tiers (a sidecar in every pod with our
# node tier, or with the NodeLocal-like cache, as its first tier). Scenarios: steady state, below
# capacity, a 2x overload (dropped, and from a queue), a dead replica, every pod's cache
# cold at once, a node's cache killed and rolled; `shared` (not in the default list) is one
# node's pods asking the same names, for what a node cache saves. Prints one markdown
# table per scenario (tests/src/bin/bench_cluster.rs).
# Usage: hack/bench-cluster.sh [--nodes 2] [--pods 10] [--replicas 2] [--seconds 20]
#          [--capacity 200 (answers a second per replica)] [--cluster-ttl 5]
#          [--setups direct,node-local,sidecar,two-tier,two-tier-node-local]
#          [--scenarios steady,under,overload,queue,dead,cold,node-kill,node-roll,shared]
# Traffic stays inside the namespaces it makes; every process it starts is ended by PID, and
# its namespaces are removed, also when interrupted. About 20 minutes with every setup.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

source hack/lib.sh
ensure_packages nsd unbound bind9-dnsutils iproute2 nftables curl
echo "== building" >&2
cargo build --quiet --release -p dns-sidecar-proxy
cargo build --quiet --release -p dns-sidecar-tests --bin bench_cluster
export DNS_SIDECAR_PROXY_BIN=$PWD/target/release/dns-sidecar-proxy

args=("$@")
if [ "${#args[@]}" -eq 0 ]; then
  args=(--setups direct,node-local,sidecar,two-tier,two-tier-node-local)
fi
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  # The bench names its namespaces dsf<its pid>x<n>-...; remove any it could not.
  if [ -n "$pid" ]; then
    for ns in $($sudo ip netns list | awk '{print $1}' | grep "^dsf${pid}x" || true); do
      $sudo ip netns del "$ns" 2>/dev/null || true
    done
  fi
}
trap cleanup EXIT INT TERM
$sudo env DNS_SIDECAR_PROXY_BIN="$DNS_SIDECAR_PROXY_BIN" target/release/bench_cluster "${args[@]}" & pid=$!
wait "$pid"
