//! The fault matrix on the real cluster of `hack/cluster.sh` (`cluster::matrix`): every
//! setup through every scenario, one markdown table per scenario. Run by
//! `hack/bench-cluster.sh` (root; the cluster up).
//!
//!   bench_matrix [--setups vip,per-replica,nodelocal,sidecar,sidecar+nodelocal,sidecar+tier]
//!                [--scenarios steady,replica-dies,rollout,node-cache-killed,loss-5,cold,dead-at-start,overload-2x]
//!                [--seconds 30] [--interval-ms 100] [--clients glibc,musl,go]
//!                [--pods 1] [--cluster-ttl 30]
//!   bench_matrix --cost     what a sidecar and NodeLocal DNSCache cost, as the kubelet sees
//!   bench_matrix --overload [--cpu-millis 100] [--seconds 20] [--factor 2] [--pods 1]
//!                           a CPU-limited CoreDNS offered twice what it serves, by one busy
//!                           pod or --pods sharing it, straight and through the sidecars
//!                           (`cluster::overload`)

use dns_sidecar_tests::cluster::matrix::scenarios::Scenario;
use dns_sidecar_tests::cluster::matrix::setups::Setup;
use dns_sidecar_tests::cluster::matrix::{self, Options, HEADER};
use dns_sidecar_tests::cluster::{overload, Kube, CLIENTS};

fn list<T>(v: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    v.split(',')
        .map(|s| parse(s).unwrap_or_else(|| fail(&format!("--{what}: unknown {s:?}"))))
        .collect()
}

fn fail(msg: &str) -> ! {
    eprintln!("bench_matrix: {msg}");
    std::process::exit(2)
}

fn main() {
    let mut o = Options {
        setups: Setup::ALL.to_vec(),
        scenarios: Scenario::ALL.to_vec(),
        clients: CLIENTS.iter().map(|c| c.0).collect(),
        secs: 30,
        interval_ms: 100,
        names: vec![
            "kubernetes.default",
            "www.example.com",
            "missing.example.com",
        ],
        pods: 1,
        cluster_ttl: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--cost") {
        println!(
            "{}",
            dns_sidecar_tests::cluster::cost::measure(&Kube::get())
        );
        return;
    }
    if args.first().is_some_and(|a| a == "--overload") {
        overload(&args[1..]);
        return;
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| fail(&format!("{a} needs a value")));
        match a.as_str() {
            "--setups" => o.setups = list(v, "setups", Setup::parse),
            "--scenarios" => o.scenarios = list(v, "scenarios", Scenario::parse),
            "--clients" => {
                o.clients = list(v, "clients", |c| {
                    CLIENTS.iter().find(|x| x.0 == c).map(|x| x.0)
                })
            }
            "--seconds" => {
                o.secs = v
                    .parse()
                    .ok()
                    .filter(|s| (10..=600).contains(s))
                    .unwrap_or_else(|| fail("--seconds: 10..600"))
            }
            "--interval-ms" => {
                o.interval_ms = v
                    .parse()
                    .ok()
                    .filter(|s| (10..=5000).contains(s))
                    .unwrap_or_else(|| fail("--interval-ms: 10..5000"))
            }
            "--pods" => {
                o.pods = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=50).contains(s))
                    .unwrap_or_else(|| fail("--pods: 1..50"))
            }
            "--cluster-ttl" => {
                o.cluster_ttl = Some(
                    v.parse()
                        .ok()
                        .filter(|s| (1..=3600).contains(s))
                        .unwrap_or_else(|| fail("--cluster-ttl: 1..3600")),
                )
            }
            other => fail(&format!("unknown argument {other}")),
        }
    }
    let k = Kube::get();
    let runs = matrix::run(&k, &o, |r| {
        eprintln!(
            "== {} / {}: {} lookups, {} failed",
            r.scenario.name(),
            r.setup.name(),
            r.lookups(),
            r.failures()
        );
    });
    for sc in &o.scenarios {
        println!("\n### {}\n\n{HEADER}", sc.title());
        for r in runs.iter().filter(|r| r.scenario == *sc) {
            print!("{}", matrix::rows(r));
        }
    }
}

fn overload(args: &[String]) {
    let mut o = overload::Options {
        cpu_millis: 100,
        secs: 20,
        factor: 2.0,
        pods: 1,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| fail(&format!("{a} needs a value")));
        let num = |range: std::ops::RangeInclusive<f64>| {
            v.parse::<f64>()
                .ok()
                .filter(|x| range.contains(x))
                .unwrap_or_else(|| fail(&format!("{a}: {}..{}", range.start(), range.end())))
        };
        match a.as_str() {
            "--cpu-millis" => o.cpu_millis = num(10.0..=2000.0) as u32,
            "--seconds" => o.secs = num(5.0..=120.0) as u32,
            "--factor" => o.factor = num(0.1..=5.0),
            "--pods" => o.pods = num(1.0..=40.0) as u32,
            other => fail(&format!("unknown argument {other}")),
        }
    }
    let m = overload::measure(&Kube::get(), &o);
    println!("{}", overload::table(&m, &o));
}
