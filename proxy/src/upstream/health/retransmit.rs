//! How long to wait on an upstream: its attempt timeout (RFC 6298's RTO from its own RTT,
//! clamped), and, when a query is sent again to an upstream that has not answered, RFC
//! 1035's retransmission interval, backed off and spread.

use std::time::Duration;

use super::{Health, HealthPolicy};
use crate::Instant;

/// The shortest wait before a query is sent again: below it, a slow answer (a busy node, a
/// replica warming its cache) would be mistaken for a lost one.
const RETRANSMIT_MIN: Duration = Duration::from_millis(50);
/// The longest: a query budget is 1.5 s by default, so a later resend would come too late.
const RETRANSMIT_MAX: Duration = Duration::from_millis(800);

/// Resends wait up to this share longer than the interval (never shorter: a slow answer
/// must not pass for a lost one), so sidecars that lost answers together resend apart.
const RETRANSMIT_JITTER: f64 = 0.25;

impl Health {
    /// How long one attempt to this upstream waits for its answer before it counts as
    /// lost: SRTT + 4 RTTVAR (RFC 6298 §2, as unbound's `infra` does), never below `floor`
    /// (`--upstream-timeout`, which a silent or dead replica keeps, having no slow answers
    /// to lengthen it) nor above `ceiling` (`--query-timeout`: no client waits longer). A
    /// replica whose answers come late because it queues them (an overloaded CoreDNS) gets
    /// the time they take, instead of having each dropped as lost just before it lands.
    pub fn attempt_timeout(&self, now: Instant, floor: Duration, ceiling: Duration) -> Duration {
        let rto = self.estimate(now).map_or(Duration::ZERO, |(s, v)| {
            Duration::from_secs_f64((s + 4.0 * v) / 1000.0)
        });
        rto.clamp(floor, ceiling.max(floor))
    }

    /// How long to wait before sending a query to this upstream again, after `resent`
    /// resends: the hedge delay (SRTT + 4 RTTVAR) but at least `RETRANSMIT_MIN`, doubled
    /// per resend as RFC 1035 §4.2.1 and TCP's RTO back off.
    pub fn retransmit_interval(&self, now: Instant, p: &HealthPolicy, resent: u32) -> Duration {
        let base = self.hedge_delay(now, p).max(RETRANSMIT_MIN);
        (base * 2u32.saturating_pow(resent.min(8))).min(RETRANSMIT_MAX)
    }

    /// `retransmit_interval` lengthened by up to a quarter, `r` uniform in [0, 1).
    pub fn retransmit_after(
        &self,
        now: Instant,
        p: &HealthPolicy,
        resent: u32,
        r: f64,
    ) -> Duration {
        self.retransmit_interval(now, p, resent)
            .mul_f64(1.0 + RETRANSMIT_JITTER * r)
    }
}
