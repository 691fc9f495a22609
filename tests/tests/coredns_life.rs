//! CoreDNS's own life, as the cluster runs it, while a pod resolves through glibc: a rolling
//! restart (every replica replaced at a new address), scaling 2 → 3 → 2, and every replica
//! replaced before the sidecar has seen it. Each is measured side by side for today's VIP,
//! per-replica nameservers and the sidecar as the webhook injects it (the replicas' pod
//! IPs, `--discover` of the headless Service, the VIP as `--fallback`). The sidecar is held
//! to functional bounds; the others are reported.

use std::time::Duration;

use dns_sidecar_tests::netns::{self, measure, measure_all, summarize, Cluster, Setup, Timed};
use dns_sidecar_tests::{proxy_bin, wait_until};

const SIDECAR: Setup = Setup::Sidecar { vip_fallback: true };

fn report(scenario: &str, setup: Setup, ls: &[Timed]) -> netns::Summary {
    let s = summarize(&ls.iter().map(|t| t.result).collect::<Vec<_>>());
    eprintln!(
        "{scenario:<28} {:<28} lookups {:>3}  failed {:>2}  median {:>7.1} ms  max {:>7.1} ms",
        setup.label(),
        s.n,
        s.failures,
        s.median.as_secs_f64() * 1e3,
        s.max.as_secs_f64() * 1e3
    );
    for t in ls
        .iter()
        .filter(|t| !t.result.ok || t.result.took >= Duration::from_secs(1))
    {
        eprintln!(
            "    at {:>5.1} s: {} in {:.1} s",
            t.at.as_secs_f64(),
            if t.result.ok { "answered" } else { "failed" },
            t.result.took.as_secs_f64()
        );
    }
    s
}

fn upstream(i: usize) -> String {
    format!("upstream=\"{}:53\"", netns::replica_ip(i))
}

#[test]
fn coredns_rollout_every_replica_replaced_costs_the_sidecar_nothing() {
    let rollout = |c: &Cluster| {
        c.roll_out(&[2, 3]);
        std::thread::sleep(Duration::from_secs(2));
    };
    let runs = measure_all(
        &[Setup::Vip, Setup::PerReplica, SIDECAR],
        4,
        2,
        &proxy_bin(),
        &rollout,
    );
    for (setup, c, lookups) in &runs {
        let s = report("CoreDNS rollout", *setup, lookups);
        // Through the VIP or per-replica nameservers a lookup may stall 5-10 s (how many
        // depends on which flows conntrack pinned to a replaced pod), so only the sidecar's
        // count says the loop kept its pace; the others are reported, and must have run.
        assert!(s.n >= 1, "{}: no lookup ran: {s:?}", setup.label());
        if *setup == SIDECAR {
            assert!(s.n >= 50, "the sidecar's lookups kept running: {s:?}");
            assert_eq!(s.failures, 0, "the sidecar never fails in a rollout");
            assert!(s.max < Duration::from_secs(1), "no lookup over 1 s: {s:?}");
            let m = c.pod_http("/metrics");
            assert!(
                m.contains(&upstream(2)) && m.contains(&upstream(3)),
                "the sidecar follows the new replicas"
            );
            assert!(
                !m.contains(&upstream(0)) && !m.contains(&upstream(1)),
                "and forgets the old ones"
            );
        }
    }
}

#[test]
fn scaling_two_three_two_by_pod_address_is_followed() {
    let (c, _) = measure(SIDECAR, 3, 2, &proxy_bin(), &|_: &Cluster| {});
    assert!(!c.pod_http("/metrics").contains(&upstream(2)));
    c.set_endpoints(&[0, 1, 2]);
    // The headless records' TTL is 5 s (CoreDNS's default): looked up again within it.
    wait_until(Duration::from_secs(8), || {
        c.pod_http("/metrics").contains(&upstream(2))
    })
    .expect("the third replica was discovered within the TTL");
    let before = c.packets_to(2);
    let (up, ()) = c.resolve_during(100, Duration::from_millis(20), || {
        std::thread::sleep(Duration::from_secs(3))
    });
    let s = report("scaled 2 to 3", SIDECAR, &up);
    assert_eq!(s.failures, 0);
    assert!(c.packets_to(2) > before, "the new replica answers queries");

    // Down to two: out of the endpoints, lameduck, gone.
    let (down, ()) = c.resolve_during(200, Duration::from_millis(50), || {
        c.set_endpoints(&[0, 1]);
        std::thread::sleep(netns::LAMEDUCK);
        c.blackhole(2, true);
        std::thread::sleep(Duration::from_secs(2));
    });
    let s = report("scaled 3 to 2", SIDECAR, &down);
    assert_eq!(s.failures, 0, "the removed replica costs no lookup");
    assert!(s.max < Duration::from_secs(1), "{s:?}");
    assert!(!c.pod_http("/metrics").contains(&upstream(2)), "forgotten");
    let after = c.packets_to(2);
    let (_, ()) = c.resolve_during(300, Duration::from_millis(20), || {
        std::thread::sleep(Duration::from_secs(1))
    });
    assert_eq!(c.packets_to(2), after, "nothing is sent to it any more");
}

#[test]
fn every_replica_replaced_unseen_the_sidecar_recovers_through_the_fallback() {
    // Both replicas replaced at once, the old ones gone with no lameduck, before the
    // sidecar looks again: every address it knows is dead. It finds the new ones by asking
    // the VIP (its --fallback), which kube-proxy already sends to them. The pod lists only
    // the sidecar, so every failure of the sidecar's shows.
    let swap = |c: &Cluster| {
        c.set_endpoints(&[2, 3]);
        c.blackhole(0, true);
        c.blackhole(1, true);
        std::thread::sleep(Duration::from_secs(6));
    };
    let alone = Setup::Sidecar {
        vip_fallback: false,
    };
    let runs = measure_all(
        &[Setup::Vip, Setup::PerReplica, alone],
        4,
        2,
        &proxy_bin(),
        &swap,
    );
    for (setup, c, lookups) in &runs {
        let s = report("every replica replaced", *setup, lookups);
        if *setup != alone {
            continue;
        }
        // Recovered: from some lookup on, every one succeeds, within 3 s of the swap.
        let last_failure = lookups.iter().rposition(|t| !t.result.ok);
        let recovered_at = last_failure.map_or(Duration::ZERO, |i| lookups[i].at);
        eprintln!(
            "every replica replaced: sidecar failures {}, recovered {:.1} s after the swap",
            s.failures,
            recovered_at.as_secs_f64()
        );
        assert!(s.failures <= 3, "failures bounded: {s:?}");
        assert!(recovered_at < Duration::from_secs(3), "{recovered_at:?}");
        let m = c.pod_http("/metrics");
        assert!(
            m.contains(&upstream(2)) && m.contains(&upstream(3)),
            "rediscovered through the fallback"
        );
    }
}
