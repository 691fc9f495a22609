//! One upstream replica: its address, health, kept TCP connections and counters, and one
//! exchange with it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::Instant;

use super::health::Health;
use super::select::Tier;
use super::{tcp, udp, ExchangeError};
use crate::lock;
use crate::metrics::Histogram;
use crate::wire::{self, Ask};

/// Per-upstream counters for /metrics.
#[derive(Default)]
pub struct UpstreamStats {
    pub rtt: Histogram,
    /// Queries sent (over UDP, and again over TCP after a truncated answer).
    pub queries: AtomicU64,
    pub failures: AtomicU64,
    pub mismatches: AtomicU64,
    pub tcp_connections: AtomicU64,
    /// The last attempt that failed or was answered SERVFAIL or REFUSED, and when.
    pub last_trouble: Mutex<Option<(Instant, Trouble)>>,
}

/// What went wrong with one attempt, for /debug/upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    Failed(super::ExchangeError),
    /// Answered, with an RCODE that counts against it (SERVFAIL, REFUSED).
    Answered(u16),
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trouble::Failed(e) => write!(f, "{e}"),
            Trouble::Answered(rcode) => write!(f, "answered {}", crate::wire::rcode::name(*rcode)),
        }
    }
}

pub struct Upstream {
    pub addr: SocketAddr,
    /// Where it stands: a node cache, a replica, or the fallback (`select::Tier`).
    pub tier: Tier,
    pub(super) health: Mutex<Health>,
    tcp: tcp::TcpConns,
    pub stats: UpstreamStats,
}

impl Upstream {
    pub(super) fn new(addr: SocketAddr, tier: Tier) -> Upstream {
        Upstream {
            addr,
            tier,
            health: Mutex::new(Health::default()),
            tcp: tcp::TcpConns::default(),
            stats: UpstreamStats::default(),
        }
    }

    pub fn health(&self) -> Health {
        lock(&self.health).clone()
    }

    /// One exchange: UDP unless told TCP, and TCP again when the UDP answer is truncated.
    pub(super) async fn exchange(&self, ask: &Ask, tcp: bool) -> Result<Vec<u8>, ExchangeError> {
        let key = ask.key();
        let mut query = Vec::with_capacity(key.bytes().len() + wire::HEADER_LEN + wire::OPT_LEN);
        let id = rand::random::<u16>();
        wire::build_upstream_query(key, id, ask.rd, &mut query);
        self.stats.queries.fetch_add(1, Relaxed);
        if !tcp {
            let resp = udp::exchange(self.addr, &query, id, key, &self.stats.mismatches).await?;
            if resp[2] & (wire::FLAG_TC >> 8) as u8 == 0 {
                return Ok(resp);
            }
            self.stats.queries.fetch_add(1, Relaxed);
        }
        self.tcp
            .exchange(self.addr, &query, key, &self.stats.tcp_connections)
            .await
    }
}
