//! The messages the proxy writes: upstream queries and error replies.

use super::*;

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
