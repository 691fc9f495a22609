# `cluster.sh down`: stops what `up` started, by the PIDs it saved, and removes everything
# it made: pods and their shims, kube-proxy's and the CNI's rules, mounts under the state
# directories, the kubelet's cgroups, the bridges, routes and the guard table, the state.

# Pods first, while containerd and the CNI can still tear their networks down.
remove_pods() {
  [ -S "$CONTAINERD_SOCK" ] || return 0
  crictl_ stopp $(crictl_ pods -q 2>/dev/null) >/dev/null 2>&1 || true
  crictl_ rmp -af >/dev/null 2>&1 || true
}

# Shims outlive containerd; ours are the ones started with our socket.
stop_shims() {
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# kube-proxy removes its own chains; the kubelet's canaries and the CNI's masquerade chains
# are named KUBE-* and CNI-*.
remove_rules() {
  [ ! -x "$K8S_BIN/kube-proxy" ] || "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  local ipt table chain
  for ipt in iptables ip6tables; do
    for table in filter nat mangle; do
      for chain in $($ipt -t $table -S 2>/dev/null | sed -n 's/^-N \(\(KUBE\|CNI\)-[^ ]*\)$/\1/p'); do
        { $ipt -t $table -S 2>/dev/null | grep -- "-j $chain\b" || true; } | sed 's/^-A/-D/' |
          while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null || true; done
      done
      for chain in $($ipt -t $table -S 2>/dev/null | sed -n 's/^-N \(\(KUBE\|CNI\)-[^ ]*\)$/\1/p'); do
        $ipt -t $table -F "$chain" 2>/dev/null || true
      done
      for chain in $($ipt -t $table -S 2>/dev/null | sed -n 's/^-N \(\(KUBE\|CNI\)-[^ ]*\)$/\1/p'); do
        $ipt -t $table -X "$chain" 2>/dev/null || true
      done
    done
  done
  # NodeLocal DNSCache's own rules, which it leaves behind when it is killed (they carry
  # its comment, not a chain of its own).
  for ipt in iptables ip6tables; do
    for table in raw filter; do
      { $ipt -t $table -S 2>/dev/null | grep -- '--comment "NodeLocal DNS Cache' || true; } | sed 's/^-A/-D/' |
        while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null || true; done
    done
  done
  # iptables-nft made its tables on first use; drop those left with no rule.
  local family
  for family in ip ip6; do
    ipt=iptables; [ $family = ip ] || ipt=ip6tables
    for table in filter nat mangle; do
      if ! { $ipt -t $table -S 2>/dev/null || true; } | grep -qv '^-P'; then nft delete table $family $table 2>/dev/null || true; fi
    done
  done
}

unmount_under() { # DIR: every mount below it, deepest first
  local m
  for m in $(findmnt -rno TARGET | grep "^$1/" | sort -r); do umount -l "$m" 2>/dev/null || true; done
}

# The kubelet's cgroups (kubepods, its QoS classes) in every v1 hierarchy, deepest first.
remove_cgroups() {
  local d
  for d in $(find /sys/fs/cgroup/*/kubepods* -depth -type d 2>/dev/null); do rmdir "$d" 2>/dev/null || true; done
}

cluster_down() {
  say "stopping the cluster"
  stop kubelet
  remove_pods
  local p
  for p in kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd upstream containerd; do
    stop "$p"
  done
  stop_shims
  remove_rules
  unmount_under "$STATE"
  unmount_under "$RUN"
  remove_cgroups
  net_down
  rm -rf "$STATE" "$RUN" "$REPO/target/cluster"
  say "down: nothing of the cluster is left"
}
