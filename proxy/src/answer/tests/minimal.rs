//! What an answer keeps: a positive A or AAAA answer to a query without DO keeps only its
//! answer section (as unbound's `minimal-responses: yes` serves it); everything else keeps
//! every section. And the question it keeps is its cache key's.
use super::*;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as HQuery};
use hickory_proto::rr::{rdata, RData, Record};

/// An answer to `qtype` with an authority SOA (standing in for NS) and a glue address.
fn with_extras(qtype: RecordType, dnssec_ok: bool) -> Vec<u8> {
    let mut m = Message::new(9, MessageType::Response, OpCode::Query);
    m.metadata.recursion_available = true;
    m.add_query(HQuery::query(testutil::name("Svc.Example."), qtype));
    let answer = match qtype {
        RecordType::MX => Record::from_rdata(
            testutil::name("svc.example."),
            60,
            RData::MX(rdata::MX::new(10, testutil::name("mail.example."))),
        ),
        _ => testutil::a("svc.example.", 60, [192, 0, 2, 7]),
    };
    m.add_answer(answer);
    m.add_authority(testutil::soa("example.", 300, 60));
    m.add_additional(testutil::a("mail.example.", 60, [192, 0, 2, 8]));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(dnssec_ok);
    m.set_edns(e);
    m.to_vec().unwrap()
}

fn rendered(a: &Answer, qtype: RecordType, dnssec_ok: bool) -> Message {
    let c = testutil::query(1, "svc.example.", qtype, Some((1232, dnssec_ok)));
    let q = parse_query(&c).unwrap();
    let mut out = Vec::new();
    a.render(&c, &q, Serve::AsReceived, 1232, &mut out);
    parse(&out)
}

#[test]
fn a_positive_address_answer_keeps_its_answer_section_only() {
    let a = Answer::from_upstream(&with_extras(RecordType::A, false)).unwrap();
    let m = rendered(&a, RecordType::A, false);
    assert_eq!(m.answers.len(), 1);
    assert!(
        m.authorities.is_empty() && m.additionals.is_empty(),
        "{m:?}"
    );
    assert_eq!(m.answers[0].ttl, 60);
    let full = Answer::from_upstream(&with_extras(RecordType::A, true)).unwrap();
    assert!(a.heap_bytes() < full.heap_bytes());
}

#[test]
fn dnssec_and_other_types_keep_every_section() {
    let a = Answer::from_upstream(&with_extras(RecordType::A, true)).unwrap();
    let m = rendered(&a, RecordType::A, true);
    assert_eq!(
        (m.answers.len(), m.authorities.len(), m.additionals.len()),
        (1, 1, 1),
        "asked with DO: every section, as received"
    );
    let mx = Answer::from_upstream(&with_extras(RecordType::MX, false)).unwrap();
    let m = rendered(&mx, RecordType::MX, false);
    assert_eq!(
        (m.answers.len(), m.authorities.len(), m.additionals.len()),
        (1, 1, 1),
        "an MX answer's additional addresses are used"
    );
}

#[test]
fn the_question_kept_is_the_cache_key() {
    let a = Answer::from_upstream(&with_extras(RecordType::A, false)).unwrap();
    let name = crate::wire::encode_name("svc.example").unwrap();
    let key = crate::wire::KeyBuf::plain(&name, 1);
    let k = key.key().bytes();
    assert_eq!(
        a.question(),
        &k[..k.len() - 1],
        "lowercased name, type, class"
    );
}
