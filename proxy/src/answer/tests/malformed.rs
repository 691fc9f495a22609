//! Upstream answers that would render broken are refused (most found by the fuzzers).

use super::*;

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
