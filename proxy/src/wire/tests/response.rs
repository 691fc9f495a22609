//! Upstream answers walked and checked.

use super::*;

#[test]
fn rrsets_end_where_owner_or_type_changes() {
    let buf = testutil::response(
        1,
        "www.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![
            testutil::a("www.example.", 60, [192, 0, 2, 1]),
            testutil::a("WWW.example.", 60, [192, 0, 2, 2]),
            testutil::txt("www.example.", 60, "t"),
            testutil::a("other.example.", 60, [192, 0, 2, 3]),
        ],
        vec![],
        false,
    );
    let s = scan_response(&buf).unwrap();
    let ends: Vec<bool> = s
        .records
        .iter()
        .map(|r| r.is(RecordPos::RRSET_END))
        .collect();
    assert_eq!(ends, [false, true, true, true]);
}

#[test]
fn scan_finds_ttls_soa_and_opt() {
    let buf = testutil::response(
        1,
        "nx.example.",
        RecordType::A,
        ResponseCode::NXDomain,
        vec![],
        vec![testutil::soa("example.", 300, 60)],
        true,
    );
    let s = scan_response(&buf).unwrap();
    assert_eq!(s.rcode, rcode::NXDOMAIN);
    assert_eq!(s.soa_negative_ttl, Some(60), "min(SOA TTL, MINIMUM)");
    assert_eq!(s.records.len(), 1, "OPT is not a record with a TTL");
    assert_eq!(s.counts, [0, 1, 0], "OPT is not counted");
    assert_eq!(
        s.records[0].ttl, 60,
        "an authority SOA's TTL is min(TTL, MINIMUM)"
    );
    assert!(s.opt.is_some());
    let stripped = without_opt(&buf, s.opt.as_ref().unwrap());
    let m = parse(&stripped);
    assert!(m.edns.is_none());
    assert_eq!(m.authorities.len(), 1);

    let buf = testutil::response(
        1,
        "www.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![
            testutil::a("www.example.", 300, [192, 0, 2, 1]),
            testutil::a("www.example.", 20, [192, 0, 2, 2]),
        ],
        vec![],
        false,
    );
    let s = scan_response(&buf).unwrap();
    assert_eq!(s.min_ttl, Some(20));
    assert_eq!(s.counts, [2, 0, 0]);
    assert!(s.answers_qtype);
    for r in &s.records {
        assert_eq!(u32_at(&buf, r.ttl_off as usize).unwrap(), r.ttl);
    }
}

#[test]
fn response_must_match_id_and_question() {
    let kb = KeyBuf::plain(&encode_name("www.example").unwrap(), 1);
    let key = kb.key();
    let ok = testutil::response(
        9,
        "WWW.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![],
        vec![],
        false,
    );
    assert_eq!(check_response(&ok, 9, key), Ok(()), "case-insensitive");
    assert_eq!(check_response(&ok, 10, key), Err(Mismatch::Id));
    let other = testutil::response(
        9,
        "evil.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![],
        vec![],
        false,
    );
    assert_eq!(check_response(&other, 9, key), Err(Mismatch::Question));
    let aaaa = testutil::response(
        9,
        "www.example.",
        RecordType::AAAA,
        ResponseCode::NoError,
        vec![],
        vec![],
        false,
    );
    assert_eq!(check_response(&aaaa, 9, key), Err(Mismatch::Question));
    let q = testutil::query(9, "www.example.", RecordType::A, None);
    assert_eq!(
        check_response(&q, 9, key),
        Err(Mismatch::Malformed),
        "a query is not an answer"
    );
}
