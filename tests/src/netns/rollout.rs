//! CoreDNS's own life as Kubernetes runs it, while a pod keeps resolving: rolling restarts
//! (each replica replaced by a new pod at a new address; the old one out of the endpoints at
//! once, answering for CoreDNS's lameduck, then gone), scaling, and every replica replaced
//! at once. kube-proxy's rules and the headless records follow the endpoints; conntrack
//! entries stay as the kernel keeps them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::*;

/// CoreDNS's `health { lameduck 5s }` in the stock Corefile.
pub const LAMEDUCK: Duration = Duration::from_secs(5);

/// The flags the webhook gives a sidecar, for this cluster: the ready replicas' pod IPs,
/// the discovery Service, and the VIP as the fallback.
pub fn sidecar_args(c: &Cluster) -> Vec<String> {
    let ips: Vec<String> = c
        .endpoints()
        .iter()
        .map(|i| replica_ip(*i).to_string())
        .collect();
    vec![
        format!("--upstream={}", ips.join(",")),
        format!("--discover={HEADLESS}"),
        format!("--fallback={VIP}"),
    ]
}

/// One lookup of a series, when it started (from the series' start) and how it went.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub at: Duration,
    pub result: GetentResult,
}

impl Cluster {
    /// Replica `new` takes slot `k` of the Service; the replica it replaces answers for the
    /// lameduck and then its node is gone. Returns the replaced replica.
    pub fn replace(&self, k: usize, new: usize) -> usize {
        let mut eps = self.endpoints();
        let old = eps[k];
        eps[k] = new;
        self.set_endpoints(&eps);
        std::thread::sleep(LAMEDUCK);
        self.blackhole(old, true);
        old
    }

    /// A rolling restart: each slot in turn gets the next of `new`, a second apart after
    /// the previous one is gone (maxUnavailable 1, maxSurge 0 would be slower still).
    pub fn roll_out(&self, new: &[usize]) {
        for (k, n) in new.iter().enumerate() {
            self.replace(k, *n);
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Resolves `svc<i>` (i counting up from `from`, cycling over the zone's 400 Services)
    /// through glibc in the pod every `pace`, while `during` runs on this thread.
    pub fn resolve_during<T>(
        &self,
        from: usize,
        pace: Duration,
        during: impl FnOnce() -> T,
    ) -> (Vec<Timed>, T) {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let lookups = s.spawn(|| {
                let start = Instant::now();
                let mut out = Vec::new();
                let mut i = from;
                // Bounded: a minute at most, whatever `during` does.
                while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
                    let at = start.elapsed();
                    let result = self.getent(&format!("svc{}", i % 400));
                    out.push(Timed { at, result });
                    i += 1;
                    std::thread::sleep(pace);
                }
                out
            });
            let r = during();
            stop.store(true, Ordering::Relaxed);
            (lookups.join().expect("the lookup thread"), r)
        })
    }
}

/// How the pod resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Today: the kube-dns VIP.
    Vip,
    /// One nameserver per replica (the StatefulSet route's per-replica Service IPs).
    PerReplica,
    /// The sidecar as the webhook injects it, with or without the VIP after it.
    Sidecar { vip_fallback: bool },
}

impl Setup {
    pub fn label(self) -> &'static str {
        match self {
            Setup::Vip => "today: kube-dns VIP",
            Setup::PerReplica => "per-replica nameservers",
            Setup::Sidecar { vip_fallback: true } => "dns-sidecar",
            Setup::Sidecar {
                vip_fallback: false,
            } => "dns-sidecar (fallback none)",
        }
    }
}

/// Builds a cluster of `n` replicas (the first `in_service` in the Service), sets the pod
/// up as `setup` (the sidecar from `bin`), warms it up, then resolves every 50 ms while
/// `event` runs. Returns the cluster, for what it can still tell, and the lookups.
pub fn measure(
    setup: Setup,
    n: usize,
    in_service: usize,
    bin: &std::path::Path,
    event: &(dyn Fn(&Cluster) + Sync),
) -> (Cluster, Vec<Timed>) {
    let mut c = Cluster::new(n, in_service);
    let resolv = match setup {
        Setup::Vip => cluster_first_resolv_conf(&[VIP.to_string()]),
        Setup::PerReplica => {
            let ns: Vec<String> = (0..in_service)
                .map(|k| replica_vip(k).to_string())
                .collect();
            cluster_first_resolv_conf(&ns)
        }
        Setup::Sidecar { vip_fallback } => {
            let args = sidecar_args(&c);
            c.start_proxy(bin, &args);
            sidecar_resolv_conf_with(vip_fallback)
        }
    };
    c.set_resolv_conf(&resolv);
    for i in 0..4 {
        assert!(
            c.getent(&format!("svc{i}")).ok,
            "{}: warm-up",
            setup.label()
        );
    }
    let (lookups, ()) = c.resolve_during(10, Duration::from_millis(50), || event(&c));
    (c, lookups)
}

/// The same `event` for each setup, each in its own cluster, all at once.
pub fn measure_all(
    setups: &[Setup],
    n: usize,
    in_service: usize,
    bin: &std::path::Path,
    event: &(dyn Fn(&Cluster) + Sync),
) -> Vec<(Setup, Cluster, Vec<Timed>)> {
    std::thread::scope(|s| {
        let runs: Vec<_> = setups
            .iter()
            .map(|st| s.spawn(move || measure(*st, n, in_service, bin, event)))
            .collect();
        setups
            .iter()
            .zip(runs)
            .map(|(st, r)| {
                let (c, l) = r.join().expect("a setup's run");
                (*st, c, l)
            })
            .collect()
    })
}
