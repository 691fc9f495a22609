//! The pool's rules as the attempt plan asks for them: the health-aware pick (candidates
//! from each upstream's health and load, in their tiers), the waits,
//! and the permission for an extra attempt (the overload rules, then the retry budget),
//! each refusal counted by reason (and noted in the resolution's trace).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::attempts::{Chooser, Denied, Extra};
use super::select::{self, Candidate, Tier};
use super::trace::Trace;
use super::{overload, Pool, Upstream, MAX_UPSTREAMS};
use crate::lock;

pub(super) struct PoolChooser<'a> {
    pub pool: &'a Pool,
    pub set: &'a [Arc<Upstream>],
    pub trace: &'a mut Trace,
}

impl Chooser for PoolChooser<'_> {
    fn pick(&mut self, exclude: u64) -> Option<usize> {
        // One logical resolver behind every address: once one was asked there is no other
        // to ask, only the same one again (a resend).
        if self.pool.cfg.logical && exclude != 0 {
            return None;
        }
        pick(self.set, exclude)
    }

    fn pick_again(&mut self, silent: u64) -> Option<usize> {
        pick(self.set, !silent)
    }

    fn wait(&self, i: usize, others_left: bool, resent: u32) -> Duration {
        let (h, p) = (lock(&self.set[i].health), &self.pool.cfg.health);
        let now = Instant::now();
        if others_left {
            hedge_wait(
                self.set[i].tier,
                h.hedge_delay(now, p),
                p.hedge_fixed.is_some(),
            )
        } else {
            h.retransmit_after(now, p, resent, crate::jitter::unit())
        }
    }

    fn allow_extra(&mut self, i: usize, kind: Extra, waited: Duration) -> Result<(), Denied> {
        let now = Instant::now();
        let verdict = {
            let h = lock(&self.set[i].health);
            overload::allow_extra(kind, h.load.is_degraded(now), h.expected_rtt(now), waited)
        }
        .and_then(|()| {
            if lock(&self.pool.budget).try_extra(now) {
                Ok(())
            } else {
                Err(Denied::Budget)
            }
        });
        if let Err(d) = verdict {
            self.pool.metrics.extra_denied[d as usize].fetch_add(1, Relaxed);
            self.trace.denied(d);
        }
        verdict
    }
}

/// The shortest wait on a node cache before a replica is asked as well. The cache answers
/// its misses from a replica, so its round trips are bimodal: hits in a fraction of a
/// millisecond, which its estimate follows, and misses a replica's round trip plus CoreDNS's
/// work later. Hedged at the estimate, every miss on a busy node went to a replica too,
/// twice CoreDNS's work for each: of twenty pods started together on the real cluster,
/// one to three sent their whole first walk (8 to 16 queries) past the cache so, which
/// was most of what our tier cost CoreDNS beyond NodeLocal DNSCache. A cache that refuses or answers
/// SERVFAIL is moved past at once all the same; only a silent one waits this long.
pub const NODE_CACHE_HEDGE_MIN: Duration = Duration::from_millis(50);

/// How long to wait on upstream `tier` before asking another as well, from its own hedge
/// delay; a fixed `--hedge-delay` stands as given.
pub fn hedge_wait(tier: Tier, delay: Duration, fixed: bool) -> Duration {
    if tier == Tier::NodeCache && !fixed {
        delay.max(NODE_CACHE_HEDGE_MIN)
    } else {
        delay
    }
}

/// The next upstream of `set` not in `tried`, if any is worth a packet.
pub(super) fn pick(set: &[Arc<Upstream>], tried: u64) -> Option<usize> {
    let mut cands = [Candidate {
        up: false,
        admissible: true,
        score: 0.0,
        fails: 0,
    }; MAX_UPSTREAMS];
    let mut tiers = [Tier::Replica; MAX_UPSTREAMS];
    let now = Instant::now();
    for ((c, t), u) in cands.iter_mut().zip(tiers.iter_mut()).zip(set) {
        let h = lock(&u.health);
        *c = Candidate {
            up: h.is_up(),
            admissible: h.load.admissible(now),
            score: h.score(now),
            fails: h.fails,
        };
        *t = u.tier;
    }
    let n = set.len().min(MAX_UPSTREAMS);
    select::pick_tiered(
        &cands[..n],
        &tiers[..n],
        tried,
        rand::random(),
        rand::random(),
    )
}

/// What the replicas of `set` (node caches and fallbacks aside) are going through at `now`.
pub(super) fn state(set: &[Arc<Upstream>], now: Instant, recent: Duration) -> overload::PoolState {
    let replicas = set.iter().filter(|u| u.tier == Tier::Replica).map(|u| {
        let h = lock(&u.health);
        (h.is_up(), h.load.clone())
    });
    overload::pool_state(replicas, now, recent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_cache_is_waited_on_at_least_a_miss_long_unless_the_delay_is_fixed() {
        let ms = Duration::from_millis;
        assert_eq!(
            hedge_wait(Tier::NodeCache, ms(10), false),
            NODE_CACHE_HEDGE_MIN
        );
        assert_eq!(hedge_wait(Tier::NodeCache, ms(120), false), ms(120));
        assert_eq!(
            hedge_wait(Tier::NodeCache, ms(10), true),
            ms(10),
            "--hedge-delay 10ms"
        );
        assert_eq!(hedge_wait(Tier::Replica, ms(10), false), ms(10));
    }
}
