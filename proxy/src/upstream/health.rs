//! One upstream's health as a plain value: smoothed RTT and its variance (as TCP's RTO
//! estimator), queries in flight, consecutive failures, and the down state with its probe
//! backoff. Every transition takes `now`, so the rules are tested without a clock.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct HealthPolicy {
    /// Consecutive failures that mark an upstream down (CoreDNS forward's max_fails).
    pub max_fails: u32,
    /// First probe delay once down; doubles per failed probe up to `probe_max`.
    pub probe_base: Duration,
    pub probe_max: Duration,
    /// A fixed hedge delay, or None to derive it from observed RTTs.
    pub hedge_fixed: Option<Duration>,
    pub hedge_min: Duration,
    pub hedge_max: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            max_fails: 2,
            probe_base: Duration::from_millis(250),
            probe_max: Duration::from_secs(5),
            hedge_fixed: None,
            hedge_min: Duration::from_millis(10),
            hedge_max: Duration::from_millis(250),
        }
    }
}

/// Hedge delay before the first RTT sample: cluster DNS is a few ms away.
const INITIAL_HEDGE_MS: f64 = 100.0;
/// Added to every RTT in the score, so sub-millisecond differences do not outweigh load.
const SCORE_FLOOR_MS: f64 = 1.0;

/// When the next active probe is due, and the wait after that one if it fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub at: Instant,
    pub backoff: Duration,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Smoothed RTT and its mean deviation, in milliseconds; None before the first sample.
    srtt_ms: Option<f64>,
    rttvar_ms: f64,
    pub fails: u32,
    pub inflight: u32,
    /// Since when it is down (max_fails consecutive failures, or a refusal).
    pub down_since: Option<Instant>,
    /// Set from the first failure: a failing upstream gets few client queries, so probes
    /// decide whether it is down or was just unlucky.
    pub probe: Option<Probe>,
}

impl Health {
    pub fn is_up(&self) -> bool {
        self.down_since.is_none()
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt_ms.map(|ms| Duration::from_secs_f64(ms / 1000.0))
    }

    /// A valid answer came back after `rtt`: it updates the estimate and clears failures.
    pub fn on_success(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64() * 1000.0;
        match self.srtt_ms {
            None => {
                self.srtt_ms = Some(r);
                self.rttvar_ms = r / 2.0;
            }
            Some(s) => {
                self.rttvar_ms = 0.75 * self.rttvar_ms + 0.25 * (s - r).abs();
                self.srtt_ms = Some(0.875 * s + 0.125 * r);
            }
        }
        self.fails = 0;
        self.down_since = None;
        self.probe = None;
    }

    /// A timeout or error; `definitive` (connection refused: nothing listens) marks it
    /// down at once. Returns true when this marks it down.
    pub fn on_failure(&mut self, now: Instant, definitive: bool, p: &HealthPolicy) -> bool {
        self.fails = self.fails.saturating_add(1);
        if definitive {
            self.fails = self.fails.max(p.max_fails);
        }
        if self.probe.is_none() {
            self.probe = Some(Probe {
                at: now + p.probe_base,
                backoff: p.probe_base,
            });
        }
        if self.down_since.is_none() && self.fails >= p.max_fails {
            self.down_since = Some(now);
            return true;
        }
        false
    }

    /// A probe failed: one more failure, and twice the wait before the next probe.
    /// Returns true when this marks it down.
    pub fn on_probe_failure(&mut self, now: Instant, definitive: bool, p: &HealthPolicy) -> bool {
        let became_down = self.on_failure(now, definitive, p);
        if let Some(pr) = &mut self.probe {
            pr.backoff = (pr.backoff * 2).min(p.probe_max);
            pr.at = now + pr.backoff;
        }
        became_down
    }

    pub fn probe_due(&self, now: Instant) -> bool {
        self.probe.is_some_and(|pr| pr.at <= now)
    }

    /// Lower is better: expected latency, inflated by load and by recent failures. An
    /// upstream never measured scores as the fastest, so a new replica gets explored.
    pub fn score(&self) -> f64 {
        let rtt = self.srtt_ms.map_or(0.0, |s| s + self.rttvar_ms) + SCORE_FLOOR_MS;
        rtt * (1.0 + self.inflight as f64) * (1.0 + 2.0 * self.fails as f64)
    }

    /// How long to wait for this upstream before asking another one as well.
    pub fn hedge_delay(&self, p: &HealthPolicy) -> Duration {
        if let Some(d) = p.hedge_fixed {
            return d;
        }
        let ms = match self.srtt_ms {
            Some(s) => s + 4.0 * self.rttvar_ms,
            None => INITIAL_HEDGE_MS,
        };
        Duration::from_secs_f64(ms / 1000.0).clamp(p.hedge_min, p.hedge_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rtt_estimate_converges_and_hedge_follows() {
        let p = HealthPolicy::default();
        let mut h = Health::default();
        assert_eq!(h.hedge_delay(&p), ms(100), "before any sample");
        for _ in 0..50 {
            h.on_success(ms(4));
        }
        let srtt = h.srtt().unwrap().as_secs_f64() * 1000.0;
        assert!((srtt - 4.0).abs() < 0.1, "srtt {srtt}");
        assert_eq!(
            h.hedge_delay(&p),
            p.hedge_min,
            "tight RTTs clamp to the floor"
        );
        for _ in 0..50 {
            h.on_success(ms(900));
        }
        assert_eq!(
            h.hedge_delay(&p),
            p.hedge_max,
            "slow upstream clamps to the cap"
        );
    }

    #[test]
    fn fixed_hedge_delay_wins() {
        let p = HealthPolicy {
            hedge_fixed: Some(ms(42)),
            ..HealthPolicy::default()
        };
        let mut h = Health::default();
        h.on_success(ms(1));
        assert_eq!(h.hedge_delay(&p), ms(42));
    }

    #[test]
    fn down_after_max_fails_and_up_on_success() {
        let p = HealthPolicy::default();
        let now = Instant::now();
        let mut h = Health::default();
        assert!(!h.on_failure(now, false, &p));
        assert!(h.is_up());
        assert!(!h.probe_due(now));
        assert!(h.probe_due(now + p.probe_base), "a suspect is probed too");
        assert!(
            h.on_failure(now, false, &p),
            "second consecutive failure marks it down"
        );
        assert!(!h.is_up());
        assert!(
            !h.on_failure(now, false, &p),
            "already down: not marked again"
        );
        h.on_success(ms(3));
        assert!(h.is_up());
        assert_eq!(h.fails, 0);
        assert_eq!(h.probe, None);
    }

    #[test]
    fn a_refusal_is_definitive() {
        let p = HealthPolicy::default();
        let mut h = Health::default();
        assert!(h.on_failure(Instant::now(), true, &p));
        assert!(!h.is_up());
    }

    #[test]
    fn a_failed_probe_of_a_suspect_marks_it_down() {
        let p = HealthPolicy::default();
        let now = Instant::now();
        let mut h = Health::default();
        h.on_failure(now, false, &p);
        assert!(h.on_probe_failure(now, false, &p));
        assert!(!h.is_up());
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let p = HealthPolicy::default();
        let now = Instant::now();
        let mut h = Health::default();
        h.on_failure(now, false, &p);
        h.on_success(ms(2));
        h.on_failure(now, false, &p);
        assert!(h.is_up());
    }

    #[test]
    fn probe_backoff_doubles_to_the_cap() {
        let p = HealthPolicy::default();
        let t0 = Instant::now();
        let mut h = Health::default();
        h.on_failure(t0, false, &p);
        h.on_failure(t0, false, &p);
        let mut backoffs = vec![];
        for _ in 0..8 {
            h.on_probe_failure(t0, false, &p);
            backoffs.push(h.probe.unwrap().backoff);
        }
        assert_eq!(backoffs[0], ms(500));
        assert_eq!(backoffs[1], ms(1000));
        assert_eq!(*backoffs.last().unwrap(), p.probe_max);
        assert_eq!(h.probe.unwrap().at, t0 + p.probe_max);
    }

    #[test]
    fn an_unmeasured_upstream_is_explored_first() {
        let mut known = Health::default();
        known.on_success(ms(1));
        assert!(Health::default().score() < known.score());
        let failed = Health {
            fails: 1,
            ..Health::default()
        };
        assert!(failed.score() > known.score(), "but not once it failed");
    }

    #[test]
    fn score_prefers_fast_idle_healthy() {
        let mut fast = Health::default();
        fast.on_success(ms(2));
        let mut slow = Health::default();
        slow.on_success(ms(50));
        assert!(fast.score() < slow.score());
        let mut busy = fast.clone();
        busy.inflight = 40;
        assert!(busy.score() > slow.score(), "load spreads queries");
        let mut failing = fast.clone();
        failing.fails = 1;
        assert!(failing.score() > fast.score());
    }
}
