//! The target choice, and the answer built, read back with hickory-proto.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use super::Outcome::*;
use super::*;
use crate::answer::{Answer, Serve};
use crate::testutil::{self, a, cname, response, soa};
use crate::wire::{encode_name, parse_query};

#[test]
fn the_target_is_the_first_name_that_exists_after_nxdomains_only() {
    let nx = [NxDomain, NxDomain];
    assert_eq!(target(&[nx, [Records, Records]]), Some(1));
    assert_eq!(
        target(&[nx, nx, [Records, NoData]]),
        Some(2),
        "A but no AAAA"
    );
    assert_eq!(
        target(&[nx, nx, [NoData, Records]]),
        Some(2),
        "AAAA asked, A only"
    );
    assert_eq!(
        target(&[[Records, Records], nx]),
        None,
        "the first name exists"
    );
    assert_eq!(
        target(&[[NoData, NoData], [Records, Records]]),
        None,
        "NODATA first"
    );
    assert_eq!(
        target(&[nx, [NoData, NoData], [Records, Records]]),
        None,
        "NODATA on the way"
    );
    assert_eq!(
        target(&[nx, [Failed, Failed], [Records, Records]]),
        None,
        "SERVFAIL"
    );
    assert_eq!(
        target(&[nx, [NxDomain, Failed], [Records, Records]]),
        None,
        "a timeout"
    );
    assert_eq!(
        target(&[nx, [Records, Failed]]),
        None,
        "the other family unknown"
    );
    assert_eq!(
        target(&[nx, [Records, NxDomain]]),
        None,
        "inconsistent upstreams"
    );
    assert_eq!(target(&[nx, nx, nx]), None, "nothing exists");
    assert_eq!(target(&[]), None);
}

const FIRST: &str = "api.example.com.shop.svc.cluster.local.";

fn synth(qtype: u16, target_name: &str, target_msg: &[u8], skipped: u32) -> Option<Vec<u8>> {
    synthesize(
        &encode_name(FIRST).unwrap(),
        qtype,
        &encode_name(target_name).unwrap(),
        target_msg,
        skipped,
    )
}

fn answer_to(qtype: RecordType, answers: Vec<hickory_proto::rr::Record>) -> Vec<u8> {
    response(
        0,
        "api.example.com.",
        qtype,
        ResponseCode::NoError,
        answers,
        vec![],
        false,
    )
}

#[test]
fn cname_then_the_targets_records_with_ttls_bounded_by_the_skipped_names() {
    let t = answer_to(
        RecordType::A,
        vec![
            a("api.example.com.", 300, [192, 0, 2, 1]),
            a("api.example.com.", 3, [192, 0, 2, 2]),
        ],
    );
    let m = testutil::parse(&synth(1, "api.example.com", &t, 5).unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_available && m.metadata.recursion_desired);
    assert_eq!(m.answers.len(), 3);
    assert_eq!(m.answers[0].name.to_string(), FIRST);
    match &m.answers[0].data {
        RData::CNAME(c) => assert_eq!(c.0.to_string(), "api.example.com."),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.answers[0].ttl, 3, "the shortest of all");
    assert_eq!(m.answers[1].ttl, 5, "300, bounded by the skipped names' 5");
    assert_eq!(m.answers[2].ttl, 3);
    assert!(m.authorities.is_empty());
}

#[test]
fn the_type_the_target_lacks_is_cname_noerror_and_its_soa() {
    let t = response(
        0,
        "api.example.com.",
        RecordType::AAAA,
        ResponseCode::NoError,
        vec![],
        vec![soa("example.com.", 30, 60)],
        false,
    );
    let m = testutil::parse(&synth(28, "api.example.com", &t, 60).unwrap());
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NoError,
        "not NXDOMAIN"
    );
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].ttl, 30);
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].name.to_string(), "example.com.");
    // Without an SOA there is nothing to say how long the absence lasts.
    let bare = answer_to(RecordType::AAAA, vec![]);
    assert_eq!(synth(28, "api.example.com", &bare, 60), None);
}

#[test]
fn a_target_that_is_itself_a_cname_chain_is_kept_whole() {
    let t = answer_to(
        RecordType::A,
        vec![
            cname("api.example.com.", 60, "cdn.example.net."),
            a("cdn.example.net.", 20, [192, 0, 2, 9]),
        ],
    );
    let m = testutil::parse(&synth(1, "api.example.com", &t, 30).unwrap());
    let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME, RecordType::CNAME, RecordType::A]);
    assert_eq!(m.answers[1].name.to_string(), "api.example.com.");
    assert_eq!(m.answers[2].name.to_string(), "cdn.example.net.");
    assert_eq!(m.answers[0].ttl, 20);
}

#[test]
fn other_record_types_or_rcodes_are_not_built_from() {
    let txt = answer_to(
        RecordType::A,
        vec![testutil::txt("api.example.com.", 60, "x")],
    );
    assert_eq!(synth(1, "api.example.com", &txt, 5), None);
    let nx = response(
        0,
        "api.example.com.",
        RecordType::A,
        ResponseCode::NXDomain,
        vec![],
        vec![soa("com.", 60, 60)],
        false,
    );
    assert_eq!(synth(1, "api.example.com", &nx, 5), None);
}

#[test]
fn rendered_for_a_client_it_carries_the_questions_case() {
    let t = answer_to(
        RecordType::A,
        vec![a("api.example.com.", 300, [192, 0, 2, 1])],
    );
    let built = synth(1, "api.example.com", &t, 5).unwrap();
    let answer = Answer::from_upstream(&built).unwrap();
    let client = testutil::query(
        77,
        "Api.Example.COM.shop.svc.cluster.local.",
        RecordType::A,
        None,
    );
    let q = parse_query(&client).unwrap();
    let mut out = Vec::new();
    answer.render(&client, &q, Serve::AsReceived, 512, &mut out);
    assert_eq!(
        &out[12..q.qname.end],
        &client[12..q.qname.end],
        "the client's case"
    );
    let m = testutil::parse(&out);
    assert_eq!(m.metadata.id, 77);
    assert_eq!(
        m.answers[0].name.to_ascii(),
        "Api.Example.COM.shop.svc.cluster.local."
    );
}
