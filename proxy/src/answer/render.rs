//! An answer rendered for one client: its ID, question case, flags, EDNS and size limit.

use super::{Answer, Kind, Serve, STALE_TTL};
use crate::wire::{
    self, Query, RecordPos, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_LEN,
};

impl Answer {
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
