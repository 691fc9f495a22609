//! The processes of the fleet: a sidecar in a pod as the webhook injects it, and node
//! caches: unbound on 169.254.20.10 forwarding to the VIP as NodeLocal DNSCache does, or
//! our node tier (the proxy itself) on the node's address, finding the replicas by
//! discovery as a sidecar does.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;

/// How a pod's application resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    /// Today's pods: the cluster DNS VIP.
    Vip,
    /// A node cache on NodeLocal DNSCache's address.
    NodeLocal,
    /// Our node tier on the node's address.
    NodeTier,
    /// The pod's sidecar on 127.0.0.1.
    Sidecar,
}

impl Fleet {
    /// Where pod `p`'s application sends its queries.
    pub fn resolver(&self, p: usize, r: Resolver) -> SocketAddr {
        match r {
            Resolver::Vip => SocketAddr::from((VIP, 53)),
            Resolver::NodeLocal => SocketAddr::from((NODE_LOCAL, 53)),
            Resolver::NodeTier => SocketAddr::from((node_ip(self.pods[p].node), NODE_TIER_PORT)),
            Resolver::Sidecar => "127.0.0.1:53".parse().unwrap(),
        }
    }

    /// The flags the webhook gives a sidecar: the replicas' pod IPs, the discovery Service,
    /// the VIP as the fallback, the pod's resolv.conf.
    pub fn sidecar_args(&self, p: usize) -> Vec<String> {
        let ips: Vec<String> = (0..self.replicas.len())
            .map(|i| replica_ip(i).to_string())
            .collect();
        vec![
            format!("--upstream={}", ips.join(",")),
            format!("--discover={DISCOVERY}"),
            format!("--fallback={VIP}"),
            format!("--resolv-conf={}", self.pods[p].resolv_conf.display()),
        ]
    }

    /// Starts pod `p`'s sidecar with `sidecar_args` and `extra`; waits until it answers.
    pub fn start_sidecar(&mut self, p: usize, bin: &Path, extra: &[String]) {
        let mut args = self.sidecar_args(p);
        args.extend(extra.iter().cloned());
        let child = Command::new("ip")
            .args(["netns", "exec", &self.pods[p].ns])
            .arg(bin)
            .args([
                "--listen",
                "127.0.0.1:53",
                "--admin",
                "127.0.0.1:9953",
                "--log-level",
                "error",
            ])
            .args(&args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.pods[p].sidecar = Some(Proc {
            child,
            name: format!("sidecar {}", self.pods[p].ns),
        });
    }

    /// Starts every pod's sidecar at once, then waits until each answers.
    pub fn start_sidecars(&mut self, bin: &Path, extra: &[String]) {
        for p in 0..self.pods.len() {
            self.start_sidecar(p, bin, extra);
        }
        for p in 0..self.pods.len() {
            self.await_sidecar(p);
        }
    }

    /// Waits until pod `p`'s sidecar answers.
    pub fn await_sidecar(&self, p: usize) {
        self.await_answer(&self.pods[p].ns, "127.0.0.1", 53);
    }

    /// Kills pod `p`'s sidecar (SIGKILL, by PID).
    pub fn kill_sidecar(&mut self, p: usize) {
        if let Some(mut s) = self.pods[p].sidecar.take() {
            s.signal("KILL");
            s.wait_exit(Duration::from_secs(5));
        }
    }

    pub fn stop_sidecars(&mut self) {
        for p in 0..self.pods.len() {
            self.kill_sidecar(p);
        }
    }

    /// Waits until `ip:port` in `ns` answers a cluster name.
    fn await_answer(&self, ns: &str, ip: &str, port: u16) {
        wait_until(Duration::from_secs(15), || {
            super::answers_in(ns, ip, port, "svc0.default.svc.cluster.local")
        })
        .unwrap_or_else(|| panic!("nothing answers on {ip}:{port} in {ns}"));
    }

    /// Starts unbound on node `k` as NodeLocal DNSCache runs: on 169.254.20.10, every name
    /// forwarded to the cluster DNS VIP, cache lives capped at 30 s (5 s for denials), as
    /// the node-local-dns Corefile's `cache` does.
    pub fn start_node_local(&mut self, k: usize) {
        let bin = crate::require("unbound", "unbound");
        let dir = self.dir.0.join(format!("unbound-n{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let conf = format!(
            "server:\n  interface: {NODE_LOCAL}\n  port: 53\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  \
             directory: \"{d}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  num-threads: 1\n  \
             do-ip6: no\n  module-config: \"iterator\"\n  qname-minimisation: no\n  access-control: 0.0.0.0/0 allow\n  \
             cache-max-ttl: 30\n  cache-max-negative-ttl: 5\n  msg-cache-size: 16m\n  rrset-cache-size: 32m\n\
             remote-control:\n  control-enable: no\n\
             forward-zone:\n  name: \".\"\n  forward-addr: {VIP}\n"
        );
        let path = dir.join("unbound.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.nodes[k].ns])
            .arg(bin)
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start unbound");
        self.nodes[k].cache = Some(Proc {
            child,
            name: format!("unbound n{k}"),
        });
        let ns = self.nodes[k].ns.clone();
        self.await_answer(&ns, &NODE_LOCAL.to_string(), 53);
    }

    /// Our node tier on node `k`: the proxy on the node's address, port `NODE_TIER_PORT`,
    /// finding the replicas by discovery as a sidecar does, with a node-sized cache.
    pub fn start_node_tier(&mut self, k: usize, bin: &Path, extra: &[String]) {
        let ip = node_ip(k);
        let ips: Vec<String> = (0..self.replicas.len())
            .map(|i| replica_ip(i).to_string())
            .collect();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.nodes[k].ns])
            .arg(bin)
            .args([
                format!("--listen={ip}:{NODE_TIER_PORT}"),
                format!("--admin={ip}:{}", NODE_TIER_PORT + 1),
                format!("--upstream={}", ips.join(",")),
                format!("--discover={DISCOVERY}"),
                format!("--fallback={VIP}"),
                "--autopath=off".into(),
                "--cache-size=100000".into(),
                "--cache-bytes=64M".into(),
                "--log-level=error".into(),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.nodes[k].cache = Some(Proc {
            child,
            name: format!("node tier n{k}"),
        });
        let ns = self.nodes[k].ns.clone();
        self.await_answer(&ns, &ip.to_string(), NODE_TIER_PORT);
    }

    /// Kills node `k`'s cache (SIGKILL, by PID), as the OOM killer does.
    pub fn kill_node_cache(&mut self, k: usize) {
        if let Some(mut c) = self.nodes[k].cache.take() {
            c.signal("KILL");
            c.wait_exit(Duration::from_secs(5));
        }
    }

    /// Stops node `k`'s cache with SIGTERM, as kubelet does, and waits for it to exit (our
    /// node tier drains first: it answers for its --drain with /readyz failing).
    pub fn stop_node_cache(&mut self, k: usize) {
        if let Some(mut c) = self.nodes[k].cache.take() {
            c.signal("TERM");
            c.wait_exit(Duration::from_secs(30));
        }
    }

    /// A counter of node `k`'s node tier (its /metrics on the node's admin port).
    pub fn node_tier_metric(&self, k: usize, series: &str) -> f64 {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.nodes[k].ns,
                "curl",
                "-s",
                "--max-time",
                "2",
                &format!("http://{}:{}/metrics", node_ip(k), NODE_TIER_PORT + 1),
            ])
            .output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        crate::metric(&text, series)
    }

    pub fn stop_node_caches(&mut self) {
        for k in 0..self.nodes.len() {
            self.kill_node_cache(k);
        }
    }

    /// GET on pod `p`'s sidecar admin port, from inside the pod.
    pub fn pod_http(&self, p: usize, path: &str) -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.pods[p].ns,
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
}
