# Shared by hack/cluster.sh's parts: the versions, the addresses, where things live, and
# the helpers to start and stop a process by its PID file. Sourced, never run.

# One Kubernetes release for every component (hack/cluster/go/kubernetes/go.mod pins it).
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
COREDNS_VERSION=v1.15.0
CRICTL_VERSION=v1.37.0
# The chart's tests install with the real helm.
HELM_VERSION=v4.3.2
# NodeLocal DNSCache: k8s.io/dns has no semver tags; the module proxy serves this commit.
NODE_CACHE_VERSION=v0.0.0-20230331134350-76795c66ba55

# Addresses that exist only on this machine. The node's own address sits on a bridge with no
# ports (dsc0), so nothing outside can reach the API server or a host-network pod.
NODE_NAME=node1
NODE_IP=10.250.0.1
NODE_BRIDGE=dsc0
POD_CIDR=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
POD_BRIDGE=dsc-cni0
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
API_PORT=6443
# The upstream CoreDNS forwards to (the kubelet's resolv.conf names it): "the internet".
UPSTREAM_IP=$NODE_IP

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
CONF=$REPO/hack/cluster
# Built binaries, outside the clone so a warm machine skips the build; keyed by version.
CACHE=${DNS_SIDECAR_CLUSTER_CACHE:-/var/cache/dns-sidecar-cluster}
# Everything `up` makes, and `down` removes.
STATE=${DNS_SIDECAR_CLUSTER_STATE:-/var/lib/dns-sidecar-cluster}
RUN=/run/dns-sidecar-cluster
PKI=$STATE/pki
LOGS=$STATE/logs
KUBECONFIG_OUT=$REPO/target/cluster/kubeconfig
CONTAINERD_SOCK=$RUN/containerd/containerd.sock

bin_dir() { # component version
  echo "$CACHE/$1-$2/bin"
}
K8S_BIN=$(bin_dir kubernetes "$K8S_VERSION")
ETCD_BIN=$(bin_dir etcd "$ETCD_VERSION")
COREDNS_BIN=$(bin_dir coredns "$COREDNS_VERSION")
CRICTL_BIN=$(bin_dir crictl "$CRICTL_VERSION")
NODE_CACHE_BIN=$(bin_dir node-cache "$NODE_CACHE_VERSION")
HELM_BIN=$(bin_dir helm "$HELM_VERSION")

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'cluster.sh: %s\n' "$*" >&2; exit 1; }

# The interface the default route leaves by: where nothing of the cluster may go.
outward_if() {
  ip -4 route show default | awk '!found {for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); found = 1; break }}'
}

kubectl_() {
  "$K8S_BIN/kubectl" --kubeconfig "$PKI/admin.kubeconfig" "$@"
}
crictl_() {
  "$CRICTL_BIN/crictl" --runtime-endpoint "unix://$CONTAINERD_SOCK" "$@"
}
ctr_() {
  ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"
}

# start NAME CMD...: runs CMD in the background with its log and PID file under $STATE.
start() {
  local name=$1; shift
  mkdir -p "$LOGS"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

running() { # NAME
  [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null
}

# stop NAME: TERM by its PID file (only if that PID still runs our binary), then KILL.
stop() {
  local name=$1 pid exe
  [ -f "$STATE/$name.pid" ] || return 0
  pid=$(cat "$STATE/$name.pid")
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  if [ -n "$exe" ] && [[ $exe == "$CACHE"/* || $exe == */containerd* || $exe == */$name* ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$STATE/$name.pid"
}

# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds, naming WHAT when it does not.
wait_for() {
  local what=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "$what: not ready after ${secs}s (logs: $LOGS)"
}
