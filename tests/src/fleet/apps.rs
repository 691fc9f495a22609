//! Real resolvers as a pod's application: glibc's (`getent ahosts`) and musl's (the static
//! client of `crate::clients`), run in the pod's namespace with the resolv.conf the pod has,
//! each lookup timed; a loop of them while something else happens to the cluster.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::Fleet;
use crate::netns::Client;

/// One lookup of a loop: when it started (from the loop's start), how long, whether it
/// resolved.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub at: Duration,
    pub took: Duration,
    pub ok: bool,
}

/// A pod's application: a resolver run in the pod's namespace.
#[derive(Debug, Clone)]
pub struct App {
    pub ns: String,
    pub client: Client,
}

impl App {
    /// One lookup of `name`, timed.
    pub fn resolve(&self, name: &str) -> Timed {
        let start = Instant::now();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]);
        match &self.client {
            Client::Glibc => cmd.args(["getent", "ahosts", name]),
            Client::Program(bin) => cmd.arg(bin).arg(name),
        };
        let out = cmd.stderr(Stdio::null()).output().unwrap();
        Timed {
            at: Duration::ZERO,
            took: start.elapsed(),
            ok: out.status.success() && !out.stdout.is_empty(),
        }
    }

    /// Resolves `svc<i>` (i counting up over 100 Services) every `pace` until `stop` is set
    /// (a minute at most); returns every lookup.
    pub fn resolve_loop(&self, pace: Duration, stop: &AtomicBool) -> Vec<Timed> {
        let start = Instant::now();
        let mut out = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
            let at = start.elapsed();
            let mut t = self.resolve(&format!("svc{}", i % 100));
            t.at = at;
            out.push(t);
            i += 1;
            std::thread::sleep(pace);
        }
        out
    }
}

impl Fleet {
    /// Writes pod `p`'s /etc/resolv.conf, as processes run with `ip netns exec` see it.
    pub fn set_resolv_conf(&self, p: usize, text: &str) {
        let d = PathBuf::from("/etc/netns").join(&self.pods[p].ns);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("resolv.conf"), text).unwrap();
    }

    /// Pod `p`'s application, resolving with `client`.
    pub fn app(&self, p: usize, client: Client) -> App {
        App {
            ns: self.pods[p].ns.clone(),
            client,
        }
    }
}

/// Runs `apps` in loops (one lookup every `pace` each) while `during` acts on the cluster
/// on this thread; returns each app's lookups.
pub fn resolving_during<T>(
    apps: &[App],
    pace: Duration,
    during: impl FnOnce() -> T,
) -> (Vec<Vec<Timed>>, T) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let loops: Vec<_> = apps
            .iter()
            .map(|a| {
                let stop = &stop;
                s.spawn(move || a.resolve_loop(pace, stop))
            })
            .collect();
        let t = during();
        stop.store(true, Ordering::Relaxed);
        (loops.into_iter().map(|l| l.join().unwrap()).collect(), t)
    })
}

/// The resolv.conf the webhook gives a pod with `dns-sidecar.io/fallback: none`: the sidecar
/// only, so every answer the application gets is the sidecar's.
pub fn sidecar_only_resolv_conf() -> String {
    format!(
        "nameserver 127.0.0.1\nsearch {}\noptions ndots:5\n",
        super::SEARCH.join(" ")
    )
}

/// The resolv.conf of a pod on a node with NodeLocal DNSCache in its link-local mode.
pub fn node_local_resolv_conf() -> String {
    format!(
        "nameserver {}\nsearch {}\noptions ndots:5\n",
        super::NODE_LOCAL,
        super::SEARCH.join(" ")
    )
}
