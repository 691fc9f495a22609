//! What upstreams answer: a response walked record by record for what the cache needs (TTLs,
//! RRset ends, the negative-caching SOA, OPT), and checked against the question we asked.

use std::ops::Range;

use super::name::{check_name, check_rdata_names};
use super::*;

/// One record of a walked response (never OPT): where its TTL sits, where it ends, the TTL
/// it was received with, and whether it closes its RRset (the unit RFC 2181 §9 lets a
/// server leave out of the additional section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPos {
    pub ttl_off: u16,
    pub end: u16,
    /// As received; for an SOA in the authority section min(TTL, MINIMUM) (RFC 2308 §3).
    pub ttl: u32,
    pub flags: u8,
}

impl RecordPos {
    /// The last record of its RRset (an RRSIG counts with the set it follows).
    pub const RRSET_END: u8 = 1;
    /// An SOA in the authority section: in a negative answer, its TTL is the negative TTL.
    pub const AUTHORITY_SOA: u8 = 2;

    pub fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A walked response: what the cache needs to store, age and trim it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseScan {
    /// Full RCODE (header bits plus OPT's extended bits).
    pub rcode: u16,
    pub qtype: u16,
    /// Records in the answer, authority and additional sections, OPT not counted.
    pub counts: [u16; 3],
    /// Every record but OPT, in wire order.
    pub records: Vec<RecordPos>,
    /// Whether the answer section holds a record of the question's type (or the question
    /// is for CNAME or ANY): a positive answer. A CNAME chain without one is NODATA.
    pub answers_qtype: bool,
    /// Smallest TTL of any record (RFC 2181 §8: a TTL with the top bit set counts as 0).
    pub min_ttl: Option<u32>,
    /// RFC 2308: min(SOA TTL, SOA MINIMUM) from the authority section.
    pub soa_negative_ttl: Option<u32>,
    /// Where the OPT record sits, so the cache can store the message without it.
    pub opt: Option<Range<usize>>,
    pub question_end: usize,
    /// Where the last record ends: bytes after it are not part of the message.
    pub end: usize,
}

/// Walks every record of a response. Fails on anything that does not parse.
pub fn scan_response(buf: &[u8]) -> Result<ResponseScan, WireError> {
    let [qd, an, ns, ar] = counts(buf)?;
    if qd != 1 {
        return Err(WireError::QuestionCount(qd));
    }
    let flags = u16_at(buf, 2)?;
    // Where every label of every name checked so far starts: what a pointer may point at.
    let mut labels = Vec::with_capacity(32);
    let qname_end = check_name(buf, HEADER_LEN, &mut labels)?;
    let qtype = u16_at(buf, qname_end)?;
    let mut off = qname_end + 4;
    if off > buf.len() || buf.len() > u16::MAX as usize {
        return Err(WireError::Truncated(off));
    }
    let question_end = off;
    let total = an as usize + ns as usize + ar as usize;
    let mut scan = ResponseScan {
        rcode: flags & 0xF,
        qtype,
        counts: [an, ns, ar],
        records: Vec::with_capacity(total.min(64)),
        answers_qtype: false,
        min_ttl: None,
        soa_negative_ttl: None,
        opt: None,
        question_end,
        end: question_end,
    };
    // (section, owner offset, type) of the record before, to find RRset ends.
    let mut prev: Option<(u8, usize, u16)> = None;
    for i in 0..total {
        let section = if i < an as usize {
            0
        } else if i < an as usize + ns as usize {
            1
        } else {
            2
        };
        check_name(buf, off, &mut labels)?;
        let rr = read_rr(buf, off)?;
        off = rr.end;
        if rr.rtype == TYPE_OPT {
            // Last, so that taking it out moves nothing a pointer could point at.
            if section != 2 || i + 1 != total {
                return Err(WireError::MisplacedOpt);
            }
            if scan.opt.is_some() {
                return Err(WireError::DuplicateOpt);
            }
            scan.rcode |= (buf[rr.ttl_off] as u16) << 4;
            scan.opt = Some(rr.start..rr.end);
            scan.counts[2] -= 1;
            continue;
        }
        check_rdata_names(buf, &rr, &mut labels)?;
        let raw = u32_at(buf, rr.ttl_off)?;
        let mut ttl = if raw > i32::MAX as u32 { 0 } else { raw };
        let mut flags = 0;
        if section == 0 && (rr.rtype == qtype || qtype == TYPE_CNAME || qtype == TYPE_ANY) {
            scan.answers_qtype = true;
        }
        if section == 1 && rr.rtype == TYPE_SOA {
            let rdata_end = skip_name(buf, skip_name(buf, rr.rdata)?)?;
            ttl = ttl.min(u32_at(buf, rdata_end + 16)?);
            scan.soa_negative_ttl = Some(scan.soa_negative_ttl.map_or(ttl, |m| m.min(ttl)));
            flags |= RecordPos::AUTHORITY_SOA;
        }
        scan.min_ttl = Some(scan.min_ttl.map_or(ttl, |m| m.min(ttl)));
        // This record starts a new RRset unless it has the section, owner and type of the
        // one before (an RRSIG joins the set it follows).
        let same_set = prev.is_some_and(|(s, owner, t)| {
            s == section
                && (t == rr.rtype || rr.rtype == TYPE_RRSIG)
                && names_equal(buf, owner, rr.start)
        });
        if !same_set {
            if let Some(last) = scan.records.last_mut() {
                last.flags |= RecordPos::RRSET_END;
            }
        }
        let set_type = match prev {
            Some((_, _, t)) if same_set => t,
            _ => rr.rtype,
        };
        prev = Some((section, rr.start, set_type));
        scan.records.push(RecordPos {
            ttl_off: rr.ttl_off as u16,
            end: rr.end as u16,
            ttl,
            flags,
        });
    }
    if let Some(last) = scan.records.last_mut() {
        last.flags |= RecordPos::RRSET_END;
    }
    scan.end = off;
    Ok(scan)
}

/// Why an upstream answer was not accepted for our query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("not a parseable response")]
    Malformed,
    #[error("response ID does not match")]
    Id,
    #[error("response question does not match")]
    Question,
}

/// Accepts an upstream answer only if it is a response to exactly our ID and question.
pub fn check_response(buf: &[u8], id: u16, key: Key<'_>) -> Result<(), Mismatch> {
    if buf.len() < HEADER_LEN {
        return Err(Mismatch::Malformed);
    }
    let flags = u16::from_be_bytes([buf[2], buf[3]]);
    if flags & FLAG_QR == 0 || flags & OPCODE_MASK != 0 {
        return Err(Mismatch::Malformed);
    }
    if u16::from_be_bytes([buf[0], buf[1]]) != id {
        return Err(Mismatch::Id);
    }
    if u16::from_be_bytes([buf[4], buf[5]]) != 1 {
        return Err(Mismatch::Question);
    }
    let (name, qtype, qclass) = (key.name(), key.qtype(), key.qclass());
    let end = HEADER_LEN + name.len();
    let Some(got) = buf.get(HEADER_LEN..end) else {
        return Err(Mismatch::Question);
    };
    if !got.eq_ignore_ascii_case(name)
        || u16_at(buf, end) != Ok(qtype)
        || u16_at(buf, end + 2) != Ok(qclass)
    {
        return Err(Mismatch::Question);
    }
    Ok(())
}

/// Copies a message without its OPT record (the cache stores answers EDNS-free and adds
/// the client's own OPT when it serves them).
pub fn without_opt(buf: &[u8], opt: &Range<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len() - opt.len());
    out.extend_from_slice(&buf[..opt.start]);
    out.extend_from_slice(&buf[opt.end..]);
    let ar = u16::from_be_bytes([out[10], out[11]]).saturating_sub(1);
    put_u16(&mut out, 10, ar);
    out
}
