//! The upstreams: the current set of CoreDNS replicas and everything done with them. The
//! decisions are pure and tested without sockets: `health` (one replica's RTT, failures and
//! down state), `overload` (losses, overload told apart from a dead replica, pacing),
//! `budget` (the retry budget), `select` (which replica next), `attempts` (when to hedge,
//! move on, resend). The I/O around them: `choose` (the pool's rules as the plan asks),
//! `replica` (one exchange over UDP or TCP), `pool` (the set and the forwarding loop),
//! `prober` (bringing a down replica back), `trace` (what one resolution did, for
//! /debug/recent).

pub mod attempts;
pub mod budget;
mod choose;
pub mod health;
pub mod overload;
mod pool;
mod prober;
mod replica;
pub mod select;
mod tcp;
pub mod trace;
mod udp;

pub use pool::{Pool, PoolConfig, PoolView, Source};
pub use replica::{Trouble, Upstream, UpstreamStats};
pub use select::Tier;

/// Upstreams beyond this are ignored (the tried-set is a 64-bit mask).
pub const MAX_UPSTREAMS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
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
    #[error("every replica is overloaded and out of sending credit")]
    Shed,
}
