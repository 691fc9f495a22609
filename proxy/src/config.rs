//! Command line and environment, parsed once into typed settings. Every flag `--x-y` also
//! reads `DNS_SIDECAR_X_Y`; a bad value stops start-up with clap's message naming the flag.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

pub use dns_sidecar_ops::values::{
    parse_bytes, parse_duration, parse_level, parse_percent, parse_rate,
};

use crate::cache::CachePolicy;
use crate::engine::EngineConfig;
use crate::upstream::health::HealthPolicy;
use crate::upstream::PoolConfig;

mod args;

pub use args::Args;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hedge {
    Auto,
    Fixed(Duration),
}

/// Where the upstream set comes from after start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discover {
    pub name: String,
    pub name_wire: Vec<u8>,
    pub port: u16,
    /// Lookups are at least this far apart (failures trigger one early, not a storm)...
    pub min_interval: Duration,
    /// ... and at most this far.
    pub max_interval: Duration,
}

/// Everything the proxy runs with, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    pub upstreams: Vec<SocketAddr>,
    /// Where the pod's search list is read from (and re-read when it changes).
    pub resolv_conf: PathBuf,
    /// `--metrics-compat coredns`.
    pub coredns_metrics: bool,
    pub discover: Option<Discover>,
    pub cache: CachePolicy,
    pub pool: PoolConfig,
    pub engine: EngineConfig,
    pub max_tcp_connections: usize,
    pub tcp_idle_timeout: Duration,
    pub admin: SocketAddr,
    pub threads: usize,
    pub drain: Duration,
    pub log_level: log::LevelFilter,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} {1} is one of this proxy's own --listen addresses (a forwarding loop)")]
    Loop(&'static str, SocketAddr),
    #[error("no upstream: give --upstream, or a --resolv-conf with a nameserver that is not this proxy ({0})")]
    NoUpstream(String),
    #[error("--discover {0}")]
    Discover(String),
    #[error("--min-ttl ({0}s) is larger than --max-ttl ({1}s)")]
    TtlOrder(u64, u64),
    #[error("--query-timeout must be at least 10ms")]
    QueryTimeout,
}

/// How long `--upstream-mode logical` keeps a negative answer that came without an SOA.
const SOA_LESS_NEGATIVE_TTL: u32 = 5;

fn is_own(addr: &SocketAddr, listen: &[SocketAddr]) -> bool {
    listen.iter().any(|l| {
        l.port() == addr.port()
            && (l.ip() == addr.ip() || (l.ip().is_unspecified() && addr.ip().is_loopback()))
    })
}

impl Config {
    /// Validates arguments. `resolv_conf` is the text of --resolv-conf when it was needed
    /// and readable (the caller does the I/O).
    pub fn from_args(a: Args, resolv_conf: Option<&str>) -> Result<Config, ConfigError> {
        let upstreams = if a.upstream.is_empty() {
            let text = resolv_conf.unwrap_or("");
            let all = crate::resolv_conf::nameservers(text);
            let kept: Vec<_> = all
                .iter()
                .copied()
                .filter(|u| !is_own(u, &a.listen))
                .collect();
            if kept.is_empty() && a.fallback.is_empty() && a.node_cache.is_empty() {
                return Err(ConfigError::NoUpstream(a.resolv_conf.display().to_string()));
            }
            kept
        } else {
            if let Some(u) = a.upstream.iter().find(|u| is_own(u, &a.listen)) {
                return Err(ConfigError::Loop("--upstream", *u));
            }
            a.upstream.clone()
        };
        if let Some(u) = a.fallback.iter().find(|u| is_own(u, &a.listen)) {
            return Err(ConfigError::Loop("--fallback", *u));
        }
        if let Some(u) = a.node_cache.iter().find(|u| is_own(u, &a.listen)) {
            return Err(ConfigError::Loop("--node-cache", *u));
        }
        let discover = match &a.discover {
            None => None,
            Some(s) => {
                let (name, port) = match s.rsplit_once(':') {
                    Some((n, p)) => (
                        n,
                        p.parse::<u16>()
                            .map_err(|_| ConfigError::Discover(format!("{s}: bad port")))?,
                    ),
                    None => (s.as_str(), 53),
                };
                let name_wire = crate::wire::encode_name(name).map_err(ConfigError::Discover)?;
                let max_interval = a.discover_interval.max(Duration::from_secs(1));
                Some(Discover {
                    name: name.to_string(),
                    name_wire,
                    port,
                    min_interval: max_interval.min(Duration::from_secs(2)),
                    max_interval,
                })
            }
        };
        let secs = |d: Duration| d.as_secs().min(u32::MAX as u64) as u32;
        if a.min_ttl > a.max_ttl {
            return Err(ConfigError::TtlOrder(
                a.min_ttl.as_secs(),
                a.max_ttl.as_secs(),
            ));
        }
        if a.query_timeout < Duration::from_millis(10) {
            return Err(ConfigError::QueryTimeout);
        }
        let logical = a.upstream_mode == "logical";
        let cache = CachePolicy {
            capacity: NonZeroUsize::new(a.cache_size as usize).unwrap_or(NonZeroUsize::MIN),
            max_bytes: a.cache_bytes,
            // TTL-strict: a record is never served past the TTL it came with.
            min_ttl: if a.ttl_strict { 0 } else { secs(a.min_ttl) },
            max_ttl: secs(a.max_ttl),
            negative_ttl: secs(a.negative_ttl),
            soa_less_negative_ttl: if logical { SOA_LESS_NEGATIVE_TTL } else { 0 },
            servfail_ttl: secs(a.servfail_ttl),
            stale_window: (!a.stale_max.is_zero() && !a.ttl_strict).then_some(a.stale_max),
            prefetch: a.prefetch,
        };
        let health = HealthPolicy {
            max_fails: a.max_fails,
            probe_base: a.health_check.max(Duration::from_millis(10)),
            hedge_fixed: match a.hedge_delay {
                Hedge::Auto => None,
                Hedge::Fixed(d) => Some(d),
            },
            ..HealthPolicy::default()
        };
        Ok(Config {
            // Logical: the records describe replicas this proxy cannot reach by address.
            discover: if logical { None } else { discover },
            listen: a.listen,
            upstreams,
            resolv_conf: a.resolv_conf.clone(),
            coredns_metrics: a.metrics_compat == "coredns",
            cache,
            pool: PoolConfig {
                node_cache: a.node_cache,
                fallback: a.fallback,
                health,
                budget: crate::upstream::budget::BudgetPolicy {
                    ratio: a.retry_budget,
                    min_per_second: a.retry_min_per_second,
                },
                attempt_timeout: a.upstream_timeout.min(a.query_timeout),
                attempt_ceiling: a.query_timeout,
                tcp: a.upstream_tcp,
                refused_final: a.ttl_strict,
                logical,
                replicas_from: if a.upstream.is_empty() {
                    crate::upstream::Source::ResolvConf
                } else {
                    crate::upstream::Source::Flag
                },
            },
            engine: EngineConfig {
                allow_from: a.allow_from,
                query_timeout: a.query_timeout,
                max_inflight: a.max_inflight as usize,
                log_queries: a.log_queries,
                autopath: a.autopath,
                debug_names: a.debug_names,
            },
            max_tcp_connections: a.max_tcp_connections as usize,
            tcp_idle_timeout: a.tcp_idle_timeout,
            admin: a.admin,
            threads: a.threads as usize,
            drain: a.drain,
            log_level: a.log_level,
        })
    }
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT`; port 53 by default.
pub fn parse_upstream(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is not IP or IP:PORT"))
}

fn parse_hedge(s: &str) -> Result<Hedge, String> {
    if s == "auto" {
        return Ok(Hedge::Auto);
    }
    let d = parse_duration(s)?;
    if d.is_zero() || d > Duration::from_secs(5) {
        return Err(format!(
            "{s:?}: a hedge delay is \"auto\" or between 1ms and 5s"
        ));
    }
    Ok(Hedge::Fixed(d))
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{s:?} is not true or false")),
    }
}

#[cfg(test)]
mod tests;
