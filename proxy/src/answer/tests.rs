use super::*;
use crate::testutil::{self, parse};
use crate::wire::parse_query;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

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
    assert_eq!(a.kind, Kind::Positive);
    assert_eq!(a.upstream_ttl, Some(300));
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

/// A headless Service's SRV answer: the SRV set (TTL 300) and its pods' A records as
/// additional data (TTL 30), as CoreDNS sends them.
fn srv_with_glue(pods: usize) -> Answer {
    let owner = "_http._tcp.web.ns.svc.cluster.local.";
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
fn every_record_keeps_its_own_ttl() {
    let a = srv_with_glue(2);
    assert_eq!(a.kind, Kind::Positive);
    assert_eq!(
        a.upstream_ttl,
        Some(30),
        "the entry lives as its shortest record"
    );
    let c = testutil::query(
        9,
        "_http._tcp.web.ns.svc.cluster.local.",
        RecordType::SRV,
        None,
    );
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    a.render(&c, &q, cached(10, 30), 4096, &mut out);
    assert_eq!(
        ttls(&out),
        [vec![290, 290], vec![], vec![20, 20]],
        "the glue is not raised to the SRV's TTL"
    );
    a.render(&c, &q, Serve::AsReceived, 4096, &mut out);
    assert_eq!(ttls(&out), [vec![300, 300], vec![], vec![30, 30]]);
    let capped = Serve::Cached {
        age: 10,
        entry_ttl: 30,
        cap: 60,
    };
    a.render(&c, &q, capped, 4096, &mut out);
    assert_eq!(
        ttls(&out),
        [vec![50, 50], vec![], vec![20, 20]],
        "--max-ttl caps"
    );
    a.render(&c, &q, Serve::Stale, 4096, &mut out);
    assert_eq!(ttls(&out), [vec![30, 30], vec![], vec![30, 30]], "RFC 8767");
}

#[test]
fn only_min_ttl_raises_a_record() {
    let buf = testutil::response(
        1,
        "short.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![testutil::a("short.example.", 1, [192, 0, 2, 9])],
        vec![],
        false,
    );
    let a = Answer::from_upstream(&buf).unwrap();
    let c = testutil::query(2, "short.example.", RecordType::A, None);
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    // --min-ttl 5 made the entry live 5 s: the record is served for what is left of it.
    a.render(&c, &q, cached(2, 5), 512, &mut out);
    assert_eq!(ttls(&out)[0], vec![3]);
}

#[test]
fn a_cname_chain_to_nodata_or_nxdomain_is_negative() {
    let chain = vec![
        testutil::cname("alias.example.", 300, "mid.example."),
        testutil::cname("mid.example.", 600, "www.example."),
    ];
    let soa = testutil::soa("example.", 3600, 20);
    for rcode in [ResponseCode::NoError, ResponseCode::NXDomain] {
        let buf = testutil::response(
            1,
            "alias.example.",
            RecordType::AAAA,
            rcode,
            chain.clone(),
            vec![soa.clone()],
            false,
        );
        let a = Answer::from_upstream(&buf).unwrap();
        assert_eq!(
            (a.kind, a.upstream_ttl),
            (Kind::Negative, Some(20)),
            "{rcode:?}: the SOA rule, not the CNAME's 300"
        );
        let c = testutil::query(2, "alias.example.", RecordType::AAAA, None);
        let q = parse_query(&c).unwrap();
        let mut out = Vec::new();
        a.render(&c, &q, cached(5, 20), 512, &mut out);
        assert_eq!(ttls(&out), [vec![295, 595], vec![15], vec![]], "{rcode:?}");
    }
    // Without an SOA there is no negative TTL: not cacheable (RFC 2308 §5).
    let buf = testutil::response(
        1,
        "alias.example.",
        RecordType::AAAA,
        ResponseCode::NoError,
        chain.clone(),
        vec![],
        false,
    );
    let a = Answer::from_upstream(&buf).unwrap();
    assert_eq!((a.kind, a.upstream_ttl), (Kind::Negative, None));
    // The chain ending in the asked type is positive, for the shortest link.
    let mut full = chain;
    full.push(testutil::a("www.example.", 60, [192, 0, 2, 1]));
    let buf = testutil::response(
        1,
        "alias.example.",
        RecordType::A,
        ResponseCode::NoError,
        full,
        vec![],
        false,
    );
    let a = Answer::from_upstream(&buf).unwrap();
    assert_eq!((a.kind, a.upstream_ttl), (Kind::Positive, Some(60)));
}

#[test]
fn glue_that_does_not_fit_is_left_out_not_truncated() {
    // SRV targets are never compressed (RFC 2782): 8 pods' SRV set is about 450 bytes.
    let a = srv_with_glue(8);
    let c = testutil::query(
        9,
        "_http._tcp.web.ns.svc.cluster.local.",
        RecordType::SRV,
        None,
    );
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    a.render(&c, &q, Serve::AsReceived, 512, &mut out);
    assert!(out.len() <= 512, "{} bytes", out.len());
    let m = parse(&out);
    assert!(
        !m.metadata.truncation,
        "the answer section fits: no TC (RFC 2181 §9)"
    );
    assert_eq!(m.answers.len(), 8);
    assert!(
        m.additionals.len() < 8,
        "glue left out: {} kept",
        m.additionals.len()
    );
    // Whole RRsets only: each pod's A set is one record here, so any count is whole; and
    // every kept record is one of the glue records.
    for r in &m.additionals {
        assert!(r.name.to_string().starts_with("pod-"));
    }
    let mut whole = Vec::new();
    a.render(&c, &q, Serve::AsReceived, 65535, &mut whole);
    assert!(whole.len() > 512, "the test needs glue that does not fit");
    // With EDNS the client's own OPT still fits after the cut.
    let c = testutil::query(
        9,
        "_http._tcp.web.ns.svc.cluster.local.",
        RecordType::SRV,
        Some((512, false)),
    );
    let q = parse_query(&c).unwrap();
    a.render(&c, &q, Serve::AsReceived, 512, &mut out);
    assert!(out.len() <= 512);
    let m = parse(&out);
    assert!(m.edns.is_some() && !m.metadata.truncation);
    // Too many SRV records for 512 bytes: TC, as the answer section itself does not fit.
    let a = srv_with_glue(12);
    a.render(&c, &q, Serve::AsReceived, 512, &mut out);
    let m = parse(&out);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty() && m.additionals.is_empty());
}

#[test]
fn a_negative_answer_keeps_its_soa_or_truncates() {
    let buf = testutil::response(
        1,
        "nx.example.",
        RecordType::A,
        ResponseCode::NXDomain,
        vec![],
        vec![testutil::soa("example.", 30, 10)],
        false,
    );
    let a = Answer::from_upstream(&buf).unwrap();
    let c = testutil::query(4, "nx.example.", RecordType::A, None);
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    a.render(&c, &q, Serve::AsReceived, 512, &mut out);
    let whole = out.len();
    a.render(&c, &q, Serve::AsReceived, whole - 1, &mut out);
    let m = parse(&out);
    assert!(
        m.metadata.truncation && m.authorities.is_empty(),
        "the SOA is needed: TC rather than leave it out"
    );
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

/// Found by the `render` fuzz target: an answer whose owner name pointed forward, into the
/// additional section, rendered unparseable once the glue was left out. Pointers must
/// point backwards (RFC 1035 §4.1.4), so every cut at a record's end keeps them valid.
#[test]
fn a_forward_compression_pointer_is_refused() {
    let mut buf = testutil::response_with_additional(
        1,
        "www.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![testutil::a("www.example.", 60, [192, 0, 2, 1])],
        vec![],
        vec![testutil::a("glue.example.", 60, [192, 0, 2, 2])],
        false,
    );
    assert!(Answer::from_upstream(&buf).is_ok());
    // The answer's owner (at 29, after the 13-byte question name and its type and class)
    // is a pointer to the question; point it at the additional record (at 45) instead.
    assert_eq!(&buf[29..31], &[0xC0, 12]);
    buf[30] = 45;
    assert!(Answer::from_upstream(&buf).is_err());
    // A pointer into the header is as bad.
    buf[30] = 4;
    assert!(Answer::from_upstream(&buf).is_err());
}

#[test]
fn an_opt_record_that_is_not_last_is_refused() {
    let mut buf = testutil::response(
        1,
        "www.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![],
        vec![],
        true,
    );
    // Move the OPT record (the last 11 bytes) before an A record appended after it.
    buf.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    buf[11] = 2;
    assert!(matches!(
        crate::wire::scan_response(&buf),
        Err(crate::wire::WireError::MisplacedOpt)
    ));
}

/// Found by the `render` fuzz target: a byte after the upstream's OPT record stayed in the
/// cached answer, and the client's OPT, appended after it, no longer parsed.
#[test]
fn bytes_after_the_last_record_are_dropped() {
    let mut buf = testutil::response(
        1,
        "www.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![testutil::a("www.example.", 60, [192, 0, 2, 1])],
        vec![],
        true,
    );
    buf.push(0);
    let a = Answer::from_upstream(&buf).unwrap();
    let c = testutil::query(3, "www.example.", RecordType::A, Some((1232, false)));
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    a.render(&c, &q, Serve::AsReceived, 1232, &mut out);
    let m = parse(&out);
    assert!(m.edns.is_some());
    assert_eq!(m.answers.len(), 1);
}

/// Found by the `render` fuzz target: a CNAME's target pointed into its own record's TTL
/// bytes, which happened to read as labels; rewriting the TTL then broke the name. A
/// pointer may only point at a label of a name seen before.
#[test]
fn a_pointer_into_a_ttl_is_refused() {
    let mut buf = testutil::response(
        1,
        "a.example.",
        RecordType::CNAME,
        ResponseCode::NoError,
        vec![testutil::cname("a.example.", 0x0100_0000, "b.example.")],
        vec![],
        false,
    );
    assert!(Answer::from_upstream(&buf).is_ok());
    // Question name 12..23, type and class to 27; the CNAME: owner pointer (27), type,
    // class, TTL at 33..37 (01 00 00 00: a 1-byte label "\0" and the root), rdlength, then
    // the target. Make the target a pointer to the TTL.
    let rdata = 39;
    buf[rdata - 1] = 2;
    buf.truncate(rdata);
    buf.extend_from_slice(&[0xC0, 33]);
    assert!(Answer::from_upstream(&buf).is_err());
}
