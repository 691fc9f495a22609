//! The `cname` level's answer: the walk's first name, `X.<first search domain>`, answered
//! `CNAME <target>` and the target's own records, where the target is the first name of the
//! walk that exists. Only when every earlier name is NXDOMAIN for both A and AAAA, and the
//! target exists for both: on NODATA, SERVFAIL or a timeout earlier in the walk resolvers
//! differ (glibc goes on, musl stops), so the client gets the real answer and walks itself.
//! For the type the target lacks, the CNAME with NOERROR and the target's SOA (NXDOMAIN
//! would make musl drop the other family's addresses).

use crate::wire::{
    self, expand_name, read_rr, u16_at, u32_at, CLASS_IN, FLAG_QR, FLAG_RA, FLAG_RD, HEADER_LEN,
    TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_DNAME, TYPE_SOA,
};

/// How one name of the walk was answered, for one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// NOERROR with records of the type.
    Records,
    /// NOERROR without (the name exists).
    NoData,
    NxDomain,
    /// SERVFAIL, a timeout, anything else.
    Failed,
}

/// The target's index in the walk (0 is its first name), from each name's outcome for
/// `[the queried type, the other address type]`; None when the client must get the real
/// answer for the first name.
pub fn target(outcomes: &[[Outcome; 2]]) -> Option<usize> {
    use Outcome::*;
    let k = outcomes.iter().position(|o| o != &[NxDomain, NxDomain])?;
    if k == 0 {
        return None;
    }
    match outcomes[k] {
        [Records, Records | NoData] | [NoData, Records] => Some(k),
        _ => None,
    }
}

/// One record to write, its names written out whole.
struct Rec {
    owner: Vec<u8>,
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

/// The records of `msg`'s answer section, and the SOA of its authority section, with names
/// expanded; None if a record is of a type this answer is not made of.
fn records(msg: &[u8]) -> Option<(Vec<Rec>, Option<Rec>)> {
    let [_, an, ns, _] = wire::counts(msg).ok()?;
    let mut off = wire::skip_name(msg, HEADER_LEN).ok()? + 4;
    let (mut answers, mut soa) = (Vec::new(), None);
    for i in 0..(an as usize + ns as usize) {
        let rr = read_rr(msg, off).ok()?;
        let in_answer = i < an as usize;
        if !in_answer && (rr.rtype != TYPE_SOA || soa.is_some()) {
            // Only the first SOA of the authority section matters (NS records are left out).
            off = rr.end;
            continue;
        }
        let (owner, _) = expand_name(msg, off)?;
        let ttl = u32_at(msg, rr.ttl_off).ok()?;
        let raw = &msg[rr.rdata..rr.end];
        let rdata = match rr.rtype {
            TYPE_A | TYPE_AAAA => raw.to_vec(),
            TYPE_CNAME | TYPE_DNAME => expand_name(msg, rr.rdata)?.0,
            TYPE_SOA => {
                let (mname, after) = expand_name(msg, rr.rdata)?;
                let (rname, after) = expand_name(msg, after)?;
                [mname, rname, msg.get(after..after + 20)?.to_vec()].concat()
            }
            _ => return None,
        };
        let rec = Rec {
            owner,
            rtype: rr.rtype,
            ttl,
            rdata,
        };
        if !in_answer {
            soa = Some(rec);
        } else if rr.rtype == TYPE_SOA {
            return None;
        } else {
            answers.push(rec);
        }
        off = rr.end;
    }
    Some((answers, soa))
}

/// The SOA of a message's authority section: owner, TTL and rdata, names written out whole.
pub fn authority_soa(msg: &[u8]) -> Option<(Vec<u8>, u32, Vec<u8>)> {
    let soa = records(msg)?.1?;
    Some((soa.owner, soa.ttl, soa.rdata))
}

fn push_rec(out: &mut Vec<u8>, r: &Rec) {
    out.extend_from_slice(&r.owner);
    out.extend_from_slice(&r.rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    out.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&r.rdata);
}

/// The answer for `qname`/`qtype` (the walk's first name, wire, as the key holds it):
/// `qname CNAME target` and, from `target_msg` (the target's answer for `qtype` as it would
/// be served now), its answer records, or for NODATA its SOA. Every TTL is at most
/// `skipped_ttl` (the shortest negative TTL of the names skipped); the CNAME's is the
/// shortest of all. None if the target's answer is not one to build from.
pub fn synthesize(
    qname: &[u8],
    qtype: u16,
    target: &[u8],
    target_msg: &[u8],
    skipped_ttl: u32,
) -> Option<Vec<u8>> {
    let rcode = u16_at(target_msg, 2).ok()? & 0xF;
    if rcode != wire::rcode::NOERROR {
        return None;
    }
    let (mut answers, soa) = records(target_msg)?;
    let has_type = answers.iter().any(|r| r.rtype == qtype);
    let mut soa = if has_type { None } else { Some(soa?) };
    let ttl = answers
        .iter()
        .chain(soa.iter())
        .map(|r| r.ttl)
        .fold(skipped_ttl, u32::min);
    for r in answers.iter_mut().chain(soa.iter_mut()) {
        r.ttl = r.ttl.min(skipped_ttl);
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(FLAG_QR | FLAG_RD | FLAG_RA).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(1 + answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&(soa.is_some() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(qname);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    // The CNAME's owner points at the question, so it reads as the client wrote it.
    push_rec(
        &mut out,
        &Rec {
            owner: vec![0xC0, HEADER_LEN as u8],
            rtype: TYPE_CNAME,
            ttl,
            rdata: target.to_vec(),
        },
    );
    for r in answers.iter().chain(soa.iter()) {
        push_rec(&mut out, r);
    }
    (out.len() <= u16::MAX as usize).then_some(out)
}

#[cfg(test)]
mod tests;
