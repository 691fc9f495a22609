use super::*;
use crate::testutil::{self, parse};
use crate::wire::parse_query;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

mod malformed;
mod minimal;
mod truncation;
mod ttl;

/// From the cache, `age` seconds into an entry of `entry_ttl`, no --max-ttl cap.
fn cached(age: u32, entry_ttl: u32) -> Serve {
    Serve::Cached {
        age,
        entry_ttl,
        cap: u32::MAX,
    }
}

fn www_answer(edns: bool) -> Answer {
    let buf = testutil::response(
        77,
        "www.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![testutil::a("www.example.", 300, [192, 0, 2, 1])],
        vec![],
        edns,
    );
    Answer::from_upstream(&buf).unwrap()
}

#[test]
fn renders_for_each_client() {
    let a = www_answer(true);
    assert_eq!(a.kind(), Kind::Positive);
    assert_eq!(a.upstream_ttl(), Some(300));
    let mut out = Vec::new();

    let c = testutil::query(0xAAAA, "WwW.ExAmPlE.", RecordType::A, None);
    let q = parse_query(&c).unwrap();
    a.render(&c, &q, cached(177, 300), 512, &mut out);
    let m = parse(&out);
    assert_eq!(m.metadata.id, 0xAAAA);
    assert_eq!(
        m.queries[0].name.to_string(),
        "WwW.ExAmPlE.",
        "the client's case is kept"
    );
    assert_eq!(m.answers[0].ttl, 123);
    assert!(m.edns.is_none(), "no EDNS for a client that sent none");
    assert!(m.metadata.recursion_available);
    assert!(!m.metadata.authoritative);

    let c = testutil::query(0xBBBB, "www.example.", RecordType::A, Some((1232, true)));
    let q = parse_query(&c).unwrap();
    a.render(&c, &q, cached(295, 300), 1232, &mut out);
    let m = parse(&out);
    assert_eq!(m.metadata.id, 0xBBBB);
    assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
    assert_eq!(m.answers[0].ttl, 5);
}

#[test]
fn too_big_for_udp_is_truncated() {
    let big: Vec<_> = (0..20)
        .map(|i| testutil::txt("big.example.", 60, &format!("{i:0>200}")))
        .collect();
    let buf = testutil::response(
        1,
        "big.example.",
        RecordType::TXT,
        ResponseCode::NoError,
        big,
        vec![],
        false,
    );
    let a = Answer::from_upstream(&buf).unwrap();
    let c = testutil::query(5, "big.example.", RecordType::TXT, Some((1232, false)));
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    a.render(&c, &q, Serve::AsReceived, 1232, &mut out);
    let m = parse(&out);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    assert!(m.edns.is_some());
    assert_eq!(m.queries.len(), 1);
    a.render(&c, &q, Serve::AsReceived, 65535, &mut out);
    let m = parse(&out);
    assert!(!m.metadata.truncation, "TCP takes it whole");
    assert_eq!(m.answers.len(), 20);
}

#[test]
fn negative_and_failure_kinds() {
    let nx = testutil::response(
        1,
        "nx.example.",
        RecordType::A,
        ResponseCode::NXDomain,
        vec![],
        vec![testutil::soa("example.", 30, 10)],
        false,
    );
    let a = Answer::from_upstream(&nx).unwrap();
    assert_eq!((a.kind(), a.upstream_ttl()), (Kind::Negative, Some(10)));
    let nodata = testutil::response(
        1,
        "www.example.",
        RecordType::MX,
        ResponseCode::NoError,
        vec![],
        vec![testutil::soa("example.", 30, 90)],
        false,
    );
    let a = Answer::from_upstream(&nodata).unwrap();
    assert_eq!((a.kind(), a.upstream_ttl()), (Kind::Negative, Some(30)));
    let sf = testutil::response(
        1,
        "x.example.",
        RecordType::A,
        ResponseCode::ServFail,
        vec![],
        vec![],
        false,
    );
    assert_eq!(Answer::from_upstream(&sf).unwrap().kind(), Kind::Failure);
}

#[test]
fn synthesized_servfail_is_a_valid_message() {
    let name = crate::wire::encode_name("x.example").unwrap();
    let a = Answer::servfail(crate::wire::KeyBuf::plain(&name, 1).key());
    let c = testutil::query(3, "X.example.", RecordType::A, Some((1232, false)));
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    a.render(&c, &q, Serve::AsReceived, 512, &mut out);
    let m = parse(&out);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.metadata.id, 3);
    assert_eq!(m.queries[0].name.to_string(), "X.example.");
}

/// The TTLs of each section of a rendered answer.
fn ttls(out: &[u8]) -> [Vec<u32>; 3] {
    let m = parse(out);
    [
        m.answers.iter().map(|r| r.ttl).collect(),
        m.authorities.iter().map(|r| r.ttl).collect(),
        m.additionals.iter().map(|r| r.ttl).collect(),
    ]
}

/// The owner of the SRV set `srv_with_glue` makes.
const SRV_OWNER: &str = "_http._tcp.web.ns.svc.cluster.local.";

/// The client query for it.
fn srv_query(edns: Option<(u16, bool)>) -> Vec<u8> {
    testutil::query(9, SRV_OWNER, RecordType::SRV, edns)
}

/// A headless Service's SRV answer: the SRV set (TTL 300) and its pods' A records as
/// additional data (TTL 30), as CoreDNS sends them.
fn srv_with_glue(pods: usize) -> Answer {
    let owner = SRV_OWNER;
    let answers = (0..pods)
        .map(|i| testutil::srv(owner, 300, &format!("pod-{i}.web.ns.svc.cluster.local.")))
        .collect();
    let glue = (0..pods)
        .map(|i| {
            let name = format!("pod-{i}.web.ns.svc.cluster.local.");
            testutil::a(&name, 30, [10, 0, 0, i as u8])
        })
        .collect();
    let buf = testutil::response_with_additional(
        1,
        owner,
        RecordType::SRV,
        ResponseCode::NoError,
        answers,
        vec![],
        glue,
        true,
    );
    Answer::from_upstream(&buf).unwrap()
}

#[test]
fn header_bits_are_the_clients_or_ours() {
    let mut buf = testutil::response(
        1,
        "www.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![testutil::a("www.example.", 300, [192, 0, 2, 1])],
        vec![],
        false,
    );
    // Upstream sets AD, AA, Z and CD; the client decides RD and CD.
    buf[3] |= 0x20 | 0x40 | 0x10;
    let a = Answer::from_upstream(&buf).unwrap();
    let mut out = Vec::new();
    let mut c = testutil::query(5, "www.example.", RecordType::A, None);
    c[2] &= !0x01; // RD off
    let q = parse_query(&c).unwrap();
    a.render(&c, &q, Serve::AsReceived, 512, &mut out);
    let flags = u16::from_be_bytes([out[2], out[3]]);
    assert_eq!(flags, 0x8080, "QR and RA only: no AA, AD, Z, CD, RD");
    let mut c = testutil::query(5, "www.example.", RecordType::A, Some((1232, true)));
    c[3] |= 0x10; // CD
    let q = parse_query(&c).unwrap();
    a.render(&c, &q, Serve::AsReceived, 1232, &mut out);
    let flags = u16::from_be_bytes([out[2], out[3]]);
    assert_eq!(
        flags, 0x81B0,
        "QR RD RA, AD for a DO client, CD copied (RFC 4035 §3.2.2)"
    );
}
