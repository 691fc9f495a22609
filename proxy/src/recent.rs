//! The last resolutions that failed (`/debug/recent`): a fixed-size ring, overwritten
//! oldest first, each with what went wrong, what the client got instead, and the attempts
//! made (`upstream::trace`). The question's name is kept only where names may be shown
//! (`--debug-names`); otherwise its type alone. A plain value: time is passed in.

use std::time::Duration;

use crate::upstream::trace::Trace;
use crate::Instant;

/// Failures kept.
pub const RING: usize = 64;

/// What went wrong upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The query's budget (`--query-timeout`) ran out with no usable answer.
    Timeout,
    /// Every attempt failed (timed out, refused, errored) within the budget.
    AllFailed,
    /// An upstream answered this RCODE (SERVFAIL, or REFUSED from a shedding CoreDNS) and
    /// no other did better.
    Answered(u16),
    /// A DNS policy's REFUSED (`--ttl-strict`): passed through as the answer.
    Refused,
    /// The answer did not parse.
    Unusable,
    /// Not sent: every replica overloaded and out of credit.
    Shed,
    /// Not sent: too many questions already resolving (`--max-inflight`).
    TooMany,
    /// No upstream is configured.
    NoUpstream,
}

impl What {
    /// A short description, for the plugin's table and the JSON.
    pub fn describe(self) -> String {
        match self {
            What::Timeout => "no usable answer within --query-timeout".into(),
            What::AllFailed => "every attempt failed".into(),
            What::Answered(rc) => format!("upstream answered {}", crate::wire::rcode::name(rc)),
            What::Refused => "REFUSED by a DNS policy (passed through)".into(),
            What::Unusable => "the answer did not parse".into(),
            What::Shed => "not sent: every replica overloaded, no credit left".into(),
            What::TooMany => "not sent: too many questions resolving (--max-inflight)".into(),
            What::NoUpstream => "no upstream configured".into(),
        }
    }
}

/// What the client got in the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// An error: SERVFAIL, or the policy's REFUSED.
    Error(u16),
    /// An expired answer (RFC 8767).
    Stale,
    /// A fresh answer the cache held (a refresh ahead of expiry failed, or another
    /// resolution stored one meanwhile).
    Fresh,
}

impl Served {
    pub fn describe(self) -> &'static str {
        match self {
            Served::Error(rc) => crate::wire::rcode::name(rc),
            Served::Stale => "stale answer",
            Served::Fresh => "cached answer",
        }
    }
}

/// One failed resolution.
#[derive(Debug, Clone)]
pub struct Failure {
    pub at: Instant,
    /// The question as the cache files it (`wire::key`), only with `--debug-names`.
    pub key: Option<Box<[u8]>>,
    pub qtype: u16,
    pub what: What,
    pub served: Served,
    pub took: Duration,
    pub trace: Trace,
}

#[derive(Debug, Default)]
pub struct Recent {
    ring: Vec<Failure>,
    /// Where the next one goes once the ring is full.
    next: usize,
    /// Failures seen since start-up.
    pub total: u64,
}

impl Recent {
    pub fn push(&mut self, f: Failure) {
        self.total += 1;
        if self.ring.len() < RING {
            self.ring.push(f);
        } else {
            self.ring[self.next] = f;
        }
        self.next = (self.next + 1) % RING;
    }

    /// The failures kept, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Failure> {
        // Before `next`: the latest writes; from it on, the earlier ones.
        let (latest, earlier) = self.ring.split_at(self.next.min(self.ring.len()));
        latest.iter().rev().chain(earlier.iter().rev())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(n: u16) -> Failure {
        let now = Instant::now();
        Failure {
            at: now,
            key: None,
            qtype: n,
            what: What::Timeout,
            served: Served::Error(2),
            took: Duration::ZERO,
            trace: Trace::new(now),
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_in_order() {
        let mut r = Recent::default();
        for n in 0..3 {
            r.push(failure(n));
        }
        let got: Vec<u16> = r.newest_first().map(|f| f.qtype).collect();
        assert_eq!(got, [2, 1, 0]);
        for n in 3..200 {
            r.push(failure(n));
        }
        let got: Vec<u16> = r.newest_first().map(|f| f.qtype).collect();
        assert_eq!(got.len(), RING);
        assert_eq!(got[0], 199);
        assert_eq!(got[RING - 1], 200 - RING as u16);
        assert!(got.windows(2).all(|w| w[0] == w[1] + 1));
        assert_eq!(r.total, 200);
    }
}
