//! The proxy over TCP against a real DNS server (NSD from Debian) and a real client (dig):
//! TCP clients, truncation, pipelining, and kept upstream TCP connections.

use dns_sidecar_tests::{dig, Nsd, Proxy};

#[test]
fn tcp_clients_and_truncation() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = Proxy::for_upstream(nsd.addr, &[]);
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
    let p = Proxy::for_upstream(nsd.addr, &[]);
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
    let p = Proxy::for_upstream(nsd.addr, &["--upstream-tcp"]);
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
    let p = Proxy::for_upstream(nsd.addr, &["--upstream-tcp"]);
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
