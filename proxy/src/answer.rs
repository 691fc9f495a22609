//! An upstream answer as the cache keeps it (one allocation: header fields, where each
//! record and its TTL sit, the lowercased question, the records; OPT removed) and its
//! rendering for one client: that client's ID, question case, flags, EDNS and size limit,
//! each record's TTL counted down from its own. Rendering copies into a reused buffer and
//! allocates nothing.

use std::sync::Arc;

use crate::wire::{self, Key, ResponseScan, WireError, FLAG_QR, FLAG_RA, FLAG_RD, HEADER_LEN};

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

mod layout;
mod render;

use layout::Head;

#[cfg(test)]
mod tests;
