//! RFC 2181 §9: glue is left out before TC is set; a negative answer keeps its SOA.

use super::*;

#[test]
fn glue_that_does_not_fit_is_left_out_not_truncated() {
    // SRV targets are never compressed (RFC 2782): 8 pods' SRV set is about 450 bytes.
    let a = srv_with_glue(8);
    let c = srv_query(None);
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
    let c = srv_query(Some((512, false)));
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
