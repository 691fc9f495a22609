//! Test messages built with hickory-proto, an encoder independent of ours.

use std::str::FromStr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

pub fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

pub fn query(id: u16, qname: &str, qtype: RecordType, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), qtype));
    if let Some((size, dnssec_ok)) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        e.set_dnssec_ok(dnssec_ok);
        m.set_edns(e);
    }
    let mut buf = m.to_vec().unwrap();
    // hickory writes names lowercased; put the asked-for case back, as real clients send it.
    let mut off = 12;
    for label in qname
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        buf[off + 1..off + 1 + label.len()].copy_from_slice(label.as_bytes());
        off += label.len() + 1;
    }
    buf
}

pub fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::A(A::new(ip[0], ip[1], ip[2], ip[3])),
    )
}

pub fn txt(owner: &str, ttl: u32, text: &str) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::TXT(TXT::new(vec![text.to_string()])),
    )
}

pub fn soa(zone: &str, ttl: u32, minimum: u32) -> Record {
    let rdata = SOA::new(
        name(&format!("ns1.{zone}")),
        name(&format!("admin.{zone}")),
        1,
        3600,
        600,
        86400,
        minimum,
    );
    Record::from_rdata(name(zone), ttl, RData::SOA(rdata))
}

pub fn cname(owner: &str, ttl: u32, target: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
}

pub fn srv(owner: &str, ttl: u32, target: &str) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::SRV(SRV::new(0, 10, 80, name(target))),
    )
}

/// A response to `qname`/`qtype` with the given sections, optionally with an OPT record.
pub fn response(
    id: u16,
    qname: &str,
    qtype: RecordType,
    rcode: ResponseCode,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    edns: bool,
) -> Vec<u8> {
    response_with_additional(id, qname, qtype, rcode, answers, authorities, vec![], edns)
}

/// `response` with an additional section too.
#[allow(clippy::too_many_arguments)]
pub fn response_with_additional(
    id: u16,
    qname: &str,
    qtype: RecordType,
    rcode: ResponseCode,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    additionals: Vec<Record>,
    edns: bool,
) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.authoritative = true;
    m.metadata.response_code = rcode;
    m.add_query(Query::query(name(qname), qtype));
    m.add_answers(answers);
    m.add_authorities(authorities);
    m.add_additionals(additionals);
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

pub fn parse(buf: &[u8]) -> Message {
    Message::from_vec(buf).unwrap()
}
