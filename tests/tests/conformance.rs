//! What a cache may answer, asked of the proxy and of a trusted peer side by side: NSD
//! (Debian) serves tests/zones/conformance.zone, and the proxy and unbound (Debian, a plain
//! caching forwarder to the same NSD) are asked the same questions, with and without EDNS,
//! over UDP and TCP, on a miss and on a hit. NSD's own answer over TCP is the reference.
//!
//! Asserted of the proxy: NSD's rcode and answer records; additional records only from
//! NSD's; no TTL above NSD's; TC exactly when the answer section (with a negative answer's
//! SOA) does not fit the client's limit; and a lost datagram to a single upstream still
//! answered. Asserted of unbound: the same rcode and answer records, and no TTL above NSD's.
//!
//! Deliberate differences from unbound, each with its reason:
//! - UDP answers are capped at 1232 bytes whatever the client advertises (DNS flag day
//!   2020: no fragmented UDP); unbound 1.17 sends up to its max-udp-size, 4096.
//! - `--min-ttl` (5 s here, the default) may raise a positive answer's records to the
//!   entry's life: an operator's clamp, documented in README. unbound's cache-min-ttl is 0.
//! - When glue does not fit, the proxy keeps as many whole additional RRsets as fit; unbound
//!   sends minimal responses (no authority or additional data for positive answers), so
//!   only the proxy's additional records are compared, with NSD's.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use dns_sidecar_tests::ask::{ask, section_ends, Reply, Via};
use dns_sidecar_tests::lossy::LossyRelay;
use dns_sidecar_tests::unbound::Unbound;
use dns_sidecar_tests::{Nsd, Proxy};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Record, RecordType};

const ZONE: &str = "conf.test";
const PROBE: &str = "www.conf.test";
/// The proxy's --min-ttl in these tests.
const MIN_TTL: u32 = 5;

/// (name, type, the shape it stands for)
const QUESTIONS: &[(&str, RecordType, &str)] = &[
    (
        "_http._tcp.web.conf.test.",
        RecordType::SRV,
        "SRV with 12 glue records",
    ),
    (
        "mail.conf.test.",
        RecordType::MX,
        "MX with additional addresses",
    ),
    ("alias.conf.test.", RecordType::A, "CNAME chain, three TTLs"),
    ("tonx.conf.test.", RecordType::A, "CNAME to NXDOMAIN"),
    ("tonodata.conf.test.", RecordType::TXT, "CNAME to NODATA"),
    ("www.conf.test.", RecordType::AAAA, "NODATA"),
    ("nothing.conf.test.", RecordType::A, "NXDOMAIN"),
    ("short.conf.test.", RecordType::A, "TTL under --min-ttl"),
    ("x.wild.conf.test.", RecordType::A, "wildcard"),
    ("b.ent.conf.test.", RecordType::A, "empty non-terminal"),
    (
        "t512.conf.test.",
        RecordType::TXT,
        "TXT set under 512 bytes",
    ),
    (
        "t1232.conf.test.",
        RecordType::TXT,
        "TXT set under 1232 bytes",
    ),
    (
        "t4096.conf.test.",
        RecordType::TXT,
        "TXT set under 4096 bytes",
    ),
];

const VIAS: [Via; 4] = [Via::Udp, Via::UdpEdns(1232), Via::UdpEdns(4096), Via::Tcp];

type Rr = (String, u16, String);

fn rr(r: &Record) -> Rr {
    (
        r.name.to_ascii().to_lowercase(),
        u16::from(r.record_type()),
        r.data.to_string(),
    )
}

fn set(records: &[Record]) -> BTreeSet<Rr> {
    records.iter().map(rr).collect()
}

fn is_negative(r: &Reply, qtype: RecordType) -> bool {
    r.msg.metadata.response_code == ResponseCode::NXDomain
        || !r.msg.answers.iter().any(|a| a.record_type() == qtype)
}

/// NSD's TTL for each (name, type) it sent, over every section.
fn ttls_of(reference: &Reply) -> HashMap<(String, u16), u32> {
    let m = &reference.msg;
    m.answers
        .iter()
        .chain(&m.authorities)
        .chain(&m.additionals)
        .map(|r| {
            let (n, t, _) = rr(r);
            ((n, t), r.ttl)
        })
        .collect()
}

/// Everything asserted of one answer. `peer`: unbound, checked for records and TTLs only.
fn check(
    who: &str,
    peer: bool,
    q: &(&str, RecordType, &str),
    via: Via,
    r: &Reply,
    reference: &Reply,
) {
    let (name, qtype, shape) = *q;
    let what = format!("{who}: {name} {qtype} ({shape}) over {via:?}");
    let m = &r.msg;
    assert_eq!(
        m.metadata.response_code, reference.msg.metadata.response_code,
        "{what}: rcode"
    );
    let tc = m.metadata.truncation;
    if via != Via::Tcp {
        // unbound 1.17's max-udp-size is 4096.
        let limit = if peer {
            via.limit()
        } else {
            via.limit().min(1232)
        };
        assert!(
            r.raw.len() <= limit,
            "{what}: {} bytes over UDP",
            r.raw.len()
        );
    }
    if !tc {
        assert_eq!(
            set(&m.answers),
            set(&reference.msg.answers),
            "{what}: answer records"
        );
    }
    let nsd_ttl = ttls_of(reference);
    let negative = is_negative(reference, qtype);
    for rec in m.answers.iter().chain(&m.authorities).chain(&m.additionals) {
        let (n, t, _) = rr(rec);
        let Some(&theirs) = nsd_ttl.get(&(n.clone(), t)) else {
            assert!(peer, "{what}: {n} type {t} is not in NSD's answer");
            continue;
        };
        let allowed = if negative || peer {
            theirs
        } else {
            theirs.max(MIN_TTL)
        };
        assert!(
            rec.ttl <= allowed,
            "{what}: {n} type {t} served with TTL {} over NSD's {theirs}",
            rec.ttl
        );
    }
    if peer {
        return;
    }
    // RFC 2181 §9: TC only when the answer section (and a negative answer's SOA) does not
    // fit; additional records, then a positive answer's authority, are left out first.
    let ends = section_ends(&reference.raw);
    let opt = if matches!(via, Via::UdpEdns(_)) {
        11
    } else {
        0
    };
    let needed = if negative { ends[2] } else { ends[1] } + opt;
    let limit = if via == Via::Tcp {
        65535
    } else {
        via.limit().min(1232)
    };
    assert_eq!(
        tc,
        needed > limit,
        "{what}: TC {tc}, but the answer needs {needed} of {limit} bytes"
    );
    let theirs = set(&reference.msg.additionals);
    for a in &m.additionals {
        assert!(
            theirs.contains(&rr(a)),
            "{what}: additional {a} is not NSD's"
        );
    }
    if negative && !tc {
        assert!(
            m.authorities
                .iter()
                .any(|a| a.record_type() == RecordType::SOA),
            "{what}: a negative answer keeps its SOA"
        );
    }
}

fn proxy_for(upstream: std::net::SocketAddr) -> Proxy {
    Proxy::for_upstream(upstream, &["--min-ttl", &format!("{MIN_TTL}s")])
}

#[test]
fn the_proxy_answers_as_nsd_and_unbound_do() {
    let nsd = Nsd::start_zone_file("127.0.0.1", ZONE, "conformance.zone", PROBE);
    let unbound = Unbound::forwarding(ZONE, nsd.addr, PROBE);
    let proxy = proxy_for(nsd.addr);
    for q in QUESTIONS {
        let reference = ask(nsd.addr, q.0, q.1, Via::Tcp);
        for via in VIAS {
            for round in ["first", "again"] {
                let who = format!("proxy ({round})");
                check(
                    &who,
                    false,
                    q,
                    via,
                    &ask(proxy.dns, q.0, q.1, via),
                    &reference,
                );
                let who = format!("unbound ({round})");
                check(
                    &who,
                    true,
                    q,
                    via,
                    &ask(unbound.addr, q.0, q.1, via),
                    &reference,
                );
            }
        }
    }
    assert!(proxy.metric("dns_sidecar_cache_hits_total") > 0.0);
}

/// A pod's A record (not the name server's, which NSD adds too).
fn is_pod(r: &Record) -> bool {
    r.name.to_ascii().starts_with("pod-")
}

#[test]
fn glue_keeps_its_own_shorter_ttl_and_counts_down() {
    let nsd = Nsd::start_zone_file("127.0.0.1", ZONE, "conformance.zone", PROBE);
    let unbound = Unbound::forwarding(ZONE, nsd.addr, PROBE);
    let proxy = proxy_for(nsd.addr);
    let srv = "_http._tcp.web.conf.test.";
    let first = ask(proxy.dns, srv, RecordType::SRV, Via::Tcp);
    assert!(
        first.msg.additionals.len() >= 12,
        "NSD sends the pods' A records as glue"
    );
    std::thread::sleep(Duration::from_millis(2100));
    for (who, addr) in [("proxy", proxy.dns), ("unbound", unbound.addr)] {
        let r = ask(addr, srv, RecordType::SRV, Via::Tcp);
        for a in &r.msg.answers {
            assert!((290..=300).contains(&a.ttl), "{who}: SRV TTL {}", a.ttl);
        }
        for a in r.msg.additionals.iter().filter(|a| is_pod(a)) {
            assert!(
                a.ttl <= 30,
                "{who}: glue A served with TTL {} over its 30",
                a.ttl
            );
        }
    }
    let r = ask(proxy.dns, srv, RecordType::SRV, Via::Tcp);
    let glue: Vec<u32> = r
        .msg
        .additionals
        .iter()
        .filter(|a| is_pod(a))
        .map(|a| a.ttl)
        .collect();
    assert_eq!(glue.len(), 12);
    assert!(
        glue.iter().all(|t| (20..=28).contains(t)),
        "the proxy's glue counts down from 30: {glue:?}"
    );
}

#[test]
fn a_lost_answer_from_the_only_upstream_is_retransmitted() {
    let nsd = Nsd::start_zone_file("127.0.0.1", ZONE, "conformance.zone", PROBE);
    let relay = LossyRelay::start(nsd.addr);
    let proxy = proxy_for(relay.addr);
    let unbound_relay = LossyRelay::start(nsd.addr);
    let unbound = Unbound::forwarding(ZONE, unbound_relay.addr, PROBE);
    for q in QUESTIONS.iter().take(6) {
        let reference = ask(nsd.addr, q.0, q.1, Via::Tcp);
        let r = ask(proxy.dns, q.0, q.1, Via::UdpEdns(1232));
        check(
            "proxy behind a lossy link",
            false,
            q,
            Via::UdpEdns(1232),
            &r,
            &reference,
        );
        let r = ask(unbound.addr, q.0, q.1, Via::UdpEdns(1232));
        check(
            "unbound behind a lossy link",
            true,
            q,
            Via::UdpEdns(1232),
            &r,
            &reference,
        );
    }
    let resent = proxy.metric("dns_sidecar_upstream_retransmits_total");
    let dropped = relay.dropped.load(std::sync::atomic::Ordering::SeqCst);
    assert!(dropped >= 6, "the relay dropped {dropped} answers");
    assert!(
        resent >= 6.0,
        "{resent} retransmissions for {dropped} lost answers"
    );
    assert_eq!(
        proxy.metric("dns_sidecar_responses_total{rcode=\"SERVFAIL\"}"),
        0.0
    );
}
