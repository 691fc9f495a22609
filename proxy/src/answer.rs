//! An upstream answer as the cache keeps it (ID zeroed, OPT removed, every record's TTL and
//! position known) and its rendering for one client: that client's ID, question case,
//! flags, EDNS and size limit, each record's TTL counted down from its own. Rendering copies
//! into a reused buffer and allocates nothing.

use std::sync::Arc;

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

/// An answer in one shared allocation (`Arc<[u8]>`): cloning it for a client costs a
/// reference count, and a cache entry costs this allocation and its slot (`cache.rs`).
/// The bytes, in order:
/// - `META` bytes: RCODE, the upstream's header flags, kind, upstream TTL, the question's
///   length, the record count and the three section counts;
/// - `REC` bytes per record: TTL offset, end, TTL and flags (a `RecordPos`);
/// - the question, its name lowercased: with the flag byte, the cache key it is filed
///   under, so the name is held once;
/// - the message after the question.
///
/// The header is not kept (ID zero, QDCOUNT one, flags and counts above), so a message is
/// `HEADER_LEN` + question + rest long, and record offsets count from its start.
#[derive(Debug, Clone)]
pub struct Answer(Arc<[u8]>);

const META: usize = 20;
const REC: usize = 9;
/// Bytes of an `Arc`'s counters, allocated in front of its data.
const ARC_COUNTERS: usize = 2 * std::mem::size_of::<usize>();

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl Answer {
    /// Takes a validated upstream response. An extended RCODE (from OPT) makes it a
    /// failure, never cached.
    pub fn from_upstream(buf: &[u8]) -> Result<Answer, WireError> {
        let first = wire::scan_response(buf)?;
        // Trailing bytes after the last record are no part of the answer.
        let buf = &buf[..first.end];
        let minimal = minimal(buf, &first);
        match &first.opt {
            Some(opt) => {
                let stripped = wire::without_opt(buf, opt);
                let scan = wire::scan_response(&stripped)?;
                let rcode = first.rcode;
                Ok(Self::from_parts(
                    &stripped,
                    ResponseScan { rcode, ..scan },
                    minimal,
                ))
            }
            None => Ok(Self::from_parts(buf, first, minimal)),
        }
    }

    /// With `minimal`, a positive answer keeps only its answer section (see `minimal`).
    fn from_parts(wire: &[u8], scan: ResponseScan, minimal: bool) -> Answer {
        let (kind, upstream_ttl) = match scan.rcode {
            wire::rcode::NOERROR if scan.answers_qtype => (Kind::Positive, scan.min_ttl),
            wire::rcode::NOERROR | wire::rcode::NXDOMAIN => (
                Kind::Negative,
                scan.soa_negative_ttl
                    .map(|soa| scan.min_ttl.map_or(soa, |m| m.min(soa))),
            ),
            _ => (Kind::Failure, None),
        };
        let flags = u16::from_be_bytes([wire[2], wire[3]]);
        let head = Head {
            rcode: scan.rcode,
            flags,
            kind,
            upstream_ttl,
            counts: scan.counts,
        };
        let question = &wire[HEADER_LEN..scan.question_end];
        let an = scan.counts[0] as usize;
        if minimal && kind == Kind::Positive && an > 0 && an < scan.records.len() {
            // The answer section alone: where it ends, every later record is dropped.
            let end = scan.records[an - 1].end as usize;
            let head = Head {
                counts: [scan.counts[0], 0, 0],
                ..head
            };
            return Self::build(
                &head,
                &scan.records[..an],
                question,
                &wire[scan.question_end..end],
            );
        }
        Self::build(&head, &scan.records, question, &wire[scan.question_end..])
    }

    fn build(h: &Head, records: &[RecordPos], question: &[u8], rest: &[u8]) -> Answer {
        let qlen = question.len();
        let mut b = Vec::with_capacity(META + REC * records.len() + qlen + rest.len());
        b.extend_from_slice(&h.rcode.to_le_bytes());
        b.extend_from_slice(&h.flags.to_le_bytes());
        b.push(match h.kind {
            Kind::Positive => 0,
            Kind::Negative => 1,
            Kind::Failure => 2,
        });
        b.push(h.upstream_ttl.is_some() as u8);
        b.extend_from_slice(&h.upstream_ttl.unwrap_or(0).to_le_bytes());
        b.extend_from_slice(&(qlen as u16).to_le_bytes());
        b.extend_from_slice(&(records.len() as u16).to_le_bytes());
        for c in h.counts {
            b.extend_from_slice(&c.to_le_bytes());
        }
        debug_assert_eq!(b.len(), META);
        for r in records {
            b.extend_from_slice(&r.ttl_off.to_le_bytes());
            b.extend_from_slice(&r.end.to_le_bytes());
            b.extend_from_slice(&r.ttl.to_le_bytes());
            b.push(r.flags);
        }
        let q = b.len();
        b.extend_from_slice(question);
        // The name is filed lowercased (as keys are); each client gets its own case back.
        b[q..q + qlen - 4].make_ascii_lowercase();
        b.extend_from_slice(rest);
        Answer(b.into())
    }

    /// A SERVFAIL the proxy makes itself for a key, when no upstream answered in time.
    pub fn servfail(key: Key<'_>) -> Answer {
        let k = key.bytes();
        let head = Head {
            rcode: wire::rcode::SERVFAIL,
            flags: FLAG_QR | FLAG_RD | FLAG_RA | wire::rcode::SERVFAIL,
            kind: Kind::Failure,
            upstream_ttl: None,
            counts: [0; 3],
        };
        Self::build(&head, &[], &k[..k.len() - 1], &[])
    }

    pub fn rcode(&self) -> u16 {
        u16_at(&self.0, 0)
    }

    fn upstream_flags(&self) -> u16 {
        u16_at(&self.0, 2)
    }

    pub fn kind(&self) -> Kind {
        match self.0[4] {
            0 => Kind::Positive,
            1 => Kind::Negative,
            _ => Kind::Failure,
        }
    }

    /// The longest it may be cached, as received: the shortest TTL of any record, and for a
    /// negative answer also the SOA rule's. None: not cacheable (a negative without SOA).
    pub fn upstream_ttl(&self) -> Option<u32> {
        (self.0[5] != 0).then(|| u32_at(&self.0, 6))
    }

    fn qlen(&self) -> usize {
        u16_at(&self.0, 10) as usize
    }

    fn record_count(&self) -> usize {
        u16_at(&self.0, 12) as usize
    }

    /// Records in the answer, authority and additional sections.
    fn counts(&self) -> [u16; 3] {
        [
            u16_at(&self.0, 14),
            u16_at(&self.0, 16),
            u16_at(&self.0, 18),
        ]
    }

    fn record(&self, i: usize) -> RecordPos {
        let o = META + REC * i;
        RecordPos {
            ttl_off: u16_at(&self.0, o),
            end: u16_at(&self.0, o + 2),
            ttl: u32_at(&self.0, o + 4),
            flags: self.0[o + 8],
        }
    }

    fn records(&self) -> impl Iterator<Item = RecordPos> + '_ {
        (0..self.record_count()).map(|i| self.record(i))
    }

    /// The question: the lowercased name, type and class (a cache key without its flag byte).
    pub fn question(&self) -> &[u8] {
        let q = META + REC * self.record_count();
        &self.0[q..q + self.qlen()]
    }

    /// The message after the question.
    fn rest(&self) -> &[u8] {
        &self.0[META + REC * self.record_count() + self.qlen()..]
    }

    fn question_end(&self) -> usize {
        HEADER_LEN + self.qlen()
    }

    fn message_len(&self) -> usize {
        self.question_end() + self.rest().len()
    }

    /// Bytes this answer holds on the heap, for the cache's byte bound: its one allocation,
    /// counters included.
    pub fn heap_bytes(&self) -> usize {
        ARC_COUNTERS + self.0.len()
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
                let t = if self.kind() == Kind::Negative && r.is(RecordPos::AUTHORITY_SOA) {
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
        let counts = self.counts();
        let [an, ns, ar] = counts.map(usize::from);
        let len = self.message_len();
        if len <= limit {
            return (len, counts, false);
        }
        let end_of = |n: usize| {
            n.checked_sub(1)
                .map_or(self.question_end(), |i| self.record(i).end as usize)
        };
        for i in (an + ns..an + ns + ar).rev() {
            let r = self.record(i);
            if r.is(RecordPos::RRSET_END) && (r.end as usize) <= limit {
                let kept = (i + 1 - an - ns) as u16;
                return (r.end as usize, [an as u16, ns as u16, kept], false);
            }
        }
        if end_of(an + ns) <= limit {
            return (end_of(an + ns), [an as u16, ns as u16, 0], false);
        }
        if self.kind() == Kind::Positive && end_of(an) <= limit {
            return (end_of(an), [an as u16, 0, 0], false);
        }
        (self.question_end(), [0; 3], true)
    }

    /// Writes this answer for one client into `out`: the client's ID, RD and CD bits and
    /// question bytes (so the case it asked in), TTLs as `serve` says, the client's EDNS,
    /// and no more than `limit` bytes (RFC 2181 §9 truncation).
    pub fn render(&self, client: &[u8], q: &Query, serve: Serve, limit: usize, out: &mut Vec<u8>) {
        let opt_len = if q.edns.is_some() { wire::OPT_LEN } else { 0 };
        let (cut, counts, truncated) = self.fit(limit.saturating_sub(opt_len));
        out.clear();
        out.extend_from_slice(&client[0..2]);
        out.extend_from_slice(&[0; HEADER_LEN - 2]);
        wire::put_u16(out, 4, 1);
        out.extend_from_slice(self.question());
        out.extend_from_slice(&self.rest()[..cut - self.question_end()]);
        // We recurse for the client and are nobody's authority: QR and RA on, AA and Z off,
        // the client's RD and CD (RFC 4035 §3.2.2), the upstream's RCODE and AD, but AD only
        // for a client that asked with DO or AD (RFC 6840 §5.8).
        let upstream = self.upstream_flags();
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
        for r in self.records().take_while(|r| r.end as usize <= cut) {
            wire::put_u32(out, r.ttl_off as usize, self.served_ttl(&r, serve));
        }
        for (i, c) in counts.into_iter().enumerate() {
            wire::put_u16(out, 6 + 2 * i, c);
        }
        if let Some(e) = q.edns {
            wire::push_opt(out, e.dnssec_ok, (self.rcode() >> 4) as u8);
            wire::put_u16(out, 10, counts[2] + 1);
        }
    }
}

/// Whether a positive answer is kept as its answer section alone, as unbound's default
/// `minimal-responses: yes` serves it: for an A or AAAA question asked without DO (the
/// reply's OPT echoes DO, RFC 3225 §3), the authority NS records and their glue serve no stub
/// resolver, and a cached name then costs a third less (NSD adds both to every answer).
/// Other types keep everything: an SRV or MX answer's additional addresses are used.
fn minimal(buf: &[u8], scan: &ResponseScan) -> bool {
    // An OPT record: root name (1), type (2), class (2), extended RCODE and version (2), then
    // the flags, DO their top bit.
    let dnssec_ok = scan
        .opt
        .as_ref()
        .is_some_and(|o| buf.get(o.start + 7).is_some_and(|f| f & 0x80 != 0));
    !dnssec_ok && matches!(scan.qtype, wire::TYPE_A | wire::TYPE_AAAA)
}

/// The header fields an answer keeps.
#[derive(Clone, Copy)]
struct Head {
    rcode: u16,
    flags: u16,
    kind: Kind,
    upstream_ttl: Option<u32>,
    counts: [u16; 3],
}

#[cfg(test)]
mod tests;
