//! The forwarding loop against real sockets on loopback with tokio's clock paused: timers
//! fire as soon as the runtime has nothing else to do, so seconds of timeouts take
//! milliseconds and the counts do not depend on how busy the machine is.

use std::net::UdpSocket;
use std::sync::atomic::Ordering::Relaxed;

use super::*;
use crate::wire::{Ask, KeyBuf};

pub(super) fn pool(addrs: &[SocketAddr]) -> (Arc<Pool>, Arc<Metrics>) {
    pool_with_fallback(addrs, &[])
}

fn pool_with_fallback(addrs: &[SocketAddr], fallbacks: &[SocketAddr]) -> (Arc<Pool>, Arc<Metrics>) {
    pool_with_tiers(&[], addrs, fallbacks)
}

/// A pool of `node_cache`, `addrs` and `fallbacks`, default policies, 1 s attempts over UDP.
fn pool_with_tiers(
    node_cache: &[SocketAddr],
    addrs: &[SocketAddr],
    fallbacks: &[SocketAddr],
) -> (Arc<Pool>, Arc<Metrics>) {
    pool_of(node_cache, addrs, fallbacks, false)
}

fn pool_of(
    node_cache: &[SocketAddr],
    addrs: &[SocketAddr],
    fallbacks: &[SocketAddr],
    logical: bool,
) -> (Arc<Pool>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let cfg = PoolConfig {
        node_cache: node_cache.to_vec(),
        fallback: fallbacks.to_vec(),
        health: HealthPolicy::default(),
        budget: BudgetPolicy::default(),
        refused_final: false,
        logical,
        attempt_timeout: Duration::from_secs(1),
        attempt_ceiling: Duration::from_millis(1500),
        tcp: false,
        replicas_from: Source::Flag,
    };
    (Pool::new(addrs, cfg, metrics.clone()), metrics)
}

pub(super) fn ask() -> Ask {
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
    // Resends after 100, 200 and 400 ms (the first hedge delay is 100 ms before any
    // sample, doubled per resend), each wait lengthened by up to a quarter (jitter), then
    // the last attempt's 1 s timeout: on the paused clock, 1.7 to 1.875 s.
    assert!(
        (Duration::from_millis(1700)..=Duration::from_millis(1875)).contains(&took),
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

/// A UDP server on loopback that answers every query with itself (QR set) after `delay`,
/// counting what it got; it stops after `limit` queries or 10 s.
pub(super) fn echo(
    delay: Duration,
    limit: usize,
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    echo_rcode(delay, limit, 0)
}

/// `echo`, answering with `rcode`.
fn echo_rcode(
    delay: Duration,
    limit: usize,
    rcode: u8,
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let got = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = got.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..limit {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                return;
            };
            count.fetch_add(1, Relaxed);
            std::thread::sleep(delay);
            buf[2] |= 0x80;
            buf[3] = (buf[3] & 0xf0) | rcode;
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    (addr, got)
}

/// A loopback port with nothing bound: the kernel refuses at once.
fn closed_port() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn the_fallback_is_asked_only_while_every_replica_is_down() {
    let (replica, replica_got) = echo(Duration::ZERO, 100);
    let (fallback, fallback_got) = echo(Duration::ZERO, 100);
    let (pool, _) = pool_with_fallback(&[replica], &[fallback]);
    for _ in 0..5 {
        assert!(pool.forward(&ask()).await.is_ok());
    }
    assert_eq!(replica_got.load(Relaxed), 5);
    assert_eq!(fallback_got.load(Relaxed), 0, "not while a replica is up");
    assert_eq!(
        pool.replicas(),
        vec![replica],
        "the fallback is not a replica"
    );

    // The replicas move away (a rollout the sidecar has not seen yet): the closed port
    // refuses, is marked down after two failures, and the fallback answers from then on.
    let gone = closed_port();
    pool.set_upstreams(&[gone]);
    let mut answered = 0;
    for _ in 0..4 {
        answered += pool.forward(&ask()).await.is_ok() as usize;
    }
    assert!(
        answered >= 2,
        "answered through the fallback: {answered} of 4"
    );
    assert!(fallback_got.load(Relaxed) >= 2);
    assert!(
        tokio::time::timeout(Duration::from_millis(10), pool.replica_failed.notified())
            .await
            .is_ok(),
        "discovery was told a replica failed"
    );
    assert_eq!(pool.replicas(), vec![gone]);
}

#[tokio::test]
async fn a_query_in_flight_to_a_replica_that_leaves_the_set_is_answered() {
    let (leaving, _) = echo(Duration::from_millis(300), 10);
    let (staying, _) = echo(Duration::ZERO, 10);
    let (pool, _) = pool(&[leaving]);
    let p = pool.clone();
    let in_flight = tokio::spawn(async move { p.forward(&ask()).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    pool.set_upstreams(&[staying]);
    assert_eq!(pool.replicas(), vec![staying]);
    let got = in_flight.await.unwrap();
    assert!(got.is_ok(), "{got:?}");
}

#[tokio::test]
async fn a_node_cache_is_asked_first_and_the_replicas_only_past_it() {
    let (cache, cache_got) = echo(Duration::ZERO, 100);
    let (replica, replica_got) = echo(Duration::ZERO, 100);
    let (pool, _) = pool_with_tiers(&[cache], &[replica], &[]);
    for _ in 0..5 {
        assert!(pool.forward(&ask()).await.is_ok());
    }
    assert_eq!(cache_got.load(Relaxed), 5, "every miss to the node cache");
    assert_eq!(replica_got.load(Relaxed), 0);
    assert_eq!(
        pool.replicas(),
        vec![replica],
        "the node cache is not a replica"
    );
}

#[tokio::test]
async fn a_node_cache_that_fails_is_passed_at_once_and_a_silent_one_after_a_hedge_delay() {
    // Closed: refused, moved on at once, marked down.
    let (replica, replica_got) = echo(Duration::ZERO, 100);
    let (pool, _) = pool_with_tiers(&[closed_port()], &[replica], &[]);
    let t0 = Instant::now();
    assert!(pool.forward(&ask()).await.is_ok());
    assert!(
        t0.elapsed() < Duration::from_millis(90),
        "{:?}",
        t0.elapsed()
    );
    assert!(!pool.snapshot()[0].health().is_up(), "marked down");
    assert!(pool.forward(&ask()).await.is_ok());
    assert_eq!(replica_got.load(Relaxed), 2);
    // SERVFAIL: the replica is asked at once.
    let (cache, _) = echo_rcode(Duration::ZERO, 100, 2);
    let (replica, replica_got) = echo(Duration::ZERO, 100);
    let (pool, _) = pool_with_tiers(&[cache], &[replica], &[]);
    let got = pool.forward(&ask()).await.unwrap();
    assert_eq!(
        got[3] & 0xf,
        0,
        "the replica's NOERROR, not the cache's SERVFAIL"
    );
    assert_eq!(replica_got.load(Relaxed), 1);
    // Silent: hedged past after the first hedge delay (100 ms before any sample).
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (replica, _) = echo(Duration::ZERO, 100);
    let (pool, metrics) = pool_with_tiers(&[silent.local_addr().unwrap()], &[replica], &[]);
    let t0 = Instant::now();
    assert!(pool.forward(&ask()).await.is_ok());
    let took = t0.elapsed();
    assert!(
        (Duration::from_millis(95)..Duration::from_millis(600)).contains(&took),
        "{took:?}"
    );
    assert_eq!(metrics.hedges.load(Relaxed), 1);
}

#[tokio::test]
async fn the_fallback_waits_for_the_node_cache_and_the_replicas_both() {
    let (cache, cache_got) = echo(Duration::ZERO, 100);
    let (fallback, fallback_got) = echo(Duration::ZERO, 100);
    let (pool, _) = pool_with_tiers(&[cache], &[closed_port()], &[fallback]);
    for _ in 0..4 {
        assert!(pool.forward(&ask()).await.is_ok());
    }
    assert_eq!(cache_got.load(Relaxed), 4);
    assert_eq!(fallback_got.load(Relaxed), 0, "the node cache is up");
    // The same address as node cache and fallback (the VIP served on the node) is one
    // upstream, in the first tier.
    let (vip, _) = echo(Duration::ZERO, 100);
    let (pool, _) = pool_with_tiers(&[vip], &[closed_port()], &[vip]);
    let tiers: Vec<_> = pool.snapshot().iter().map(|u| u.tier).collect();
    assert_eq!(tiers, vec![Tier::NodeCache, Tier::Replica]);
}

#[tokio::test(start_paused = true)]
async fn one_logical_resolver_gets_resends_but_no_hedge_to_another_address() {
    let (a, b) = (
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    );
    let addrs = [a.local_addr().unwrap(), b.local_addr().unwrap()];
    for logical in [false, true] {
        let (pool, metrics) = pool_of(&[], &addrs, &[], logical);
        assert_eq!(pool.forward(&ask()).await, Err(ForwardError::AllFailed));
        let hedges = metrics.hedges.load(Relaxed);
        if logical {
            assert_eq!(hedges, 0, "the other address is the same resolver");
            assert_eq!(
                metrics.retransmits.load(Relaxed),
                3,
                "a lost answer is resent"
            );
        } else {
            assert!(hedges >= 1, "replicas: the other one is asked");
        }
    }
}
