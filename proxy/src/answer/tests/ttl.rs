//! Per-record TTLs: each counts down from its own, only --min-ttl raises one, and CNAME
//! chains to NODATA or NXDOMAIN are negative (RFC 2308).

use super::*;

#[test]
fn every_record_keeps_its_own_ttl() {
    let a = srv_with_glue(2);
    assert_eq!(a.kind(), Kind::Positive);
    assert_eq!(
        a.upstream_ttl(),
        Some(30),
        "the entry lives as its shortest record"
    );
    let c = srv_query(None);
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
            (a.kind(), a.upstream_ttl()),
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
    assert_eq!((a.kind(), a.upstream_ttl()), (Kind::Negative, None));
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
    assert_eq!((a.kind(), a.upstream_ttl()), (Kind::Positive, Some(60)));
}
