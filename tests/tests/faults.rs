//! Faults a real server cannot be told to produce, injected with in-process fake upstreams:
//! silence, wrong IDs, wrong questions, garbage, closed ports, slowness, recovery.
//! Time bounds here are functional and far from the figures: each one separates "hedged
//! around the fault" from "waited out a timeout" by seconds.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use dns_sidecar_tests::fake::{self, FakeUpstream, Mode};
use dns_sidecar_tests::{dig, free_port, wait_until, Proxy};

const GOOD: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const BAD: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);

fn args(upstreams: &[&FakeUpstream], extra: &[&str]) -> Vec<String> {
    let mut v = vec![];
    for u in upstreams {
        v.push("--upstream".to_string());
        v.push(u.addr.to_string());
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Long per-attempt timeouts: any answer that waited on a silent upstream takes >= 3 s.
const SLOW_TIMEOUTS: [&str; 4] = ["--upstream-timeout", "3s", "--query-timeout", "4s"];

#[test]
fn a_silent_upstream_costs_a_hedge_delay_not_a_timeout() {
    let silent = FakeUpstream::start("127.0.0.1:0", BAD, 60);
    silent.set_mode(Mode::Silent);
    let good = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    let p = Proxy::start(&args(&[&silent, &good], &SLOW_TIMEOUTS));
    let mut worst = Duration::ZERO;
    for i in 0..30 {
        let d = dig(p.dns, &[&format!("name{i}.example.test")]);
        assert_eq!(d.status, "NOERROR", "{}", d.raw);
        assert_eq!(d.answers[0].3, GOOD.to_string());
        worst = worst.max(d.took);
    }
    assert!(worst < Duration::from_secs(1), "slowest lookup {worst:?}");
    assert!(silent.queries() >= 1, "the silent one was really tried");
    assert!(p.metric("dns_sidecar_hedged_queries_total") >= 1.0);
}

#[test]
fn a_closed_port_fails_over_at_once_and_is_marked_down() {
    let closed = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let good = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    let mut a = vec!["--upstream".to_string(), closed.clone()];
    a.extend(args(&[&good], &SLOW_TIMEOUTS));
    a.extend(["--hedge-delay".to_string(), "2s".to_string()]);
    let p = Proxy::start(&a);
    for i in 0..10 {
        let d = dig(p.dns, &[&format!("c{i}.example.test")]);
        assert_eq!(d.status, "NOERROR");
        assert!(
            d.took < Duration::from_secs(1),
            "no hedge wait: the refusal moved on at once ({:?})",
            d.took
        );
    }
    let up = p.metric(&format!("dns_sidecar_upstream_up{{upstream=\"{closed}\"}}"));
    assert_eq!(up, 0.0, "marked down");
}

#[test]
fn wrong_ids_wrong_questions_and_garbage_are_ignored() {
    for mode in [Mode::WrongId, Mode::WrongQuestion, Mode::Garbage] {
        let liar = FakeUpstream::start("127.0.0.1:0", BAD, 60);
        liar.set_mode(mode.clone());
        let good = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
        let p = Proxy::start(&args(&[&liar, &good], &["--hedge-delay", "20ms"]));
        for i in 0..10 {
            let d = dig(p.dns, &[&format!("q{i}.example.test")]);
            assert_eq!(d.status, "NOERROR", "{mode:?}: {}", d.raw);
            assert_eq!(
                d.answers[0].3,
                GOOD.to_string(),
                "{mode:?}: the bad answer was never taken"
            );
            assert_eq!(d.answers[0].0, format!("q{i}.example.test."));
        }
        assert!(liar.queries() >= 1, "{mode:?}: the liar was asked");
        if mode != Mode::Garbage {
            let m = p.metric(&format!(
                "dns_sidecar_upstream_mismatched_total{{upstream=\"{}\"}}",
                liar.addr
            ));
            assert!(m >= 1.0, "{mode:?}: mismatches counted");
        }
        // With only the liar, the client gets SERVFAIL, never the spoofed answer.
        let only = Proxy::start(&args(
            &[&liar],
            &["--query-timeout", "500ms", "--upstream-timeout", "400ms"],
        ));
        let d = dig(only.dns, &["alone.example.test"]);
        assert_eq!(d.status, "SERVFAIL", "{mode:?}: {}", d.raw);
    }
}

#[test]
fn all_upstreams_silent_servfail_within_budget_or_stale() {
    let a = FakeUpstream::start("127.0.0.1:0", GOOD, 1);
    let b = FakeUpstream::start("127.0.0.1:0", GOOD, 1);
    let p = Proxy::start(&args(
        &[&a, &b],
        &["--min-ttl", "0", "--query-timeout", "700ms"],
    ));
    assert_eq!(dig(p.dns, &["cached.example.test"]).status, "NOERROR");
    a.set_mode(Mode::Silent);
    b.set_mode(Mode::Silent);
    std::thread::sleep(Duration::from_millis(1100));
    let start = Instant::now();
    let unknown = dig(p.dns, &["unknown.example.test"]);
    assert_eq!(unknown.status, "SERVFAIL");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "within the 700ms budget, far from glibc's 5 s"
    );
    let stale = dig(p.dns, &["cached.example.test"]);
    assert_eq!(stale.status, "NOERROR", "{}", stale.raw);
    assert_eq!(stale.answers[0].1, 30, "served stale");
    // Once both are marked down, stale answers are served without asking anyone first.
    let down = |u: &FakeUpstream| {
        p.metric(&format!(
            "dns_sidecar_upstream_up{{upstream=\"{}\"}}",
            u.addr
        )) == 0.0
    };
    let mut i = 0;
    wait_until(Duration::from_secs(5), || {
        i += 1;
        dig(p.dns, &[&format!("x{i}.example.test")]);
        down(&a) && down(&b)
    })
    .expect("both silent upstreams marked down");
    let stale_before = p.metric("dns_sidecar_stale_answers_total");
    let again = dig(p.dns, &["cached.example.test"]);
    assert_eq!(again.status, "NOERROR");
    assert!(p.metric("dns_sidecar_stale_answers_total") > stale_before);
}

#[test]
fn a_recovered_upstream_is_probed_back_and_used_again() {
    let flaky = FakeUpstream::start("127.0.0.1:0", BAD, 60);
    let good = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    let p = Proxy::start(&args(
        &[&flaky, &good],
        &["--upstream-timeout", "300ms", "--health-check", "100ms"],
    ));
    let series = format!("dns_sidecar_upstream_up{{upstream=\"{}\"}}", flaky.addr);
    flaky.set_mode(Mode::Silent);
    let mut i = 0;
    wait_until(Duration::from_secs(10), || {
        i += 1;
        dig(p.dns, &[&format!("d{i}.example.test")]);
        p.metric(&series) == 0.0
    })
    .expect("the silent upstream is marked down");
    flaky.set_mode(Mode::Answer);
    wait_until(Duration::from_secs(10), || p.metric(&series) == 1.0)
        .expect("a probe brings it back");
    let before = flaky.queries();
    let mut j = 0;
    let used = wait_until(Duration::from_secs(5), || {
        j += 1;
        let d = dig(p.dns, &[&format!("r{j}.example.test")]);
        d.answers.first().is_some_and(|a| a.3 == BAD.to_string())
    });
    let view: Vec<String> = p
        .metrics()
        .lines()
        .filter(|l| l.contains("upstream") && !l.starts_with('#') && !l.contains("_bucket"))
        .map(String::from)
        .collect();
    assert!(
        used.is_some() && flaky.queries() > before,
        "client queries reach it again (after {j} lookups); the proxy's view:\n{}",
        view.join("\n")
    );
}

#[test]
fn identical_queries_share_one_upstream_query() {
    let slow = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    slow.set_mode(Mode::Delay(Duration::from_millis(400)));
    let p = Proxy::start(&args(&[&slow], &["--hedge-delay", "2s"]));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let dns = p.dns;
            std::thread::spawn(move || dig(dns, &["same.example.test"]))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().status, "NOERROR");
    }
    // Besides the start-up probe (`. NS`), which the proxy sends every upstream once.
    assert_eq!(
        slow.queries() - slow.probes(),
        1,
        "ten clients, one upstream query"
    );
    assert!(p.metric("dns_sidecar_coalesced_queries_total") >= 1.0);
}

#[test]
fn servfail_from_one_upstream_is_retried_on_another() {
    let sick = FakeUpstream::start("127.0.0.1:0", BAD, 60);
    sick.set_mode(Mode::ServFail);
    let good = FakeUpstream::start("127.0.0.1:0", GOOD, 60);
    let p = Proxy::start(&args(&[&sick, &good], &["--hedge-delay", "2s"]));
    for i in 0..10 {
        let d = dig(p.dns, &[&format!("s{i}.example.test")]);
        assert_eq!(d.status, "NOERROR");
        assert!(d.took < Duration::from_secs(1));
    }
}

#[test]
fn a_slow_refresh_answers_stale_after_the_client_timer_and_still_lands() {
    let slow = FakeUpstream::start("127.0.0.1:0", GOOD, 3);
    let p = Proxy::start(&args(
        &[&slow],
        &[
            "--min-ttl",
            "0",
            "--upstream-timeout",
            "4s",
            "--query-timeout",
            "5s",
            "--hedge-delay",
            "3s",
        ],
    ));
    assert_eq!(dig(p.dns, &["refresh.example.test"]).answers[0].1, 3);
    std::thread::sleep(Duration::from_millis(3100));
    slow.set_mode(Mode::Delay(Duration::from_millis(2000)));
    let d = dig(p.dns, &["refresh.example.test"]);
    assert_eq!(d.status, "NOERROR");
    assert_eq!(d.answers[0].1, 30, "the stale copy, not a 2 s wait");
    assert!(
        d.took < Duration::from_millis(1500),
        "answered at the client timer: {:?}",
        d.took
    );
    // The refresh goes on behind; once it lands, a fresh copy is served with the upstream
    // silent (only a refreshed entry can give a TTL under 30 now).
    std::thread::sleep(Duration::from_millis(1800));
    slow.set_mode(Mode::Silent);
    let fresh = dig(p.dns, &["refresh.example.test"]);
    assert!(
        fresh.answers[0].1 <= 3,
        "refreshed in the background: {}",
        fresh.raw
    );
}

#[test]
fn upstream_tcp_replaces_connections_the_server_closes() {
    let (addr, server) = fake::one_answer_per_connection_tcp(40);
    let p = Proxy::start(&[
        "--upstream".to_string(),
        addr.to_string(),
        "--upstream-tcp".to_string(),
        "--health-check".to_string(),
        "1h".to_string(),
    ]);
    for i in 0..8 {
        let d = dig(p.dns, &[&format!("c{i}.example.test")]);
        assert_eq!(d.status, "NOERROR", "lookup {i}: {}", d.raw);
    }
    let failures = p.metric(&format!(
        "dns_sidecar_upstream_failures_total{{upstream=\"{addr}\"}}"
    ));
    let opened = p.metric(&format!(
        "dns_sidecar_upstream_tcp_connections_total{{upstream=\"{addr}\"}}"
    ));
    assert_eq!(
        failures, 0.0,
        "a closed connection is retried, not a failure"
    );
    assert!(
        opened >= 8.0,
        "each lookup after the first met a closing connection and moved to a fresh one, \
         opened {opened}"
    );
    drop(p);
    drop(server);
}
