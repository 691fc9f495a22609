//! The overload scenario's noisy neighbour: CoreDNS given a CPU limit (the cgroup quota
//! `resources.limits.cpu` sets), and a pod of another app, not injected, offering it twice
//! what it was measured to answer, in names never asked before, straight at the replicas'
//! pod IPs (as kube-proxy spreads a neighbour's fresh flows over them), from a thread in
//! that pod's network namespace, until stopped (ten minutes at most).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::super::overload::{answered, limit_coredns, load};
use super::super::{App, Kube};
use crate::load::{ask, tally, Tally};

/// CoreDNS's CPU limit a replica while the neighbour runs, in millicores.
pub const CPU_MILLIS: u32 = 50;
const NS: &str = "m-neighbour";
/// The neighbour's own timeout per question (it never retries).
const TIMEOUT: Duration = Duration::from_secs(3);
const MAX_RUN: Duration = Duration::from_secs(600);

pub struct Neighbour {
    stop: Arc<AtomicBool>,
    load: JoinHandle<Tally>,
    /// What it offers, questions a second (twice the measured capacity).
    pub rate: f64,
}

/// Limits CoreDNS, measures what it answers (3 s offered far more), and starts offering
/// twice that.
pub fn start(k: &Kube) -> Neighbour {
    limit_coredns(k, Some(CPU_MILLIS));
    k.fresh_namespace(NS, &[]);
    let app = App::deploy(k, NS, "neighbour", &[]);
    let pid = k.container_pid(NS, &app.pod_name(k), "glibc");
    let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let replicas: Vec<std::net::SocketAddr> = k
        .coredns_ips()
        .iter()
        .map(|ip| format!("{ip}:53").parse().expect("a pod IP"))
        .collect();
    let probe = load(std::slice::from_ref(&netns), &replicas, "nprobe", 3000.0, 3);
    let rate = (2.0 * answered(&probe) as f64 / 3.0).max(50.0);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let load = crate::netns::in_netns_at(netns, move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(offer_until(replicas, rate, flag))
    });
    Neighbour { stop, load, rate }
}

/// Offers `rate` new names a second, spread over `to`, until `stop` (or `MAX_RUN`); what
/// came of them.
async fn offer_until(to: Vec<std::net::SocketAddr>, rate: f64, stop: Arc<AtomicBool>) -> Tally {
    let (start, run) = (Instant::now(), std::process::id());
    let mut asked = Vec::new();
    let mut i = 0usize;
    while !stop.load(Relaxed) && start.elapsed() < MAX_RUN {
        let at = tokio::time::Instant::from_std(start + Duration::from_secs_f64(i as f64 / rate));
        tokio::time::sleep_until(at).await;
        let (server, name) = (to[i % to.len()], format!("n{run:x}-{i}.load.example.com."));
        asked.push(tokio::spawn(async move {
            ask(server, &name, hickory_proto::rr::RecordType::A, TIMEOUT).await
        }));
        i += 1;
    }
    let mut out = Vec::with_capacity(asked.len());
    for a in asked {
        out.push(a.await.expect("a neighbour's question"));
    }
    tally(&out)
}

impl Neighbour {
    /// Stops the load and puts CoreDNS back as kubeadm runs it; what the neighbour got.
    pub fn stop(self, k: &Kube) -> Tally {
        self.stop.store(true, Relaxed);
        let got = self.load.join().expect("the neighbour's load");
        k.delete_namespace(NS);
        limit_coredns(k, None);
        got
    }
}
