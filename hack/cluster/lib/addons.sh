# CoreDNS as kubeadm installs it (hack/cluster/coredns/), and the check that it answers
# through the kube-dns Service: a cluster name and an outside one.

coredns_up() {
  local f
  for f in rbac configmap service deployment; do
    render "$CONF/coredns/$f.yaml" | kubectl_ apply -f - >/dev/null || die "applying CoreDNS's $f failed"
  done
  kubectl_ -n kube-system rollout status deployment/coredns --timeout=180s >&2 ||
    die "CoreDNS did not become ready (kubectl -n kube-system describe pods -l k8s-app=kube-dns)"
  wait_for "CoreDNS answering at $DNS_SERVICE_IP" 60 dns_answers kubernetes.default.svc.$CLUSTER_DOMAIN
  wait_for "CoreDNS forwarding to the node's upstream" 30 dns_answers www.example.com
}

dns_answers() { # NAME: an A record for NAME from the kube-dns Service
  { dig +time=1 +tries=1 +short "@$DNS_SERVICE_IP" "$1" A || true; } | grep -q '^[0-9]'
}
