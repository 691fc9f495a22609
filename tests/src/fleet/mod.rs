//! A cluster at scale in network namespaces this harness makes and removes: several nodes,
//! each with K pods, and CoreDNS replicas on a shared network, for `hack/bench-cluster.sh --netns`
//! and the node-tier tests.
//!
//! ```text
//!   pod 10.244.(1+k).(10+j) ─┐                                     ┌─ replica 10.244.0.11 (relay → NSD)
//!   pod ...                  ├─ node k 10.250.k.2 ── core 10.250.k.1 ├─ replica 10.244.0.12
//!   (sidecar on 127.0.0.1)  ─┘  (kube-proxy: VIP 10.96.0.10 DNAT,    └─ ...
//!                                 169.254.20.10 for a node cache)
//! ```
//!
//! Each node does kube-proxy's job for the pods on it and for its own processes (a node
//! cache forwarding to the VIP): nftables DNAT of 10.96.0.10:53 round robin over the replicas
//! per new flow, with conntrack. A node cache listens on 169.254.20.10 (NodeLocal DNSCache's
//! address, here on the node's loopback) or, for our node tier, on the node's own address. Each
//! replica is NSD on its loopback behind a `relay::Relay` that injects overload and death and
//! counts what CoreDNS would receive. Only addresses inside these namespaces are sent to.
//!
//! One file per part: `relay` (the replicas' front), `zones` (what NSD serves), `procs` (the
//! sidecars and node caches), `client` (each pod's application load, a stub resolver's walk
//! in Rust, at scale), `apps` (glibc and musl as a pod's application), `report` (figures).

pub mod apps;
pub mod client;
pub mod procs;
pub mod relay;
pub mod report;
mod zones;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::netns::require_root_and_tools;
use crate::{wait_until, Proc, TempDir};

pub use relay::Fault;
pub use zones::ZoneSpec;

pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
/// NodeLocal DNSCache's link-local address.
pub const NODE_LOCAL: Ipv4Addr = Ipv4Addr::new(169, 254, 20, 10);
/// The port our node tier listens on, on the node's address.
pub const NODE_TIER_PORT: u16 = 10053;
/// The discovery Service (headless) listing the replicas' pod IPs, as manifests/ makes it.
pub const DISCOVERY: &str = "dns-sidecar-upstreams.kube-system.svc.cluster.local";
pub const DISCOVERY_NAME: &str = "dns-sidecar-upstreams.kube-system.svc.cluster.local.";
/// The pods' search list (namespace `default`), as ClusterFirst writes it.
pub const SEARCH: [&str; 3] = [
    "default.svc.cluster.local",
    "svc.cluster.local",
    "cluster.local",
];

pub fn replica_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, 0, 11 + i as u8)
}

pub fn node_ip(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 250, k as u8, 2)
}

pub fn pod_ip(k: usize, j: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, 1 + k as u8, 10 + j as u8)
}

pub(crate) use crate::netns::{answers_in, sh};

fn ns_sh(ns: &str, args: &[&str]) -> String {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    sh(&v)
}

pub struct Replica {
    pub ns: String,
    pub ip: Ipv4Addr,
    pub relay: relay::Relay,
    nsd: Option<Proc>,
}

pub struct Pod {
    pub ns: String,
    pub ip: Ipv4Addr,
    pub node: usize,
    /// The pod's resolv.conf, for the sidecar's `--resolv-conf` (autopath reads it).
    pub resolv_conf: std::path::PathBuf,
    pub sidecar: Option<Proc>,
}

pub struct Node {
    pub ns: String,
    pub ip: Ipv4Addr,
    pub cache: Option<Proc>,
}

/// The shape of the cluster.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub nodes: usize,
    pub pods_per_node: usize,
    pub replicas: usize,
    pub zones: ZoneSpec,
}

pub struct Fleet {
    pub id: String,
    pub core: String,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub replicas: Vec<Replica>,
    pub spec: Spec,
    pub(crate) dir: TempDir,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A veth from `a` (named `a_if`) to `b` (named `b_if`).
fn veth(a: &str, a_if: &str, b: &str, b_if: &str) {
    sh(&[
        "ip", "-n", a, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b,
    ]);
}

fn up(ns: &str, dev: &str, cidr: Option<&str>) {
    if let Some(c) = cidr {
        sh(&["ip", "-n", ns, "addr", "add", c, "dev", dev]);
    }
    sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
}

fn new_ns(ns: &str) {
    sh(&["ip", "netns", "add", ns]);
    up(ns, "lo", None);
}

impl Fleet {
    /// Builds the namespaces, links, kube-proxy's rules and the replicas (serving).
    pub fn new(spec: Spec) -> Fleet {
        require_root_and_tools();
        let id = format!(
            "dsf{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let dir = TempDir::new(&id);
        let core = format!("{id}-core");
        let mut f = Fleet {
            id: id.clone(),
            core: core.clone(),
            nodes: Vec::new(),
            pods: Vec::new(),
            replicas: Vec::new(),
            spec,
            dir,
        };
        new_ns(&core);
        ns_sh(&core, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        sh(&["ip", "-n", &core, "link", "add", "br0", "type", "bridge"]);
        up(&core, "br0", Some("10.244.0.1/24"));
        for k in 0..spec.nodes {
            let ns = format!("{id}-n{k}");
            new_ns(&ns);
            ns_sh(&ns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
            veth(&core, &format!("n{k}"), &ns, "eth0");
            up(&core, &format!("n{k}"), Some(&format!("10.250.{k}.1/24")));
            up(&ns, "eth0", Some(&format!("{}/24", node_ip(k))));
            sh(&[
                "ip",
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                &format!("10.250.{k}.1"),
            ]);
            let pods = format!("10.244.{}.0/24", 1 + k);
            sh(&[
                "ip",
                "-n",
                &core,
                "route",
                "add",
                &pods,
                "via",
                &node_ip(k).to_string(),
            ]);
            sh(&["ip", "-n", &ns, "link", "add", "brp", "type", "bridge"]);
            up(&ns, "brp", Some(&format!("10.244.{}.1/24", 1 + k)));
            // NodeLocal DNSCache's address on a local interface (its own dummy interface
            // there; this kernel has no dummy module), for a node cache to bind.
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{NODE_LOCAL}/32"),
                "dev",
                "lo",
            ]);
            for j in 0..spec.pods_per_node {
                let pns = format!("{id}-n{k}p{j}");
                new_ns(&pns);
                let host_if = format!("p{j}");
                veth(&ns, &host_if, &pns, "eth0");
                sh(&["ip", "-n", &ns, "link", "set", &host_if, "master", "brp"]);
                up(&ns, &host_if, None);
                let ip = pod_ip(k, j);
                up(&pns, "eth0", Some(&format!("{ip}/24")));
                sh(&[
                    "ip",
                    "-n",
                    &pns,
                    "route",
                    "add",
                    "default",
                    "via",
                    &format!("10.244.{}.1", 1 + k),
                ]);
                let resolv_conf = f.dir.0.join(format!("resolv-n{k}p{j}.conf"));
                std::fs::write(
                    &resolv_conf,
                    format!(
                        "nameserver 127.0.0.1\nnameserver {VIP}\nsearch {}\noptions ndots:5\n",
                        SEARCH.join(" ")
                    ),
                )
                .unwrap();
                f.pods.push(Pod {
                    ns: pns,
                    ip,
                    node: k,
                    resolv_conf,
                    sidecar: None,
                });
            }
            f.nodes.push(Node {
                ns,
                ip: node_ip(k),
                cache: None,
            });
        }
        for i in 0..spec.replicas {
            let ns = format!("{id}-r{i}");
            new_ns(&ns);
            veth(&core, &format!("r{i}"), &ns, "eth0");
            sh(&[
                "ip",
                "-n",
                &core,
                "link",
                "set",
                &format!("r{i}"),
                "master",
                "br0",
            ]);
            up(&core, &format!("r{i}"), None);
            let ip = replica_ip(i);
            up(&ns, "eth0", Some(&format!("{ip}/24")));
            sh(&[
                "ip",
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                "10.244.0.1",
            ]);
            let relay = relay::Relay::start(
                &ns,
                SocketAddr::from((ip, 53)),
                "127.0.0.1:5353".parse().unwrap(),
            );
            f.replicas.push(Replica {
                ns,
                ip,
                relay,
                nsd: None,
            });
        }
        f.write_zones();
        for i in 0..spec.replicas {
            f.start_nsd(i);
        }
        f.set_kube_proxy();
        f
    }

    /// kube-proxy's rules on every node: the VIP DNATed round robin over the replicas, for
    /// the pods' traffic (prerouting) and the node's own (output).
    fn set_kube_proxy(&self) {
        let n = self.replicas.len();
        let map: Vec<String> = (0..n).map(|i| format!("{i} : {}", replica_ip(i))).collect();
        let rule = format!(
            "ip daddr {VIP} meta l4proto {{ udp, tcp }} th dport 53 dnat to numgen inc mod {n} map {{ {} }}",
            map.join(", ")
        );
        let rules = format!(
            "table ip kube {{\n chain prerouting {{\n  type nat hook prerouting priority dstnat; policy accept;\n  {rule}\n }}\n chain output {{\n  type nat hook output priority -100; policy accept;\n  {rule}\n }}\n}}\n"
        );
        let path = self.dir.0.join("kube.nft");
        std::fs::write(&path, rules).unwrap();
        for node in &self.nodes {
            ns_sh(&node.ns, &["nft", "-f", path.to_str().unwrap()]);
        }
    }

    fn start_nsd(&mut self, i: usize) {
        let r = &self.replicas[i];
        let dir = self.dir.0.join(format!("r{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let z = self.dir.0.display();
        let conf = format!(
            "server:\n  ip-address: 127.0.0.1@5353\n  port: 5353\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{z}\"\n  database: \"\"\n  \
             pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  \
             server-count: 1\n  verbosity: 0\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\nremote-control:\n  control-enable: no\n\
             {zones}",
            zones = zones::ZONES
                .iter()
                .map(|(name, file)| format!("zone:\n  name: {name}\n  zonefile: {file}\n"))
                .collect::<String>()
        );
        std::fs::write(dir.join("nsd.conf"), conf).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &r.ns, "nsd", "-d", "-c"])
            .arg(dir.join("nsd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ns = r.ns.clone();
        self.replicas[i].nsd = Some(Proc {
            child,
            name: format!("nsd r{i}"),
        });
        wait_until(Duration::from_secs(10), || {
            answers_in(&ns, "127.0.0.1", 5353, DISCOVERY)
        })
        .unwrap_or_else(|| panic!("nsd in {ns} did not answer"));
    }

    /// Rewrites the zones (after a change of spec) and has every NSD reload them.
    pub fn write_zones(&self) {
        let ips: Vec<Ipv4Addr> = (0..self.replicas.len()).map(replica_ip).collect();
        for (file, text) in zones::texts(&self.spec.zones, &ips) {
            std::fs::write(self.dir.0.join(file), text).unwrap();
        }
        for r in &self.replicas {
            if let Some(p) = &r.nsd {
                p.signal("HUP");
            }
        }
    }

    /// Sets the cluster zone's TTLs and reloads.
    pub fn set_zones(&mut self, z: ZoneSpec) {
        self.spec.zones = z;
        self.write_zones();
        // NSD reloads in the background: wait until a replica serves the new TTL.
        let ns = self.replicas[0].ns.clone();
        let want = z.cluster_ttl.to_string();
        wait_until(Duration::from_secs(10), || {
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "dig",
                    "@127.0.0.1",
                    "-p",
                    "5353",
                    "+noall",
                    "+answer",
                    "svc0.default.svc.cluster.local",
                ])
                .output()
                .is_ok_and(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .split_whitespace()
                        .nth(1)
                        .is_some_and(|t| t == want)
                })
        })
        .expect("NSD serves the new TTL");
    }

    pub fn set_fault(&self, replica: usize, f: Fault) {
        self.replicas[replica].relay.set_fault(f);
    }

    pub fn set_faults(&self, f: Fault) {
        for r in &self.replicas {
            r.relay.set_fault(f);
        }
    }

    /// The relays' clock (they start together, within milliseconds).
    pub fn second(&self) -> usize {
        self.replicas[0].relay.now_second()
    }

    /// What every replica received, second by second, over `from..to`.
    pub fn seconds(&self, from: usize, to: usize) -> Vec<relay::Second> {
        let mut sum = vec![relay::Second::default(); to.saturating_sub(from)];
        for r in &self.replicas {
            for (acc, s) in sum.iter_mut().zip(r.relay.seconds(from, to)) {
                for (a, n) in acc.by_kind.iter_mut().zip(s.by_kind) {
                    *a += n;
                }
                acc.dropped += s.dropped;
            }
        }
        sum
    }

    pub fn track_sources(&self, on: bool) {
        for r in &self.replicas {
            r.relay.track_sources(on);
        }
    }

    /// Queries per (source, name) over every replica, while tracking.
    pub fn by_source(&self) -> std::collections::HashMap<(Ipv4Addr, String), u32> {
        let mut all = std::collections::HashMap::new();
        for r in &self.replicas {
            for (k, v) in r.relay.by_source() {
                *all.entry(k).or_insert(0) += v;
            }
        }
        all
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for p in &mut self.pods {
            p.sidecar = None;
        }
        for n in &mut self.nodes {
            n.cache = None;
        }
        for r in &mut self.replicas {
            r.nsd = None;
        }
        // The relays' threads live in their namespaces: stop them first.
        self.replicas.clear();
        for p in &self.pods {
            let _ = std::fs::remove_dir_all(std::path::Path::new("/etc/netns").join(&p.ns));
        }
        // Every namespace of this fleet, also those a failed build made but did not list.
        let listed = Command::new("ip").args(["netns", "list"]).output();
        let prefix = format!("{}-", self.id);
        for line in listed
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
            .lines()
        {
            if let Some(ns) = line
                .split_whitespace()
                .next()
                .filter(|n| n.starts_with(&prefix))
            {
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
    }
}
