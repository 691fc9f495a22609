//! The cluster-scale benchmark: a fleet of nodes and pods in network namespaces, CoreDNS
//! replicas (NSD behind relays that drop past a capacity, answer from a queue, or die), and,
//! side by side in one run, the ways a pod can resolve: asking the VIP (today), one shared
//! node cache per node (unbound, as NodeLocal DNSCache), a sidecar in every pod, and the
//! two tiers. Each scenario prints one table; run through hack/bench-cluster.sh --netns (root).

use std::path::PathBuf;
use std::time::Duration;

use dns_sidecar_tests::fleet::client::{self, Load, PodRun};
use dns_sidecar_tests::fleet::procs::Resolver;
use dns_sidecar_tests::fleet::report::{Row, HEADER};
use dns_sidecar_tests::fleet::{Fault, Fleet, Spec, ZoneSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// Pods ask the cluster DNS VIP: no cache.
    Direct,
    /// One unbound per node on 169.254.20.10, forwarding to the VIP (NodeLocal DNSCache).
    NodeLocal,
    /// A sidecar in every pod.
    Sidecar,
    /// A sidecar in every pod with our node tier as its first tier.
    TwoTier,
    /// A sidecar in every pod with the NodeLocal-like unbound as its first tier.
    TwoTierNodeLocal,
}

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Setup::Direct => "pods ask the VIP (no cache)",
            Setup::NodeLocal => "node cache (unbound, as NodeLocal)",
            Setup::Sidecar => "dns-sidecar in every pod",
            Setup::TwoTier => "dns-sidecar + our node tier",
            Setup::TwoTierNodeLocal => "dns-sidecar + NodeLocal-like node cache",
        }
    }

    fn parse(s: &str) -> Option<Setup> {
        Some(match s {
            "direct" => Setup::Direct,
            "node-local" => Setup::NodeLocal,
            "sidecar" => Setup::Sidecar,
            "two-tier" => Setup::TwoTier,
            "two-tier-node-local" => Setup::TwoTierNodeLocal,
            _ => return None,
        })
    }

    fn has_sidecars(self) -> bool {
        self.resolver() == Resolver::Sidecar
    }

    fn resolver(self) -> Resolver {
        match self {
            Setup::Direct => Resolver::Vip,
            Setup::NodeLocal => Resolver::NodeLocal,
            _ => Resolver::Sidecar,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Steady,
    Under,
    Overload,
    Queue,
    Dead,
    Cold,
    /// Every node cache SIGKILLed (as by the OOM killer), restarted a second later.
    NodeKill,
    /// Every node cache gone (its pod deleted), the new one up 5 s later: a rollout.
    NodeRoll,
    /// The pods of one app each resolving the same 50 cluster names by FQDN, each name
    /// every 2.5 s (no walk): what a cache shared by the node saves.
    Shared,
}

impl Scenario {
    fn parse(s: &str) -> Option<Scenario> {
        Some(match s {
            "steady" => Scenario::Steady,
            "under" => Scenario::Under,
            "overload" => Scenario::Overload,
            "queue" => Scenario::Queue,
            "dead" => Scenario::Dead,
            "cold" => Scenario::Cold,
            "node-kill" => Scenario::NodeKill,
            "node-roll" => Scenario::NodeRoll,
            "shared" => Scenario::Shared,
            _ => return None,
        })
    }
}

struct Opts {
    spec: Spec,
    seconds: u64,
    capacity: u32,
    setups: Vec<Setup>,
    scenarios: Vec<Scenario>,
    bin: PathBuf,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let num = |flag: &str, default: &str| -> u64 {
        get(flag, default)
            .parse()
            .unwrap_or_else(|_| panic!("{flag} takes a number"))
    };
    let list = |flag: &str, default: &str| -> Vec<String> {
        get(flag, default).split(',').map(String::from).collect()
    };
    Opts {
        spec: Spec {
            nodes: num("--nodes", "2") as usize,
            pods_per_node: num("--pods", "10") as usize,
            replicas: num("--replicas", "2") as usize,
            zones: ZoneSpec {
                cluster_ttl: num("--cluster-ttl", "5") as u32,
                ..ZoneSpec::default()
            },
        },
        seconds: num("--seconds", "20"),
        capacity: num("--capacity", "200") as u32,
        setups: list("--setups", "direct,node-local,sidecar")
            .iter()
            .map(|s| Setup::parse(s).unwrap_or_else(|| panic!("--setups: unknown {s:?}")))
            .collect(),
        scenarios: list(
            "--scenarios",
            "steady,under,overload,queue,dead,cold,node-kill,node-roll",
        )
        .iter()
        .map(|s| Scenario::parse(s).unwrap_or_else(|| panic!("--scenarios: unknown {s:?}")))
        .collect(),
        bin: std::env::var_os("DNS_SIDECAR_PROXY_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(dns_sidecar_tests::proxy_bin),
    }
}

/// The steady application load: the pods of one app, each resolving Services by short name
/// (found at the walk's first step), Services in another namespace (`svc.ns`, found at the
/// second) and outside names (found after three NXDOMAINs), each every 2 s.
fn steady_load() -> Load {
    let mut names: Vec<String> = (0..10).map(|i| format!("svc{i}")).collect();
    names.extend((10..20).map(|i| format!("svc{i}.default")));
    names.extend((0..5).map(|i| format!("ext{i}.example.org")));
    Load::Periodic {
        names,
        every: Duration::from_secs(2),
    }
}

/// Issue 19's workload: 50 cluster names by FQDN, each every 2.5 s.
fn shared_load() -> Load {
    Load::Periodic {
        names: (0..50)
            .map(|i| format!("svc{i}.default.svc.cluster.local."))
            .collect(),
        every: Duration::from_millis(2500),
    }
}

struct Bench {
    fleet: Fleet,
    o: Opts,
}

/// Starts every pod's sidecar of setup `s` (none for the setups without one) at once, each
/// with the setup's first tier, then waits until each answers.
fn start_sidecars(f: &mut Fleet, s: Setup, bin: &std::path::Path) {
    if !matches!(s, Setup::Sidecar | Setup::TwoTier | Setup::TwoTierNodeLocal) {
        return;
    }
    let tier_args = sidecar_tier_args(s);
    for p in 0..f.pods.len() {
        let extra = tier_args(f, p);
        f.start_sidecar(p, bin, &extra);
    }
    for p in 0..f.pods.len() {
        f.await_sidecar(p);
    }
}

/// Starts the node caches of setup `s` on every node.
fn start_node_caches(f: &mut Fleet, s: Setup, bin: &std::path::Path) {
    for k in 0..f.nodes.len() {
        match s {
            Setup::NodeLocal | Setup::TwoTierNodeLocal => f.start_node_local(k),
            Setup::TwoTier => f.start_node_tier(k, bin, &[]),
            Setup::Direct | Setup::Sidecar => {}
        }
    }
}

impl Bench {
    fn start(&mut self, s: Setup) {
        let bin = self.o.bin.clone();
        start_node_caches(&mut self.fleet, s, &bin);
        self.start_sidecars(s);
    }

    fn start_sidecars(&mut self, s: Setup) {
        let bin = self.o.bin.clone();
        start_sidecars(&mut self.fleet, s, &bin);
    }

    fn stop(&mut self) {
        self.fleet.stop_sidecars();
        self.fleet.stop_node_caches();
    }

    /// Runs `load` for `secs` (after `warm` unmeasured seconds of the same load), with
    /// `during` run on another thread meanwhile; returns the row and the seconds measured.
    fn measure(
        &mut self,
        s: Setup,
        load: &Load,
        warm: u64,
        secs: u64,
        during: impl FnOnce(&mut Fleet) + Send,
    ) -> (Row, Vec<dns_sidecar_tests::fleet::relay::Second>) {
        if warm > 0 {
            self.fleet
                .run_load(load, s.resolver(), Duration::from_secs(warm));
        }
        // Start at a second's boundary, so the seconds counted are this load's only.
        let now = self.fleet.second();
        while self.fleet.second() == now {
            std::thread::sleep(Duration::from_millis(5));
        }
        let from = self.fleet.second();
        let targets = self.fleet.targets(s.resolver());
        let runs: Vec<PodRun> = std::thread::scope(|sc| {
            let load_thread =
                sc.spawn(|| client::run_load(&targets, load, Duration::from_secs(secs)));
            during(&mut self.fleet);
            load_thread.join().expect("load")
        });
        let to = self.fleet.second().max(from + 1) + 1;
        let seconds = self.fleet.seconds(from, to);
        (Row::new(s.label(), &runs, &seconds, secs as f64), seconds)
    }
}

fn main() {
    let o = opts();
    let fleet = Fleet::new(o.spec);
    let pods = fleet.pods.len();
    let mut b = Bench { fleet, o };
    let secs = b.o.seconds;
    let cap = b.o.capacity;
    let replicas = b.o.spec.replicas as u32;
    println!(
        "bench-cluster: {} nodes x {} pods, {} CoreDNS replicas (NSD behind relays), proxy {}\n",
        b.o.spec.nodes,
        b.o.spec.pods_per_node,
        replicas,
        b.o.bin.display()
    );
    let mut tables: Vec<(Scenario, Vec<Row>)> =
        b.o.scenarios.iter().map(|sc| (*sc, Vec::new())).collect();
    let mut cold_series: Vec<(Setup, Vec<dns_sidecar_tests::fleet::relay::Second>)> = Vec::new();
    let mut refreshes: Vec<(Setup, f64, usize)> = Vec::new();
    for s in b.o.setups.clone() {
        b.start(s);
        for (sc, rows) in tables.iter_mut() {
            b.fleet.set_faults(Fault::None);
            let debug = std::env::var_os("BENCH_DEBUG").is_some() && s.has_sidecars();
            if debug {
                eprintln!(
                    "{sc:?} / {s:?}, pod 0 before: {}",
                    b.fleet.pod_http(0, "/debug/upstreams")
                );
            }
            let total = f64::from(cap * replicas);
            let (row, seconds) = match sc {
                Scenario::Steady | Scenario::Shared => {
                    b.fleet.track_sources(false);
                    let z = b.o.spec.zones;
                    let load = if *sc == Scenario::Shared {
                        shared_load()
                    } else {
                        steady_load()
                    };
                    let r = b.measure(s, &load, 6, secs, |f| f.track_sources(true));
                    b.fleet.track_sources(false);
                    let (worst, pairs) = per_ttl(&b.fleet.by_source(), z, secs);
                    refreshes.push((s, worst, pairs));
                    r
                }
                Scenario::Under | Scenario::Overload | Scenario::Queue => {
                    let fault = match sc {
                        Scenario::Queue => Fault::Queue {
                            rate: cap,
                            max_wait: Duration::from_millis(800),
                        },
                        _ => Fault::Capacity(cap),
                    };
                    b.fleet.set_faults(fault);
                    let times = if *sc == Scenario::Under { 0.5 } else { 2.0 };
                    let load = Load::Distinct {
                        rate: times * total / pods as f64,
                        tag: match sc {
                            Scenario::Under => "under",
                            Scenario::Queue => "queue",
                            _ => "over",
                        },
                    };
                    b.measure(s, &load, 0, secs.min(10), |_| {})
                }
                Scenario::Dead => b.measure(s, &steady_load(), 6, secs, move |f| {
                    std::thread::sleep(Duration::from_secs(secs / 3));
                    if debug {
                        eprintln!(
                            "pod 0 as replica 0 dies: {}",
                            f.pod_http(0, "/debug/upstreams")
                        );
                    }
                    f.set_fault(0, Fault::Dead);
                    if debug {
                        std::thread::sleep(Duration::from_secs(2));
                        eprintln!("pod 0 2 s later: {}", f.pod_http(0, "/debug/upstreams"));
                    }
                }),
                Scenario::Cold => {
                    let bin = b.o.bin.clone();
                    b.measure(s, &steady_load(), 6, secs.max(40), move |f| {
                        std::thread::sleep(Duration::from_secs(5));
                        // A rollout of the app: every pod replaced at once, caches cold.
                        f.stop_sidecars();
                        start_sidecars(f, s, &bin);
                    })
                }
                Scenario::NodeKill | Scenario::NodeRoll => {
                    let (bin, kill) = (b.o.bin.clone(), *sc == Scenario::NodeKill);
                    b.measure(s, &steady_load(), 6, secs, move |f| {
                        std::thread::sleep(Duration::from_secs(secs / 3));
                        for k in 0..f.nodes.len() {
                            f.kill_node_cache(k);
                        }
                        std::thread::sleep(Duration::from_secs(if kill { 1 } else { 5 }));
                        start_node_caches(f, s, &bin);
                    })
                }
            };
            b.fleet.set_faults(Fault::None);
            if debug {
                let mut denied = std::collections::BTreeMap::<&str, f64>::new();
                for p in 0..b.fleet.pods.len() {
                    let m = b.fleet.pod_http(p, "/metrics");
                    for r in ["budget", "overloaded", "not_faster"] {
                        let series =
                            format!("dns_sidecar_extra_attempts_denied_total{{reason=\"{r}\"}}");
                        *denied.entry(r).or_default() += dns_sidecar_tests::metric(&m, &series);
                    }
                }
                eprintln!(
                    "{sc:?} / {s:?}: extra attempts denied since start, all pods: {denied:?}"
                );
                eprintln!(
                    "{sc:?} / {s:?}, pod 0 after: {}",
                    b.fleet.pod_http(0, "/debug/recent")
                );
            }
            if *sc == Scenario::Cold {
                cold_series.push((s, seconds));
            }
            eprintln!("{:?} / {:?}: {row}", sc, s);
            rows.push(row);
        }
        b.stop();
    }
    for (sc, rows) in &tables {
        println!("### {}\n\n{HEADER}", describe(*sc, &b.o));
        for r in rows {
            println!("{r}");
        }
        println!();
    }
    if !refreshes.is_empty() {
        println!("Steady state, what CoreDNS received for one name from one source (a pod, or a node cache) per TTL of that name, at most:\n");
        for (s, worst, pairs) in &refreshes {
            println!(
                "- {}: {worst:.2} (over {pairs} name and source pairs)",
                s.label()
            );
        }
        println!();
    }
    if !cold_series.is_empty() {
        println!("### Every pod's cache cold at once (a rollout of the app at second 6): CoreDNS queries per second, client / discovery / probes\n");
        let n = cold_series.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
        print!("| second |");
        for (s, _) in &cold_series {
            print!(" {} |", s.label());
        }
        println!("\n| ---: |{}", " ---: |".repeat(cold_series.len()));
        for i in 0..n {
            print!("| {i} |");
            for (_, series) in &cold_series {
                let x = series.get(i).copied().unwrap_or_default();
                print!(" {} / {} / {} |", x.by_kind[0], x.by_kind[1], x.by_kind[2]);
            }
            println!();
        }
    }
}

/// The most queries CoreDNS got for one name from one source per TTL of the name, over a
/// `secs` window (as many TTLs as begin in it): 1.00 is one refresh per TTL. Names under the cluster zone (found or not,
/// the negative TTL is the same) live the cluster TTL, outside names theirs.
fn per_ttl(
    by: &std::collections::HashMap<(std::net::Ipv4Addr, String), u32>,
    z: ZoneSpec,
    secs: u64,
) -> (f64, usize) {
    if std::env::var_os("BENCH_DEBUG").is_some() {
        let mut v: Vec<_> = by.iter().collect();
        v.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        eprintln!("top: {:?}", &v[..v.len().min(5)]);
        let mut sums = std::collections::BTreeMap::<String, u32>::new();
        for ((_, name), n) in by {
            let class = if name.starts_with("dns-sidecar") {
                "discovery"
            } else if name.ends_with(".example.org.") {
                "ext"
            } else if name.contains("example.org") {
                "ext-walk"
            } else if name.starts_with("svc")
                && name.matches('.').count() == 6
                && !name.contains("default.default")
            {
                "svc-found"
            } else {
                "other"
            };
            *sums.entry(class.into()).or_default() += n;
        }
        eprintln!("by class: {sums:?}");
        let mut hist = std::collections::BTreeMap::<u32, u32>::new();
        for n in by.values() {
            *hist.entry(*n).or_default() += 1;
        }
        eprintln!("count histogram: {hist:?}");
    }
    let worst = by
        .iter()
        .filter(|((_, name), _)| name != "." && name != dns_sidecar_tests::fleet::DISCOVERY_NAME)
        .map(|((_, name), n)| {
            let ttl = if name.ends_with("cluster.local.") {
                z.cluster_ttl
            } else {
                z.external_ttl
            };
            *n as f64 / (secs as f64 / f64::from(ttl)).ceil()
        })
        .fold(0.0, f64::max);
    (worst, by.len())
}

/// The extra sidecar flags of a setup (its first tier), per pod.
fn sidecar_tier_args(s: Setup) -> impl Fn(&Fleet, usize) -> Vec<String> + Send {
    move |f: &Fleet, p: usize| match s {
        Setup::TwoTier => vec![format!(
            "--node-cache={}:{}",
            dns_sidecar_tests::fleet::node_ip(f.pods[p].node),
            dns_sidecar_tests::fleet::NODE_TIER_PORT
        )],
        Setup::TwoTierNodeLocal => vec![format!(
            "--node-cache={}",
            dns_sidecar_tests::fleet::NODE_LOCAL
        )],
        _ => vec![],
    }
}

fn describe(sc: Scenario, o: &Opts) -> String {
    let total = o.capacity * o.spec.replicas as u32;
    match sc {
        Scenario::Steady => format!("Steady state: each pod resolves 10 Services by short name, 10 as `svc.ns` and 5 outside names, each every 2 s; cluster TTL {} s, outside TTL {} s ({} s measured)", o.spec.zones.cluster_ttl, o.spec.zones.external_ttl, o.seconds),
        Scenario::Under => format!("Below capacity: names never asked before at half of what the replicas can answer ({} q/s offered, {} q/s capacity)", total / 2, total),
        Scenario::Overload => format!("A 2x overload: names never asked before at twice what the replicas can answer ({} q/s offered, {} q/s capacity, the rest dropped)", total * 2, total),
        Scenario::Queue => format!("A 2x overload from a queue: the replicas answer {} q/s in arrival order, late; a query that would wait over 800 ms is dropped ({} q/s offered)", total, total * 2),
        Scenario::Dead => format!("A dead replica: the steady load, replica 0's node dies a third of the way in ({} s measured)", o.seconds),
        Scenario::Cold => "Every pod's cache cold at once: the steady load, every sidecar restarted together 5 s in (a rollout of the app)".to_string(),
        Scenario::NodeKill => format!("The node cache OOM-killed: the steady load, every node's cache killed (SIGKILL) a third of the way in and restarted a second later ({} s measured; setups without a node cache are unaffected)", o.seconds),
        Scenario::Shared => format!("A cache shared by the node: each pod resolves the same 50 cluster names by FQDN, each every 2.5 s; cluster TTL {} s ({} s measured)", o.spec.zones.cluster_ttl, o.seconds),
        Scenario::NodeRoll => format!("The node cache rolled: the steady load, every node's cache gone a third of the way in, the new one up 5 s later ({} s measured)", o.seconds),
    }
}
