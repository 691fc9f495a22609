//! Overload told apart from a dead replica, as plain values. Each upstream keeps a `Load`:
//! the share of its recent attempts lost (timed out, or answered SERVFAIL or REFUSED), when
//! it last answered at all, the rate of its good answers, and, while it is degraded, a
//! sending credit refilled at a little above that rate; an estimate with no new outcome
//! fades. From those: whether an extra attempt is worth sending (`allow_extra`), what the
//! pool as a whole is going through (`pool_state`), and whether a timeout may mark a replica
//! down (`may_mark_down`). One replica silent while another answers is a dead replica: hedge
//! around it and mark it down. Every replica losing queries while answers still come is an
//! overload: no extra attempts, first attempts paced by answers, nobody marked down (which
//! would pile the load onto the rest, then onto the fallback). Time is passed in.

use std::time::Duration;

use crate::Instant;

/// Weight of one outcome in the loss estimate: about the last ten attempts count.
const LOSS_WEIGHT: f64 = 0.1;
/// An upstream losing more than this share is degraded ...
pub const DEGRADED_ABOVE: f64 = 0.25;
/// ... until its loss falls under this (hysteresis, so pacing does not flap).
pub const RECOVERED_BELOW: f64 = 0.10;
/// While degraded, first attempts go out at this many times the rate of good answers:
/// sending follows what the replica manages to answer, a little above it so that more
/// capacity (a recovery, a new replica) is found, by a quarter more per round ...
const PACE_GAIN: f64 = 1.25;
/// ... while its answers come within this; later, at a little below what it answers, so
/// the queue it holds drains. Sent a quarter above its rate for good, an overloaded CoreDNS
/// on the real cluster kept a queue of seconds: its own p99 1.7 s, past the question's
/// 1.5 s budget, so a fifth of what it answered came too late to be used (80 to 93% of the
/// answers asking it directly got, whose clients wait 3 s).
const QUEUE_TARGET_MS: f64 = 300.0;
const DRAIN_GAIN: f64 = 0.9;
/// Weight of one answer's round trip in `Load::delay_ms` (as TCP's SRTT).
const DELAY_WEIGHT: f64 = 0.125;
/// Sends allowed per second on top, so a replica that answered nothing for a while is
/// still tried (and a quiet pod is never paced below this).
const PACE_FLOOR_PER_S: f64 = 5.0;
/// Most credit held: the burst a degraded replica may receive at once.
const PACE_CAP: f64 = 16.0;
/// A loss estimate with no new outcome for this long starts to fade ...
const LOSS_FADE_AFTER: Duration = Duration::from_secs(1);
/// ... halving every this long: a degraded replica that selection stopped sending to gets
/// no outcome that could clear it, and must not stay degraded for good on old evidence (as
/// an RTT estimate without samples decays, `health::DECAY_HALF_LIFE_S`). In an overload,
/// outcomes come every few milliseconds and nothing fades.
const LOSS_HALF_LIFE: Duration = Duration::from_secs(1);
/// Good answers are counted over windows this long ...
const RATE_WINDOW: Duration = Duration::from_millis(100);
/// ... and each window's rate weighs this much in the estimate.
const RATE_WEIGHT: f64 = 0.3;

/// One upstream's recent losses and, while degraded, its sending credit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Load {
    loss: f64,
    /// When the last outcome (answer or loss) came: the loss estimate fades from then.
    outcome_at: Option<Instant>,
    degraded: bool,
    /// When it last answered anything (SERVFAIL and REFUSED too: it is alive).
    pub answered_at: Option<Instant>,
    /// Good answers a second (smoothed), and those counted in the window from `window_at`.
    rate: f64,
    window: u32,
    window_at: Option<Instant>,
    /// Whether a whole window has been counted: only then is the rate a measure, and only
    /// then may losses make the upstream degraded (paced at that rate).
    rated: bool,
    credit: f64,
    credit_at: Option<Instant>,
    /// Round trip of its answers, smoothed: how long its queue is.
    delay_ms: f64,
}

impl Load {
    /// The share of recent attempts lost, 0..1, as believed at `now` (faded once no
    /// outcome came for `LOSS_FADE_AFTER`).
    pub fn loss(&self, now: Instant) -> f64 {
        let idle = self.outcome_at.map_or(Duration::ZERO, |t| {
            now.saturating_duration_since(t)
                .saturating_sub(LOSS_FADE_AFTER)
        });
        self.loss * (-idle.as_secs_f64() / LOSS_HALF_LIFE.as_secs_f64()).exp2()
    }

    /// Degraded at `now`: it lost over `DEGRADED_ABOVE` of its attempts and has not
    /// recovered since (`recovered`).
    pub fn is_degraded(&self, now: Instant) -> bool {
        self.degraded && !self.recovered(now, self.loss(now))
    }

    /// Whether a degraded replica with `loss` is well again: its loss under
    /// `RECOVERED_BELOW`, its estimate faded included, and its pacing no longer what holds
    /// the sending back. While the credit runs out, low loss is the pacing's doing (it sends
    /// a little above what the replica answers), not the replica's: were it lifted then,
    /// the whole offered load would go out, the losses come back a timeout later, and the
    /// sending would go on and off (shed everything, then a burst) instead of staying at
    /// what the replica answers.
    fn recovered(&self, now: Instant, loss: f64) -> bool {
        loss < RECOVERED_BELOW && self.credit_now(now) >= PACE_CAP - 1.0
    }

    /// Good answers a second, as estimated at the last window's end (the clock moves it
    /// only with outcomes).
    pub fn answer_rate(&self) -> f64 {
        self.rate
    }

    /// A reply came: `good` unless SERVFAIL or REFUSED.
    pub fn on_answer(&mut self, now: Instant, good: bool) {
        self.answered_at = Some(now);
        self.fold(now);
        self.window += good as u32;
        self.outcome(now, !good);
    }

    /// Folds the window into the rate estimate once it is `RATE_WINDOW` old (a long idle
    /// gap counts as one window of nothing, so the rate falls).
    fn fold(&mut self, now: Instant) {
        let start = *self.window_at.get_or_insert(now);
        let dt = now.saturating_duration_since(start);
        if dt >= RATE_WINDOW {
            // As many windows of the same rate as have passed.
            let windows = dt.as_secs_f64() / RATE_WINDOW.as_secs_f64();
            let keep = (1.0 - RATE_WEIGHT).powf(windows);
            let sample = self.window as f64 / dt.as_secs_f64();
            self.rate = keep * self.rate + (1.0 - keep) * sample;
            self.window = 0;
            self.window_at = Some(now);
            self.rated = true;
        }
    }

    /// An answer (any RCODE) came back after `rtt`.
    pub fn on_rtt(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64() * 1e3;
        self.delay_ms += DELAY_WEIGHT * (r - self.delay_ms);
    }

    /// The pacing's multiple of the answer rate: above it while answers come in time,
    /// below it while they queue (`QUEUE_TARGET_MS`).
    fn gain(&self) -> f64 {
        if self.delay_ms > QUEUE_TARGET_MS {
            DRAIN_GAIN
        } else {
            PACE_GAIN
        }
    }

    /// An attempt timed out or failed.
    pub fn on_loss(&mut self, now: Instant) {
        self.fold(now);
        self.outcome(now, true);
    }

    fn outcome(&mut self, now: Instant, lost: bool) {
        let faded = self.loss(now);
        // Recovered while nothing came (`is_degraded` said so already): the new outcome
        // counts from there, and enters degraded again only past `DEGRADED_ABOVE`.
        self.degraded &= !self.recovered(now, faded);
        self.loss = faded + LOSS_WEIGHT * ((lost as u8 as f64) - faded);
        self.outcome_at = Some(now);
        if !self.degraded && self.loss > DEGRADED_ABOVE && self.rated {
            self.degraded = true;
            self.credit = PACE_CAP / 2.0;
            self.credit_at = Some(now);
        } else if self.degraded && self.recovered(now, self.loss) {
            self.degraded = false;
        }
    }

    fn credit_now(&self, now: Instant) -> f64 {
        let dt = self
            .credit_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        (self.credit + dt * (self.gain() * self.rate + PACE_FLOOR_PER_S)).min(PACE_CAP)
    }

    /// The load of a replica back from down: its losses forgotten (it answered a probe),
    /// its answer rate kept, so that if it is still overloaded it is paced at what it
    /// answered before rather than at nothing.
    pub fn revived(&self) -> Load {
        Load {
            rate: self.rate,
            rated: self.rated,
            answered_at: self.answered_at,
            ..Load::default()
        }
    }

    /// Whether a first attempt may go to it now: always while it is not degraded, else
    /// while it has credit.
    pub fn admissible(&self, now: Instant) -> bool {
        !self.is_degraded(now) || self.credit_now(now) >= 1.0
    }

    /// A first attempt went to it: spends one credit while degraded.
    pub fn spend(&mut self, now: Instant) {
        if self.is_degraded(now) {
            self.credit = (self.credit_now(now) - 1.0).max(0.0);
            self.credit_at = Some(now);
        }
    }
}

/// An attempt beyond a question's first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// The first is slow: ask another one as well.
    Hedge,
    /// One failed or answered SERVFAIL or REFUSED: ask the next at once.
    MoveOn,
    /// Every candidate was asked and one stays silent: ask it again.
    Resend,
}

/// Why an extra attempt was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The retry budget is spent.
    Budget,
    /// The upstream it would go to is losing queries itself.
    Overloaded,
    /// A hedge to an upstream that answers no faster than the wait so far.
    NotFaster,
}

impl Denied {
    pub const ALL: [Denied; 3] = [Denied::Budget, Denied::Overloaded, Denied::NotFaster];

    pub fn label(self) -> &'static str {
        match self {
            Denied::Budget => "budget",
            Denied::Overloaded => "overloaded",
            Denied::NotFaster => "not_faster",
        }
    }
}

/// Whether an extra attempt of `kind` to an upstream (`degraded`, its smoothed RTT) is
/// worth sending, `waited` after the question's first attempt. The retry budget is asked
/// after this, so a denial here spends none of it.
pub fn allow_extra(
    kind: Extra,
    degraded: bool,
    srtt: Option<Duration>,
    waited: Duration,
) -> Result<(), Denied> {
    if degraded {
        return Err(Denied::Overloaded);
    }
    if kind == Extra::Hedge && srtt.is_some_and(|s| s >= waited) {
        return Err(Denied::NotFaster);
    }
    Ok(())
}

/// What the replicas as a whole are going through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolState {
    /// Some replica is up and not degraded.
    Healthy,
    /// Every up replica is degraded, yet some answered within the recent window.
    Overloaded,
    /// Nothing answered within the window: they are gone, not busy.
    Dark,
}

impl PoolState {
    pub fn label(self) -> &'static str {
        match self {
            PoolState::Healthy => "healthy",
            PoolState::Overloaded => "overloaded",
            PoolState::Dark => "dark",
        }
    }
}

/// The pool's state from its replicas' (up, load), `recent` being how long ago an answer
/// still shows a replica alive.
pub fn pool_state(
    replicas: impl IntoIterator<Item = (bool, Load)>,
    now: Instant,
    recent: Duration,
) -> PoolState {
    let mut answering = false;
    for (up, load) in replicas {
        if up && !load.is_degraded(now) {
            return PoolState::Healthy;
        }
        answering |= load
            .answered_at
            .is_some_and(|t| now.saturating_duration_since(t) <= recent);
    }
    if answering {
        PoolState::Overloaded
    } else {
        PoolState::Dark
    }
}

/// Whether a failure may mark a replica down: a refusal always (nothing listens); a timeout
/// only if the replica answered nothing (not even SERVFAIL) within `window` before `now`,
/// the time the lost query waited. One that still answers is busy, not gone.
pub fn may_mark_down(
    definitive: bool,
    answered_at: Option<Instant>,
    now: Instant,
    window: Duration,
) -> bool {
    definitive || answered_at.is_none_or(|t| now.saturating_duration_since(t) > window)
}

#[cfg(test)]
mod tests;
