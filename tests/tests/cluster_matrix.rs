//! The short fault matrix on the real cluster (hack/bench-cluster.sh runs the whole one):
//! today's VIP, NodeLocal DNSCache as its addon deploys it, the sidecar, and the sidecar
//! with NodeLocal as its first tier, each through a CoreDNS replica's node dying and the
//! node cache SIGKILLed and rolled, glibc and musl clients in a loop. Counts only: the
//! sidecar's apps lose no lookup and never wait out a resolver timeout; the faults are
//! shown to bite where there is nothing to hedge past them (the VIP stalls on the dead
//! replica, NodeLocal's own pods stall or fail while it is down); CoreDNS counted fewer
//! requests a lookup behind a sidecar than behind the VIP.

use dns_sidecar_tests::cluster::matrix::scenarios::Scenario;
use dns_sidecar_tests::cluster::matrix::setups::Setup;
use dns_sidecar_tests::cluster::matrix::{self, Options, Run, HEADER};
use dns_sidecar_tests::cluster::{exclusive, Kube};

fn stalls(r: &Run) -> usize {
    r.seen.iter().map(|s| s.stalls()).sum()
}

#[test]
fn the_short_matrix_loses_no_lookup_behind_a_sidecar() {
    let _one = exclusive();
    let k = Kube::get();
    let o = Options {
        setups: vec![
            Setup::Vip,
            Setup::Sidecar,
            Setup::NodeLocal,
            Setup::SidecarNodeLocal,
        ],
        scenarios: vec![Scenario::ReplicaDies, Scenario::NodeCacheKilled],
        clients: vec!["glibc", "musl"],
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
    let runs = matrix::run(&k, &o, |r| {
        eprintln!(
            "\n{} / {}\n{HEADER}\n{}",
            r.scenario.name(),
            r.setup.name(),
            matrix::rows(r)
        );
    });
    assert_eq!(
        runs.len(),
        6,
        "four setups through a dead replica, two with a node cache killed"
    );
    for r in &runs {
        let what = format!("{} / {}", r.scenario.name(), r.setup.name());
        assert!(r.lookups() > 0, "{what}: no lookups ran");
        if r.setup.injected() {
            assert_eq!((r.failures(), stalls(r)), (0, 0), "{what}: failed, stalled");
            // Per lookup, CoreDNS works less behind a sidecar than behind the VIP alone
            // (musl also asks the fallback VIP with every lookup, so not by as much as
            // glibc's cache hits alone would say).
            let per = |x: &Run| x.coredns / x.lookups() as f64;
            let vip = runs
                .iter()
                .find(|v| v.scenario == r.scenario && v.setup == Setup::Vip);
            if let Some(vip) = vip {
                assert!(
                    per(r) < per(vip),
                    "{what}: CoreDNS counted {:.2} requests a lookup, {:.2} through the VIP",
                    per(r),
                    per(vip)
                );
            }
        }
        match (r.scenario, r.setup) {
            (Scenario::ReplicaDies, Setup::Vip) => {
                assert!(
                    stalls(r) > 0,
                    "{what}: no lookup waited on the dead replica"
                )
            }
            (Scenario::NodeCacheKilled, Setup::NodeLocal) => assert!(
                stalls(r) + r.failures() > 0,
                "{what}: its pods never noticed their node cache was gone"
            ),
            _ => {}
        }
    }
}
