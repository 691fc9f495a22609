//! One upstream's health as a plain value: smoothed RTT and its variance (as TCP's RTO
//! estimator), queries in flight, consecutive failures, and the down state with its probe
//! backoff. Every transition takes `now`, so the rules are tested without a clock.

use std::time::Duration;

use super::overload::Load;
use crate::Instant;

/// Probe delays are spread by this share either way, so the sidecars of one rollout do not
/// probe a failing replica in step.
const PROBE_JITTER: f64 = 0.25;

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
    /// The last sample, in milliseconds.
    last_ms: Option<f64>,
    pub fails: u32,
    pub inflight: u32,
    /// Since when it is down (max_fails consecutive failures, or a refusal).
    pub down_since: Option<Instant>,
    /// Set from the first failure: a failing upstream gets few client queries, so probes
    /// decide whether it is down or was just unlucky.
    pub probe: Option<Probe>,
    /// Recent losses, and sending credit while degraded (overload, not death).
    pub load: Load,
    /// Its start-up probe is due or in flight (`Pool::probe_at_start`).
    pub first_probe: bool,
}

/// One failed attempt, as the pool saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Failure {
    /// Connection refused: nothing listens, so it is down at once.
    pub definitive: bool,
    /// False for a timeout of a replica that still answers: it is busy, not gone (see
    /// `overload::may_mark_down`).
    pub may_mark_down: bool,
    /// Uniform in [0, 1): spreads the probe delay.
    pub jitter: f64,
}

impl Failure {
    /// A failure with the probe delay unspread.
    pub fn plain(definitive: bool) -> Failure {
        Failure {
            definitive,
            may_mark_down: true,
            jitter: 0.5,
        }
    }
}

impl Health {
    /// The failure of an attempt that ended at `now` (refused: nothing listens), as told
    /// apart from overload by what this upstream answered while it waited `window`.
    pub fn failure(&self, refused: bool, now: Instant, window: Duration, jitter: f64) -> Failure {
        Failure {
            definitive: refused,
            may_mark_down: super::overload::may_mark_down(
                refused,
                self.load.answered_at,
                now,
                window,
            ),
            jitter,
        }
    }

    pub fn is_up(&self) -> bool {
        self.down_since.is_none()
    }

    /// The smoothed RTT as believed at `now`, decayed since its last sample.
    pub fn srtt(&self, now: Instant) -> Option<Duration> {
        self.estimate(now)
            .map(|(s, _)| Duration::from_secs_f64(s / 1000.0))
    }

    /// How soon it is expected to answer, for whether a hedge to it can beat the wait so
    /// far: the smoothed RTT or the last sample, whichever is lower. The smoothed estimate
    /// takes dozens of samples to come down after a queue drains (800 ms answers, then 1 ms
    /// ones); the last sample shows at once that it answers fast again, where a replica
    /// still queueing gives slow samples and is still not asked.
    pub fn expected_rtt(&self, now: Instant) -> Option<Duration> {
        let smoothed = self.estimate(now).map(|(s, _)| s);
        let best = match (smoothed, self.last_ms) {
            (Some(s), Some(l)) => Some(s.min(l)),
            (s, l) => s.or(l),
        };
        best.map(|ms| Duration::from_secs_f64(ms / 1000.0))
    }

    /// The smoothed RTT and its mean deviation as believed at `now` (for /debug/upstreams).
    pub fn rtt(&self, now: Instant) -> Option<(Duration, Duration)> {
        self.estimate(now).map(|(s, v)| {
            (
                Duration::from_secs_f64(s / 1000.0),
                Duration::from_secs_f64(v / 1000.0),
            )
        })
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
        self.sample(now, rtt);
        self.load.on_answer(now, true);
    }

    /// SERVFAIL or REFUSED came back: the replica is alive (failures clear, the RTT is
    /// sampled) but the query is lost, which is how an overloaded or shedding CoreDNS
    /// answers.
    pub fn on_error_reply(&mut self, now: Instant, rtt: Duration) {
        self.sample(now, rtt);
        self.load.on_answer(now, false);
    }

    fn sample(&mut self, now: Instant, rtt: Duration) {
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
        self.last_ms = Some(r);
        self.load.on_rtt(rtt);
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
                load: self.load.revived(),
                ..Health::default()
            };
            self.load.on_answer(now, true);
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
        self.fail(now, Failure::plain(definitive), p)
    }

    /// A failed attempt: one more failure and a loss; probed from the first; down after
    /// `max_fails` in a row (or a refusal) unless `f` says it still answers. Returns true
    /// when this marks it down.
    pub fn fail(&mut self, now: Instant, f: Failure, p: &HealthPolicy) -> bool {
        self.load.on_loss(now);
        self.fails = self.fails.saturating_add(1);
        if f.definitive {
            self.fails = self.fails.max(p.max_fails);
        }
        if self.probe.is_none() {
            self.probe = Some(Probe {
                at: now + crate::jitter::spread(p.probe_base, PROBE_JITTER, f.jitter),
                backoff: p.probe_base,
            });
        }
        if self.down_since.is_none() && self.fails >= p.max_fails && f.may_mark_down {
            self.down_since = Some(now);
            return true;
        }
        false
    }

    /// A probe failed: one more failure, and twice the wait before the next probe.
    /// Returns true when this marks it down.
    pub fn on_probe_failure(&mut self, now: Instant, definitive: bool, p: &HealthPolicy) -> bool {
        self.probe_failed(now, Failure::plain(definitive), p)
    }

    /// `on_probe_failure` with the pool's view (see `fail`).
    pub fn probe_failed(&mut self, now: Instant, f: Failure, p: &HealthPolicy) -> bool {
        let became_down = self.fail(now, f, p);
        if let Some(pr) = &mut self.probe {
            pr.backoff = (pr.backoff * 2).min(p.probe_max);
            pr.at = now + crate::jitter::spread(pr.backoff, PROBE_JITTER, f.jitter);
        }
        became_down
    }

    pub fn probe_due(&self, now: Instant) -> bool {
        self.probe.is_some_and(|pr| pr.at <= now)
    }

    /// Whether a due probe is still worth its packet: not for an upstream that is up and
    /// answered something (SERVFAIL too) within `window`, whose client traffic already
    /// shows it alive. Then the probe is put off by its backoff, not dropped: its failures
    /// stand until an answer clears them, and one that selection stops sending to (its
    /// failures weigh on its score) would never get that answer, so the probe comes once
    /// its answers are older than `window`. One that is down, or silent, is probed. An
    /// overloaded CoreDNS is spared a probe from every sidecar after every loss.
    pub fn probe_needed(&mut self, now: Instant, window: Duration) -> bool {
        let alive = self
            .load
            .answered_at
            .is_some_and(|t| now.saturating_duration_since(t) <= window);
        if self.is_up() && alive {
            if let Some(pr) = &mut self.probe {
                pr.at = now + pr.backoff;
            }
            return false;
        }
        true
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

mod retransmit;
#[cfg(test)]
mod tests;
