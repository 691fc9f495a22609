use super::*;
use crate::testutil::{self, parse};
use crate::wire::parse_query;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

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
    assert_eq!(a.kind, Kind::Positive);
    assert_eq!(a.upstream_ttl, Some(300));
    let mut out = Vec::new();

    let c = testutil::query(0xAAAA, "WwW.ExAmPlE.", RecordType::A, None);
    let q = parse_query(&c).unwrap();
    a.render(&c, &q, 123, 512, &mut out);
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
    a.render(&c, &q, 5, 1232, &mut out);
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
    a.render(&c, &q, 60, 1232, &mut out);
    let m = parse(&out);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    assert!(m.edns.is_some());
    assert_eq!(m.queries.len(), 1);
    a.render(&c, &q, 60, 65535, &mut out);
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
    assert_eq!((a.kind, a.upstream_ttl), (Kind::Negative, Some(10)));
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
    assert_eq!((a.kind, a.upstream_ttl), (Kind::Negative, Some(30)));
    let sf = testutil::response(
        1,
        "x.example.",
        RecordType::A,
        ResponseCode::ServFail,
        vec![],
        vec![],
        false,
    );
    assert_eq!(Answer::from_upstream(&sf).unwrap().kind, Kind::Failure);
}

#[test]
fn synthesized_servfail_is_a_valid_message() {
    let key = crate::wire::question_key(&crate::wire::encode_name("x.example").unwrap(), 1);
    let a = Answer::servfail(&key);
    let c = testutil::query(3, "X.example.", RecordType::A, Some((1232, false)));
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    a.render(&c, &q, 0, 512, &mut out);
    let m = parse(&out);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.metadata.id, 3);
    assert_eq!(m.queries[0].name.to_string(), "X.example.");
}
