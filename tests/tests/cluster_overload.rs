//! A CPU-limited CoreDNS (50m a replica, its cgroup quota) offered twice what it answers by
//! one busy pod (`cluster::overload`; `hack/bench-cluster.sh --overload` runs it longer):
//! straight to the replicas, and through the pod's sidecar. Counts only: the overload is
//! real (asked directly, CoreDNS leaves questions unanswered); through the sidecar CoreDNS
//! gets no retry storm (at most 1.2 requests per client question, as it read them) and the
//! busy pod still gets answers. How many, against asking directly, is a benchmark figure
//! (docs/benchmarks.md), not asserted here: it moves with the machine's load.

use dns_sidecar_tests::cluster::overload::{self, Options};
use dns_sidecar_tests::cluster::{exclusive, Kube};

#[test]
fn an_overloaded_coredns_gets_no_retry_storm_from_a_busy_pod() {
    let _one = exclusive();
    let o = Options {
        cpu_millis: 50,
        secs: 8,
        factor: 2.0,
        pods: 1,
    };
    let m = overload::measure(&Kube::get(), &o);
    eprintln!("{}", overload::table(&m, &o));
    let [direct, sidecar] = &m.runs[..] else {
        panic!("two runs, direct and through the sidecar");
    };
    assert!(
        direct.got.unanswered + direct.got.servfail > 0,
        "asked directly, CoreDNS answered everything: no overload to speak of ({} q/s offered)",
        direct.rate
    );
    assert!(sidecar.got.noerror > 0, "no answer through the sidecar");
    assert!(
        sidecar.per_query() <= 1.2,
        "CoreDNS read {:.2} requests per client question through the sidecar",
        sidecar.per_query()
    );
}
