//! The fault matrix on the real cluster: each scenario (`scenarios`) against each setup
//! (`setups`), one setup on the node at a time so that what CoreDNS counts is that setup's, its glibc,
//! musl and Go clients each resolving in a loop; per client the lookups, failures and
//! latency percentiles, per setup what CoreDNS itself counted (`coredns_dns_requests_total`,
//! followed across its pods by `tally`) per second and per client lookup.
//! `hack/bench-cluster.sh` runs it whole; `tests/tests/cluster_matrix.rs` a short variant.

pub mod neighbour;
pub mod scenarios;
pub mod setups;
pub mod tally;

use std::time::Duration;

use super::side_by_side::{Loops, Seen};
use super::{App, Kube};
use scenarios::Scenario;
use setups::Setup;

pub struct Options {
    pub setups: Vec<Setup>,
    pub scenarios: Vec<Scenario>,
    pub clients: Vec<&'static str>,
    /// How long each run lasts, and the pause between one client's lookups.
    pub secs: u32,
    pub interval_ms: u32,
    /// Names the clients ask in turn (a Service, an outside name, a missing one).
    pub names: Vec<&'static str>,
    /// Pods of each setup's app, all on the node.
    pub pods: u32,
    /// CoreDNS's kubernetes plugin TTL for the run (kubeadm's Corefile says 30).
    pub cluster_ttl: Option<u32>,
}

/// Sets the TTL of CoreDNS's kubernetes plugin and rolls CoreDNS so it takes it at once.
pub fn set_cluster_ttl(k: &Kube, ttl: u32) {
    let cm = k.json(&["-n", "kube-system", "get", "configmap", "coredns"]);
    let corefile = cm["data"]["Corefile"].as_str().expect("CoreDNS's Corefile");
    let line = corefile
        .lines()
        .find(|l| l.trim_start().starts_with("ttl "))
        .expect("a ttl line");
    let indent = &line[..line.len() - line.trim_start().len()];
    let patched = corefile.replace(line, &format!("{indent}ttl {ttl}"));
    let patch = serde_json::json!({"data": {"Corefile": patched}}).to_string();
    k.ok(&[
        "-n",
        "kube-system",
        "patch",
        "configmap",
        "coredns",
        "--type=merge",
        "-p",
        &patch,
    ]);
    k.ok(&[
        "-n",
        "kube-system",
        "rollout",
        "restart",
        "deployment/coredns",
    ]);
    k.rollout("kube-system", "deployment/coredns");
}

/// One setup's run of one scenario.
pub struct Run {
    pub scenario: Scenario,
    pub setup: Setup,
    pub seen: Vec<Seen>,
    /// What CoreDNS counted over the run.
    pub coredns: f64,
    pub secs: f64,
}

impl Run {
    pub fn lookups(&self) -> usize {
        self.seen.iter().map(|s| s.results.len()).sum()
    }
    pub fn failures(&self) -> usize {
        self.seen.iter().map(Seen::failures).sum()
    }
}

/// Runs the matrix; NodeLocal DNSCache is installed for the setups that use it only, our
/// node tier for its own setup only, and each setup's app is on the node only while its
/// scenarios run: idle pods of another setup would be counted too (each sidecar follows the
/// replicas with a `--discover` lookup every TTL, 20 pods at TTL 5 some 8 CoreDNS requests
/// a second, which the first run of twenty pods had put on our node tier's row).
pub fn run(k: &Kube, o: &Options, mut each: impl FnMut(&Run)) -> Vec<Run> {
    k.install();
    if let Some(ttl) = o.cluster_ttl {
        set_cluster_ttl(k, ttl);
    }
    let tier = crate::repo_root().join("manifests/node-cache");
    let tier = tier.to_str().unwrap();
    let mut runs = Vec::new();
    for with_nodelocal in [false, true] {
        let phase: Vec<Setup> = o
            .setups
            .iter()
            .copied()
            .filter(|s| s.with_nodelocal() == with_nodelocal)
            .collect();
        if phase.is_empty() {
            continue;
        }
        if with_nodelocal {
            k.install_nodelocal();
        }
        for setup in phase {
            if setup == Setup::SidecarTier {
                k.ok(&["apply", "-k", tier]);
                k.rollout("dns-sidecar-node", "daemonset/dns-sidecar-node-cache");
            }
            let app = setup.deploy(k, o.pods);
            for sc in o.scenarios.iter().filter(|sc| sc.applies_to(setup)) {
                let r = run_one(k, o, *sc, setup, &app);
                each(&r);
                runs.push(r);
            }
            k.delete_namespace(&setup.ns());
            if setup == Setup::SidecarTier {
                let _ = k.run(&["delete", "-k", tier, "--ignore-not-found", "--wait=true"]);
            }
        }
        if with_nodelocal {
            k.remove_nodelocal();
        }
    }
    if o.cluster_ttl.is_some() {
        set_cluster_ttl(k, 30);
    }
    runs
}

fn run_one(k: &Kube, o: &Options, sc: Scenario, setup: Setup, app: &App) -> Run {
    setup.refresh(k);
    let early = sc.before_start().then(|| {
        let f = scenarios::start(k, sc, setup);
        k.ok(&["-n", &app.ns, "rollout", "restart", "deployment/app"]);
        k.rollout(&app.ns, "deployment/app");
        f
    });
    let tally = tally::Tally::start(k);
    let loops = Loops::start(
        k,
        &[(setup.name(), app)],
        &o.clients,
        o.interval_ms,
        o.secs,
        &o.names,
    );
    let third = Duration::from_secs(u64::from(o.secs) / 3);
    let fault = early.unwrap_or_else(|| {
        std::thread::sleep(Duration::from_secs(3));
        scenarios::start(k, sc, setup)
    });
    std::thread::sleep(third);
    scenarios::midway(k, sc, setup);
    let seen = loops.finish();
    let (coredns, secs) = tally.stop();
    scenarios::end(k, fault);
    Run {
        scenario: sc,
        setup,
        seen,
        coredns,
        secs,
    }
}

/// The p-th percentile of a run's lookup times, in milliseconds.
pub fn percentile(seen: &Seen, p: f64) -> f64 {
    let mut t: Vec<f64> = seen
        .results
        .iter()
        .map(|r| r.took.as_secs_f64() * 1e3)
        .collect();
    t.sort_by(f64::total_cmp);
    if t.is_empty() {
        return 0.0;
    }
    t[((t.len() as f64 * p).ceil() as usize).clamp(1, t.len()) - 1]
}

pub const HEADER: &str = "| setup | client | lookups | failed | p50 | p99 | max | CoreDNS req/s | CoreDNS req per lookup |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |";

/// A run's rows of the table.
pub fn rows(r: &Run) -> String {
    let per_lookup = r.coredns / r.lookups().max(1) as f64;
    r.seen
        .iter()
        .map(|s| {
            format!(
                "| {} | {} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} | {:.2} |\n",
                r.setup.label(),
                s.label.rsplit('/').next().unwrap_or(""),
                s.results.len(),
                s.failures(),
                percentile(s, 0.5),
                percentile(s, 0.99),
                percentile(s, 1.0),
                r.coredns / r.secs,
                per_lookup
            )
        })
        .collect()
}
