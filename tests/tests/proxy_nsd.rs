//! The proxy against a real DNS server (NSD from Debian) and a real client (dig).

use std::net::UdpSocket;
use std::time::Duration;

use dns_sidecar_tests::{dig, http_get, metric, wait_until, Nsd, Proxy};

#[test]
fn answers_equal_the_servers_answers() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = Proxy::for_upstream(nsd.addr, &[]);
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
    let p = Proxy::for_upstream(nsd.addr, &[]);
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
    let p = Proxy::for_upstream(nsd.addr, &[]);
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
fn serve_stale_when_the_server_is_gone_and_servfail_fast_otherwise() {
    let mut nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = Proxy::for_upstream(nsd.addr, &["--min-ttl", "0", "--query-timeout", "800ms"]);
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
    let p = Proxy::for_upstream(nsd.addr, &[]);
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
    let p = Proxy::for_upstream(nsd.addr, &[]);
    assert_eq!(http_get(p.admin, "/healthz").0, 200);
    assert_eq!(http_get(p.admin, "/readyz").0, 200);
    dig(p.dns, &["www.example.test"]);
    let m = p.metrics();
    // Label-subset match: series carry more labels (tier) than asked for.
    for (series, want) in [
        (
            "dns_sidecar_requests_total{proto=\"udp\",type=\"A\"}".to_string(),
            1.0,
        ),
        ("dns_sidecar_cache_entries".to_string(), 1.0),
        (
            format!(
                "dns_sidecar_upstream_up{{upstream=\"{}\",tier=\"replica\"}}",
                nsd.addr
            ),
            1.0,
        ),
        (
            format!(
                "dns_sidecar_upstream_rtt_seconds_count{{upstream=\"{}\"}}",
                nsd.addr
            ),
            1.0,
        ),
    ] {
        assert_eq!(metric(&m, &series), want, "{series} in\n{m}");
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
    let p = Proxy::for_upstream(nsd.addr, &["--threads", "2"]);
    for i in 0..20 {
        let name = format!("n{i}.example.test");
        assert_eq!(
            dig(p.dns, &[&name]).rrset(),
            dig(nsd.addr, &[&name]).rrset()
        );
    }
    assert_eq!(dig(p.dns, &["+tcp", "www.example.test"]).status, "NOERROR");
}
