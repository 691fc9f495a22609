//! The replica-failure topology on one machine, in network namespaces this harness makes and
//! removes (names unique per run):
//!
//! ```text
//!   pod ns 10.244.1.2 ──veth── node ns (kube-proxy: nftables DNAT + conntrack) ──bridge── replica ns 10.244.0.11
//!   (glibc getent, dig,        10.96.0.10:53 → replicas, round robin per new flow          replica ns 10.244.0.12
//!    the sidecar on 127.0.0.1) 10.96.0.1N:53 → replica N (one Service per replica)       (NSD as CoreDNS)
//! ```
//!
//! Faults are made the way they happen: a dead node drops packets silently (nftables drop),
//! a dead process leaves a closed port (NSD killed, ICMP unreachable), a slow replica has
//! netem delay. Only addresses inside these namespaces are ever sent to.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::{require, wait_until, Proc, TempDir};

pub const VIP: &str = "10.96.0.10";
pub const DOMAIN: &str = "cluster.local";
/// The headless Service listing the replicas' pod IPs (for `--discover`).
pub const HEADLESS: &str = "kube-dns-upstreams.kube-system.svc.cluster.local";

/// Fails clearly when the topology cannot be built here.
pub fn require_root_and_tools() {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(
        uid.as_deref().unwrap_or(""),
        "0",
        "the network-namespace tests need root (ip netns, nftables): run them as root, as CI does"
    );
    require("ip", "iproute2");
    require("nft", "nftables");
    require("nsd", "nsd");
    require("getent", "libc-bin");
    require("tc", "iproute2");
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

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

pub fn replica_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, 0, 11 + i as u8)
}

pub fn replica_vip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 96, 0, 11 + i as u8)
}

/// The cluster zone as the CoreDNS kubernetes plugin would answer it (TTL 30), plus a zone
/// standing for the outside world.
fn zones(headless: &[Ipv4Addr]) -> (String, String) {
    let mut c = format!(
        "$ORIGIN {DOMAIN}.\n$TTL 30\n@ IN SOA ns.dns hostmaster 1 3600 600 86400 5\n@ IN NS ns.dns\nns.dns IN A 10.96.0.10\n\
         kubernetes.default.svc IN A 10.96.0.1\n"
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
    for ip in headless {
        c.push_str(&format!("kube-dns-upstreams.kube-system.svc IN A {ip}\n"));
    }
    let o = "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n\
             www IN A 192.0.2.80\nwww IN AAAA 2001:db8::80\napi IN A 192.0.2.81\n"
        .to_string();
    (c, o)
}

pub struct Replica {
    pub ns: String,
    pub ip: Ipv4Addr,
    dir: PathBuf,
    pub server: Option<Proc>,
}

pub struct Cluster {
    pub id: String,
    pub node: String,
    pub pod: String,
    pub replicas: Vec<Replica>,
    _dir: TempDir,
    procs: Vec<Proc>,
    relays: Vec<SlowRelay>,
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
            _dir: dir,
            procs: Vec::new(),
            relays: Vec::new(),
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
            let rdir = c._dir.0.join(format!("r{i}"));
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
        c.set_service(in_service);
        c
    }

    fn write_zones(&self, headless: &[Ipv4Addr]) {
        let (cluster, outside) = zones(headless);
        for r in &self.replicas {
            std::fs::write(r.dir.join("cluster.zone"), &cluster).unwrap();
            std::fs::write(r.dir.join("outside.zone"), &outside).unwrap();
        }
    }

    /// kube-proxy's rules: the VIP DNATed round robin over the first `n` replicas (each new
    /// flow; conntrack keeps a flow where it went), one VIP per replica, a set of dead
    /// replicas dropped silently, and a packet counter per replica.
    pub fn set_service(&self, n: usize) {
        let map: Vec<String> = (0..n).map(|i| format!("{i} : {}", replica_ip(i))).collect();
        let mut rules = format!(
            "table ip kube {{\n set dead {{ type ipv4_addr; }}\n{counters}\n chain prerouting {{\n  type nat hook prerouting priority dstnat; policy accept;\n  ip daddr {VIP} meta l4proto {{ udp, tcp }} th dport 53 dnat to numgen inc mod {n} map {{ {map} }}\n",
            counters = (0..self.replicas.len()).map(|i| format!(" counter r{i} {{ }}")).collect::<Vec<_>>().join("\n"),
            map = map.join(", ")
        );
        for i in 0..self.replicas.len() {
            rules.push_str(&format!(
                "  ip daddr {} meta l4proto {{ udp, tcp }} th dport 53 dnat to {}\n",
                replica_vip(i),
                replica_ip(i)
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
        let path = self._dir.0.join("rules.nft");
        // Replace the table whole, keeping nothing but conntrack (as kube-proxy's resync).
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
    }

    /// The replica's node dies: every packet to or from it vanishes.
    pub fn blackhole(&self, i: usize, dead: bool) {
        let verb = if dead { "add" } else { "delete" };
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.node,
            "nft",
            verb,
            "element",
            "ip",
            "kube",
            "dead",
            &format!("{{ {} }}", replica_ip(i)),
        ]);
    }

    /// The replica's DNS process dies; the node stays (the port is closed).
    pub fn stop_server(&mut self, i: usize) {
        if let Some(mut p) = self.replicas[i].server.take() {
            p.signal("KILL");
            p.wait_exit(Duration::from_secs(5));
        }
    }

    pub fn start_server(&mut self, i: usize) {
        let ip = self.replicas[i].ip.to_string();
        self.start_server_at(i, &ip, 53);
    }

    /// Starts NSD in replica `i`'s namespace on `ip:port`; waits until it answers.
    fn start_server_at(&mut self, i: usize, ip: &str, port: u16) {
        let r = &self.replicas[i];
        let d = r.dir.display();
        let conf = format!(
            "server:\n  ip-address: {ip}@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  database: \"\"\n  \
             pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  \
             server-count: 1\n  verbosity: 0\nremote-control:\n  control-enable: no\n\
             zone:\n  name: {DOMAIN}\n  zonefile: cluster.zone\nzone:\n  name: example.org\n  zonefile: outside.zone\n"
        );
        std::fs::write(r.dir.join("nsd.conf"), conf).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &r.ns, "nsd", "-d", "-c"])
            .arg(r.dir.join("nsd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.replicas[i].server = Some(Proc {
            child,
            name: format!("nsd r{i}"),
        });
        let ns = self.replicas[i].ns.clone();
        wait_until(Duration::from_secs(10), || {
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "dig",
                    &format!("@{ip}"),
                    "-p",
                    &port.to_string(),
                    "+time=1",
                    "+tries=1",
                    "+short",
                    "kubernetes.default.svc.cluster.local",
                ])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty())
        })
        .unwrap_or_else(|| panic!("nsd in {ns} did not answer"));
    }

    /// Scales the headless Service to the first `n` replicas (zone rewritten, NSD reloaded).
    pub fn scale_headless(&self, n: usize) {
        let ips: Vec<Ipv4Addr> = (0..n).map(replica_ip).collect();
        self.write_zones(&ips);
        for r in &self.replicas {
            if let Some(p) = &r.server {
                p.signal("HUP");
            }
        }
    }

    /// Makes replica `i` answer `delay` late: its NSD moves to 127.0.0.1:5353 and a relay
    /// inside its namespace holds each answer back before sending it. (tc netem would be the
    /// kernel's way; this machine's kernel has no qdiscs, so the delay is injected here.)
    pub fn slow(&mut self, i: usize, delay: Duration) {
        self.stop_server(i);
        self.start_server_at(i, "127.0.0.1", 5353);
        let listen = std::net::SocketAddr::from((self.replicas[i].ip, 53));
        self.relays
            .push(SlowRelay::start(&self.replicas[i].ns, listen, delay));
    }

    /// Packets sent to replica `i`'s port 53 so far.
    pub fn packets_to(&self, i: usize) -> u64 {
        let out = sh(&[
            "ip",
            "netns",
            "exec",
            &self.node,
            "nft",
            "list",
            "counter",
            "ip",
            "kube",
            &format!("r{i}"),
        ]);
        out.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
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

    /// GET on the sidecar's admin port, from inside the pod.
    pub fn pod_http(&self, path: &str) -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.pod,
                "curl",
                "-s",
                "--max-time",
                "2",
                &format!("http://127.0.0.1:9953{path}"),
            ])
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
    }

    /// One lookup through glibc in the pod, as an application does it (`getent ahosts`).
    pub fn getent(&self, name: &str) -> GetentResult {
        let start = Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.pod, "getent", "ahosts", name])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        GetentResult {
            ok: out.status.success() && !out.stdout.is_empty(),
            took: start.elapsed(),
        }
    }

    /// `dig` in the pod against `server`.
    pub fn dig(&self, server: &str, name: &str) -> (String, Duration) {
        let start = Instant::now();
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.pod,
                "dig",
                &format!("@{server}"),
                "+time=5",
                "+tries=1",
                "+noall",
                "+comments",
                name,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let status = text
            .split("status: ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or("TIMEOUT")
            .to_string();
        (status, start.elapsed())
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

#[derive(Debug, Clone, Copy)]
pub struct GetentResult {
    pub ok: bool,
    pub took: Duration,
}

/// Failures, median and maximum of a series of lookups.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub n: usize,
    pub failures: usize,
    pub median: Duration,
    pub max: Duration,
}

pub fn summarize(ls: &[GetentResult]) -> Summary {
    let mut t: Vec<Duration> = ls.iter().map(|l| l.took).collect();
    t.sort();
    Summary {
        n: ls.len(),
        failures: ls.iter().filter(|l| !l.ok).count(),
        median: t.get(t.len() / 2).copied().unwrap_or_default(),
        max: t.last().copied().unwrap_or_default(),
    }
}

/// resolv.conf text for nameservers, with the ClusterFirst search list of namespace
/// `default` and the options the webhook writes.
pub fn resolv_conf(nameservers: &[String], searches: &[String], options: &[String]) -> String {
    let mut s = String::new();
    for n in nameservers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    s.push_str(&format!("search {}\n", searches.join(" ")));
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    s
}

/// The resolv.conf a pod in namespace `default` gets from the webhook (its own code).
pub fn sidecar_resolv_conf() -> String {
    let inputs = dns_sidecar_webhook::dns_config::DnsInputs {
        namespace: "default",
        cluster_domain: DOMAIN,
        fallback: Some(VIP.parse().unwrap()),
        host_searches: &[],
        ndots: 5,
    };
    let cfg = dns_sidecar_webhook::dns_config::build(&inputs, None, &mut Vec::new());
    let strs = |k: &str| -> Vec<String> {
        cfg[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let options: Vec<String> = cfg["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| match o.get("value").and_then(|v| v.as_str()) {
            Some(v) => format!("{}:{v}", o["name"].as_str().unwrap()),
            None => o["name"].as_str().unwrap().to_string(),
        })
        .collect();
    resolv_conf(&strs("nameservers"), &strs("searches"), &options)
}

/// What kubelet writes for ClusterFirst today, with these nameservers.
pub fn cluster_first_resolv_conf(nameservers: &[String]) -> String {
    let searches: Vec<String> = [
        "default.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    resolv_conf(nameservers, &searches, &["ndots:5".to_string()])
}

/// Runs `f` on a new thread that has entered network namespace `ns` (network namespaces are
/// per thread), so the sockets it makes live there.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    use std::os::fd::AsRawFd;
    let path = PathBuf::from("/run/netns").join(ns);
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // SAFETY: setns on this thread only, with a valid namespace descriptor.
        let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns into {}", path.display());
        f()
    })
}

/// A UDP relay that answers through NSD on 127.0.0.1:5353, each answer held back a while.
struct SlowRelay {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowRelay {
    fn start(ns: &str, listen: std::net::SocketAddr, delay: Duration) -> SlowRelay {
        use std::net::UdpSocket;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = in_netns(ns, move || {
            let sock = UdpSocket::bind(listen).expect("bind relay");
            sock.set_read_timeout(Some(Duration::from_millis(5)))
                .unwrap();
            let up = UdpSocket::bind("127.0.0.1:0").unwrap();
            up.connect("127.0.0.1:5353").unwrap();
            up.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let _ = ready_tx.send(());
            let mut held: std::collections::VecDeque<(Instant, std::net::SocketAddr, Vec<u8>)> =
                Default::default();
            let (mut buf, mut ans) = ([0u8; 4096], [0u8; 4096]);
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, src)) = sock.recv_from(&mut buf) {
                    if up.send(&buf[..n]).is_ok() {
                        if let Ok(m) = up.recv(&mut ans) {
                            held.push_back((Instant::now() + delay, src, ans[..m].to_vec()));
                        }
                    }
                }
                while held.front().is_some_and(|h| h.0 <= Instant::now()) {
                    let (_, to, msg) = held.pop_front().unwrap();
                    let _ = sock.send_to(&msg, to);
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("relay started");
        SlowRelay {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SlowRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
