//! The prober: active health checks that bring a failing or down replica back.

use std::sync::Arc;

use tokio::time::{sleep_until, timeout, Instant};

use super::{ExchangeError, Pool, Trouble};
use crate::lock;
use crate::wire::Ask;

impl Pool {
    /// Probes failing and down upstreams with `. IN NS` (as CoreDNS's forward plugin
    /// does), and every one once at start (`pool/startup.rs`), backing off while they stay
    /// silent, and not those whose client queries are answered (`Health::probe_needed`).
    /// Sleeps while no probe is due.
    pub async fn run_prober(self: Arc<Self>) {
        loop {
            let now = Instant::now();
            let mut earliest: Option<Instant> = None;
            for up in self.snapshot().iter() {
                let mut h = lock(&up.health);
                let Some(at) = h.probe.map(|pr| pr.at) else {
                    continue;
                };
                if at > now {
                    earliest = Some(earliest.map_or(at, |e| e.min(at)));
                    continue;
                }
                if !h.probe_needed(now, self.cfg.attempt_timeout) {
                    self.metrics
                        .probes_skipped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                // Not again before this probe has had its time.
                if let Some(pr) = h.probe.as_mut() {
                    pr.at = now + self.cfg.attempt_timeout + pr.backoff;
                }
                drop(h);
                let (pool, up) = (self.clone(), up.clone());
                tokio::spawn(async move {
                    let start = Instant::now();
                    let r = timeout(
                        pool.cfg.attempt_timeout,
                        up.exchange(&Ask::probe(), pool.cfg.tcp),
                    )
                    .await
                    .unwrap_or(Err(ExchangeError::Timeout));
                    match r {
                        Ok(_) => {
                            let mut h = lock(&up.health);
                            if !h.is_up() {
                                log::info!("upstream {} is back up", up.addr);
                            }
                            h.on_probe_success(Instant::now(), start.elapsed());
                            h.first_probe = false;
                        }
                        Err(e) => {
                            let (refused, now) =
                                (matches!(e, ExchangeError::Refused), Instant::now());
                            // A probe is an attempt like any: /debug/upstreams and the
                            // failure counter show why a replica the start-up probe found
                            // refusing is down, though no client query ever went to it.
                            up.stats
                                .failures
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            *lock(&up.stats.last_trouble) = Some((now, Trouble::Failed(e)));
                            let mut h = lock(&up.health);
                            // Silent from the start, it is down before the app asks.
                            let never = h.first_probe && h.load.answered_at.is_none();
                            h.first_probe = false;
                            let f = h.failure(
                                refused || never,
                                now,
                                pool.cfg.attempt_timeout,
                                crate::jitter::unit(),
                            );
                            if h.probe_failed(now, f, &pool.cfg.health) {
                                log::warn!("upstream {} marked down after a probe: {e}", up.addr);
                            }
                        }
                    }
                    pool.down.notify_one();
                });
            }
            match earliest {
                Some(t) => tokio::select! {
                    _ = sleep_until(t) => {}
                    _ = self.down.notified() => {}
                },
                None => self.down.notified().await,
            }
        }
    }
}
