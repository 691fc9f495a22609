//! An upstream answer as the cache keeps it (ID zeroed, OPT removed, every record's TTL and
//! position known) and its rendering for one client: that client's ID, question case,
//! flags, EDNS and size limit, each record's TTL counted down from its own. Rendering copies
//! into a reused buffer and allocates nothing.

use crate::wire::{
    self, Key, Query, RecordPos, ResponseScan, WireError, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA,
    FLAG_RD, FLAG_TC, HEADER_LEN,
};

/// TTL served with a stale answer (RFC 8767 §4 recommends 30 s).
pub const STALE_TTL: u32 = 30;

/// What kind of answer this is, for TTL policy and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// NOERROR with a record of the question's type in the answer section.
    Positive,
    /// NXDOMAIN, or NOERROR without one (NODATA), CNAME chains included (RFC 2308 §5).
    Negative,
    /// SERVFAIL and other errors.
    Failure,
}

/// How the TTLs of one rendering are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// Not cached: every record keeps the TTL it was received with.
    AsReceived,
    /// From the cache, `age` seconds after it was stored for `entry_ttl` seconds. Each
    /// record counts down from its own TTL, capped at `cap` (--max-ttl). Only a record
    /// shorter than the entry (which --min-ttl can make) is served with the entry's TTL.
    Cached { age: u32, entry_ttl: u32, cap: u32 },
    /// Past expiry, served because no upstream answered (RFC 8767): every TTL is 30 s.
    Stale,
}

#[derive(Debug)]
pub struct Answer {
    wire: Box<[u8]>,
    records: Box<[RecordPos]>,
    question_end: u16,
    /// Records in the answer, authority and additional sections.
    counts: [u16; 3],
    pub rcode: u16,
    pub kind: Kind,
    /// The longest it may be cached, as received: the shortest TTL of any record, and for a
    /// negative answer also the SOA rule's. None: not cacheable (a negative without SOA).
    pub upstream_ttl: Option<u32>,
}

impl Answer {
    /// Takes a validated upstream response. An extended RCODE (from OPT) makes it a
    /// failure, never cached.
    pub fn from_upstream(buf: &[u8]) -> Result<Answer, WireError> {
        let first = wire::scan_response(buf)?;
        // Trailing bytes after the last record are no part of the answer.
        let buf = &buf[..first.end];
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
            wire::rcode::NOERROR if scan.answers_qtype => (Kind::Positive, scan.min_ttl),
            wire::rcode::NOERROR | wire::rcode::NXDOMAIN => (
                Kind::Negative,
                scan.soa_negative_ttl
                    .map(|soa| scan.min_ttl.map_or(soa, |m| m.min(soa))),
            ),
            _ => (Kind::Failure, None),
        };
        Answer {
            wire: wire.into_boxed_slice(),
            records: scan.records.into_boxed_slice(),
            question_end: scan.question_end as u16,
            counts: scan.counts,
            rcode: scan.rcode,
            kind,
            upstream_ttl,
        }
    }

    /// A SERVFAIL the proxy makes itself for a key, when no upstream answered in time.
    pub fn servfail(key: Key<'_>) -> Answer {
        let mut q = Vec::with_capacity(key.bytes().len() + HEADER_LEN + wire::OPT_LEN);
        wire::build_upstream_query(key, 0, true, &mut q);
        let question_end = q.len() - wire::OPT_LEN;
        q.truncate(question_end);
        let flags = FLAG_QR | FLAG_RD | FLAG_RA | wire::rcode::SERVFAIL;
        wire::put_u16(&mut q, 2, flags);
        wire::put_u16(&mut q, 10, 0);
        Answer {
            wire: q.into_boxed_slice(),
            records: Box::new([]),
            question_end: question_end as u16,
            counts: [0; 3],
            rcode: wire::rcode::SERVFAIL,
            kind: Kind::Failure,
            upstream_ttl: None,
        }
    }

    /// Bytes this answer holds on the heap, for the cache's byte bound.
    pub fn heap_bytes(&self) -> usize {
        self.wire.len() + std::mem::size_of_val(&*self.records) + std::mem::size_of::<Answer>()
    }

    /// The TTL one record is served with.
    fn served_ttl(&self, r: &RecordPos, serve: Serve) -> u32 {
        match serve {
            Serve::AsReceived => r.ttl,
            Serve::Stale => STALE_TTL,
            Serve::Cached {
                age,
                entry_ttl,
                cap,
            } => {
                let own = r.ttl.min(cap);
                // A negative answer's SOA tells the client how long to cache the negative:
                // never longer than we do (RFC 2308 §5).
                let t = if self.kind == Kind::Negative && r.is(RecordPos::AUTHORITY_SOA) {
                    own.min(entry_ttl)
                } else {
                    own.max(entry_ttl)
                };
                t.saturating_sub(age)
            }
        }
    }

    /// Where to cut the message so it fits `limit` bytes, with the section counts that
    /// remain and whether TC must be set. RFC 2181 §9: leave out additional RRsets from the
    /// end first, then a positive answer's authority section; set TC only when the answer
    /// section (with a negative answer's authority) does not fit. Every cut is at the end
    /// of a record, so compression pointers (which point backwards) stay valid.
    fn fit(&self, limit: usize) -> (usize, [u16; 3], bool) {
        let [an, ns, ar] = self.counts.map(usize::from);
        if self.wire.len() <= limit {
            return (self.wire.len(), self.counts, false);
        }
        let end_of = |n: usize| {
            n.checked_sub(1)
                .map_or(self.question_end as usize, |i| self.records[i].end as usize)
        };
        for i in (an + ns..an + ns + ar).rev() {
            let r = &self.records[i];
            if r.is(RecordPos::RRSET_END) && (r.end as usize) <= limit {
                let kept = (i + 1 - an - ns) as u16;
                return (r.end as usize, [an as u16, ns as u16, kept], false);
            }
        }
        if end_of(an + ns) <= limit {
            return (end_of(an + ns), [an as u16, ns as u16, 0], false);
        }
        if self.kind == Kind::Positive && end_of(an) <= limit {
            return (end_of(an), [an as u16, 0, 0], false);
        }
        (self.question_end as usize, [0; 3], true)
    }

    /// Writes this answer for one client into `out`: the client's ID, RD and CD bits and
    /// question bytes (so the case it asked in), TTLs as `serve` says, the client's EDNS,
    /// and no more than `limit` bytes (RFC 2181 §9 truncation).
    pub fn render(&self, client: &[u8], q: &Query, serve: Serve, limit: usize, out: &mut Vec<u8>) {
        let opt_len = if q.edns.is_some() { wire::OPT_LEN } else { 0 };
        let (cut, counts, truncated) = self.fit(limit.saturating_sub(opt_len));
        out.clear();
        out.extend_from_slice(&self.wire[..cut]);
        out[0..2].copy_from_slice(&client[0..2]);
        // We recurse for the client and are nobody's authority: QR and RA on, AA and Z off,
        // the client's RD and CD (RFC 4035 §3.2.2), the upstream's RCODE and AD, but AD only
        // for a client that asked with DO or AD (RFC 6840 §5.8).
        let upstream = u16::from_be_bytes([self.wire[2], self.wire[3]]);
        let mut flags = FLAG_QR | FLAG_RA | (q.flags & (FLAG_RD | FLAG_CD)) | (upstream & 0xF);
        if q.dnssec_ok() || q.flags & FLAG_AD != 0 {
            flags |= upstream & FLAG_AD;
        }
        if truncated {
            flags |= FLAG_TC;
        }
        wire::put_u16(out, 2, flags);
        // Same key means same name length: only the case can differ.
        out[q.qname.clone()].copy_from_slice(&client[q.qname.clone()]);
        for r in self.records.iter().take_while(|r| r.end as usize <= cut) {
            wire::put_u32(out, r.ttl_off as usize, self.served_ttl(r, serve));
        }
        for (i, c) in counts.into_iter().enumerate() {
            wire::put_u16(out, 6 + 2 * i, c);
        }
        if let Some(e) = q.edns {
            wire::push_opt(out, e.dnssec_ok, (self.rcode >> 4) as u8);
            wire::put_u16(out, 10, counts[2] + 1);
        }
    }
}

#[cfg(test)]
mod tests;
