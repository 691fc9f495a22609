//! An answer's one allocation: how its bytes are laid out (see `Answer`) and read back.

use super::{Answer, Kind};
use crate::wire::{RecordPos, HEADER_LEN};

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

/// The header fields an answer keeps.
#[derive(Clone, Copy)]
pub(super) struct Head {
    pub(super) rcode: u16,
    pub(super) flags: u16,
    pub(super) kind: Kind,
    pub(super) upstream_ttl: Option<u32>,
    pub(super) counts: [u16; 3],
}

impl Answer {
    pub(super) fn build(h: &Head, records: &[RecordPos], question: &[u8], rest: &[u8]) -> Answer {
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

    pub fn rcode(&self) -> u16 {
        u16_at(&self.0, 0)
    }

    pub(super) fn upstream_flags(&self) -> u16 {
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

    pub(super) fn qlen(&self) -> usize {
        u16_at(&self.0, 10) as usize
    }

    pub(super) fn record_count(&self) -> usize {
        u16_at(&self.0, 12) as usize
    }

    /// Records in the answer, authority and additional sections.
    pub(super) fn counts(&self) -> [u16; 3] {
        [
            u16_at(&self.0, 14),
            u16_at(&self.0, 16),
            u16_at(&self.0, 18),
        ]
    }

    pub(super) fn record(&self, i: usize) -> RecordPos {
        let o = META + REC * i;
        RecordPos {
            ttl_off: u16_at(&self.0, o),
            end: u16_at(&self.0, o + 2),
            ttl: u32_at(&self.0, o + 4),
            flags: self.0[o + 8],
        }
    }

    pub(super) fn records(&self) -> impl Iterator<Item = RecordPos> + '_ {
        (0..self.record_count()).map(|i| self.record(i))
    }

    /// The question: the lowercased name, type and class (a cache key without its flag byte).
    pub fn question(&self) -> &[u8] {
        let q = META + REC * self.record_count();
        &self.0[q..q + self.qlen()]
    }

    /// The message after the question.
    pub(super) fn rest(&self) -> &[u8] {
        &self.0[META + REC * self.record_count() + self.qlen()..]
    }

    pub(super) fn question_end(&self) -> usize {
        HEADER_LEN + self.qlen()
    }

    pub(super) fn message_len(&self) -> usize {
        self.question_end() + self.rest().len()
    }

    /// Bytes this answer holds on the heap, for the cache's byte bound: its one allocation,
    /// counters included.
    /// Whether two handles share one allocation.
    pub fn ptr_eq(a: &Answer, b: &Answer) -> bool {
        std::sync::Arc::ptr_eq(&a.0, &b.0)
    }

    pub fn heap_bytes(&self) -> usize {
        ARC_COUNTERS + self.0.len()
    }
}
