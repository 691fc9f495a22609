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

/// RTT assumed before the first sample: cluster DNS on a pod network is a few ms away.
const INITIAL_RTT_MS: f64 = 20.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Down {
    pub since: Instant,
    pub next_probe: Instant,
    pub backoff: Duration,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Smoothed RTT and its mean deviation, in milliseconds; None before the first sample.
    srtt_ms: Option<f64>,
    rttvar_ms: f64,
    pub fails: u32,
    pub inflight: u32,
    pub down: Option<Down>,
}

impl Health {
    pub fn is_up(&self) -> bool {
        self.down.is_none()
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt_ms.map(|ms| Duration::from_secs_f64(ms / 1000.0))
    }

    /// A valid answer came back after `rtt`: it updates the estimate and brings it up.
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
        self.down = None;
    }

    /// A timeout, refusal or transport error. Returns true when this marks it down.
    pub fn on_failure(&mut self, now: Instant, p: &HealthPolicy) -> bool {
        self.fails = self.fails.saturating_add(1);
        if self.down.is_none() && self.fails >= p.max_fails {
            self.down = Some(Down {
                since: now,
                next_probe: now + p.probe_base,
                backoff: p.probe_base,
            });
            return true;
        }
        false
    }

    /// A probe of a down upstream failed: wait twice as long for the next one.
    pub fn on_probe_failure(&mut self, now: Instant, p: &HealthPolicy) {
        if let Some(d) = &mut self.down {
            d.backoff = (d.backoff * 2).min(p.probe_max);
            d.next_probe = now + d.backoff;
        }
    }

    pub fn probe_due(&self, now: Instant) -> bool {
        self.down.is_some_and(|d| d.next_probe <= now)
    }

    /// Lower is better: expected latency, inflated by load and by recent failures.
    pub fn score(&self) -> f64 {
        let rtt = self.srtt_ms.unwrap_or(INITIAL_RTT_MS) + self.rttvar_ms;
        rtt * (1.0 + self.inflight as f64) * (1.0 + 2.0 * self.fails as f64)
    }

    /// How long to wait for this upstream before asking another one as well.
    pub fn hedge_delay(&self, p: &HealthPolicy) -> Duration {
        if let Some(d) = p.hedge_fixed {
            return d;
        }
        let ms = match self.srtt_ms {
            Some(s) => s + 4.0 * self.rttvar_ms,
            None => INITIAL_RTT_MS * 5.0,
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
        assert!(!h.on_failure(now, &p));
        assert!(h.is_up());
        assert!(
            h.on_failure(now, &p),
            "second consecutive failure marks it down"
        );
        assert!(!h.is_up());
        assert!(!h.on_failure(now, &p), "already down: not marked again");
        assert!(!h.probe_due(now));
        assert!(h.probe_due(now + p.probe_base));
        h.on_success(ms(3));
        assert!(h.is_up());
        assert_eq!(h.fails, 0);
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let p = HealthPolicy::default();
        let now = Instant::now();
        let mut h = Health::default();
        h.on_failure(now, &p);
        h.on_success(ms(2));
        h.on_failure(now, &p);
        assert!(h.is_up());
    }

    #[test]
    fn probe_backoff_doubles_to_the_cap() {
        let p = HealthPolicy::default();
        let t0 = Instant::now();
        let mut h = Health::default();
        h.on_failure(t0, &p);
        h.on_failure(t0, &p);
        let mut backoffs = vec![];
        for _ in 0..8 {
            h.on_probe_failure(t0, &p);
            backoffs.push(h.down.unwrap().backoff);
        }
        assert_eq!(backoffs[0], ms(500));
        assert_eq!(backoffs[1], ms(1000));
        assert_eq!(*backoffs.last().unwrap(), p.probe_max);
        assert_eq!(h.down.unwrap().next_probe, t0 + p.probe_max);
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
