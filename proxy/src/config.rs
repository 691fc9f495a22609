//! Command line and environment, parsed once into typed settings. Every flag `--x-y` also
//! reads `DNS_SIDECAR_X_Y`; a bad value stops start-up with clap's message naming the flag.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

pub use dns_sidecar_ops::values::{parse_bytes, parse_duration, parse_level};

use crate::cache::CachePolicy;
use crate::engine::EngineConfig;
use crate::upstream::health::HealthPolicy;
use crate::upstream::PoolConfig;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "dns-sidecar-proxy",
    version,
    about = "Per-pod caching DNS proxy: answers on 127.0.0.1:53 and fans out to the CoreDNS \
             replicas, so a dead replica costs milliseconds, never seconds."
)]
pub struct Args {
    /// Address to answer DNS on, UDP and TCP (repeatable).
    #[arg(
        long,
        env = "DNS_SIDECAR_LISTEN",
        value_delimiter = ',',
        default_value = "127.0.0.1:53"
    )]
    pub listen: Vec<SocketAddr>,

    /// Upstream DNS server IP[:PORT] (repeatable; default port 53): the per-replica CoreDNS
    /// Service IPs. Without any, the nameservers of --resolv-conf are used.
    #[arg(long, env = "DNS_SIDECAR_UPSTREAM", value_delimiter = ',', value_parser = parse_upstream)]
    pub upstream: Vec<SocketAddr>,

    /// resolv.conf to take upstreams from when no --upstream is given.
    #[arg(
        long,
        env = "DNS_SIDECAR_RESOLV_CONF",
        default_value = "/etc/resolv.conf"
    )]
    pub resolv_conf: PathBuf,

    /// Nameserver IP[:PORT] asked only while every upstream is down (repeatable): the
    /// cluster DNS Service IP, so a sidecar whose replicas all moved away finds them again.
    #[arg(long, env = "DNS_SIDECAR_FALLBACK", value_delimiter = ',', value_parser = parse_upstream)]
    pub fallback: Vec<SocketAddr>,

    /// Headless Service NAME[:PORT] whose A/AAAA records become the upstream set,
    /// re-resolved at the answer's TTL (between 2s and --discover-interval) and at once
    /// when a replica fails. The set never empties: without an answer it stays as it is.
    #[arg(long, env = "DNS_SIDECAR_DISCOVER")]
    pub discover: Option<String>,

    /// The longest --discover waits between lookups, whatever the TTL.
    #[arg(long, env = "DNS_SIDECAR_DISCOVER_INTERVAL", value_parser = parse_duration, default_value = "30s")]
    pub discover_interval: Duration,

    /// Send every upstream query over reused TCP connections (keeps UDP out of conntrack).
    #[arg(long, env = "DNS_SIDECAR_UPSTREAM_TCP")]
    pub upstream_tcp: bool,

    /// Time one upstream attempt may take before it counts as a failure.
    #[arg(long, env = "DNS_SIDECAR_UPSTREAM_TIMEOUT", value_parser = parse_duration, default_value = "1s")]
    pub upstream_timeout: Duration,

    /// Total time a client query may wait on upstreams before it gets a stale answer or
    /// SERVFAIL (keep it well under glibc's 5 s).
    #[arg(long, env = "DNS_SIDECAR_QUERY_TIMEOUT", value_parser = parse_duration, default_value = "1500ms")]
    pub query_timeout: Duration,

    /// How long to wait on one upstream before asking the next as well: "auto" (smoothed
    /// RTT + 4 deviations, within 10ms..250ms) or a fixed duration.
    #[arg(long, env = "DNS_SIDECAR_HEDGE_DELAY", value_parser = parse_hedge, default_value = "auto")]
    pub hedge_delay: Hedge,

    /// Consecutive failures that mark an upstream down until a probe succeeds.
    #[arg(long, env = "DNS_SIDECAR_MAX_FAILS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_fails: u32,

    /// First probe delay for a down upstream; doubles per failed probe up to 5s.
    #[arg(long, env = "DNS_SIDECAR_HEALTH_CHECK", value_parser = parse_duration, default_value = "250ms")]
    pub health_check: Duration,

    /// Most cache entries.
    #[arg(long, env = "DNS_SIDECAR_CACHE_SIZE", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub cache_size: u64,

    /// Most bytes the cache may hold (k, M suffixes).
    #[arg(long, env = "DNS_SIDECAR_CACHE_BYTES", value_parser = parse_bytes, default_value = "8M")]
    pub cache_bytes: usize,

    /// Smallest TTL a positive answer is cached for.
    #[arg(long, env = "DNS_SIDECAR_MIN_TTL", value_parser = parse_duration, default_value = dns_sidecar_ops::defaults::MIN_TTL)]
    pub min_ttl: Duration,

    /// Largest TTL a positive answer is cached for.
    #[arg(long, env = "DNS_SIDECAR_MAX_TTL", value_parser = parse_duration, default_value = dns_sidecar_ops::defaults::MAX_TTL)]
    pub max_ttl: Duration,

    /// Cap on the TTL of NXDOMAIN/NODATA answers (RFC 2308 SOA rule below it).
    #[arg(long, env = "DNS_SIDECAR_NEGATIVE_TTL", value_parser = parse_duration, default_value = "60s")]
    pub negative_ttl: Duration,

    /// How long a SERVFAIL is cached (0 turns it off).
    #[arg(long, env = "DNS_SIDECAR_SERVFAIL_TTL", value_parser = parse_duration, default_value = "2s")]
    pub servfail_ttl: Duration,

    /// How long past expiry an answer may be served when every upstream fails (RFC 8767);
    /// 0 turns serve-stale off.
    #[arg(long, env = "DNS_SIDECAR_STALE_MAX", value_parser = parse_duration, default_value = "1h")]
    pub stale_max: Duration,

    /// Refresh an entry in the background when hit in the last tenth of its TTL.
    #[arg(long, env = "DNS_SIDECAR_PREFETCH", default_value_t = true, action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub prefetch: bool,

    /// Distinct questions resolving upstream at once (more get SERVFAIL).
    #[arg(long, env = "DNS_SIDECAR_MAX_INFLIGHT", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_inflight: u64,

    /// Client TCP connections at once.
    #[arg(long, env = "DNS_SIDECAR_MAX_TCP_CONNECTIONS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub max_tcp_connections: u64,

    /// Close a client TCP connection idle this long (RFC 7766).
    #[arg(long, env = "DNS_SIDECAR_TCP_IDLE_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub tcp_idle_timeout: Duration,

    /// Loopback address of the HTTP admin server (/metrics, /healthz, /readyz).
    #[arg(long, env = "DNS_SIDECAR_ADMIN", default_value = "127.0.0.1:9953")]
    pub admin: SocketAddr,

    /// Worker threads; 1 runs everything on one thread (a sidecar has little CPU).
    #[arg(long, env = "DNS_SIDECAR_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub threads: u64,

    /// After SIGTERM, keep answering this long (while /readyz fails), then exit 0.
    #[arg(long, env = "DNS_SIDECAR_DRAIN", value_parser = parse_duration, default_value = "5s")]
    pub drain: Duration,

    /// Log every query (name, type, rcode, hit or miss, time).
    #[arg(long, env = "DNS_SIDECAR_LOG_QUERIES")]
    pub log_queries: bool,

    /// Also export CoreDNS's series ("coredns": coredns_dns_requests_total,
    /// coredns_dns_responses_total, coredns_dns_request_duration_seconds, coredns_cache_*),
    /// so CoreDNS dashboards work under a scrape job of their own; "none" by default.
    #[arg(long, env = "DNS_SIDECAR_METRICS_COMPAT", default_value = "none", value_parser = ["none", "coredns"])]
    pub metrics_compat: String,

    /// Shorten the pod's search-list walk (ndots:5), read from --resolv-conf: "off",
    /// "prefetch" (ask the rest of the walk when its first name misses), "nxdomain" (also
    /// answer names the Kubernetes DNS schema rules out), "cname" (also answer the walk's
    /// first query with a CNAME to the name that exists).
    #[arg(long, env = "DNS_SIDECAR_AUTOPATH", value_parser = crate::autopath::Level::parse, default_value = "prefetch")]
    pub autopath: crate::autopath::Level,

    /// Log level: error, warn, info or debug.
    #[arg(long, env = "DNS_SIDECAR_LOG_LEVEL", default_value = "info", value_parser = parse_level)]
    pub log_level: log::LevelFilter,
}

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
    pub fallback: Vec<SocketAddr>,
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
            if kept.is_empty() && a.fallback.is_empty() {
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
        let cache = CachePolicy {
            capacity: NonZeroUsize::new(a.cache_size as usize).unwrap_or(NonZeroUsize::MIN),
            max_bytes: a.cache_bytes,
            min_ttl: secs(a.min_ttl),
            max_ttl: secs(a.max_ttl),
            negative_ttl: secs(a.negative_ttl),
            servfail_ttl: secs(a.servfail_ttl),
            stale_window: (!a.stale_max.is_zero()).then_some(a.stale_max),
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
            listen: a.listen,
            upstreams,
            fallback: a.fallback,
            resolv_conf: a.resolv_conf.clone(),
            coredns_metrics: a.metrics_compat == "coredns",
            discover,
            cache,
            pool: PoolConfig {
                health,
                attempt_timeout: a.upstream_timeout.min(a.query_timeout),
                tcp: a.upstream_tcp,
            },
            engine: EngineConfig {
                query_timeout: a.query_timeout,
                max_inflight: a.max_inflight as usize,
                log_queries: a.log_queries,
                autopath: a.autopath,
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
