#!/usr/bin/env bash
# The cluster benchmarks. Two harnesses:
#
#   hack/bench-cluster.sh --cost               what a sidecar and NodeLocal DNSCache cost, as
#                                              the kubelet reports it (on the real cluster)
#   hack/bench-cluster.sh --overload [--cpu-millis 100] [--seconds 20] [--factor 2] [--pods 1]
#                                              a CPU-limited CoreDNS offered twice what it
#                                              answers by one busy pod (or --pods sharing
#                                              it), straight and through their sidecars
#                                              (on the real cluster)
#   hack/bench-cluster.sh [matrix options]     the fault matrix on the real one-node cluster
#                                              of hack/cluster.sh (brought up if it is not,
#                                              and down again at the end if this brought it)
#     --setups vip,per-replica,nodelocal,sidecar,sidecar+nodelocal,sidecar+tier
#     --scenarios steady,replica-dies,rollout,node-cache-killed,loss-5,cold,dead-at-start,overload-2x
#     --seconds 30 --interval-ms 100 --clients glibc,musl,go --pods 1 --cluster-ttl 30
#   Real CoreDNS (kubeadm's, 2 replicas), real NodeLocal DNSCache (its addon), real
#   kube-proxy; one setup at a time, CoreDNS's own request counter read across its pods.
#   Prints one markdown table per scenario (tests/src/bin/bench_matrix.rs). About 32 minutes
#   with every setup and scenario.
#
#   hack/bench-cluster.sh --netns [options]    the fleet in network namespaces, for the faults
#                                              a real CoreDNS cannot be made to give exactly:
#                                              replicas behind relays that drop past a set
#                                              capacity or answer from a queue
#     [--nodes 2] [--pods 10] [--replicas 2] [--seconds 20] [--capacity 200] [--cluster-ttl 5]
#     [--setups direct,node-local,sidecar,two-tier,two-tier-node-local]
#     [--scenarios steady,under,overload,queue,dead,cold,node-kill,node-roll,shared]
#   (tests/src/bin/bench_cluster.rs; NSD as CoreDNS, unbound as the node cache.)
#
# Traffic stays on this machine; every process started is ended by PID; namespaces and the
# cluster's test namespaces are removed, also when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
source hack/lib.sh

if [ "${1:-}" != --netns ]; then
  ensure_packages bind9-dnsutils nftables
  echo "== building" >&2
  cargo build --quiet --release -p dns-sidecar-tests --bin bench_matrix
  started=""
  if ! { $sudo bash hack/cluster.sh status 2>/dev/null || true; } | grep -q '^kube-apiserver: running'; then
    $sudo bash hack/cluster.sh up >/dev/null || { echo "bench-cluster.sh: hack/cluster.sh up failed" >&2; exit 1; }
    started=1
  fi
  trap '[ -z "$started" ] || $sudo bash hack/cluster.sh down >/dev/null 2>&1' EXIT INT TERM
  $sudo target/release/bench_matrix "$@"
  exit
fi
shift

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
