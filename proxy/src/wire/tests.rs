use super::*;
use crate::testutil::{self, parse};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

mod response;
mod write;

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
fn names_encode_and_print() {
    assert_eq!(encode_name("A.b").unwrap(), b"\x01a\x01b\x00");
    assert_eq!(encode_name(".").unwrap(), b"\x00");
    assert!(encode_name("a..b").is_err());
    assert!(encode_name("a b").is_err());
    assert!(encode_name(&"x".repeat(64)).is_err());
    assert_eq!(name_to_string(b"\x03a.b\x01\x07\x00"), "a\\.b.\\007.");
}
