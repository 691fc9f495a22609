use super::*;
use crate::testutil::{self, parse};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

#[test]
fn parses_a_plain_query() {
    let buf = testutil::query(0x1234, "Www.Example.com.", RecordType::AAAA, None);
    let q = parse_query(&buf).unwrap();
    assert_eq!(q.id, 0x1234);
    assert_eq!(q.qtype, 28);
    assert_eq!(q.qclass, CLASS_IN);
    assert_eq!(q.edns, None);
    assert_eq!(q.udp_limit(), 512);
    assert!(q.recursion_desired());
    assert_eq!(name_to_string(&buf[q.qname.clone()]), "Www.Example.com.");
    assert_eq!(q.question_end(), buf.len());
}

#[test]
fn reads_edns_size_and_do_bit() {
    let buf = testutil::query(1, "a.b.", RecordType::A, Some((4096, true)));
    let q = parse_query(&buf).unwrap();
    assert_eq!(
        q.edns,
        Some(Edns {
            udp_size: 4096,
            dnssec_ok: true
        })
    );
    assert_eq!(
        q.udp_limit(),
        EDNS_UDP_SIZE as usize,
        "capped at what we support"
    );
    let small = testutil::query(1, "a.b.", RecordType::A, Some((100, false)));
    assert_eq!(
        parse_query(&small).unwrap().udp_limit(),
        512,
        "never below 512"
    );
}

#[test]
fn rejects_what_is_not_a_plain_query() {
    assert_eq!(parse_query(&[0; 5]), Err(Reject::Drop), "no header");
    let resp = testutil::response(
        1,
        "a.",
        RecordType::A,
        ResponseCode::NoError,
        vec![],
        vec![],
        false,
    );
    assert_eq!(
        parse_query(&resp),
        Err(Reject::Drop),
        "responses are never answered"
    );
    let mut notify = testutil::query(1, "a.", RecordType::A, None);
    notify[2] |= 4 << 3; // opcode NOTIFY
    assert_eq!(parse_query(&notify), Err(Reject::Respond(rcode::NOTIMP)));
    let mut two = testutil::query(1, "a.", RecordType::A, None);
    two[5] = 2;
    assert_eq!(parse_query(&two), Err(Reject::Respond(rcode::FORMERR)));
    let good = testutil::query(1, "abc.example.", RecordType::A, None);
    for cut in HEADER_LEN..good.len() {
        assert_eq!(
            parse_query(&good[..cut]),
            Err(Reject::Respond(rcode::FORMERR)),
            "cut at {cut}"
        );
    }
    let mut bad_label = good.clone();
    bad_label[HEADER_LEN] = 0x80;
    assert_eq!(
        parse_query(&bad_label),
        Err(Reject::Respond(rcode::FORMERR))
    );
    let mut v1 = testutil::query(1, "a.", RecordType::A, Some((1232, false)));
    let n = v1.len();
    v1[n - 5] = 1; // EDNS version 1
    assert_eq!(parse_query(&v1), Err(Reject::Respond(rcode::BADVERS)));
}

#[test]
fn garbage_never_panics() {
    // A cheap deterministic fuzz: every parser sees random and mutated bytes.
    let seed = testutil::query(7, "www.example.com.", RecordType::A, Some((1232, true)));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::new();
    for i in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut buf = if i % 2 == 0 {
            seed.clone()
        } else {
            vec![0; (x % 64) as usize]
        };
        for k in 0..(1 + x % 4) {
            let len = buf.len().max(1);
            let pos = ((x >> (8 * k)) as usize) % len;
            if pos < buf.len() {
                buf[pos] = (x >> (3 * k)) as u8;
            }
        }
        let parsed = parse_query(&buf);
        let _ = scan_response(&buf);
        let _ = check_response(
            &buf,
            7,
            Key::of(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01\x00"),
        );
        match parsed {
            Ok(q) => {
                let _ = cache_key(&buf, &q);
                write_error(&buf, Some(&q), rcode::SERVFAIL, &mut out);
            }
            Err(Reject::Respond(c)) => write_error(&buf, None, c, &mut out),
            Err(Reject::Drop) => {}
        }
    }
}

#[test]
fn cache_key_folds_case_and_keeps_flags() {
    let a = testutil::query(1, "WWW.example.COM.", RecordType::A, None);
    let b = testutil::query(2, "www.EXAMPLE.com.", RecordType::A, Some((1232, false)));
    let c = testutil::query(3, "www.example.com.", RecordType::A, Some((1232, true)));
    let ka = cache_key(&a, &parse_query(&a).unwrap())
        .key()
        .bytes()
        .to_vec();
    let kb = cache_key(&b, &parse_query(&b).unwrap())
        .key()
        .bytes()
        .to_vec();
    assert_eq!(ka, kb, "case and EDNS presence do not split the cache");
    let kc = cache_key(&c, &parse_query(&c).unwrap())
        .key()
        .bytes()
        .to_vec();
    assert_ne!(ka, kc, "DO does");
    let k = Key::of(&ka);
    assert_eq!(k.name(), b"\x03www\x07example\x03com\x00");
    assert_eq!((k.qtype(), k.qclass()), (1, 1));
    assert!(Key::of(&kc).dnssec_ok());
}

#[test]
fn upstream_query_is_what_hickory_reads() {
    let name = encode_name("Svc.NS.svc.cluster.local").unwrap();
    let kb = KeyBuf::plain(&name, 33);
    let mut out = Vec::new();
    build_upstream_query(kb.key(), 0xBEEF, true, &mut out);
    let m = parse(&out);
    assert_eq!(m.metadata.id, 0xBEEF);
    assert!(m.metadata.recursion_desired);
    assert_eq!(m.queries[0].name.to_ascii(), "svc.ns.svc.cluster.local.");
    assert_eq!(m.queries[0].query_type, RecordType::SRV);
    assert_eq!(m.edns.as_ref().unwrap().max_payload(), EDNS_UDP_SIZE);
}

#[test]
fn errors_echo_id_question_and_edns() {
    let buf = testutil::query(0x4242, "x.example.", RecordType::A, Some((1232, true)));
    let q = parse_query(&buf).unwrap();
    let mut out = Vec::new();
    write_error(&buf, Some(&q), rcode::SERVFAIL, &mut out);
    let m = parse(&out);
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.queries.len(), 1);
    assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
    write_error(&buf, None, rcode::BADVERS, &mut out);
    let m = parse(&out);
    assert_eq!(
        u16::from(m.metadata.response_code),
        rcode::BADVERS,
        "extended rcode via OPT"
    );
    write_error(&buf[..3], None, rcode::FORMERR, &mut out);
    assert_eq!(out.len(), HEADER_LEN);
}

#[test]
fn refusals_of_an_edns_query_carry_opt() {
    // RFC 6891 §7: FORMERR, NOTIMP and BADVERS to a query with OPT carry OPT too.
    let edns = testutil::query(7, "x.example.", RecordType::A, Some((1232, true)));
    let two_questions = {
        use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(testutil::name("x.example."), RecordType::A));
        m.add_query(Query::query(testutil::name("y.example."), RecordType::A));
        let mut e = Edns::new();
        e.set_dnssec_ok(true);
        m.set_edns(e);
        m.to_vec().unwrap()
    };
    let mut notify = edns.clone();
    notify[2] |= 4 << 3;
    let mut version1 = edns.clone();
    let opt_ttl = version1.len() - 6;
    version1[opt_ttl + 1] = 1;
    for (what, buf, code) in [
        ("two questions", &two_questions, rcode::FORMERR),
        ("opcode NOTIFY", &notify, rcode::NOTIMP),
        ("EDNS version 1", &version1, rcode::BADVERS),
    ] {
        let Err(Reject::Respond(got)) = parse_query(buf) else {
            panic!("{what}: not refused");
        };
        assert_eq!(got, code, "{what}");
        let mut out = Vec::new();
        write_error(buf, None, got, &mut out);
        let m = parse(&out);
        let e = m.edns.as_ref().unwrap_or_else(|| panic!("{what}: no OPT"));
        assert!(e.flags().dnssec_ok, "{what}: DO echoed");
        assert_eq!(u16::from(m.metadata.response_code), code, "{what}");
    }
    // Without OPT in the query, none in the reply.
    let plain = testutil::query(7, "x.example.", RecordType::A, None);
    let mut out = Vec::new();
    write_error(&plain, None, rcode::FORMERR, &mut out);
    assert!(parse(&out).edns.is_none());
}

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

#[test]
fn names_encode_and_print() {
    assert_eq!(encode_name("A.b").unwrap(), b"\x01a\x01b\x00");
    assert_eq!(encode_name(".").unwrap(), b"\x00");
    assert!(encode_name("a..b").is_err());
    assert!(encode_name("a b").is_err());
    assert!(encode_name(&"x".repeat(64)).is_err());
    assert_eq!(name_to_string(b"\x03a.b\x01\x07\x00"), "a\\.b.\\007.");
}
