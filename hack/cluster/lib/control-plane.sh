# The control plane: etcd on loopback, then the API server on the node's address (Node and
# RBAC authorization; the default admission plugins, PodSecurity among them, plus
# NodeRestriction), the controller-manager and the scheduler, each with its own client
# certificate, as kubeadm runs them.

control_plane_up() {
  mkdir -p "$STATE/etcd" && chmod 700 "$STATE/etcd"
  start etcd "$ETCD_BIN/etcd" --name "$NODE_NAME" --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:2380" --log-level warn
  wait_for etcd 30 curl -fsS http://127.0.0.1:2379/health

  # Webhooks are called directly, never through a proxy of this machine's environment.
  start kube-apiserver env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy \
    "$K8S_BIN/kube-apiserver" \
    --advertise-address "$NODE_IP" --bind-address "$NODE_IP" --secure-port "$API_PORT" \
    --etcd-servers http://127.0.0.1:2379 \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --audit-policy-file "$CONF/config/audit-policy.yaml" --audit-log-path "$LOGS/audit.log" \
    --audit-log-maxsize 50 --audit-log-maxbackup 1 \
    --allow-privileged=true --profiling=false --v=1
  wait_for kube-apiserver 90 curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" \
    --key "$PKI/admin.key" "https://$NODE_IP:$API_PORT/readyz"

  local kc=$PKI/controller-manager.kubeconfig
  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --client-ca-file "$PKI/ca.crt" --requestheader-client-ca-file "$PKI/ca.crt" \
    --service-cluster-ip-range "$SERVICE_CIDR" --cluster-cidr "$CLUSTER_CIDR" \
    --controllers '*,bootstrapsigner,tokencleaner' --profiling=false --v=1
  kc=$PKI/scheduler.kubeconfig
  start kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false --v=1
  wait_for kube-controller-manager 60 curl -fsSk https://127.0.0.1:10257/healthz
  wait_for kube-scheduler 60 curl -fsSk https://127.0.0.1:10259/healthz
}
