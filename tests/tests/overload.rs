//! Never make CoreDNS's bad day worse: against in-process fake replicas that drop whatever
//! exceeds a capacity (as an overloaded CoreDNS's full socket buffer does), N distinct client
//! questions cost at most the first attempts plus what the retry budget allows, and every
//! client is answered within the query budget; a silent replica beside a healthy one still
//! costs no failed lookup. Asserted in counts: queries sent, answers lost.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use dns_sidecar_tests::fake::{FakeUpstream, Mode};
use dns_sidecar_tests::load::{offer, tally, Outcome};
use dns_sidecar_tests::Proxy;

const GOOD: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The client's own timeout: longer than the proxy's 1.5 s query budget, so an unanswered
/// query means the proxy did not answer within its budget.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);
/// The default retry budget: 10% of first attempts plus 2 a second over a 10 s window (a
/// run here is shorter than one window, so the floor counts once).
const RATIO: f64 = 0.1;
const FLOOR: f64 = 20.0;

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{prefix}{i}.example.test"))
        .collect()
}

fn run(server: SocketAddr, names: &[String], rate: f64) -> Vec<Outcome> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(offer(server, names, rate, CLIENT_TIMEOUT))
}

fn proxy_for(replicas: &[&FakeUpstream]) -> Proxy {
    let mut args = vec![];
    for r in replicas {
        args.push("--upstream".to_string());
        args.push(r.addr.to_string());
    }
    Proxy::start(&args)
}

/// Client questions the replicas received (probes aside).
fn client_queries(replicas: &[&FakeUpstream]) -> u64 {
    replicas.iter().map(|r| r.queries() - r.probes()).sum()
}

#[test]
fn a_twice_overloaded_coredns_gets_no_retry_storm() {
    let a = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    let b = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    // What the replicas can answer: 100 a second each; offered: 400 a second.
    for r in [&a, &b] {
        r.set_capacity(Some(100));
    }
    let n = 800;
    let p = proxy_for(&[&a, &b]);
    let got = tally(&run(p.dns, &names("o", n), 400.0));
    let sent = client_queries(&[&a, &b]);
    let budgeted = n as f64 * (1.0 + RATIO) + FLOOR;
    eprintln!(
        "sidecar: {got:?}; replicas received {sent} for {n} ({:.2} each), dropped {}",
        sent as f64 / n as f64,
        a.dropped() + b.dropped()
    );
    eprintln!(
        "probes {} shed {} kept up {} hedges {} resends {}",
        a.probes() + b.probes(),
        p.metric("dns_sidecar_shed_total"),
        p.metric("dns_sidecar_upstream_kept_up_total"),
        p.metric("dns_sidecar_hedged_queries_total"),
        p.metric("dns_sidecar_upstream_retransmits_total")
    );
    assert!(
        sent as f64 <= budgeted,
        "{sent} upstream queries for {n} questions: more than the budget's {budgeted}"
    );
    assert_eq!(
        got.unanswered, 0,
        "every client answered within the query budget (NOERROR or SERVFAIL): {got:?}"
    );
    let denied: f64 = ["budget", "overloaded", "not_faster"]
        .iter()
        .map(|r| {
            p.metric(&format!(
                "dns_sidecar_extra_attempts_denied_total{{reason=\"{r}\"}}"
            ))
        })
        .sum();
    assert!(denied >= 1.0, "extra attempts were refused and counted");

    // The same questions asked of the replicas directly, as today's pods do, in the same
    // run: the sidecar loses no more answers than they do.
    let (c, d) = (
        FakeUpstream::start("127.0.0.1:0", GOOD, 60),
        FakeUpstream::start("127.0.0.1:0", GOOD, 60),
    );
    for r in [&c, &d] {
        r.set_capacity(Some(100));
    }
    let half = names("d", n);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (evens, odds): (Vec<_>, Vec<_>) = half
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, String)>| v.into_iter().map(|(_, s)| s).collect::<Vec<_>>();
    let (evens, odds) = (strip(evens), strip(odds));
    let direct = rt.block_on(async {
        let x = offer(c.addr, &evens, 200.0, CLIENT_TIMEOUT);
        let y = offer(d.addr, &odds, 200.0, CLIENT_TIMEOUT);
        let (x, y) = tokio::join!(x, y);
        tally(&[x, y].concat())
    });
    eprintln!("direct: {direct:?}");
    assert!(
        got.noerror as f64 >= 0.8 * direct.noerror as f64,
        "sidecar NOERROR {} against {} asking the replicas directly",
        got.noerror,
        direct.noerror
    );
}

#[test]
fn below_capacity_a_question_costs_one_upstream_query() {
    let a = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    let b = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    for r in [&a, &b] {
        r.set_capacity(Some(1000));
    }
    let n = 400;
    let p = proxy_for(&[&a, &b]);
    let got = tally(&run(p.dns, &names("c", n), 200.0));
    assert_eq!(got.noerror, n, "{got:?}");
    let sent = client_queries(&[&a, &b]);
    assert!(
        sent as f64 <= n as f64 * 1.05,
        "{sent} upstream queries for {n} questions below capacity"
    );
}

#[test]
fn a_silent_replica_beside_a_healthy_one_costs_no_failed_lookup() {
    let silent = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    silent.set_mode(Mode::Silent);
    let good = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    let n = 200;
    let p = proxy_for(&[&silent, &good]);
    let got = tally(&run(p.dns, &names("s", n), 50.0));
    assert_eq!(got.noerror, n, "no failed lookup: {got:?}");
    let sent = client_queries(&[&silent, &good]);
    let budgeted = n as f64 * (1.0 + RATIO) + FLOOR;
    assert!(
        sent as f64 <= budgeted,
        "{sent} upstream queries for {n}: over the budget's {budgeted}"
    );
    assert!(silent.queries() >= 1, "the silent one was tried");
    assert_eq!(
        p.metric(&format!(
            "dns_sidecar_upstream_up{{upstream=\"{}\"}}",
            silent.addr
        )),
        0.0,
        "and marked down: one silent while another answers is a dead replica"
    );
}

/// Replicas degraded by an overload, then sent nothing for a while (a quiet pod, or one
/// that selection stopped sending to), must not stay degraded on old evidence: when one
/// dies, the other takes over at once.
#[test]
fn after_an_overload_and_a_quiet_while_a_dead_replica_costs_no_lookup() {
    let a = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    let b = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    // Twice what the replicas can answer.
    for r in [&a, &b] {
        r.set_capacity(Some(50));
    }
    let p = proxy_for(&[&a, &b]);
    run(p.dns, &names("o", 400), 200.0);
    let (code, body) = dns_sidecar_tests::http_get(p.admin, "/debug/upstreams");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let state = |v: &serde_json::Value, addr: SocketAddr| {
        v["upstreams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["address"] == addr.to_string())
            .map(|u| u["state"].as_str().unwrap().to_string())
            .unwrap()
    };
    // Seen as an overload: the pool held back extra attempts, shed questions or kept a
    // replica up for it. Where the last lost queries found nothing answered while they
    // waited (the load stopped), a replica may end the run down rather than degraded: old
    // evidence either way, which the quiet while must clear.
    let seen = p.metric("dns_sidecar_extra_attempts_denied_total{reason=\"overloaded\"}")
        + p.metric("dns_sidecar_shed_total")
        + p.metric("dns_sidecar_upstream_kept_up_total");
    assert!(seen > 0.0, "the overload was seen: {v}");
    assert!(
        [&a, &b].iter().any(|r| state(&v, r.addr) != "up"),
        "and left its mark on a replica: {v}"
    );
    for r in [&a, &b] {
        r.set_capacity(None);
    }
    // The overload ends; nothing is asked for a while; then a replica dies.
    std::thread::sleep(Duration::from_secs(5));
    a.set_mode(Mode::Silent);
    let n = 60;
    let got = tally(&run(p.dns, &names("d", n), 20.0));
    assert_eq!(
        got.noerror, n,
        "every lookup answered by the other: {got:?}"
    );
}
