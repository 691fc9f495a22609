#!/usr/bin/env bash
# A one-node Kubernetes on this machine, built from the registries: the control plane,
# kubelet, kube-proxy, CoreDNS and NodeLocal DNSCache from the Go module proxy; containerd,
# runc and the CNI plugins from Debian. Needs root; nothing of it leaves the machine.
#
#   hack/cluster.sh build          build the binaries (cached by version outside the clone)
#   hack/cluster.sh up             build, then start it all; prints the KUBECONFIG line
#   hack/cluster.sh load ARCHIVE   import an image archive (podman save, docker or OCI)
#   hack/cluster.sh images         rebuild every image the cluster runs (ours too) and load them
#   hack/cluster.sh status         what runs, and what the guard dropped
#   hack/cluster.sh down           stop it all and remove everything `up` made
#
# Versions, addresses and paths: hack/cluster/lib/common.sh. Each component's configuration
# is a file under hack/cluster/config/ (CoreDNS's manifests under hack/cluster/coredns/).
set -euo pipefail
lib=$(cd "$(dirname "$0")/cluster/lib" && pwd)
for f in common build pki net images control-plane node addons down; do
  # shellcheck source=/dev/null
  source "$lib/$f.sh"
done

need_root() {
  [ "$(id -u)" -eq 0 ] || die "$1 needs root (network namespaces, mounts, containerd, the kubelet)"
}

preflight() {
  local t
  for t in ip nft iptables dig curl openssl envsubst podman gcc; do
    command -v "$t" >/dev/null || die "$t not found (hack/test.sh installs what the cluster needs)"
  done
  [ -e /dev/kmsg ] || die "/dev/kmsg is missing: the kubelet's OOM watcher needs it"
  grep -qw overlay /proc/filesystems || die "the kernel has no overlay filesystem (containerd's snapshotter)"
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
    die "no memory cgroup controller mounted"
}

up() {
  need_root up
  preflight
  if running kube-apiserver; then die "already up (hack/cluster.sh down first)"; fi
  build_all
  mkdir -p "$STATE" "$RUN" "$(dirname "$KUBECONFIG_OUT")"
  say "images"
  build_images
  say "certificates"
  make_pki
  say "network"
  net_up
  say "control plane"
  control_plane_up
  say "containerd, kubelet, kube-proxy"
  containerd_up
  load_images
  upstream_up
  kubelet_up
  kube_proxy_up
  say "CoreDNS"
  coredns_up
  cp "$PKI/admin.kubeconfig" "$KUBECONFIG_OUT"
  say "up: $("$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" version -o json |
    sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | tail -n1), node $NODE_NAME Ready, CoreDNS answering"
  echo "export KUBECONFIG=$KUBECONFIG_OUT"
}

status() {
  local p
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy upstream; do
    if running "$p"; then echo "$p: running (pid $(cat "$STATE/$p.pid"))"; else echo "$p: not running"; fi
  done
  if running kube-apiserver; then
    kubectl_ get nodes -o wide 2>/dev/null || true
    kubectl_ get pods -A -o wide 2>/dev/null || true
  fi
  echo "guard on $(cat "$STATE/outward-if" 2>/dev/null || echo '?'):"
  guard_counts
}

case ${1:-} in
  build) build_all ;;
  up) up ;;
  down) need_root down; cluster_down ;;
  load) need_root load; [ $# -eq 2 ] || die "usage: cluster.sh load ARCHIVE"; load_archive "$2" ;;
  images) need_root images; running containerd || die "the cluster is not up"; build_images; load_images ;;
  status) status ;;
  -h|--help|help) sed -n '2,15p' "$0" ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
