//! Two tiers (root: network namespaces, nftables): a node tier of our own (the proxy on the
//! node's address, finding the replicas by discovery) shared by the node's pods, each of
//! which keeps its sidecar and the sidecar its own failover to the replicas. While the node
//! tier is OOM-killed, restarted and rolled, and while a replica behind it dies, glibc and
//! musl in the pods (resolv.conf: the sidecar only, so every answer is the sidecar's) lose
//! no lookup; pods asking a NodeLocal-like node cache directly (unbound on 169.254.20.10)
//! lose lookups while it restarts, for contrast. Asserted in counts.

use std::time::Duration;

use dns_sidecar_tests::clients::musl_gai;
use dns_sidecar_tests::fleet::apps::{
    node_local_resolv_conf, resolving_during, sidecar_only_resolv_conf, App, Timed,
};
use dns_sidecar_tests::fleet::{node_ip, Fault, Fleet, Spec, ZoneSpec, NODE_TIER_PORT};
use dns_sidecar_tests::netns::Client;
use dns_sidecar_tests::proxy_bin;

const PACE: Duration = Duration::from_millis(50);

/// Something done to the node tier, with the proxy binary to start it again.
type Act = fn(&mut Fleet, &std::path::Path);

fn fleet() -> Fleet {
    Fleet::new(Spec {
        nodes: 1,
        pods_per_node: 2,
        replicas: 2,
        zones: ZoneSpec::default(),
    })
}

/// A node tier on the node, and in each pod a sidecar with it as the first tier; pod 0's
/// application is glibc, pod 1's musl.
fn two_tiers() -> (Fleet, Vec<App>) {
    let bin = proxy_bin();
    let mut f = fleet();
    f.start_node_tier(0, &bin, &[]);
    let tier = format!("--node-cache={}:{NODE_TIER_PORT}", node_ip(0));
    for p in 0..2 {
        f.set_resolv_conf(p, &sidecar_only_resolv_conf());
        f.start_sidecar(p, &bin, std::slice::from_ref(&tier));
        f.await_sidecar(p);
    }
    let apps = vec![
        f.app(0, Client::Glibc),
        f.app(1, Client::Program(musl_gai())),
    ];
    for a in &apps {
        assert!(
            a.resolve("svc1").ok,
            "{:?} resolves before anything happens",
            a.client
        );
    }
    (f, apps)
}

fn summary(label: &str, runs: &[Vec<Timed>]) -> (usize, usize) {
    let (mut n, mut failed) = (0, 0);
    for (i, r) in runs.iter().enumerate() {
        let worst = r.iter().map(|t| t.took).max().unwrap_or_default();
        let f = r.iter().filter(|t| !t.ok).count();
        eprintln!(
            "{label}: app {i}: {} lookups, {f} failed, slowest {:.1} ms",
            r.len(),
            worst.as_secs_f64() * 1e3
        );
        n += r.len();
        failed += f;
    }
    (n, failed)
}

#[test]
fn the_node_tier_oom_killed_restarted_and_rolled_costs_the_pods_nothing() {
    let bin = proxy_bin();
    let (mut f, apps) = two_tiers();
    let served_before = f.node_tier_metric(0, "dns_sidecar_cache_misses_total")
        + f.node_tier_metric(0, "dns_sidecar_cache_hits_total");
    assert!(served_before >= 1.0, "the sidecars ask the node tier");
    let phases: [(&str, Act); 3] = [
        ("OOM-killed, restarted a second later", |f, bin| {
            f.kill_node_cache(0);
            std::thread::sleep(Duration::from_secs(1));
            f.start_node_tier(0, bin, &[]);
        }),
        ("restarted (SIGTERM, drain, start)", |f, bin| {
            f.stop_node_cache(0);
            f.start_node_tier(0, bin, &[]);
        }),
        (
            "rolled: the old pod gone, the new one up 3 s later",
            |f, bin| {
                f.kill_node_cache(0);
                std::thread::sleep(Duration::from_secs(3));
                f.start_node_tier(0, bin, &[]);
            },
        ),
    ];
    for (label, act) in phases {
        let (runs, ()) = resolving_during(&apps, PACE, || {
            std::thread::sleep(Duration::from_secs(2));
            act(&mut f, &bin);
            std::thread::sleep(Duration::from_secs(2));
        });
        let (n, failed) = summary(label, &runs);
        assert!(n >= 40, "{label}: only {n} lookups");
        assert_eq!(failed, 0, "{label}: {failed} of {n} lookups failed");
    }
    let served_after = f.node_tier_metric(0, "dns_sidecar_cache_misses_total")
        + f.node_tier_metric(0, "dns_sidecar_cache_hits_total");
    assert!(served_after >= 1.0, "the new node tier is asked again");
}

#[test]
fn a_dead_replica_behind_the_node_tier_costs_the_pods_nothing() {
    let (f, apps) = two_tiers();
    let (runs, ()) = resolving_during(&apps, PACE, || {
        std::thread::sleep(Duration::from_secs(1));
        f.set_fault(0, Fault::Dead);
        std::thread::sleep(Duration::from_secs(4));
    });
    let (n, failed) = summary("replica 0 dead behind the node tier", &runs);
    assert!(n >= 40, "only {n} lookups");
    assert_eq!(failed, 0, "{failed} of {n} lookups failed");
}

#[test]
fn pods_asking_a_node_local_cache_directly_lose_lookups_while_it_restarts() {
    let mut f = fleet();
    f.start_node_local(0);
    for p in 0..2 {
        f.set_resolv_conf(p, &node_local_resolv_conf());
    }
    let apps = vec![
        f.app(0, Client::Glibc),
        f.app(1, Client::Program(musl_gai())),
    ];
    let (runs, ()) = resolving_during(&apps, PACE, || {
        std::thread::sleep(Duration::from_secs(1));
        f.kill_node_cache(0);
        std::thread::sleep(Duration::from_secs(1));
        f.start_node_local(0);
        std::thread::sleep(Duration::from_secs(1));
    });
    let (n, failed) = summary(
        "NodeLocal-like cache killed, restarted a second later",
        &runs,
    );
    assert!(n >= 10, "only {n} lookups");
    let stalled = runs
        .iter()
        .flatten()
        .filter(|t| t.ok && t.took > Duration::from_secs(1))
        .count();
    assert!(
        failed + stalled >= 1,
        "with the node cache as the only nameserver, its restart is every pod's outage: \
         {failed} of {n} failed, {stalled} took over a second"
    );
}
