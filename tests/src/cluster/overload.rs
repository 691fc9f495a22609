//! A CPU-limited CoreDNS offered twice what it can serve, by one busy pod or by many pods
//! of one app sharing the load: CoreDNS's pods get a CPU limit (the cgroup quota
//! `resources.limits.cpu` sets), so past their capacity they queue and drop as an
//! overloaded CoreDNS does in production. From inside each injected pod's network namespace
//! (entered from the node, as the pod's own app would send), names never asked before are
//! offered at a fixed rate, each from a fresh socket with no retry: first straight to the
//! replicas' pod IPs (what the app gets without a sidecar, the VIP spreading fresh flows
//! over them), then to each pod's sidecar on 127.0.0.1:53. Per run: the answers by RCODE,
//! the p99 of those answered, what CoreDNS itself counted (`coredns_dns_requests_total`)
//! per client query, and CoreDNS's own p99 (`coredns_dns_request_duration_seconds`). The
//! names are under `load.example.com`, a wildcard on the node's upstream, so each is a
//! cache miss CoreDNS forwards.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::matrix::tally::Tally as CoreDnsTally;
use super::metrics::{bucket_delta, buckets, quantile, scrape};
use super::{App, Kube};
use crate::load::{offer, tally, Outcome, Tally};

const NS: &str = "t-overload";
/// The client's own timeout: longer than the sidecar's query budget (1.5 s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Options {
    /// CoreDNS's CPU limit, in millicores.
    pub cpu_millis: u32,
    /// How long each run offers its load, and how many times CoreDNS's measured capacity.
    pub secs: u32,
    pub factor: f64,
    /// Pods of the app; the load is shared among them.
    pub pods: u32,
}

/// One run: where the load went, at what rate, and what came of it.
pub struct Run {
    pub path: &'static str,
    pub rate: f64,
    pub got: Tally,
    pub p99_ms: f64,
    pub coredns: f64,
    /// CoreDNS's own p99 request duration over the run, as its histogram has it.
    pub coredns_p99_ms: Option<f64>,
}

impl Run {
    pub fn offered(&self) -> usize {
        let t = &self.got;
        t.noerror + t.nxdomain + t.servfail + t.other + t.unanswered
    }

    /// CoreDNS requests per client query.
    pub fn per_query(&self) -> f64 {
        self.coredns / self.offered().max(1) as f64
    }
}

/// CoreDNS's measured capacity (answers a second), and the runs at `factor` times it.
pub struct Measured {
    pub capacity: f64,
    pub runs: Vec<Run>,
}

/// Limits CoreDNS, measures, and puts CoreDNS back as kubeadm runs it (no CPU limit).
pub fn measure(k: &Kube, o: &Options) -> Measured {
    k.install();
    limit_coredns(k, Some(o.cpu_millis));
    // Put back even if a step below panics: the tests after this one share the cluster.
    let _restore = Restore(k);
    k.fresh_namespace(NS, &[("dns-sidecar.io/inject", "enabled")]);
    k.apply(
        &super::app_manifest(NS, "busy", &[])
            .replace("replicas: 1", &format!("replicas: {}", o.pods.max(1))),
    );
    k.rollout(NS, "deployment/busy");
    let app = App {
        ns: NS.into(),
        name: "busy".into(),
    };
    let netns: Vec<PathBuf> = app
        .pod_names(k)
        .iter()
        .map(|pod| {
            let pid = k.container_pid(NS, pod, "glibc");
            PathBuf::from(format!("/proc/{pid}/ns/net"))
        })
        .collect();
    let replicas: Vec<SocketAddr> = k
        .coredns_ips()
        .iter()
        .map(|ip| format!("{ip}:53").parse().expect("a pod IP"))
        .collect();
    // Capacity: far more than it can serve, straight to the replicas, for 3 s.
    let probe = load(&netns, &replicas, "probe", 3000.0, 3);
    let capacity = answered(&probe) as f64 / 3.0;
    let rate = (capacity * o.factor).max(50.0);
    let mut runs = Vec::new();
    let sidecar: Vec<SocketAddr> = vec!["127.0.0.1:53".parse().unwrap()];
    for (path, to) in [
        ("direct to the replicas", &replicas),
        ("through the sidecar", &sidecar),
    ] {
        // Let CoreDNS drain what the last run left queued.
        std::thread::sleep(Duration::from_secs(3));
        let counted = CoreDnsTally::start(k);
        let took = durations(k);
        let out = load(&netns, to, path, rate, o.secs);
        let (coredns, _) = counted.stop();
        let took = bucket_delta(&took, &durations(k));
        runs.push(Run {
            path,
            rate,
            got: tally(&out),
            p99_ms: p99(&out),
            coredns,
            coredns_p99_ms: quantile(&took, 0.99).map(|s| s * 1e3),
        });
    }
    Measured { capacity, runs }
}

/// On drop: the load's namespace removed, CoreDNS as kubeadm runs it.
struct Restore<'a>(&'a Kube);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.0.delete_namespace(NS);
        limit_coredns(self.0, None);
    }
}

/// CoreDNS's request-duration histogram, every replica's summed (no replica comes or goes
/// within a run here).
fn durations(k: &Kube) -> Vec<(f64, f64)> {
    let mut all: Vec<(f64, f64)> = Vec::new();
    for ip in k.coredns_ips() {
        let b = buckets(&scrape(&ip, 9153), "coredns_dns_request_duration_seconds");
        for (le, n) in b {
            match all.iter_mut().find(|a| a.0 == le) {
                Some(a) => a.1 += n,
                None => all.push((le, n)),
            }
        }
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    all
}

pub(crate) fn answered(out: &[Outcome]) -> usize {
    out.iter().filter(|o| o.rcode.is_some()).count()
}

fn p99(out: &[Outcome]) -> f64 {
    let mut t: Vec<f64> = out
        .iter()
        .filter(|o| o.rcode.is_some())
        .map(|o| o.took.as_secs_f64() * 1e3)
        .collect();
    t.sort_by(f64::total_cmp);
    t.get(((t.len() as f64 * 0.99) as usize).min(t.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// Offers `rate` names a second for `secs`, shared by the pods of `netns` (each sending
/// from inside its own network namespace), each pod's share spread over `to`.
pub(crate) fn load(
    netns: &[PathBuf],
    to: &[SocketAddr],
    tag: &str,
    rate: f64,
    secs: u32,
) -> Vec<Outcome> {
    let share = rate / netns.len().max(1) as f64;
    let threads: Vec<_> = netns
        .iter()
        .enumerate()
        .map(|(p, ns)| load_from(ns, p, to, tag, share, secs))
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("the load thread"))
        .collect()
}

/// One pod's share of a load, from a thread in its network namespace.
fn load_from(
    netns: &Path,
    pod: usize,
    to: &[SocketAddr],
    tag: &str,
    rate: f64,
    secs: u32,
) -> std::thread::JoinHandle<Vec<Outcome>> {
    let n = (rate * f64::from(secs)) as usize;
    let run = std::process::id() ^ crate::load::unit().to_bits() as u32;
    let tag: String = tag
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let (to, netns) = (to.to_vec(), netns.to_path_buf());
    crate::netns::in_netns_at(netns, move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async move {
                // One offer per server, each at its share of the rate, names disjoint.
                let per = to.len();
                let tasks: Vec<_> = to
                    .iter()
                    .enumerate()
                    .map(|(s, addr)| {
                        let names: Vec<String> = (0..n / per)
                            .map(|i| format!("{tag}-{run:x}-{pod}-{s}-{i}.load.example.com."))
                            .collect();
                        let (addr, rate) = (*addr, rate / per as f64);
                        tokio::spawn(async move { offer(addr, &names, rate, CLIENT_TIMEOUT).await })
                    })
                    .collect();
                let mut all = Vec::with_capacity(n);
                for t in tasks {
                    all.extend(t.await.expect("an offer"));
                }
                all
            })
    })
}

/// Sets (Some) the CPU limit of CoreDNS's container, its request with it (a request may
/// not exceed its limit), or puts back kubeadm's (None: no limit, 100m requested); rolls it.
pub(crate) fn limit_coredns(k: &Kube, millis: Option<u32>) {
    let res = "/spec/template/spec/containers/0/resources";
    let patch = match millis {
        Some(m) => format!(
            r#"[{{"op":"add","path":"{res}/limits/cpu","value":"{m}m"}},{{"op":"replace","path":"{res}/requests/cpu","value":"{m}m"}}]"#
        ),
        None => format!(
            r#"[{{"op":"remove","path":"{res}/limits/cpu"}},{{"op":"replace","path":"{res}/requests/cpu","value":"100m"}}]"#
        ),
    };
    let args = [
        "-n",
        "kube-system",
        "patch",
        "deployment/coredns",
        "--type=json",
        "-p",
        &patch,
    ];
    if millis.is_some() {
        k.ok(&args);
        k.rollout("kube-system", "deployment/coredns");
    } else {
        // From a drop, maybe while panicking: nothing here may panic again (and there is
        // nothing to remove when the limit never went on).
        let _ = k.run(&args);
        let _ = k.run(&[
            "-n",
            "kube-system",
            "rollout",
            "status",
            "deployment/coredns",
            "--timeout=180s",
        ]);
    }
}

/// The runs as a markdown table, each against the direct run.
pub fn table(m: &Measured, o: &Options) -> String {
    let direct = m.runs.first().map_or(1, |r| r.got.noerror.max(1));
    let mut s = format!(
        "CoreDNS limited to {}m CPU per replica, 2 replicas, measured capacity {:.0} answers/s; offered {:.0} q/s ({}x) for {} s by {} pod(s), each name new\n\n| path | offered | NOERROR | SERVFAIL | unanswered | NOERROR against direct | p99 answered | CoreDNS req per query | CoreDNS's own p99 |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        o.cpu_millis,
        m.capacity,
        m.runs.first().map_or(0.0, |r| r.rate),
        o.factor,
        o.secs,
        o.pods
    );
    for r in &m.runs {
        s += &format!(
            "| {} | {} | {} | {} | {} | {:.0}% | {:.1} ms | {:.2} | {} |\n",
            r.path,
            r.offered(),
            r.got.noerror,
            r.got.servfail,
            r.got.unanswered,
            100.0 * r.got.noerror as f64 / direct as f64,
            r.p99_ms,
            r.per_query(),
            r.coredns_p99_ms
                .map_or("n/a".to_string(), |ms| format!("{ms:.1} ms"))
        );
    }
    s
}
