//! The forwarding loop against real sockets on loopback with tokio's clock paused: timers
//! fire as soon as the runtime has nothing else to do, so seconds of timeouts take
//! milliseconds and the counts do not depend on how busy the machine is.

use std::net::UdpSocket;
use std::sync::atomic::Ordering::Relaxed;

use super::*;
use crate::wire::{Ask, KeyBuf};

fn pool(addrs: &[SocketAddr]) -> (Arc<Pool>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let cfg = PoolConfig {
        health: HealthPolicy::default(),
        attempt_timeout: Duration::from_secs(1),
        tcp: false,
    };
    (Pool::new(addrs, cfg, metrics.clone()), metrics)
}

fn ask() -> Ask {
    Ask::new(KeyBuf::plain(b"\x03www\x07example\x00", 1).key(), true)
}

#[tokio::test(start_paused = true)]
async fn a_silent_only_upstream_is_resent_three_times_then_given_up() {
    // Bound, so nothing refuses; never read, so nothing answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (pool, metrics) = pool(&[silent.local_addr().unwrap()]);
    let started = Instant::now();
    assert_eq!(pool.forward(&ask()).await, Err(ForwardError::AllFailed));
    assert_eq!(metrics.retransmits.load(Relaxed), 3);
    assert_eq!(metrics.hedges.load(Relaxed), 0);
    let took = started.elapsed();
    // Resends at 100, 300 and 700 ms (the first hedge delay is 100 ms before any sample),
    // then the last attempt's 1 s timeout: on the paused clock, exactly.
    assert!(
        (Duration::from_millis(1700)..Duration::from_millis(1800)).contains(&took),
        "{took:?}"
    );
    let h = pool.snapshot()[0].health();
    assert!(!h.is_up(), "four timeouts mark it down");
}

#[tokio::test(start_paused = true)]
async fn no_upstream_is_an_error_not_a_wait() {
    let (pool, _) = pool(&[]);
    assert_eq!(pool.forward(&ask()).await, Err(ForwardError::NoUpstreams));
}
