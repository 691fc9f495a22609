//! One attempt to one upstream, run to its end however the question goes, and what its
//! outcome does to the upstream's health, statistics and the pool's wake-ups.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

use super::super::attempts::is_error_reply;
use super::super::replica::Trouble;
use super::super::select::Tier;
use super::super::{ExchangeError, Upstream};
use super::{Attempt, Pool};
use crate::lock;
use crate::wire::{self, Ask};

impl Pool {
    /// Runs one attempt to completion even if the query is answered by another upstream
    /// first, so a silent upstream still collects its timeouts and is marked down.
    pub(super) fn spawn_attempt(
        self: &Arc<Self>,
        index: usize,
        up: Arc<Upstream>,
        ask: Ask,
        tx: mpsc::Sender<(usize, Attempt)>,
    ) {
        let wait = {
            let mut h = lock(&up.health);
            let now = Instant::now();
            h.inflight += 1;
            h.load.spend(now);
            h.attempt_timeout(now, self.cfg.attempt_timeout, self.cfg.attempt_ceiling)
        };
        let pool = self.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let r = timeout(wait, up.exchange(&ask, pool.cfg.tcp))
                .await
                .unwrap_or(Err(ExchangeError::Timeout));
            pool.record(&up, &r, start.elapsed(), wait);
            let _ = tx.try_send((index, r));
        });
    }

    /// What one attempt's outcome does; `waited` is how long it was allowed.
    fn record(&self, up: &Upstream, r: &Attempt, rtt: Duration, waited: Duration) {
        let now = Instant::now();
        match r {
            Ok(resp) => {
                let mut h = lock(&up.health);
                h.inflight = h.inflight.saturating_sub(1);
                let rcode = wire::rcode::of(resp);
                if is_error_reply(rcode, self.cfg.refused_final) {
                    h.on_error_reply(now, rtt);
                    *lock(&up.stats.last_trouble) = Some((now, Trouble::Answered(rcode)));
                } else {
                    h.on_success(now, rtt);
                }
                up.stats.rtt.observe(rtt);
            }
            Err(e) => {
                up.stats.failures.fetch_add(1, Relaxed);
                *lock(&up.stats.last_trouble) = Some((now, Trouble::Failed(*e)));
                let refused = matches!(e, ExchangeError::Refused);
                let mut h = lock(&up.health);
                let f = h.failure(refused, now, waited, crate::jitter::unit());
                h.inflight = h.inflight.saturating_sub(1);
                let down = h.fail(now, f, &self.cfg.health);
                drop(h);
                if !f.may_mark_down {
                    self.metrics.kept_up.fetch_add(1, Relaxed);
                }
                if down {
                    log::warn!("upstream {} marked down: {e}", up.addr);
                }
                if up.tier == Tier::Replica && (down || refused) {
                    self.replica_failed.notify_one();
                }
                // Wake the prober: this upstream now has a probe scheduled.
                self.down.notify_one();
            }
        }
    }
}
