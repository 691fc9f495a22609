//! What kube-proxy and CoreDNS's kubernetes plugin do: the VIP's DNAT rules over the
//! replicas in the Service, one VIP per replica, and the cluster zone with its headless
//! Service records.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

use super::*;

/// The cluster zone as the CoreDNS kubernetes plugin would answer it (TTL 30, negative
/// answers `negative_ttl`), a zone standing for the outside world, and one for a search
/// domain the nodes add (`corp.internal`).
fn zones(headless: &[Ipv4Addr], negative_ttl: u32) -> [String; 3] {
    let mut c = format!(
        "$ORIGIN {DOMAIN}.\n$TTL 30\n@ {negative_ttl} IN SOA ns.dns hostmaster 1 3600 600 86400 {negative_ttl}\n@ IN NS ns.dns\nns.dns IN A 10.96.0.10\n\
         kubernetes.default.svc IN A 10.96.0.1\nweb.shop.svc IN A 10.102.0.7\n"
    );
    for i in 0..400 {
        c.push_str(&format!(
            "svc{i}.default.svc IN A 10.100.{}.{}\n",
            i / 200,
            i % 200 + 1
        ));
    }
    for i in 0..50 {
        c.push_str(&format!("short{i}.default.svc 1 IN A 10.101.0.{}\n", i + 1));
    }
    // CoreDNS's kubernetes plugin answers with its `ttl` (5 s by default).
    for ip in headless {
        c.push_str(&format!(
            "dns-sidecar-upstreams.kube-system.svc 5 IN A {ip}\n"
        ));
    }
    let o = "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n\
             @ IN A 192.0.2.10\nwww IN A 192.0.2.80\nwww IN AAAA 2001:db8::80\napi IN A 192.0.2.81\n\
             api.v1 IN A 192.0.2.82\napi.v1 IN AAAA 2001:db8::82\n"
        .to_string();
    let h = "$ORIGIN corp.internal.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.54\n\
             build.tools IN A 10.200.0.5\n"
        .to_string();
    [c, o, h]
}

/// The zones every replica serves: (name, file).
pub(super) const ZONES: [(&str, &str); 3] = [
    (DOMAIN, "cluster.zone"),
    ("example.org", "outside.zone"),
    ("corp.internal", "host.zone"),
];

impl Cluster {
    pub(super) fn write_zones(&self, headless: &[Ipv4Addr]) {
        let texts = zones(headless, self.negative_ttl.load(Ordering::Relaxed));
        for r in &self.replicas {
            for ((_, file), text) in ZONES.iter().zip(&texts) {
                std::fs::write(r.dir.join(file), text).unwrap();
            }
        }
    }

    /// The cluster zone's negative TTL (CoreDNS's kubernetes plugin `ttl`: 5 s by default,
    /// 30 s in kubeadm's Corefile), zones rewritten and reloaded.
    pub fn set_negative_ttl(&self, secs: u32) {
        self.negative_ttl.store(secs, Ordering::Relaxed);
        self.set_endpoints(&self.endpoints());
    }

    /// kube-proxy's rules for the Service's endpoints `eps` (replica indexes, one per slot):
    /// the VIP DNATed round robin over them (each new flow; conntrack keeps a flow where it
    /// went, and replacing the rules keeps conntrack, as kube-proxy's resync does), the
    /// per-replica VIP of slot k to `eps[k]` (the StatefulSet route), the dead replicas
    /// dropped silently, and packet counters per replica and for the VIP (every packet: the
    /// nat chain sees only a flow's first).
    pub fn set_endpoints(&self, eps: &[usize]) {
        *self.endpoints.lock().unwrap() = eps.to_vec();
        let map: Vec<String> = eps
            .iter()
            .enumerate()
            .map(|(k, i)| format!("{k} : {}", replica_ip(*i)))
            .collect();
        let dead: Vec<String> = self
            .dead
            .lock()
            .unwrap()
            .iter()
            .map(|i| replica_ip(*i).to_string())
            .collect();
        let dead_elements = if dead.is_empty() {
            String::new()
        } else {
            format!(" elements = {{ {} }};", dead.join(", "))
        };
        let mut rules = format!(
            "table ip kube {{\n set dead {{ type ipv4_addr;{dead_elements} }}\n{counters}\n counter vip {{ }}\n chain count {{\n  type filter hook prerouting priority mangle; policy accept;\n  ip daddr {VIP} meta l4proto {{ udp, tcp }} th dport 53 counter name vip\n }}\n chain prerouting {{\n  type nat hook prerouting priority dstnat; policy accept;\n  ip daddr {VIP} meta l4proto {{ udp, tcp }} th dport 53 dnat to numgen inc mod {n} map {{ {map} }}\n",
            counters = (0..self.replicas.len()).map(|i| format!(" counter r{i} {{ }}")).collect::<Vec<_>>().join("\n"),
            n = eps.len(),
            map = map.join(", ")
        );
        for (k, i) in eps.iter().enumerate() {
            rules.push_str(&format!(
                "  ip daddr {} meta l4proto {{ udp, tcp }} th dport 53 dnat to {}\n",
                replica_vip(k),
                replica_ip(*i)
            ));
        }
        rules.push_str(" }\n chain forward {\n  type filter hook forward priority filter; policy accept;\n  ip daddr @dead drop\n  ip saddr @dead drop\n");
        for i in 0..self.replicas.len() {
            rules.push_str(&format!(
                "  ip daddr {} udp dport 53 counter name r{i}\n",
                replica_ip(i)
            ));
        }
        rules.push_str(" }\n}\n");
        let path = self.dir.0.join("rules.nft");
        let _ = Command::new("ip")
            .args([
                "netns", "exec", &self.node, "nft", "delete", "table", "ip", "kube",
            ])
            .stderr(Stdio::null())
            .status();
        std::fs::write(&path, rules).unwrap();
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.node,
            "nft",
            "-f",
            path.to_str().unwrap(),
        ]);
        // The headless Service lists the same endpoints (CoreDNS's view, reloaded).
        let ips: Vec<Ipv4Addr> = eps.iter().map(|i| replica_ip(*i)).collect();
        self.write_zones(&ips);
        for r in &self.replicas {
            if let Some(p) = &r.server {
                p.signal("HUP");
            }
        }
    }

    /// The Service's endpoints now.
    pub fn endpoints(&self) -> Vec<usize> {
        self.endpoints.lock().unwrap().clone()
    }
}
