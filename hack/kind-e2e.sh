#!/usr/bin/env bash
# End to end on a kind cluster, for users with Docker, kind and kubectl (not run in CI: no
# Docker engine there). Three nodes; kind's stock CoreDNS, untouched; the webhook with
# certificates from hack/gen-certs.sh; a pod in an opted-in namespace; then a CoreDNS
# rolling restart, and one CoreDNS replica's node frozen (docker pause), with the pod's
# lookups timed through each.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${CLUSTER:-dns-sidecar}

cat > target/kind.yaml <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes: [{role: control-plane}, {role: worker}, {role: worker}]
KIND
kind create cluster --name "$name" --config target/kind.yaml
for b in proxy webhook; do
  docker build -f $b/Dockerfile -t dns-sidecar-$b:0.1.0 .
  kind load docker-image --name "$name" dns-sidecar-$b:0.1.0
done

kubectl apply -k manifests/base
hack/gen-certs.sh --out target/certs --apply
kubectl -n dns-sidecar-system rollout status deployment/dns-sidecar-webhook --timeout=180s

kubectl create namespace demo
kubectl label namespace demo dns-sidecar.io/inject=enabled
kubectl -n demo run probe --image=debian:bookworm-slim --restart=Never -- sleep 3600
kubectl -n demo wait --for=condition=Ready pod/probe --timeout=180s
echo "== resolv.conf in the pod"
kubectl -n demo exec probe -c probe -- cat /etc/resolv.conf
echo "== injected: $(kubectl -n demo get pod probe -o jsonpath='{.metadata.annotations.dns-sidecar\.io/status}')"
kubectl -n demo exec probe -c probe -- getent hosts kubernetes.default

lookups() {
  for i in $(seq 1 "$1"); do
    start=$(date +%s%N)
    kubectl -n demo exec probe -c probe -- getent hosts "kubernetes.default" >/dev/null && ok=ok || ok=FAILED
    echo "lookup $i: $ok in $(( ($(date +%s%N) - start) / 1000000 )) ms (kubectl exec overhead included)"
  done
}

echo "== CoreDNS rolling restart: every replica replaced at a new pod IP"
kubectl -n kube-system rollout restart deployment/coredns
lookups 20
kubectl -n kube-system rollout status deployment/coredns --timeout=180s
echo "== the sidecar's upstreams now (pod IPs of the new replicas):"
kubectl -n demo exec probe -c probe -- sh -c 'command -v wget >/dev/null && wget -qO- http://127.0.0.1:9953/metrics | grep dns_sidecar_upstream_up || echo "(no wget in the image)"'

# Freeze a worker that runs a CoreDNS replica but not the probe (and not the control plane).
probe_node=$(kubectl -n demo get pod probe -o jsonpath='{.spec.nodeName}')
node=""
for p in $(kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[*].metadata.name}'); do
  n=$(kubectl -n kube-system get pod "$p" -o jsonpath='{.spec.nodeName}')
  if [ "$n" != "$probe_node" ] && [ "$n" != "$name-control-plane" ]; then node=$n; break; fi
done
[ -n "$node" ] || { echo "no CoreDNS replica on a worker without the probe; run again" >&2; exit 1; }
echo "== freezing $node (runs a CoreDNS replica): its packets vanish, as when a node dies"
docker pause "$node"
trap 'docker unpause "$node" >/dev/null 2>&1 || true' EXIT
lookups 10
echo "Delete the cluster with: kind delete cluster --name $name"
