# The node: containerd with runc and the CNI bridge, the kubelet, kube-proxy, and the
# upstream DNS server CoreDNS forwards to. Configuration files live in hack/cluster/config/
# and are rendered here with the addresses and paths of lib/common.sh.

# render FILE: the file with ${VARS} replaced (only those this script defines).
render() {
  local vars
  vars=$(grep -o '\${[A-Z_0-9]*}' "$1" | sort -u | tr -d '\n')
  (export STATE RUN PKI CONF CONTAINERD_SOCK K8S_VERSION NODE_IP NODE_NAME POD_BRIDGE POD_CIDR \
    CLUSTER_CIDR DNS_SERVICE_IP CLUSTER_DOMAIN UPSTREAM_IP COREDNS_IMAGE NODE_CACHE_IMAGE
  envsubst "$vars" <"$1")
}

containerd_up() {
  command -v containerd >/dev/null || die "containerd not found (apt-get install containerd runc)"
  command -v runc >/dev/null || die "runc not found (apt-get install runc)"
  [ -x /usr/lib/cni/bridge ] || die "CNI plugins not found in /usr/lib/cni (apt-get install containernetworking-plugins)"
  mkdir -p "$STATE/cni/net.d" "$RUN/containerd"
  render "$CONF/config/containerd.toml" >"$STATE/containerd.toml"
  render "$CONF/config/cni.conflist" >"$STATE/cni/net.d/10-dns-sidecar.conflist"
  start containerd containerd --config "$STATE/containerd.toml"
  wait_for containerd 30 ctr_ version
}

kubelet_up() {
  render "$CONF/config/kubelet.yaml" >"$STATE/kubelet.yaml"
  mkdir -p "$STATE/kubelet"
  start kubelet "$K8S_BIN/kubelet" --config "$STATE/kubelet.yaml" \
    --kubeconfig "$PKI/kubelet.kubeconfig" --hostname-override "$NODE_NAME" \
    --node-ip "$NODE_IP" --root-dir "$STATE/kubelet" --v=1
  wait_for "node $NODE_NAME Ready" 120 \
    kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
}

kube_proxy_up() {
  render "$CONF/config/kube-proxy.yaml" >"$STATE/kube-proxy.yaml"
  start kube-proxy "$K8S_BIN/kube-proxy" --config "$STATE/kube-proxy.yaml" --v=1
  wait_for kube-proxy 60 curl -fsS http://127.0.0.1:10256/healthz
}

upstream_up() {
  render "$CONF/config/upstream.Corefile" >"$STATE/upstream.Corefile"
  start upstream "$COREDNS_BIN/coredns" -conf "$STATE/upstream.Corefile"
  wait_for "the node's upstream DNS" 30 dig +time=1 +tries=1 "@$UPSTREAM_IP" www.example.com A
}
