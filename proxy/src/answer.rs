//! An upstream answer as the cache keeps it (ID zeroed, OPT removed, TTL positions known)
//! and its rendering for one client: that client's ID, question case, EDNS and size limit.
//! Rendering copies into a reused buffer and allocates nothing.

use crate::wire::{
    self, Query, ResponseScan, WireError, FLAG_AA, FLAG_AD, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_LEN,
};

/// What kind of answer this is, for TTL policy and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// NOERROR with records in the answer section.
    Positive,
    /// NXDOMAIN, or NOERROR with no answer (NODATA).
    Negative,
    /// SERVFAIL and other errors.
    Failure,
}

#[derive(Debug)]
pub struct Answer {
    wire: Box<[u8]>,
    ttl_offsets: Box<[u16]>,
    question_end: usize,
    pub rcode: u16,
    pub kind: Kind,
    /// Smallest answer TTL (positive) or the SOA rule's TTL (negative), as received.
    pub upstream_ttl: Option<u32>,
}

impl Answer {
    /// Takes a validated upstream response. An extended RCODE (from OPT) makes it a
    /// failure, never cached.
    pub fn from_upstream(buf: &[u8]) -> Result<Answer, WireError> {
        let first = wire::scan_response(buf)?;
        let (wire, scan) = match &first.opt {
            Some(opt) => {
                let stripped = wire::without_opt(buf, opt);
                let scan = wire::scan_response(&stripped)?;
                (
                    stripped,
                    ResponseScan {
                        rcode: first.rcode,
                        ..scan
                    },
                )
            }
            None => (buf.to_vec(), first),
        };
        Ok(Self::from_parts(wire, scan))
    }

    fn from_parts(mut wire: Vec<u8>, scan: ResponseScan) -> Answer {
        wire[0] = 0;
        wire[1] = 0;
        let (kind, upstream_ttl) = match scan.rcode {
            wire::rcode::NOERROR if scan.answers > 0 => (Kind::Positive, scan.min_answer_ttl),
            wire::rcode::NOERROR | wire::rcode::NXDOMAIN => (Kind::Negative, scan.soa_negative_ttl),
            _ => (Kind::Failure, None),
        };
        Answer {
            wire: wire.into_boxed_slice(),
            ttl_offsets: scan.ttl_offsets.into_boxed_slice(),
            question_end: scan.question_end,
            rcode: scan.rcode,
            kind,
            upstream_ttl,
        }
    }

    /// A SERVFAIL the proxy makes itself for a key, when no upstream answered in time.
    pub fn servfail(key: &[u8]) -> Answer {
        let mut q = Vec::with_capacity(key.len() + HEADER_LEN + wire::OPT_LEN);
        wire::build_upstream_query(key, 0, true, &mut q);
        let question_end = q.len() - wire::OPT_LEN;
        q.truncate(question_end);
        let flags = wire::FLAG_QR | FLAG_RD | wire::FLAG_RA | wire::rcode::SERVFAIL;
        wire::put_u16(&mut q, 2, flags);
        wire::put_u16(&mut q, 10, 0);
        Answer {
            wire: q.into_boxed_slice(),
            ttl_offsets: Box::new([]),
            question_end,
            rcode: wire::rcode::SERVFAIL,
            kind: Kind::Failure,
            upstream_ttl: None,
        }
    }

    /// Bytes this answer holds on the heap, for the cache's byte bound.
    pub fn heap_bytes(&self) -> usize {
        self.wire.len() + self.ttl_offsets.len() * 2 + std::mem::size_of::<Answer>()
    }

    /// Writes this answer for one client into `out`: the client's ID, RD bit and question
    /// bytes (so the case it asked in), every TTL set to `ttl`, the client's EDNS, and TC
    /// with an empty body when it exceeds `limit` bytes.
    pub fn render(&self, client: &[u8], q: &Query, ttl: u32, limit: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.wire);
        out[0..2].copy_from_slice(&client[0..2]);
        // We recurse for the client and are nobody's authority: RA on, AA off.
        let mut flags = u16::from_be_bytes([out[2], out[3]]) & !(FLAG_RD | FLAG_TC | FLAG_AA);
        flags |= q.flags & FLAG_RD | FLAG_RA;
        // RFC 6840 §5.8: AD only for clients that asked with DO or AD.
        if !q.dnssec_ok() && q.flags & FLAG_AD == 0 {
            flags &= !FLAG_AD;
        }
        wire::put_u16(out, 2, flags);
        // Same key means same name length: only the case can differ.
        out[q.qname.clone()].copy_from_slice(&client[q.qname.clone()]);
        for &off in self.ttl_offsets.iter() {
            wire::put_u32(out, off as usize, ttl);
        }
        let opt_len = if q.edns.is_some() { wire::OPT_LEN } else { 0 };
        if out.len() + opt_len > limit {
            out.truncate(self.question_end);
            wire::put_u16(out, 2, flags | FLAG_TC);
            for c in [6, 8, 10] {
                wire::put_u16(out, c, 0);
            }
        }
        if let Some(e) = q.edns {
            let ar = u16::from_be_bytes([out[10], out[11]]);
            wire::push_opt(out, e.dnssec_ok, (self.rcode >> 4) as u8);
            wire::put_u16(out, 10, ar + 1);
        }
    }
}

#[cfg(test)]
mod tests;
