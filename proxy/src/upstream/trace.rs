//! What one resolution did upstream, for `/debug/recent`: each attempt (to whom, when it
//! was sent, how it ended) in a fixed-size record on the resolving task's stack, and the
//! extra attempts the overload rules and the retry budget refused. Nothing is allocated:
//! a trace is kept only when the resolution failed.

use std::net::SocketAddr;
use std::time::Duration;

use super::overload::Denied;
use super::select::Tier;
use super::ExchangeError;
use crate::Instant;

/// Attempts a trace keeps; later ones are only counted (`Trace::more`).
pub const TRACE_MAX: usize = 6;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Still unanswered when the resolution ended (another answered first, or the query's
    /// budget ran out first).
    Waiting,
    Answered {
        rcode: u16,
    },
    Failed(ExchangeError),
}

/// One attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub addr: SocketAddr,
    pub tier: Tier,
    /// The same question again to an upstream already asked (a retransmission).
    pub resend: bool,
    /// When it was sent, counted from the resolution's start.
    pub sent: Duration,
    /// How long it took to end, once it did.
    pub took: Option<Duration>,
    pub ended: Ended,
    /// The upstream's place in the set the resolution used, to match its outcome.
    index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trace {
    started: Instant,
    attempts: [Option<Attempt>; TRACE_MAX],
    /// Attempts sent past the first `TRACE_MAX`.
    pub more: u16,
    /// Extra attempts refused, by `Denied` (budget, overloaded, not faster).
    pub denied: [u16; 3],
    /// Nothing was sent: every replica overloaded and out of credit.
    pub shed: bool,
}

impl Trace {
    pub fn new(started: Instant) -> Trace {
        Trace {
            started,
            attempts: [None; TRACE_MAX],
            more: 0,
            denied: [0; 3],
            shed: false,
        }
    }

    /// How long since the resolution started.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    /// The attempts kept, in the order they were sent.
    pub fn attempts(&self) -> impl Iterator<Item = &Attempt> {
        self.attempts.iter().flatten()
    }

    /// An attempt to the upstream at `index` of the set was sent at `now`.
    pub fn sent(&mut self, index: usize, addr: SocketAddr, tier: Tier, resend: bool, now: Instant) {
        match self.attempts.iter_mut().find(|a| a.is_none()) {
            Some(slot) => {
                *slot = Some(Attempt {
                    addr,
                    tier,
                    resend,
                    sent: now.saturating_duration_since(self.started),
                    took: None,
                    ended: Ended::Waiting,
                    index,
                })
            }
            None => self.more = self.more.saturating_add(1),
        }
    }

    /// The oldest unended attempt to the upstream at `index` ended at `now`.
    pub fn ended(&mut self, index: usize, ended: Ended, now: Instant) {
        let at = now.saturating_duration_since(self.started);
        if let Some(a) = self
            .attempts
            .iter_mut()
            .flatten()
            .find(|a| a.index == index && a.ended == Ended::Waiting)
        {
            a.ended = ended;
            a.took = Some(at.saturating_sub(a.sent));
        }
    }

    pub fn denied(&mut self, why: Denied) {
        let n = &mut self.denied[why as usize];
        *n = n.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn attempts_are_matched_to_their_outcomes_and_bounded() {
        let t0 = Instant::now();
        let mut t = Trace::new(t0);
        let a: SocketAddr = "10.0.0.1:53".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:53".parse().unwrap();
        t.sent(0, a, Tier::Replica, false, t0);
        t.sent(1, b, Tier::Replica, false, t0 + Duration::from_millis(20));
        t.sent(0, a, Tier::Replica, true, t0 + Duration::from_millis(300));
        t.ended(
            0,
            Ended::Failed(ExchangeError::Timeout),
            t0 + Duration::from_millis(1000),
        );
        t.denied(Denied::Budget);
        let got: Vec<_> = t
            .attempts()
            .map(|x| (x.addr, x.resend, x.ended, x.took))
            .collect();
        assert_eq!(
            got,
            [
                (
                    a,
                    false,
                    Ended::Failed(ExchangeError::Timeout),
                    Some(Duration::from_secs(1))
                ),
                (b, false, Ended::Waiting, None),
                (a, true, Ended::Waiting, None),
            ],
            "the first attempt to a ended, not its resend"
        );
        for _ in 0..10 {
            t.sent(1, b, Tier::Replica, true, t0);
        }
        assert_eq!((t.attempts().count(), t.more), (TRACE_MAX, 7));
        assert_eq!(t.denied, [1, 0, 0]);
    }
}
