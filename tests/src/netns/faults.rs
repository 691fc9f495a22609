//! Faults made the way they happen: a dead node (packets dropped), a dead server (a closed
//! port), a slow replica (a relay that holds answers back); and counting what a replica got.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::{wait_until, Proc};

impl Cluster {
    /// The replica's node dies: every packet to or from it vanishes.
    pub fn blackhole(&self, i: usize, dead: bool) {
        let verb = if dead { "add" } else { "delete" };
        let mut list = self.dead.lock().unwrap();
        list.retain(|d| *d != i);
        if dead {
            list.push(i);
        }
        drop(list);
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
    pub(super) fn start_server_at(&mut self, i: usize, ip: &str, port: u16) {
        let r = &self.replicas[i];
        let d = r.dir.display();
        let conf = format!(
            "server:\n  ip-address: {ip}@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  database: \"\"\n  \
             pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  \
             server-count: 1\n  verbosity: 0\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\nremote-control:\n  control-enable: no\n\
             {zones}",
            zones = super::services::ZONES
                .iter()
                .map(|(name, file)| format!("zone:\n  name: {name}\n  zonefile: {file}\n"))
                .collect::<String>()
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
            super::answers_in(&ns, ip, port, "kubernetes.default.svc.cluster.local")
        })
        .unwrap_or_else(|| panic!("nsd in {ns} did not answer"));
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
        self.counter(&format!("r{i}"))
    }

    /// Packets (queries) sent to the cluster DNS VIP so far.
    pub fn packets_to_vip(&self) -> u64 {
        self.counter("vip")
    }

    fn counter(&self, name: &str) -> u64 {
        let out = sh(&[
            "ip", "netns", "exec", &self.node, "nft", "list", "counter", "ip", "kube", name,
        ]);
        out.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// A UDP relay that answers through NSD on 127.0.0.1:5353, each answer held back a while.
pub(super) struct SlowRelay {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowRelay {
    pub(super) fn start(ns: &str, listen: std::net::SocketAddr, delay: Duration) -> SlowRelay {
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
