//! The retry budget: extra upstream attempts (a hedge, a move on after a failure, a resend)
//! are allowed while they stay under a share of first attempts over the last ten seconds,
//! plus a small floor so a quiet pod can still hedge around a dead replica; once spent, a
//! question gets its first attempt only. As Finagle's and Envoy's retry budgets and gRPC's
//! retry throttling do, so that thousands of sidecars cannot turn a CoreDNS overload into a
//! retry storm. A plain value: time is passed in.

use std::time::Duration;

use crate::Instant;

/// The window is this many one-second slots.
const WINDOW_SLOTS: usize = 10;
const SLOT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetPolicy {
    /// Extra attempts allowed per first attempt (0.1: one in ten).
    pub ratio: f64,
    /// Extra attempts allowed per second whatever the traffic (a quiet pod's hedges).
    pub min_per_second: f64,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        BudgetPolicy {
            ratio: 0.1,
            min_per_second: 2.0,
        }
    }
}

/// What the budget holds now, for /metrics and the debug endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetState {
    /// First attempts and extra attempts in the window.
    pub firsts: u64,
    pub extras: u64,
    /// Extra attempts the window allows in all: `ratio * firsts + floor`.
    pub allowed: f64,
}

impl BudgetState {
    /// Extra attempts that may still be sent now.
    pub fn left(&self) -> f64 {
        (self.allowed - self.extras as f64).max(0.0)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Which second since the epoch this slot counts; older counts are stale.
    second: u64,
    firsts: u32,
    extras: u32,
}

#[derive(Debug, Clone)]
pub struct RetryBudget {
    policy: BudgetPolicy,
    slots: [Slot; WINDOW_SLOTS],
    epoch: Option<Instant>,
}

impl RetryBudget {
    pub fn new(policy: BudgetPolicy) -> RetryBudget {
        RetryBudget {
            policy,
            slots: [Slot::default(); WINDOW_SLOTS],
            epoch: None,
        }
    }

    /// The second `now` falls in, counted from the first call.
    fn second(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(epoch).as_secs() / SLOT.as_secs()
    }

    /// The slot for `now`, cleared if it last counted an older second.
    fn slot(&mut self, now: Instant) -> &mut Slot {
        let s = self.second(now);
        let slot = &mut self.slots[(s % WINDOW_SLOTS as u64) as usize];
        if slot.second != s {
            *slot = Slot {
                second: s,
                ..Slot::default()
            };
        }
        slot
    }

    /// A question's first attempt went out: it earns `ratio` of an extra one.
    pub fn on_first(&mut self, now: Instant) {
        let slot = self.slot(now);
        slot.firsts = slot.firsts.saturating_add(1);
    }

    /// Whether an extra attempt may go out now; if so, it is counted.
    pub fn try_extra(&mut self, now: Instant) -> bool {
        if self.state(now).left() < 1.0 {
            return false;
        }
        let slot = self.slot(now);
        slot.extras = slot.extras.saturating_add(1);
        true
    }

    /// The window's counts at `now`.
    pub fn state(&mut self, now: Instant) -> BudgetState {
        let s = self.second(now);
        let live = self
            .slots
            .iter()
            .filter(|sl| sl.second + WINDOW_SLOTS as u64 > s && sl.second <= s);
        let (firsts, extras) = live.fold((0u64, 0u64), |(f, e), sl| {
            (f + sl.firsts as u64, e + sl.extras as u64)
        });
        BudgetState {
            firsts,
            extras,
            allowed: self.policy.ratio * firsts as f64
                + self.policy.min_per_second * WINDOW_SLOTS as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(ratio: f64, min_per_second: f64) -> RetryBudget {
        RetryBudget::new(BudgetPolicy {
            ratio,
            min_per_second,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_pod_has_the_floor() {
        let mut b = budget(0.1, 2.0);
        let t0 = Instant::now();
        b.on_first(t0);
        let sent = (0..100).filter(|_| b.try_extra(t0)).count();
        assert_eq!(sent, 20, "2 a second over a 10 s window, as a burst");
        assert!(!b.try_extra(t0 + Duration::from_secs(9)), "still spent");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(
            b.try_extra(Instant::now()),
            "the window moved past the burst"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn extras_stay_under_the_share_of_first_attempts() {
        let mut b = budget(0.1, 0.0);
        let mut sent = 0;
        // 1000 questions a second for 30 s, each wanting a resend.
        for ms in 0..30_000u64 {
            let now = Instant::now();
            b.on_first(now);
            sent += b.try_extra(now) as u64;
            if ms % 1000 == 999 {
                let s = b.state(now);
                assert!(
                    s.extras as f64 <= 0.1 * s.firsts as f64,
                    "at {ms} ms: {s:?}"
                );
            }
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        let share = sent as f64 / 30_000.0;
        assert!((0.095..=0.1).contains(&share), "{sent} extras for 30,000");
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_forgets_old_traffic() {
        let mut b = budget(0.5, 0.0);
        let t0 = Instant::now();
        for _ in 0..100 {
            b.on_first(t0);
        }
        assert_eq!(b.state(t0).allowed, 50.0);
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert_eq!(b.state(Instant::now()).firsts, 100, "still in the window");
        tokio::time::advance(Duration::from_millis(1)).await;
        let s = b.state(Instant::now());
        assert_eq!((s.firsts, s.allowed), (0, 0.0), "ten seconds later: gone");
        assert!(!b.try_extra(Instant::now()));
    }

    #[test]
    fn a_zero_budget_allows_nothing() {
        let mut b = budget(0.0, 0.0);
        let t0 = Instant::now();
        for _ in 0..1000 {
            b.on_first(t0);
        }
        assert!(!b.try_extra(t0));
        assert_eq!(b.state(t0).left(), 0.0);
    }
}
