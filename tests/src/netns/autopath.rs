//! Autopath in a pod, for the tests and the benchmark: a pod whose sidecar runs a level,
//! and what a level costs upstream per cold lookup and in a steady workload.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;

pub const LEVELS: [&str; 4] = ["off", "prefetch", "nxdomain", "cname"];

/// Names a pod resolves, by shape.
pub const NAMES: [&str; 9] = [
    "example.org",        // external, 1 dot
    "www.example.org",    // external, 2 dots
    "api.v1.example.org", // external, 3 dots
    "api.example.org",    // A but no AAAA
    "svc7",               // a Service in the pod's namespace
    "web.shop",           // a Service in another namespace
    "web.shop.svc",       // the same, with svc
    "build.tools",        // only under the node's search domain
    "nope.example.org",   // nowhere
];

/// The steady workload: external names of 1, 2 and 3 dots.
pub const WORKLOAD: [&str; 3] = ["example.org", "www.example.org", "api.v1.example.org"];

/// A pod whose sidecar runs `--autopath level`, with the resolv.conf the webhook writes
/// (ndots 5, the ClusterFirst search list and a node search domain, `corp.internal`) but
/// only the sidecar as nameserver, so every answer a client gets is the sidecar's; the
/// cluster zone's negative TTL is `negative_ttl`, and the replicas answer `delay` late.
pub fn pod(bin: &Path, level: &str, negative_ttl: u32, delay: Option<Duration>) -> Cluster {
    let mut c = Cluster::new(2, 2);
    c.set_negative_ttl(negative_ttl);
    if let Some(d) = delay {
        c.slow(0, d);
        c.slow(1, d);
    }
    c.set_resolv_conf(&sidecar_resolv_conf_for(
        false,
        &["corp.internal".to_string()],
    ));
    let args = vec![
        format!("--upstream={},{}", replica_ip(0), replica_ip(1)),
        format!("--autopath={level}"),
    ];
    c.start_proxy(bin, &args);
    // A pod's first lookup: the cluster zone's SOA comes with its first NXDOMAIN.
    assert!(c.getent("kubernetes.default").ok, "{level}: warm-up");
    c
}

/// The sum of a metric's series on the sidecar.
pub fn metric(c: &Cluster, name: &str) -> u64 {
    c.pod_http("/metrics")
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn upstream_packets(c: &Cluster) -> u64 {
    c.packets_to(0) + c.packets_to(1)
}

/// One cold lookup through glibc: queries the client sent, queries upstream got, time.
#[derive(Debug, Clone, Copy)]
pub struct Cold {
    pub name: &'static str,
    pub client_queries: u64,
    pub upstream_queries: u64,
    pub took: Duration,
}

/// What one level costs.
#[derive(Debug, Clone)]
pub struct Load {
    pub level: &'static str,
    pub cold: Vec<Cold>,
    /// Upstream queries during the steady window, and the window.
    pub steady: u64,
    pub window: Duration,
}

impl Load {
    pub fn per_minute(&self) -> f64 {
        self.steady as f64 * 60.0 / self.window.as_secs_f64()
    }
}

/// Cold lookups of each workload name, then glibc resolving all of them every second for
/// `window`, counting the queries the replicas get.
pub fn measure(
    bin: &Path,
    level: &'static str,
    negative_ttl: u32,
    window: Duration,
    delay: Option<Duration>,
) -> Load {
    let c = pod(bin, level, negative_ttl, delay);
    let mut cold = Vec::new();
    for name in WORKLOAD {
        let (q0, u0, t0) = (
            metric(&c, "dns_sidecar_requests_total"),
            upstream_packets(&c),
            Instant::now(),
        );
        assert!(c.getent(name).ok, "{level}: {name}");
        let took = t0.elapsed();
        cold.push(Cold {
            name,
            client_queries: metric(&c, "dns_sidecar_requests_total") - q0,
            upstream_queries: upstream_packets(&c) - u0,
            took,
        });
    }
    let u0 = upstream_packets(&c);
    let start = Instant::now();
    let mut tick = 1;
    while start.elapsed() < window {
        for name in WORKLOAD {
            assert!(c.getent(name).ok, "{level}: {name}");
        }
        let next = start + Duration::from_secs(tick);
        tick += 1;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Load {
        level,
        cold,
        steady: upstream_packets(&c) - u0,
        window: start.elapsed(),
    }
}

/// A markdown table of `loads` (the first is `off`, the baseline).
pub fn report(negative_ttl: u32, loads: &[&Load]) -> String {
    let off = loads.first().map_or(1.0, |l| l.per_minute().max(1.0));
    let mut s = format!(
        "cluster negative TTL {negative_ttl} s; cold lookups of {}\n\n| level | upstream queries/min (steady) | vs off | per cold lookup: client queries | upstream queries | time (ms) |\n| --- | ---: | ---: | --- | --- | --- |\n",
        WORKLOAD.join(", ")
    );
    for l in loads {
        let col =
            |f: &dyn Fn(&Cold) -> String| l.cold.iter().map(f).collect::<Vec<_>>().join(" / ");
        s.push_str(&format!(
            "| {} | {:.0} | {:.2} | {} | {} | {} |\n",
            l.level,
            l.per_minute(),
            l.per_minute() / off,
            col(&|c| c.client_queries.to_string()),
            col(&|c| c.upstream_queries.to_string()),
            col(&|c| format!("{:.0}", c.took.as_secs_f64() * 1e3)),
        ));
    }
    s
}
