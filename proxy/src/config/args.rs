//! The proxy's flags, each also read from `DNS_SIDECAR_<FLAG>`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::{
    parse_bool, parse_bytes, parse_duration, parse_hedge, parse_level, parse_percent, parse_rate,
    parse_upstream, Hedge,
};

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

    /// A cache shared by the node, IP[:PORT] (repeatable): asked first for every miss and
    /// every --discover lookup, with the replicas as the next tier (hedged to when it is
    /// slow, moved on to at once when it fails or answers SERVFAIL), probed like a replica.
    /// Our node tier (the node's IP), NodeLocal DNSCache (169.254.20.10), AKS LocalDNS
    /// (169.254.10.11), or the cluster DNS VIP where a node cache serves it on the node.
    #[arg(long, env = "DNS_SIDECAR_NODE_CACHE", value_delimiter = ',', value_parser = parse_upstream)]
    pub node_cache: Vec<SocketAddr>,

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
    /// RTT + 4 deviations, within 10ms..250ms; a node cache at least 50ms) or a fixed
    /// duration.
    #[arg(long, env = "DNS_SIDECAR_HEDGE_DELAY", value_parser = parse_hedge, default_value = "auto")]
    pub hedge_delay: Hedge,

    /// Extra upstream attempts (hedges, moves on after a failure, resends) allowed per
    /// first attempt over the last 10 s, as a percentage; past it a question gets its
    /// first attempt only.
    #[arg(long, env = "DNS_SIDECAR_RETRY_BUDGET", value_parser = parse_percent, default_value = dns_sidecar_ops::defaults::RETRY_BUDGET)]
    pub retry_budget: f64,

    /// Extra attempts allowed per second whatever the traffic (over the same 10 s), so a
    /// quiet pod can still hedge around a dead replica.
    #[arg(long, env = "DNS_SIDECAR_RETRY_MIN_PER_SECOND", value_parser = parse_rate, default_value = dns_sidecar_ops::defaults::RETRY_MIN_PER_SECOND)]
    pub retry_min_per_second: f64,

    /// "replicas": the upstreams are the CoreDNS replicas, each with its own health.
    /// "logical": every upstream address reaches one resolver (Istio ambient's ztunnel
    /// captures port 53 and re-resolves through the cluster DNS): only resends, no hedge or
    /// move to "another" address, --discover not run, and negative answers without an SOA
    /// (which ztunnel drops) kept for 5 s.
    #[arg(long, env = "DNS_SIDECAR_UPSTREAM_MODE", default_value = "replicas", value_parser = ["replicas", "logical"])]
    pub upstream_mode: String,

    /// Never serve a record longer than the upstream's TTL left: no --min-ttl clamp, no
    /// stale answers; and REFUSED is passed through as the answer without counting against
    /// the replica. For pods under Cilium FQDN policy, which drops connections to an
    /// address whose TTL it saw expire.
    #[arg(long, env = "DNS_SIDECAR_TTL_STRICT")]
    pub ttl_strict: bool,

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

    /// Refresh an entry in the background when hit in the last 5-15% of its TTL (a point
    /// spread per entry, so pods that fetched a name together do not refresh it together).
    #[arg(long, env = "DNS_SIDECAR_PREFETCH", default_value_t = true, action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub prefetch: bool,

    /// Keep query names for the admin port's /debug/top, /debug/cache and /debug/recent
    /// (off: /debug/top and /debug/cache answer 403 and /debug/recent shows types only).
    /// Whoever reaches the admin port reads them: the pod IP, and `pods/proxy` through the
    /// API server.
    #[arg(long, env = "DNS_SIDECAR_DEBUG_NAMES", default_value_t = false, action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub debug_names: bool,

    /// Distinct questions resolving upstream at once (more get SERVFAIL).
    #[arg(long, env = "DNS_SIDECAR_MAX_INFLIGHT", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_inflight: u64,

    /// Client TCP connections at once.
    #[arg(long, env = "DNS_SIDECAR_MAX_TCP_CONNECTIONS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub max_tcp_connections: u64,

    /// Close a client TCP connection idle this long (RFC 7766).
    #[arg(long, env = "DNS_SIDECAR_TCP_IDLE_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub tcp_idle_timeout: Duration,

    /// Client address ranges that may ask (comma-separated CIDRs); others get REFUSED and
    /// TCP connections from them are closed. Empty (the default): everyone. For the node
    /// tier, which listens on the node's address: the cluster's pod and node ranges.
    #[arg(long, env = "DNS_SIDECAR_ALLOW_FROM", value_delimiter = ',', value_parser = clap::value_parser!(crate::acl::Cidr))]
    pub allow_from: Vec<crate::acl::Cidr>,

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
