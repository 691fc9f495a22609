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
/// An RTT estimate that gets no new sample halves every this long. Without it, one slow
/// sample (a probe answered on a loaded node, a replica that was briefly busy) kept a
/// replica out of every pick for good: it got no queries, so it got no sample to correct
/// the estimate. With it, an unused replica drifts back into the picks and one query
/// re-measures it, as PowerDNS Recursor and BIND decay the SRTT of servers they do not use.
const DECAY_HALF_LIFE_S: f64 = 2.0;

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
    /// When the estimate last had a sample; it decays from then.
    sampled_at: Option<Instant>,
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

    /// The smoothed RTT as believed at `now`, decayed since its last sample.
    pub fn srtt(&self, now: Instant) -> Option<Duration> {
        self.estimate(now)
            .map(|(s, _)| Duration::from_secs_f64(s / 1000.0))
    }

    /// (SRTT, RTTVAR) in ms at `now`: both halve per `DECAY_HALF_LIFE_S` without a sample.
    fn estimate(&self, now: Instant) -> Option<(f64, f64)> {
        let s = self.srtt_ms?;
        let age = self
            .sampled_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        let f = (-age / DECAY_HALF_LIFE_S).exp2();
        Some((s * f, self.rttvar_ms * f))
    }

    /// A valid client answer came back after `rtt`: it updates the estimate and clears
    /// failures.
    pub fn on_success(&mut self, now: Instant, rtt: Duration) {
        let r = rtt.as_secs_f64() * 1000.0;
        match self.estimate(now) {
            None => {
                self.srtt_ms = Some(r);
                self.rttvar_ms = r / 2.0;
            }
            Some((s, v)) => {
                self.rttvar_ms = 0.75 * v + 0.25 * (s - r).abs();
                self.srtt_ms = Some(0.875 * s + 0.125 * r);
            }
        }
        self.sampled_at = Some(now);
        self.clear_failures();
    }

    /// A probe was answered. A replica that was down comes back unmeasured, so it is
    /// explored at once: its old estimate predates the outage, and a probe's RTT (sent by
    /// a background task, often while the node is busy) is no measure of client queries.
    /// A suspect that was still up keeps its estimate and takes the sample.
    pub fn on_probe_success(&mut self, now: Instant, rtt: Duration) {
        if self.is_up() {
            self.on_success(now, rtt);
        } else {
            *self = Health {
                inflight: self.inflight,
                ..Health::default()
            };
        }
    }

    fn clear_failures(&mut self) {
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
    pub fn score(&self, now: Instant) -> f64 {
        let rtt = self.estimate(now).map_or(0.0, |(s, v)| s + v) + SCORE_FLOOR_MS;
        rtt * (1.0 + self.inflight as f64) * (1.0 + 2.0 * self.fails as f64)
    }

    /// How long to wait for this upstream before asking another one as well.
    /// An upstream explored again after its estimate decayed gets a short delay, so the
    /// exploring query costs little if it is still slow.
    pub fn hedge_delay(&self, now: Instant, p: &HealthPolicy) -> Duration {
        if let Some(d) = p.hedge_fixed {
            return d;
        }
        let ms = match self.estimate(now) {
            Some((s, v)) => s + 4.0 * v,
            None => INITIAL_HEDGE_MS,
        };
        Duration::from_secs_f64(ms / 1000.0).clamp(p.hedge_min, p.hedge_max)
    }
}

/// The shortest wait before a query is sent again: below it, a slow answer (a busy node, a
/// replica warming its cache) would be mistaken for a lost one.
const RETRANSMIT_MIN: Duration = Duration::from_millis(50);
/// The longest: a query budget is 1.5 s by default, so a later resend would come too late.
const RETRANSMIT_MAX: Duration = Duration::from_millis(800);

impl Health {
    /// How long to wait before sending a query to this upstream again, after `resent`
    /// resends: the hedge delay (SRTT + 4 RTTVAR) but at least `RETRANSMIT_MIN`, doubled
    /// per resend as RFC 1035 §4.2.1 and TCP's RTO back off.
    pub fn retransmit_interval(&self, now: Instant, p: &HealthPolicy, resent: u32) -> Duration {
        let base = self.hedge_delay(now, p).max(RETRANSMIT_MIN);
        (base * 2u32.saturating_pow(resent.min(8))).min(RETRANSMIT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// One fixed instant for tests that do not look at decay.
    fn t0() -> Instant {
        static T: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T.get_or_init(Instant::now)
    }

    #[test]
    fn rtt_estimate_converges_and_hedge_follows() {
        let p = HealthPolicy::default();
        let mut h = Health::default();
        assert_eq!(h.hedge_delay(t0(), &p), ms(100), "before any sample");
        for _ in 0..50 {
            h.on_success(t0(), ms(4));
        }
        let srtt = h.srtt(t0()).unwrap().as_secs_f64() * 1000.0;
        assert!((srtt - 4.0).abs() < 0.1, "srtt {srtt}");
        assert_eq!(
            h.hedge_delay(t0(), &p),
            p.hedge_min,
            "tight RTTs clamp to the floor"
        );
        for _ in 0..50 {
            h.on_success(t0(), ms(900));
        }
        assert_eq!(
            h.hedge_delay(t0(), &p),
            p.hedge_max,
            "slow upstream clamps to the cap"
        );
    }

    #[test]
    fn retransmission_backs_off_from_the_rtt() {
        let p = HealthPolicy::default();
        let mut h = Health::default();
        for _ in 0..50 {
            h.on_success(t0(), ms(2));
        }
        assert_eq!(
            h.retransmit_interval(t0(), &p, 0),
            ms(50),
            "never below 50 ms"
        );
        assert_eq!(h.retransmit_interval(t0(), &p, 1), ms(100), "doubles");
        assert_eq!(h.retransmit_interval(t0(), &p, 30), ms(800), "capped");
        for _ in 0..50 {
            h.on_success(t0(), ms(120));
        }
        let slow = h.retransmit_interval(t0(), &p, 0);
        assert!(slow >= ms(119), "from the RTT: {slow:?}");
    }

    #[test]
    fn fixed_hedge_delay_wins() {
        let p = HealthPolicy {
            hedge_fixed: Some(ms(42)),
            ..HealthPolicy::default()
        };
        let mut h = Health::default();
        h.on_success(t0(), ms(1));
        assert_eq!(h.hedge_delay(t0(), &p), ms(42));
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
        h.on_success(t0(), ms(3));
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
        h.on_success(t0(), ms(2));
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
        known.on_success(t0(), ms(1));
        assert!(Health::default().score(t0()) < known.score(t0()));
        let failed = Health {
            fails: 1,
            ..Health::default()
        };
        assert!(
            failed.score(t0()) > known.score(t0()),
            "but not once it failed"
        );
    }

    #[test]
    fn score_prefers_fast_idle_healthy() {
        let mut fast = Health::default();
        fast.on_success(t0(), ms(2));
        let mut slow = Health::default();
        slow.on_success(t0(), ms(50));
        assert!(fast.score(t0()) < slow.score(t0()));
        let mut busy = fast.clone();
        busy.inflight = 40;
        assert!(busy.score(t0()) > slow.score(t0()), "load spreads queries");
        let mut failing = fast.clone();
        failing.fails = 1;
        assert!(failing.score(t0()) > fast.score(t0()));
    }

    #[test]
    fn an_unused_estimate_decays_so_the_replica_is_explored_again() {
        let t0 = t0();
        let mut slow = Health::default();
        slow.on_success(t0, ms(20));
        let mut fast = Health::default();
        fast.on_success(t0, ms(1));
        // The fast one keeps being used; the slow one gets nothing.
        let later = t0 + Duration::from_secs(12);
        fast.on_success(later, ms(1));
        assert!(slow.score(t0) > 10.0 * fast.score(t0));
        assert!(
            slow.score(later) < 1.5 * fast.score(later),
            "within P2C's margin again: {} vs {}",
            slow.score(later),
            fast.score(later)
        );
        assert_eq!(
            slow.hedge_delay(later, &HealthPolicy::default()),
            HealthPolicy::default().hedge_min,
            "an exploring query waits little before asking another"
        );
        // Explored and still slow: the estimate rises again.
        slow.on_success(later, ms(20));
        assert!(slow.score(later) > 1.5 * fast.score(later));
    }

    #[test]
    fn a_replica_back_from_down_is_unmeasured_whatever_the_probe_took() {
        let p = HealthPolicy::default();
        let t0 = t0();
        let mut h = Health::default();
        h.on_success(t0, ms(1));
        h.on_failure(t0, true, &p);
        assert!(!h.is_up());
        h.on_probe_success(t0, ms(40));
        assert!(h.is_up());
        assert_eq!(h.srtt(t0), None, "a probe on a busy node is no client RTT");
        assert!(
            h.score(t0) < {
                let mut known = Health::default();
                known.on_success(t0, ms(1));
                known.score(t0)
            }
        );
        // A suspect that never went down takes the probe's sample.
        let mut suspect = Health::default();
        suspect.on_failure(t0, false, &p);
        suspect.on_probe_success(t0, ms(4));
        assert!(suspect.srtt(t0).is_some());
        assert_eq!(suspect.fails, 0);
    }
}
