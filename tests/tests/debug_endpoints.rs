//! The admin port's debug endpoints after real queries (dig) through the proxy to a real
//! server (NSD): which upstreams it uses and how they are, what it holds for a name (as
//! NSD gave it, TTLs counted down), the most asked names with exact counts, the last
//! failures with what was tried; names hidden without --debug-names; the most-asked
//! summary's memory flat under a flood of distinct names.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::Value;

use dns_sidecar_tests::{closed_port, dig, http_get, wait_until, Nsd, Proxy, TempDir};

fn get(p: &Proxy, path: &str) -> (u16, Value) {
    let (code, body) = http_get(p.admin, path);
    let v = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{path} answered {code} with no JSON ({e}): {body:?}"));
    (code, v)
}

fn ok(p: &Proxy, path: &str) -> Value {
    let (code, v) = get(p, path);
    assert_eq!(code, 200, "{path}: {v}");
    v
}

fn upstream(v: &Value, addr: SocketAddr) -> &Value {
    v["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["address"] == addr.to_string())
        .unwrap_or_else(|| panic!("{addr} not in {v}"))
}

#[test]
fn the_endpoints_show_what_real_queries_left() {
    let mut nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let dead = closed_port();
    let dir = TempDir::new("debug");
    let p = Proxy::for_debugging(nsd.addr, dead, &dir);
    for _ in 0..5 {
        assert_eq!(dig(p.dns, &["www.example.test"]).status, "NOERROR");
    }
    for _ in 0..2 {
        assert_eq!(dig(p.dns, &["nope.example.test"]).status, "NXDOMAIN");
    }
    // Distinct names until the dead replica was tried and marked down.
    let mut n = 0;
    let seen_down = wait_until(Duration::from_secs(20), || {
        n += 1;
        dig(p.dns, &[&format!("n{n}.example.test")]);
        upstream(&ok(&p, "/debug/upstreams"), dead)["state"] == "down"
    });
    assert!(
        seen_down.is_some(),
        "the refusing replica never showed down"
    );

    let v = ok(&p, "/debug/upstreams");
    println!("/debug/upstreams: {v:#}");
    assert_eq!(v["format"], 1);
    assert_eq!(v["settings"]["debug_names"], true);
    assert_eq!(v["settings"]["upstream_mode"], "replicas");
    assert_eq!(v["pool"]["state"], "healthy");
    assert!(v["pool"]["budget"]["first_attempts"].as_u64().unwrap() >= 3);
    assert!(v["discovery"].is_null());
    let live = upstream(&v, nsd.addr);
    assert_eq!(live["tier"], "replica");
    assert_eq!(live["source"], "--upstream");
    assert_eq!(live["state"], "up");
    assert!(live["srtt_ms"].as_f64().unwrap() > 0.0, "{live}");
    assert_eq!(live["failures_total"], 0);
    let gone = upstream(&v, dead);
    assert_eq!(gone["last_trouble"]["what"], "connection refused", "{gone}");
    assert!(gone["failures_total"].as_u64().unwrap() >= 1);
    assert!(
        gone["next_probe_in_s"].is_number(),
        "a down replica is probed: {gone}"
    );
    assert!(v["cache"]["entries"].as_u64().unwrap() >= 3);

    // What is held for www, found as the pod's resolver looks for it (search list first).
    let direct = dig(nsd.addr, &["www.example.test"]);
    let c = ok(&p, "/debug/cache?name=www&type=A");
    println!("/debug/cache?name=www&type=A: {c:#}");
    let under: Vec<&str> = c["looked_under"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        under,
        ["www.shop.svc.cluster.local.", "www.example.test.", "www."]
    );
    let held = c["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{c}");
    let e = &held[0];
    assert_eq!(
        (&e["name"], &e["type"], &e["kind"], &e["state"]),
        (
            &Value::from("www.example.test."),
            &Value::from("A"),
            &Value::from("positive"),
            &Value::from("fresh")
        )
    );
    let answers: Vec<&Value> = e["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["section"] == "answer")
        .collect();
    assert_eq!(answers.len(), direct.answers.len());
    assert_eq!(answers[0]["data"], direct.answers[0].3.as_str());
    assert_eq!(
        answers[0]["ttl_received"], direct.answers[0].1,
        "as NSD gave it"
    );
    assert!(answers[0]["ttl"].as_u64().unwrap() <= direct.answers[0].1 as u64);
    assert!(e["left_s"].as_f64().unwrap() <= 300.0);
    assert!(e["refresh"]["at_left_s"].is_number(), "{e}");

    let neg = ok(&p, "/debug/cache?name=nope.example.test.");
    let held = neg["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "A only: AAAA was never asked: {neg}");
    assert_eq!(held[0]["kind"], "negative");
    assert_eq!(held[0]["rcode"], "NXDOMAIN");
    let soa = held[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "SOA")
        .unwrap_or_else(|| panic!("the SOA that rules the negative TTL: {neg}"));
    assert_eq!(soa["section"], "authority");
    assert_eq!(held[0]["ttl_s"], 30, "the SOA minimum, RFC 2308");
    let none = ok(&p, "/debug/cache?name=never.example.test.&type=AAAA");
    assert_eq!(none["held"], Value::Array(vec![]));

    // The most asked names, with exact counts.
    let t = ok(&p, "/debug/top?n=2");
    let names = t["names"].as_array().unwrap();
    assert_eq!(names.len(), 2);
    assert_eq!(names[0]["name"], "www.example.test.");
    assert_eq!(names[0]["type"], "A");
    assert_eq!(
        (
            &names[0]["queries"],
            &names[0]["misses"],
            &names[0]["overcount_at_most"]
        ),
        (&Value::from(5), &Value::from(1), &Value::from(0))
    );
    assert_eq!(names[1]["name"], "nope.example.test.");
    assert_eq!(
        (
            &names[1]["queries"],
            &names[1]["nxdomain"],
            &names[1]["misses"]
        ),
        (&Value::from(2), &Value::from(2), &Value::from(1))
    );

    // The latency SLI's histogram: the hits (4 of www, 1 of nope) in its first bucket,
    // every answer counted.
    let first = p.metric("dns_sidecar_response_duration_seconds_bucket{le=\"0.0005\"}");
    let count = p.metric("dns_sidecar_response_duration_seconds_count");
    assert!(first >= 5.0, "{first} answers in the first bucket");
    assert!(count >= 7.0 + n as f64, "{count} answers counted");

    // A failure: the server gone, a name not cached.
    nsd.proc.signal("KILL");
    nsd.proc.wait_exit(Duration::from_secs(5));
    assert_eq!(dig(p.dns, &["gone.example.test"]).status, "SERVFAIL");
    let r = ok(&p, "/debug/recent");
    println!("/debug/recent: {r:#}");
    assert_eq!(r["names"], "shown");
    let f = &r["failures"][0];
    assert_eq!(f["name"], "gone.example.test.", "{r}");
    assert_eq!(f["type"], "A");
    assert_eq!(f["client_got"], "SERVFAIL");
    let tried = f["tried"].as_array().unwrap();
    assert!(!tried.is_empty(), "{f}");
    for t in tried {
        let addr = t["address"].as_str().unwrap();
        assert!(
            addr == nsd.addr.to_string() || addr == dead.to_string(),
            "{t}"
        );
    }
    assert!(r["failures_total"].as_u64().unwrap() >= 1);
}

#[test]
fn names_stay_private_without_debug_names() {
    let mut nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = Proxy::for_upstream(nsd.addr, &["--query-timeout", "300ms"]);
    assert_eq!(dig(p.dns, &["www.example.test"]).status, "NOERROR");
    for path in ["/debug/top", "/debug/cache?name=www.example.test."] {
        let (code, v) = get(&p, path);
        assert_eq!(code, 403, "{path}: {v}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains("dns-sidecar.io/debug-names"), "{msg}");
    }
    let (code, body) = http_get(p.admin, "/debug/upstreams");
    assert_eq!(code, 200);
    assert!(!body.contains("www"), "no name in {body}");
    nsd.proc.signal("KILL");
    nsd.proc.wait_exit(Duration::from_secs(5));
    assert_eq!(dig(p.dns, &["gone.example.test"]).status, "SERVFAIL");
    let (code, body) = http_get(p.admin, "/debug/recent");
    assert_eq!(code, 200);
    let r: Value = serde_json::from_str(&body).unwrap();
    assert!(r["names"].as_str().unwrap().starts_with("hidden"), "{r}");
    assert!(r["failures"][0]["name"].is_null(), "{r}");
    assert_eq!(r["failures"][0]["type"], "A");
    assert!(!body.contains("gone"), "{body}");
}

#[test]
fn bad_parameters_get_a_message() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = Proxy::for_upstream(nsd.addr, &["--debug-names=true"]);
    for (path, says) in [
        ("/debug/top?n=0", "from 1 to 256"),
        ("/debug/top?n=many", "from 1 to 256"),
        ("/debug/cache", "give the name"),
        ("/debug/cache?name=www&type=bogus", "not a DNS type"),
        ("/debug/cache?name=bad%20name", "not a DNS name"),
    ] {
        let (code, v) = get(&p, path);
        assert_eq!(code, 400, "{path}: {v}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(says), "{path}: {msg}");
    }
    let v = ok(&p, "/debug");
    assert_eq!(v["debug_names"], true);
    assert_eq!(v["endpoints"].as_array().unwrap().len(), 4);
}

/// Sends `names` to `server` in windows of 100 outstanding queries, each window's answers
/// read for up to a second. Returns how many were answered.
fn flood(server: SocketAddr, names: impl Iterator<Item = String>) -> usize {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let names: Vec<String> = names.collect();
    let mut answered = 0;
    let mut buf = [0u8; 1500];
    for window in names.chunks(100) {
        for name in window {
            let (_, q) = dns_sidecar_tests::load::query(name, hickory_proto::rr::RecordType::A);
            sock.send_to(&q, server).unwrap();
        }
        let until = Instant::now() + Duration::from_secs(1);
        let mut got = 0;
        while got < window.len() && Instant::now() < until {
            if sock.recv_from(&mut buf).is_ok() {
                got += 1;
            }
        }
        answered += got;
    }
    answered
}

#[test]
fn the_most_asked_summary_stays_flat_under_a_flood_of_distinct_names() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let p = Proxy::for_upstream(nsd.addr, &["--debug-names=true", "--cache-size", "1000"]);
    // Every tenth query is the one heavy name.
    let names = |from: usize, to: usize| {
        (from..to).map(|i| {
            if i % 10 == 0 {
                "www.example.test.".to_string()
            } else {
                format!("flood-{i}.example.test.")
            }
        })
    };
    let first = flood(p.dns, names(0, 2_000));
    let warm = ok(&p, "/debug/top?n=1")["summary_bytes"].as_u64().unwrap();
    let rest = flood(p.dns, names(2_000, 40_000));
    let t = ok(&p, "/debug/top?n=256");
    let flooded = t["summary_bytes"].as_u64().unwrap();
    assert!(
        first + rest >= 39_000,
        "answered {} of 40,000",
        first + rest
    );
    // 256 counters; a name's bytes at most 128 each.
    assert!(
        flooded <= warm + 256 * 128,
        "the summary grew from {warm} to {flooded} bytes over 38,000 more distinct names"
    );
    let names = t["names"].as_array().unwrap();
    assert_eq!(names.len(), 256, "the counters are fixed");
    let heavy = &names[0];
    assert_eq!(heavy["name"], "www.example.test.", "{heavy}");
    let (q, over) = (
        heavy["queries"].as_u64().unwrap(),
        heavy["overcount_at_most"].as_u64().unwrap(),
    );
    assert!(
        q - over <= 4_000 && 4_000 <= q,
        "4,000 asks counted as {q} (at most {over} over)"
    );
    println!("summary: {warm} bytes after 2,000 queries, {flooded} after 40,000");
}
