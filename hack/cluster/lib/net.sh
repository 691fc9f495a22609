# The node's network: its own address on a bridge with no ports, and the guard that keeps
# every cluster address on this machine (routes nowhere else, a counted drop on the
# outward interface). `down` undoes all of it.

GUARD_TABLE=dns_sidecar_cluster

net_up() {
  local out
  out=$(outward_if)
  [ -n "$out" ] || die "no default route: cannot tell which interface the guard must close"
  echo "$out" >"$STATE/outward-if"
  ip link add "$NODE_BRIDGE" type bridge 2>/dev/null || true
  ip link set "$NODE_BRIDGE" up
  ip addr replace "$NODE_IP/32" dev "$NODE_BRIDGE"
  # Pods of other nodes would live beyond this node's /24: nowhere here, so nowhere at all.
  ip route replace blackhole "$CLUSTER_CIDR"
  # Service addresses are translated by kube-proxy after the route is chosen for a local
  # sender, so they need a route: the portless bridge, where an untranslated one dies.
  ip route replace "$SERVICE_CIDR" dev "$NODE_BRIDGE"
  nft -f - <<EOF || die "nft: could not install the guard table"
table ip $GUARD_TABLE {
  set cluster {
    type ipv4_addr; flags interval
    elements = { $CLUSTER_CIDR, $SERVICE_CIDR, $NODE_IP/32 }
  }
  chain leaving {
    type filter hook postrouting priority -300; policy accept;
    oifname "$out" ip daddr @cluster counter drop comment "to a cluster address"
    oifname "$out" ip saddr @cluster counter drop comment "from a cluster address"
  }
  chain forwarded {
    type filter hook forward priority -300; policy accept;
    oifname "$out" ip saddr $CLUSTER_CIDR counter drop comment "a pod's packet outward"
  }
}
EOF
  sysctl -n net.ipv4.ip_forward >"$STATE/ip-forward"
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null ||
    die "net.bridge.bridge-nf-call-iptables is missing (br_netfilter): Services between pods on one bridge would hang"
  # The kubelet's volume mounts must propagate into containers.
  findmnt -no PROPAGATION / >"$STATE/root-propagation"
  mount --make-rshared /
  # The node's resolver for CoreDNS (dnsPolicy: Default): the upstream `up` runs here.
  printf 'nameserver %s\n' "$UPSTREAM_IP" >"$STATE/resolv.conf"
}

# What the guard dropped, by rule.
guard_counts() {
  nft list table ip "$GUARD_TABLE" 2>/dev/null |
    sed -n 's/.*counter packets \([0-9]*\) bytes [0-9]* drop comment "\(.*\)"/  dropped \1 packets \2/p'
}

net_down() {
  nft delete table ip "$GUARD_TABLE" 2>/dev/null || true
  ip route del "$SERVICE_CIDR" dev "$NODE_BRIDGE" 2>/dev/null || true
  ip route del blackhole "$CLUSTER_CIDR" 2>/dev/null || true
  ip link del "$NODE_BRIDGE" 2>/dev/null || true
  ip link del "$POD_BRIDGE" 2>/dev/null || true
  if [ "$(cat "$STATE/root-propagation" 2>/dev/null)" = private ]; then mount --make-rprivate /; fi
  [ ! -f "$STATE/ip-forward" ] || sysctl -qw net.ipv4.ip_forward="$(cat "$STATE/ip-forward")"
}
