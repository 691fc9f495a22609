//! The upstream pool: the current set of CoreDNS replicas with their health, the forwarding
//! loop that asks the best one and hedges to the next when it is slow, and the prober that
//! brings a down upstream back. Decisions live in `health` and `select`; this is the I/O.

pub mod health;
pub mod select;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, timeout, Instant};

use crate::lock;
use crate::metrics::{Histogram, Metrics};
use crate::wire;
use health::{Health, HealthPolicy};
use select::Candidate;

/// Upstreams beyond this are ignored (the tried-set is a 64-bit mask).
pub const MAX_UPSTREAMS: usize = 64;
/// Resends of one question once every upstream has been asked.
pub const MAX_RETRANSMITS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("timed out")]
    Timeout,
    #[error("connection refused")]
    Refused,
    #[error("{0}")]
    Io(std::io::ErrorKind),
    #[error("malformed answer")]
    Malformed,
}

impl From<std::io::Error> for ExchangeError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ExchangeError::Refused,
            k => ExchangeError::Io(k),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ForwardError {
    #[error("no upstream configured")]
    NoUpstreams,
    #[error("every upstream failed")]
    AllFailed,
}

/// Per-upstream counters for /metrics.
#[derive(Default)]
pub struct UpstreamStats {
    pub rtt: Histogram,
    pub failures: AtomicU64,
    pub mismatches: AtomicU64,
    pub tcp_connections: AtomicU64,
}

pub struct Upstream {
    pub addr: SocketAddr,
    health: Mutex<Health>,
    tcp: tcp::TcpConns,
    pub stats: UpstreamStats,
}

impl Upstream {
    fn new(addr: SocketAddr) -> Upstream {
        Upstream {
            addr,
            health: Mutex::new(Health::default()),
            tcp: tcp::TcpConns::default(),
            stats: UpstreamStats::default(),
        }
    }

    pub fn health(&self) -> Health {
        lock(&self.health).clone()
    }

    /// One exchange: UDP unless told TCP, and TCP again when the UDP answer is truncated.
    async fn exchange(&self, key: &[u8], rd: bool, tcp: bool) -> Result<Vec<u8>, ExchangeError> {
        let mut query = Vec::with_capacity(key.len() + wire::HEADER_LEN + wire::OPT_LEN);
        let id = rand::random::<u16>();
        wire::build_upstream_query(key, id, rd, &mut query);
        if !tcp {
            let resp = udp::exchange(self.addr, &query, id, key, &self.stats.mismatches).await?;
            if resp[2] & (wire::FLAG_TC >> 8) as u8 == 0 {
                return Ok(resp);
            }
        }
        self.tcp
            .exchange(self.addr, &query, key, &self.stats.tcp_connections)
            .await
    }
}

/// Settings the pool runs with, from the command line.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub health: HealthPolicy,
    pub attempt_timeout: Duration,
    pub tcp: bool,
}

pub struct Pool {
    set: RwLock<Arc<[Arc<Upstream>]>>,
    cfg: PoolConfig,
    down: Notify,
    metrics: Arc<Metrics>,
}

type Attempt = Result<Vec<u8>, ExchangeError>;

impl Pool {
    pub fn new(addrs: &[SocketAddr], cfg: PoolConfig, metrics: Arc<Metrics>) -> Arc<Pool> {
        let pool = Arc::new(Pool {
            set: RwLock::new(Arc::from(Vec::new())),
            cfg,
            down: Notify::new(),
            metrics,
        });
        pool.set_upstreams(addrs);
        pool
    }

    pub fn snapshot(&self) -> Arc<[Arc<Upstream>]> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the upstream set, keeping the health of upstreams that stay.
    pub fn set_upstreams(&self, addrs: &[SocketAddr]) {
        let old = self.snapshot();
        let mut new: Vec<Arc<Upstream>> = Vec::with_capacity(addrs.len());
        for a in addrs.iter().take(MAX_UPSTREAMS) {
            if new.iter().any(|u| u.addr == *a) {
                continue;
            }
            let up = old.iter().find(|u| u.addr == *a).cloned();
            new.push(up.unwrap_or_else(|| Arc::new(Upstream::new(*a))));
        }
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::from(new);
        self.down.notify_one();
    }

    pub fn any_up(&self) -> bool {
        self.snapshot().iter().any(|u| lock(&u.health).is_up())
    }

    /// Whether some upstream is up with no recent failure: when none is, a stale answer is
    /// served at once instead of waiting on replicas that are probably gone.
    pub fn any_healthy(&self) -> bool {
        self.snapshot().iter().any(|u| {
            let h = lock(&u.health);
            h.is_up() && h.fails == 0
        })
    }

    fn pick(&self, set: &[Arc<Upstream>], tried: u64) -> Option<usize> {
        let mut cands = [Candidate {
            up: false,
            score: 0.0,
            fails: 0,
        }; MAX_UPSTREAMS];
        let now = std::time::Instant::now();
        for (c, u) in cands.iter_mut().zip(set) {
            let h = lock(&u.health);
            *c = Candidate {
                up: h.is_up(),
                score: h.score(now),
                fails: h.fails,
            };
        }
        select::pick(&cands[..set.len()], tried, rand::random(), rand::random())
    }

    /// Resolves one question: asks the best upstream, and the next best whenever the
    /// current ones are past their hedge delay or have failed. Once every candidate has been
    /// asked, a query still unanswered is sent again (a lost datagram is normal on a busy
    /// node) to the best upstream still silent, at an interval from its RTT that doubles,
    /// at most `MAX_RETRANSMITS` times (RFC 1035 §4.2.1). The first valid answer wins;
    /// SERVFAIL and REFUSED are kept only as a last resort while others may do better.
    /// The caller bounds the whole call with its query budget.
    pub async fn forward(self: &Arc<Self>, key: &[u8], rd: bool) -> Result<Vec<u8>, ForwardError> {
        let set = self.snapshot();
        if set.is_empty() {
            return Err(ForwardError::NoUpstreams);
        }
        let key: Arc<[u8]> = Arc::from(key);
        let (tx, mut rx) = mpsc::channel::<(usize, Attempt)>(set.len() + MAX_RETRANSMITS as usize);
        // Bit sets of upstreams asked, and of those that have answered or failed.
        let (mut tried, mut done) = (0u64, 0u64);
        let mut outstanding = 0usize;
        let mut retransmits = 0u32;
        let mut last_resort = None;
        // When to ask one more upstream; None once nothing more is worth sending.
        let mut next = Some(Instant::now());
        loop {
            if next.is_some_and(|t| t <= Instant::now()) || (outstanding == 0 && next.is_some()) {
                next = None;
                let fresh = self.pick(&set, tried);
                // Nothing new to ask: resend to an upstream asked and still silent.
                let resend = || {
                    self.pick(&set, !(tried & !done))
                        .filter(|_| retransmits < MAX_RETRANSMITS)
                };
                if let Some(i) = fresh.or_else(resend) {
                    let now = std::time::Instant::now();
                    if fresh.is_none() {
                        retransmits += 1;
                        self.metrics.retransmits.fetch_add(1, Relaxed);
                    } else if outstanding > 0 {
                        self.metrics.hedges.fetch_add(1, Relaxed);
                    }
                    tried |= 1 << i;
                    outstanding += 1;
                    self.spawn_attempt(i, set[i].clone(), key.clone(), rd, tx.clone());
                    // Hedge while others are left to ask; else the retransmission interval.
                    let others_left = self.pick(&set, tried).is_some();
                    let h = lock(&set[i].health);
                    let wait = if others_left {
                        h.hedge_delay(now, &self.cfg.health)
                    } else {
                        h.retransmit_interval(now, &self.cfg.health, retransmits)
                    };
                    next = Some(Instant::now() + wait);
                }
            }
            if outstanding == 0 {
                return last_resort.ok_or(ForwardError::AllFailed);
            }
            let got = match next {
                Some(t) => tokio::select! {
                    r = rx.recv() => r,
                    _ = sleep_until(t) => continue,
                },
                None => rx.recv().await,
            };
            let Some((i, got)) = got else {
                return last_resort.ok_or(ForwardError::AllFailed);
            };
            outstanding -= 1;
            done |= 1 << i;
            if let Ok(resp) = got {
                let rc = (resp[3] & 0xF) as u16;
                if rc != wire::rcode::SERVFAIL && rc != wire::rcode::REFUSED {
                    return Ok(resp);
                }
                last_resort = Some(resp);
            }
            // A failure or an error answer: ask the next one now rather than at the hedge
            // delay; with none left, wait for the others as planned.
            if next.is_some() && self.pick(&set, tried).is_some() {
                next = Some(Instant::now());
            }
        }
    }

    /// Runs one attempt to completion even if the query is answered by another upstream
    /// first, so a silent upstream still collects its timeouts and is marked down.
    fn spawn_attempt(
        self: &Arc<Self>,
        index: usize,
        up: Arc<Upstream>,
        key: Arc<[u8]>,
        rd: bool,
        tx: mpsc::Sender<(usize, Attempt)>,
    ) {
        lock(&up.health).inflight += 1;
        let pool = self.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let r = timeout(
                pool.cfg.attempt_timeout,
                up.exchange(&key, rd, pool.cfg.tcp),
            )
            .await
            .unwrap_or(Err(ExchangeError::Timeout));
            pool.record(&up, &r, start.elapsed());
            let _ = tx.try_send((index, r));
        });
    }

    fn record(&self, up: &Upstream, r: &Attempt, rtt: Duration) {
        let mut h = lock(&up.health);
        h.inflight = h.inflight.saturating_sub(1);
        match r {
            Ok(_) => {
                h.on_success(std::time::Instant::now(), rtt);
                up.stats.rtt.observe(rtt);
            }
            Err(e) => {
                up.stats.failures.fetch_add(1, Relaxed);
                let refused = matches!(e, ExchangeError::Refused);
                let down = h.on_failure(std::time::Instant::now(), refused, &self.cfg.health);
                drop(h);
                if down {
                    log::warn!("upstream {} marked down: {e}", up.addr);
                }
                // Wake the prober: this upstream now has a probe scheduled.
                self.down.notify_one();
            }
        }
    }

    /// Probes failing and down upstreams with `. IN NS` (as CoreDNS's forward plugin
    /// does), backing off while they stay silent. Sleeps while no upstream is failing.
    pub async fn run_prober(self: Arc<Self>) {
        const PROBE_KEY: [u8; 6] = [0, 0, 2, 0, 1, 0];
        loop {
            let now = std::time::Instant::now();
            let mut earliest: Option<std::time::Instant> = None;
            for up in self.snapshot().iter() {
                let mut h = lock(&up.health);
                let Some(pr) = h.probe.as_mut() else { continue };
                if pr.at > now {
                    earliest = Some(earliest.map_or(pr.at, |e| e.min(pr.at)));
                    continue;
                }
                // Not again before this probe has had its time.
                pr.at = now + self.cfg.attempt_timeout + pr.backoff;
                drop(h);
                let (pool, up) = (self.clone(), up.clone());
                tokio::spawn(async move {
                    let start = Instant::now();
                    let r = timeout(
                        pool.cfg.attempt_timeout,
                        up.exchange(&PROBE_KEY, false, pool.cfg.tcp),
                    )
                    .await
                    .unwrap_or(Err(ExchangeError::Timeout));
                    let mut h = lock(&up.health);
                    match r {
                        Ok(_) => {
                            if !h.is_up() {
                                log::info!("upstream {} is back up", up.addr);
                            }
                            h.on_probe_success(std::time::Instant::now(), start.elapsed());
                        }
                        Err(e) => {
                            let refused = matches!(e, ExchangeError::Refused);
                            if h.on_probe_failure(
                                std::time::Instant::now(),
                                refused,
                                &pool.cfg.health,
                            ) {
                                log::warn!("upstream {} marked down after a probe: {e}", up.addr);
                            }
                        }
                    }
                    drop(h);
                    pool.down.notify_one();
                });
            }
            match earliest {
                Some(t) => tokio::select! {
                    _ = sleep_until(t.into()) => {}
                    _ = self.down.notified() => {}
                },
                None => self.down.notified().await,
            }
        }
    }
}
