//! The start-up probe: every node cache and replica is asked once as the pool starts, and
//! the proxy is ready (its /readyz, the native sidecar's startup probe, which holds the
//! app's containers back) once each has answered or failed, or `STARTUP_WAIT` passed. A
//! replica dead from the start is then known to be down before the app's first query,
//! which would otherwise explore it (never measured, it scores as the fastest) and wait a
//! hedge delay on it.

use std::time::Duration;

use tokio::time::Instant;

use super::super::health::Probe;
use super::super::select::Tier;
use super::Pool;
use crate::lock;

/// The longest readiness waits on start-up probes: past a replica's attempt timeout, so a
/// silent one has failed its probe by then.
pub const STARTUP_WAIT: Duration = Duration::from_secs(2);

impl Pool {
    /// Schedules a probe of every node cache and replica now (the fallback is asked only
    /// while everything before it is down, so it needs none).
    pub(super) fn probe_at_start(&self) {
        let now = Instant::now();
        for up in self.snapshot().iter().filter(|u| u.tier != Tier::Fallback) {
            let mut h = lock(&up.health);
            h.first_probe = true;
            h.probe = Some(Probe {
                at: now,
                backoff: self.cfg.health.probe_base,
            });
        }
        self.down.notify_one();
    }

    /// Whether start-up probes are still out, within `STARTUP_WAIT` of the start.
    pub fn probing_at_start(&self) -> bool {
        self.started.elapsed() < STARTUP_WAIT
            && self.snapshot().iter().any(|u| lock(&u.health).first_probe)
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::sync::atomic::Ordering::Relaxed;

    use super::super::tests::{ask, echo, pool};
    use super::*;

    /// On the real clock: the live replica's answer comes over a real socket, which a
    /// paused clock would outrun (its probe would time out first).
    #[tokio::test]
    async fn a_replica_silent_from_the_start_is_down_before_the_first_query() {
        let (live, got) = echo(Duration::ZERO, 10);
        // Bound, so nothing refuses; never read, so nothing answers.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (pool, metrics) = pool(&[silent.local_addr().unwrap(), live]);
        assert!(
            pool.probing_at_start(),
            "ready only after the start-up probes"
        );
        tokio::spawn(pool.clone().run_prober());
        while pool.probing_at_start() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ups = pool.snapshot();
        assert!(!ups[0].health().is_up(), "the silent replica is down");
        assert!(ups[1].health().is_up() && ups[1].health().srtt(Instant::now()).is_some());
        // The app's first question goes to the live replica: no hedge, no attempt lost.
        assert!(pool.forward(&ask()).await.is_ok());
        assert_eq!(metrics.hedges.load(Relaxed), 0);
        assert_eq!(metrics.retransmits.load(Relaxed), 0);
        assert_eq!(got.load(Relaxed), 2, "the probe and the question");
    }

    #[tokio::test(start_paused = true)]
    async fn readiness_waits_no_longer_than_the_start_up_wait() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (pool, _) = pool(&[silent.local_addr().unwrap()]);
        // No prober: the probe never ends, and the wait does.
        tokio::time::sleep(STARTUP_WAIT).await;
        assert!(!pool.probing_at_start());
    }
}
