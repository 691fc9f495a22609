//! The namespaces and links of one cluster, made when it is built and removed when it drops.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::faults::SlowRelay;
use super::*;
use crate::{wait_until, Proc, TempDir};

/// The far end of a veth: `eth0` in `ns` gets `cidr`, comes up, and routes via `gw`.
fn attach(ns: &str, cidr: &str, gw: &str) {
    sh(&["ip", "-n", ns, "addr", "add", cidr, "dev", "eth0"]);
    sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
    sh(&["ip", "-n", ns, "route", "add", "default", "via", gw]);
    await_link_local(ns);
}

/// Waits for eth0's IPv6 link-local address, as a CNI-configured pod has it before its
/// containers start. Until it exists, glibc's getaddrinfo (AI_ADDRCONFIG, which `getent
/// ahosts` sets) sees no IPv6 address and sends no AAAA query (checked with strace: one A
/// query while the peer is down, A and AAAA once fe80:: exists, even while tentative). The
/// kernel adds it asynchronously once the veth has carrier: 10-30 ms when idle, longer with
/// several tests making namespaces at once, when a pod's first lookups were A-only and their
/// AAAA half was never cached. (Where IPv6 is off, lo has no ::1 and nothing is awaited.)
fn await_link_local(ns: &str) {
    if !sh(&["ip", "-n", ns, "-6", "addr", "show", "dev", "lo"]).contains("::1") {
        return;
    }
    wait_until(Duration::from_secs(10), || {
        sh(&["ip", "-n", ns, "-6", "addr", "show", "dev", "eth0"]).contains("fe80:")
    })
    .unwrap_or_else(|| {
        panic!(
            "{ns}: eth0 got no IPv6 link-local address within 10 s, so glibc would send \
             no AAAA queries"
        )
    });
}

pub struct Replica {
    pub ns: String,
    pub ip: Ipv4Addr,
    pub(super) dir: PathBuf,
    pub server: Option<Proc>,
}

pub struct Cluster {
    pub id: String,
    pub node: String,
    pub pod: String,
    pub replicas: Vec<Replica>,
    pub(super) dir: TempDir,
    pub(super) procs: Vec<Proc>,
    pub(super) relays: Vec<SlowRelay>,
    /// The Service's endpoints (replica indexes, by slot), and the replicas whose node died.
    pub(super) endpoints: std::sync::Mutex<Vec<usize>>,
    pub(super) dead: std::sync::Mutex<Vec<usize>>,
    /// The cluster zone's negative TTL.
    pub(super) negative_ttl: AtomicU32,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Cluster {
    /// Builds the topology with `n` replicas, the first `in_service` of them behind the VIP
    /// and in the headless Service (the rest are spares for scaling).
    pub fn new(n: usize, in_service: usize) -> Cluster {
        require_root_and_tools();
        let id = format!(
            "dsc{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let dir = TempDir::new(&id);
        let mut c = Cluster {
            node: format!("{id}-node"),
            pod: format!("{id}-pod"),
            id: id.clone(),
            replicas: Vec::new(),
            dir,
            procs: Vec::new(),
            relays: Vec::new(),
            endpoints: Default::default(),
            dead: Default::default(),
            negative_ttl: AtomicU32::new(5),
        };
        let node = c.node.clone();
        sh(&["ip", "netns", "add", &node]);
        sh(&["ip", "netns", "add", &c.pod]);
        for ns in [&node, &c.pod] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&[
            "ip",
            "netns",
            "exec",
            &node,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ]);
        // Pod link.
        sh(&[
            "ip", "-n", &node, "link", "add", "pod0", "type", "veth", "peer", "name", "eth0",
            "netns", &c.pod,
        ]);
        sh(&[
            "ip",
            "-n",
            &node,
            "addr",
            "add",
            "10.244.1.1/24",
            "dev",
            "pod0",
        ]);
        sh(&["ip", "-n", &node, "link", "set", "pod0", "up"]);
        attach(&c.pod, "10.244.1.2/24", "10.244.1.1");
        // Replica bridge.
        sh(&["ip", "-n", &node, "link", "add", "br0", "type", "bridge"]);
        sh(&[
            "ip",
            "-n",
            &node,
            "addr",
            "add",
            "10.244.0.1/24",
            "dev",
            "br0",
        ]);
        sh(&["ip", "-n", &node, "link", "set", "br0", "up"]);
        let headless: Vec<Ipv4Addr> = (0..in_service).map(replica_ip).collect();
        for i in 0..n {
            let ns = format!("{id}-r{i}");
            sh(&["ip", "netns", "add", &ns]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            let host_if = format!("r{i}");
            sh(&[
                "ip", "-n", &node, "link", "add", &host_if, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            sh(&[
                "ip", "-n", &node, "link", "set", &host_if, "master", "br0", "up",
            ]);
            let ip = replica_ip(i);
            attach(&ns, &format!("{ip}/24"), "10.244.0.1");
            let rdir = c.dir.0.join(format!("r{i}"));
            std::fs::create_dir_all(&rdir).unwrap();
            c.replicas.push(Replica {
                ns,
                ip,
                dir: rdir,
                server: None,
            });
        }
        c.write_zones(&headless);
        for i in 0..n {
            c.start_server(i);
        }
        c.set_endpoints(&(0..in_service).collect::<Vec<_>>());
        c
    }

    /// Writes the pod's /etc/resolv.conf (seen by processes run with `ip netns exec`).
    pub fn set_resolv_conf(&self, text: &str) {
        let d = PathBuf::from("/etc/netns").join(&self.pod);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("resolv.conf"), text).unwrap();
    }

    /// Starts the sidecar in the pod on 127.0.0.1:53, admin on 127.0.0.1:9953.
    pub fn start_proxy(&mut self, bin: &std::path::Path, args: &[String]) -> usize {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.pod])
            .arg(bin)
            .args([
                "--listen",
                "127.0.0.1:53",
                "--admin",
                "127.0.0.1:9953",
                "--log-level",
                "error",
            ])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.procs.push(Proc {
            child,
            name: "dns-sidecar-proxy".into(),
        });
        let pod = self.pod.clone();
        wait_until(Duration::from_secs(10), || {
            self.pod_http("/readyz").starts_with("ready")
        })
        .unwrap_or_else(|| panic!("sidecar in {pod} not ready"));
        self.procs.len() - 1
    }

    pub fn kill_proc(&mut self, handle: usize) {
        self.procs[handle].signal("KILL");
        self.procs[handle].wait_exit(Duration::from_secs(5));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.relays.clear();
        self.procs.clear();
        for r in &mut self.replicas {
            r.server = None;
        }
        for r in &self.replicas {
            let _ = Command::new("ip").args(["netns", "del", &r.ns]).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.node])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.pod])
            .status();
        let _ = std::fs::remove_dir_all(PathBuf::from("/etc/netns").join(&self.pod));
    }
}
