//! The proxy against a real DNS server (NSD from Debian) and a real client (dig).

use std::net::UdpSocket;
use std::time::Duration;

use dns_sidecar_tests::{dig, http_get, wait_until, Nsd, Proxy};

fn proxy_for(nsd: &Nsd, extra: &[&str]) -> Proxy {
    let mut args = vec!["--upstream".to_string(), nsd.addr.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    Proxy::start(&args)
}

#[test]
fn answers_equal_the_servers_answers() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &[]);
    for (name, qtype) in [
        ("www.example.test", "A"),
        ("www.example.test", "AAAA"),
        ("alias.example.test", "A"),
        ("mail.example.test", "MX"),
        ("multi.example.test", "A"),
        ("text.example.test", "TXT"),
        ("nope.example.test", "A"),
        ("www.example.test", "MX"),
        ("WwW.ExAmPlE.TeSt", "A"),
    ] {
        let direct = dig(nsd.addr, &[name, qtype]);
        for round in ["miss", "hit"] {
            let via = dig(p.dns, &[name, qtype]);
            assert_eq!(
                via.status, direct.status,
                "{name} {qtype} ({round})\n{}",
                via.raw
            );
            assert_eq!(via.rrset(), direct.rrset(), "{name} {qtype} ({round})");
            assert!(
                via.flags.contains(&"ra".to_string()),
                "a recursive answer: {:?}",
                via.flags
            );
        }
    }
    let hits = p.metric("dns_sidecar_cache_hits_total");
    assert!(hits >= 9.0, "second rounds were cache hits: {hits}");
}

#[test]
fn cached_answers_outlive_the_server_and_count_down() {
    let mut nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &[]);
    let first = dig(p.dns, &["www.example.test"]);
    assert_eq!(first.answers[0].1, 300);
    std::thread::sleep(Duration::from_millis(2100));
    nsd.proc.signal("KILL");
    nsd.proc.wait_exit(Duration::from_secs(5));
    let second = dig(p.dns, &["www.example.test"]);
    assert_eq!(
        second.status, "NOERROR",
        "served from cache with the server gone"
    );
    let ttl = second.answers[0].1;
    assert!(
        (290..=298).contains(&ttl),
        "TTL counted down with age: {ttl}"
    );
    assert_eq!(second.rrset(), first.rrset());
    // The case of the question is the client's own.
    let upper = dig(p.dns, &["WWW.EXAMPLE.TEST"]);
    assert_eq!(upper.answers[0].0, "WWW.EXAMPLE.TEST.");
}

#[test]
fn nxdomain_is_cached_with_its_soa() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &[]);
    let first = dig(p.dns, &["missing.example.test"]);
    assert_eq!(first.status, "NXDOMAIN");
    let misses = p.metric("dns_sidecar_cache_misses_total");
    let second = dig(p.dns, &["missing.example.test"]);
    assert_eq!(second.status, "NXDOMAIN");
    assert_eq!(second.authority[0].2, "SOA", "{}", second.raw);
    assert!(
        second.authority[0].1 <= 30,
        "negative TTL from the SOA rule"
    );
    assert_eq!(
        p.metric("dns_sidecar_cache_misses_total"),
        misses,
        "second was a hit"
    );
    assert_eq!(
        p.metric("dns_sidecar_responses_total{rcode=\"NXDOMAIN\"}"),
        2.0
    );
}

#[test]
fn tcp_clients_and_truncation() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &[]);
    let tcp = dig(p.dns, &["+tcp", "www.example.test"]);
    assert_eq!(tcp.rrset(), dig(nsd.addr, &["www.example.test"]).rrset());
    // 30 TXT records of ~125 bytes: over UDP the client gets TC and no answers...
    let udp = dig(p.dns, &["+ignore", "big.example.test", "TXT"]);
    assert!(udp.flags.contains(&"tc".to_string()), "{}", udp.raw);
    assert!(udp.answers.is_empty());
    let plain = dig(p.dns, &["+ignore", "+noedns", "big.example.test", "TXT"]);
    assert!(
        plain.flags.contains(&"tc".to_string()),
        "512 bytes without EDNS"
    );
    // ...and dig's own retry over TCP gets all of them.
    let full = dig(p.dns, &["big.example.test", "TXT"]);
    assert_eq!(full.answers.len(), 30, "{}", full.raw);
    assert_eq!(
        full.rrset(),
        dig(nsd.addr, &["+tcp", "big.example.test", "TXT"]).rrset()
    );
    assert!(p.metric("dns_sidecar_truncated_total") >= 2.0);
    assert!(p.metric("dns_sidecar_requests_total{proto=\"tcp\",type=\"TXT\"}") >= 1.0);
}

#[test]
fn pipelined_tcp_queries_all_answered() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &[]);
    let names: Vec<String> = (0..20).map(|i| format!("n{i}.example.test")).collect();
    let mut args = vec!["+tcp", "+keepopen"];
    args.extend(names.iter().map(|s| s.as_str()));
    let out = dig(p.dns, &args);
    assert_eq!(out.answers.len(), 20, "{}", out.raw);
    assert!(
        p.metric("dns_sidecar_tcp_connections_total") <= 2.0,
        "one kept-open connection"
    );
}

#[test]
fn upstream_tcp_uses_a_kept_connection() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &["--upstream-tcp"]);
    for i in 0..10 {
        let name = format!("n{i}.example.test");
        let d = dig(p.dns, &[&name]);
        assert_eq!(d.rrset(), dig(nsd.addr, &[&name]).rrset());
    }
    let ss = std::process::Command::new("ss")
        .args(["-Htn", "state", "established", "dst", &nsd.addr.to_string()])
        .output()
        .expect("ss (iproute2)");
    let conns = String::from_utf8_lossy(&ss.stdout).lines().count();
    assert!(
        (1..=4).contains(&conns),
        "10 lookups over at most 4 reused connections, saw {conns}"
    );
}

#[test]
fn upstream_tcp_pipelines_a_burst_of_misses_on_a_few_connections() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &["--upstream-tcp"]);
    // 60 distinct names from 20 clients at once: about 20 misses in flight together.
    let handles: Vec<_> = (0..20)
        .map(|t| {
            let dns = p.dns;
            std::thread::spawn(move || {
                let names: Vec<String> = (0..3)
                    .map(|i| format!("n{}.example.test", 100 + t * 3 + i))
                    .collect();
                let args: Vec<&str> = names.iter().map(String::as_str).collect();
                dig(dns, &args)
            })
        })
        .collect();
    let mut answered = 0;
    let mut short = Vec::new();
    for h in handles {
        let d = h.join().unwrap();
        answered += d.answers.len();
        if d.answers.len() < 3 {
            short.push(format!("after {:?}:\n{}", d.took, d.raw));
        }
    }
    // What dig printed for a client short of answers: SERVFAIL (the proxy gave up) or
    // nothing (dig's 3 s ran out), to tell a lost query from a slow machine.
    assert_eq!(
        answered,
        60,
        "every query answered; short:\n{}",
        short.join("\n")
    );
    let d = dig(p.dns, &["n150.example.test"]);
    assert_eq!(d.rrset(), dig(nsd.addr, &["n150.example.test"]).rrset());
    let opened = p.metric(&format!(
        "dns_sidecar_upstream_tcp_connections_total{{upstream=\"{}\"}}",
        nsd.addr
    ));
    assert!(
        (1.0..=4.0).contains(&opened),
        "about 20 misses in flight share at most 4 connections, opened {opened}"
    );
    assert_eq!(
        p.metric(&format!(
            "dns_sidecar_upstream_failures_total{{upstream=\"{}\"}}",
            nsd.addr
        )),
        0.0
    );
}

#[test]
fn serve_stale_when_the_server_is_gone_and_servfail_fast_otherwise() {
    let mut nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &["--min-ttl", "0", "--query-timeout", "800ms"]);
    let first = dig(p.dns, &["short.example.test"]);
    assert_eq!(first.answers[0].1, 1, "TTL 1 in the zone");
    nsd.proc.signal("KILL");
    nsd.proc.wait_exit(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(1200));
    let stale = dig(p.dns, &["short.example.test"]);
    assert_eq!(stale.status, "NOERROR", "{}", stale.raw);
    assert_eq!(stale.answers[0].1, 30, "RFC 8767 stale TTL");
    assert_eq!(stale.rrset(), first.rrset());
    let uncached = dig(p.dns, &["never-asked.example.test"]);
    assert_eq!(uncached.status, "SERVFAIL");
    assert!(
        uncached.took < Duration::from_secs(3),
        "SERVFAIL within the budget, not a client timeout"
    );
    assert!(p.metric("dns_sidecar_stale_answers_total") >= 1.0);
}

#[test]
fn malformed_input_gets_formerr_or_nothing_and_the_proxy_lives() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &[]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // Header with QDCOUNT 2 and no questions: FORMERR with our ID.
    s.send_to(&[0xAB, 0xCD, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0], p.dns)
        .unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = s.recv_from(&mut buf).expect("a FORMERR answer");
    assert_eq!(&buf[..2], &[0xAB, 0xCD]);
    assert_eq!(buf[3] & 0xF, 1, "FORMERR");
    assert!(n >= 12);
    // A datagram longer than any query (1232 bytes): FORMERR too, not a cut-short answer.
    let mut long = vec![0u8; 2000];
    long[..6].copy_from_slice(&[0xAB, 0xCE, 1, 0, 0, 1]);
    s.send_to(&long, p.dns).unwrap();
    let (_, _) = s
        .recv_from(&mut buf)
        .expect("a FORMERR answer to the long one");
    assert_eq!((&buf[..2], buf[3] & 0xF), (&[0xAB, 0xCE][..], 1), "FORMERR");
    // Fragments and noise: dropped, never answered wrongly, never fatal.
    for junk in [&[1u8, 2, 3][..], &[0u8; 11][..], &[0xFF; 300][..]] {
        s.send_to(junk, p.dns).unwrap();
    }
    let good = dig(p.dns, &["www.example.test"]);
    assert_eq!(good.status, "NOERROR", "still answering");
    assert!(p.metric("dns_sidecar_malformed_total") >= 3.0);
}

#[test]
fn health_endpoints_and_metrics() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &[]);
    assert_eq!(http_get(p.admin, "/healthz").0, 200);
    assert_eq!(http_get(p.admin, "/readyz").0, 200);
    dig(p.dns, &["www.example.test"]);
    let m = p.metrics();
    for series in [
        "dns_sidecar_requests_total{proto=\"udp\",type=\"A\"} 1",
        "dns_sidecar_cache_entries 1",
        &format!("dns_sidecar_upstream_up{{upstream=\"{}\"}} 1", nsd.addr),
        &format!(
            "dns_sidecar_upstream_rtt_seconds_count{{upstream=\"{}\"}} 1",
            nsd.addr
        ),
    ] {
        assert!(m.contains(series), "missing {series} in\n{m}");
    }
    assert_eq!(http_get(p.admin, "/nope").0, 404);
}

#[test]
fn sigterm_drains_then_exits_zero() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    // Signals need the real process.
    let args = ["--upstream", &nsd.addr.to_string(), "--drain", "1500ms"].map(String::from);
    let mut p = Proxy::start_binary(&args);
    dig(p.dns, &["www.example.test"]);
    p.proc().signal("TERM");
    wait_until(Duration::from_secs(1), || {
        http_get(p.admin, "/readyz").0 == 503
    })
    .expect("/readyz fails while draining");
    assert_eq!(
        dig(p.dns, &["www.example.test"]).status,
        "NOERROR",
        "answers during the drain"
    );
    assert_eq!(p.proc().wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn several_threads_share_the_listen_address() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = proxy_for(&nsd, &["--threads", "2"]);
    for i in 0..20 {
        let name = format!("n{i}.example.test");
        assert_eq!(
            dig(p.dns, &[&name]).rrset(),
            dig(nsd.addr, &[&name]).rrset()
        );
    }
    assert_eq!(dig(p.dns, &["+tcp", "www.example.test"]).status, "NOERROR");
}
