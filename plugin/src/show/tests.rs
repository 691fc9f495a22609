//! Each command's text from JSON shaped as the proxy writes it (see proxy/src/admin).

use super::*;
use serde_json::json;

#[test]
fn status_lists_each_upstream_and_says_why_one_is_down() {
    let v = json!({
        "format": 1, "version": "0.1.0",
        "settings": {"upstream_mode": "replicas", "ttl_strict": false, "upstream_tcp": false, "debug_names": true},
        "pool": {"state": "healthy", "budget": {"first_attempts": 3, "extra_attempts": 1, "allowed": 20.3, "left": 19.3}},
        "upstreams": [
            {"address": "10.244.0.11:53", "tier": "replica", "source": "--discover", "state": "up",
             "srtt_ms": 0.234, "rttvar_ms": 0.137, "inflight": 0, "consecutive_failures": 0, "failures_total": 0,
             "loss": 0, "down_for_s": null, "next_probe_in_s": null, "last_trouble": null},
            {"address": "10.244.0.12:53", "tier": "replica", "source": "--discover", "state": "down",
             "srtt_ms": null, "rttvar_ms": null, "inflight": 0, "consecutive_failures": 2, "failures_total": 1,
             "loss": 0.1, "down_for_s": 12.0, "next_probe_in_s": 0.06,
             "last_trouble": {"what": "connection refused", "ago_s": 12.0}}
        ],
        "discovery": {"name": "kube-dns-upstreams.kube-system.svc.cluster.local", "port": 53, "rounds": 4,
                      "last": {"ago_s": 3.2, "result": "found", "addresses": ["10.244.0.11:53", "10.244.0.12:53"], "ttl_s": 5},
                      "failed_in_a_row": 0, "next_in_s": 1.4},
        "cache": {"entries": 12, "bytes": 3000, "evictions": 0},
        "failures_total": 3
    });
    let s = status("shop/web-1", &v);
    assert!(s.starts_with("shop/web-1: dns-sidecar 0.1.0 (upstream mode replicas), pool healthy, query names shown\n"), "{s}");
    assert!(
        s.contains(
            "retry budget: 19.3 of 20.3 extra attempts left (3 first, 1 extra in the last 10s)"
        ),
        "{s}"
    );
    assert!(
        s.contains("cache: 12 entries, 3 KiB, 0 evicted; 3 failed resolutions since start"),
        "{s}"
    );
    let down = s.lines().find(|l| l.starts_with("10.244.0.12:53")).unwrap();
    assert!(down.contains("down 12s"), "{down}");
    assert!(down.ends_with("connection refused, 12s ago"), "{down}");
    assert!(s.contains("discovery: kube-dns-upstreams.kube-system.svc.cluster.local:53, found 2 addresses 3s ago (TTL 5s), next lookup in 1s"), "{s}");
}

#[test]
fn top_shows_a_range_where_the_count_may_be_over() {
    let v = json!({"window_s": 75.0, "counters": 256, "names": [
        {"name": "www.example.", "type": "A", "queries": 5, "overcount_at_most": 0, "misses": 1, "nxdomain": 0, "servfail": 0, "stale": 0},
        {"name": "x.example.", "type": "AAAA", "queries": 9, "overcount_at_most": 4, "misses": 9, "nxdomain": 9, "servfail": 0, "stale": 0}
    ]});
    let s = top("shop/web-1", &v);
    assert!(
        s.starts_with("shop/web-1: the 2 most asked names over the last 1m15s (256 counters)\n"),
        "{s}"
    );
    assert!(
        s.lines()
            .any(|l| l.starts_with("x.example.") && l.contains("5-9")),
        "{s}"
    );
}

#[test]
fn cache_shows_records_with_ttls_left_and_received_or_says_nothing_is_held() {
    let v = json!({"question": "www", "types": ["A"], "looked_under": ["www.shop.svc.cluster.local.", "www."],
        "held": [{"name": "www.example.test.", "type": "A", "dnssec_ok": false, "checking_disabled": false,
                  "kind": "positive", "rcode": "NOERROR", "state": "fresh", "stored_ago_s": 1.0, "ttl_s": 300,
                  "left_s": 299.0, "expired_ago_s": null, "stale_left_s": null,
                  "refresh": {"when": "by the first query once this much TTL is left", "at_left_s": 15, "in_s": 284.0},
                  "records": [{"section": "answer", "name": "www.example.test.", "type": "A", "ttl": 299, "ttl_received": 300, "data": "192.0.2.1"}]}]});
    let s = cache("shop/web-1", &v);
    assert!(s.contains("www.example.test. A: positive NOERROR, fresh, 4m59s of 5m left; refreshed by the first query once 15s are left (in 4m44s)"), "{s}");
    assert!(
        s.lines().any(|l| l.starts_with("answer")
            && l.contains("299")
            && l.contains("300")
            && l.ends_with("192.0.2.1")),
        "{s}"
    );
    let none = json!({"question": "nope", "types": ["A", "AAAA"], "looked_under": ["nope.shop.svc.cluster.local.", "nope."], "held": []});
    assert_eq!(
        cache("shop/web-1", &none),
        "shop/web-1: nothing held for nope (A, AAAA); looked under nope.shop.svc.cluster.local., nope.\n"
    );
}

#[test]
fn recent_lists_what_was_tried() {
    let v = json!({"names": "shown", "failures_total": 1, "kept": 64, "failures": [
        {"ago_s": 0.013, "name": "gone.example.test.", "type": "A", "what": "every attempt failed", "client_got": "SERVFAIL",
         "took_ms": 0.436, "more_attempts": 0, "extra_attempts_denied": {"budget": 1},
         "tried": [{"address": "10.0.0.1:53", "resend": false, "result": "connection refused", "sent_at_ms": 0.05, "took_ms": 0.2, "tier": "replica"},
                   {"address": "10.0.0.2:53", "resend": true, "result": "timed out", "sent_at_ms": 0.3, "took_ms": 500.0, "tier": "replica"}]}]});
    let s = recent("shop/web-1", &v);
    let row = s.lines().find(|l| l.starts_with("13ms")).unwrap();
    assert!(
        row.contains("gone.example.test.") && row.contains("SERVFAIL"),
        "{row}"
    );
    assert!(row.ends_with("10.0.0.1:53 connection refused; 10.0.0.2:53 (resent) timed out; 1 extra denied (budget)"), "{row}");
    let hidden = json!({"names": "hidden: ...", "failures_total": 0, "kept": 64, "failures": []});
    assert!(recent("p", &hidden).contains("names hidden"));
}
