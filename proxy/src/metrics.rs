//! Counters kept with relaxed atomics (no lock on the query path) and their rendering in
//! the Prometheus text format. Names follow CoreDNS's where a CoreDNS metric exists.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use dns_sidecar_ops::histogram::{Histogram, RTT_BUCKETS};

mod coredns;
mod overload;

use crate::cache::CacheStats;
use crate::upstream::{PoolView, Upstream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Udp = 0,
    Tcp = 1,
}

/// Query types with their own label; the rest count as "other".
const QTYPES: [(u16, &str); 10] = [
    (1, "A"),
    (28, "AAAA"),
    (5, "CNAME"),
    (12, "PTR"),
    (33, "SRV"),
    (16, "TXT"),
    (15, "MX"),
    (2, "NS"),
    (6, "SOA"),
    (65, "HTTPS"),
];
const RCODES: [&str; 7] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other",
];

#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; QTYPES.len() + 1]; 2],
    responses: [AtomicU64; RCODES.len()],
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub stale_answers: AtomicU64,
    pub prefetches: AtomicU64,
    pub hedges: AtomicU64,
    pub retransmits: AtomicU64,
    pub coalesced: AtomicU64,
    pub inflight: AtomicU64,
    pub overloaded: AtomicU64,
    pub malformed: AtomicU64,
    pub truncated: AtomicU64,
    pub tcp_connections: AtomicU64,
    pub autopath_prefetches: AtomicU64,
    pub autopath_local_nxdomain: AtomicU64,
    pub autopath_cname: AtomicU64,
    /// Extra upstream attempts refused, by `overload::Denied`.
    pub extra_denied: [AtomicU64; 3],
    /// Questions answered at once because every replica was overloaded and out of credit.
    pub shed: AtomicU64,
    /// Timeouts that did not mark a replica down because it still answered.
    pub kept_up: AtomicU64,
    /// Queries refused because `--allow-from` leaves their source out.
    pub refused_clients: AtomicU64,
    /// Due probes not sent because client queries to the upstream were being answered.
    pub probes_skipped: AtomicU64,
    /// Time from a query's arrival to its answer: the latency SLI. What is answered without
    /// upstream (hits, stale, errors made here) counts as zero, with no clock read.
    pub answer_time: Histogram,
    /// `--metrics-compat coredns`: CoreDNS's series too.
    pub coredns: coredns::Compat,
}

impl Metrics {
    pub fn request(&self, proto: Proto, qtype: u16) {
        let i = QTYPES
            .iter()
            .position(|(t, _)| *t == qtype)
            .unwrap_or(QTYPES.len());
        self.requests[proto as usize][i].fetch_add(1, Relaxed);
    }

    pub fn response(&self, rcode: u16) {
        let i = (rcode as usize).min(RCODES.len() - 1);
        self.responses[i].fetch_add(1, Relaxed);
    }

    pub fn render(&self, cache: CacheStats, pool: &PoolView) -> String {
        let upstreams = &pool.upstreams[..];
        let mut o = String::with_capacity(8192);
        let p = "dns_sidecar";
        let _ = writeln!(o, "# HELP {p}_requests_total Queries received, by protocol and type.\n# TYPE {p}_requests_total counter");
        for (pi, proto) in ["udp", "tcp"].iter().enumerate() {
            for (ti, n) in self.requests[pi].iter().enumerate() {
                let t = QTYPES.get(ti).map_or("other", |q| q.1);
                let _ = writeln!(
                    o,
                    "{p}_requests_total{{proto=\"{proto}\",type=\"{t}\"}} {}",
                    n.load(Relaxed)
                );
            }
        }
        let _ = writeln!(o, "# HELP {p}_responses_total Answers sent, by rcode.\n# TYPE {p}_responses_total counter");
        for (i, n) in self.responses.iter().enumerate() {
            let _ = writeln!(
                o,
                "{p}_responses_total{{rcode=\"{}\"}} {}",
                RCODES[i],
                n.load(Relaxed)
            );
        }
        let counters: [(&str, &str, &AtomicU64); 16] = [
            (
                "refused_clients_total",
                "Queries refused because --allow-from leaves their source out.",
                &self.refused_clients,
            ),
            (
                "cache_hits_total",
                "Answers served from cache.",
                &self.cache_hits,
            ),
            (
                "cache_misses_total",
                "Queries the cache could not answer.",
                &self.cache_misses,
            ),
            (
                "stale_answers_total",
                "Expired answers served because upstreams failed (RFC 8767).",
                &self.stale_answers,
            ),
            (
                "prefetches_total",
                "Background refreshes of entries near expiry.",
                &self.prefetches,
            ),
            (
                "autopath_prefetches_total",
                "Names of a search-list walk asked ahead of the client (--autopath).",
                &self.autopath_prefetches,
            ),
            (
                "autopath_local_nxdomain_total",
                "Names the Kubernetes DNS schema rules out, answered NXDOMAIN here (--autopath nxdomain).",
                &self.autopath_local_nxdomain,
            ),
            (
                "autopath_cname_answers_total",
                "Walks answered in one round trip with a CNAME to the name that exists (--autopath cname).",
                &self.autopath_cname,
            ),
            (
                "hedged_queries_total",
                "Extra upstream queries sent because the first was slow or failed.",
                &self.hedges,
            ),
            (
                "upstream_retransmits_total",
                "Upstream queries sent again because every upstream asked stayed silent.",
                &self.retransmits,
            ),
            (
                "coalesced_queries_total",
                "Queries that joined an identical query already in flight.",
                &self.coalesced,
            ),
            (
                "overloaded_total",
                "Queries refused because too many were in flight.",
                &self.overloaded,
            ),
            (
                "malformed_total",
                "Client messages that did not parse.",
                &self.malformed,
            ),
            (
                "truncated_total",
                "UDP answers sent truncated (TC) for the client to retry over TCP.",
                &self.truncated,
            ),
            (
                "tcp_connections_total",
                "Client TCP connections accepted.",
                &self.tcp_connections,
            ),
            (
                "cache_evictions_total",
                "Entries evicted by the entry or byte bound.",
                &AtomicU64::new(cache.evictions),
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                o,
                "# HELP {p}_{name} {help}\n# TYPE {p}_{name} counter\n{p}_{name} {}",
                v.load(Relaxed)
            );
        }
        let gauges = [
            (
                "cache_entries",
                "Entries in the cache.",
                cache.entries as u64,
            ),
            (
                "cache_bytes",
                "Bytes held by cache entries (estimate).",
                cache.bytes as u64,
            ),
            (
                "inflight_queries",
                "Upstream resolutions in flight.",
                self.inflight.load(Relaxed),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(
                o,
                "# HELP {p}_{name} {help}\n# TYPE {p}_{name} gauge\n{p}_{name} {v}"
            );
        }
        type PerUpstream = (
            &'static str,
            &'static str,
            &'static str,
            fn(&Upstream) -> u64,
        );
        let per_upstream: [PerUpstream; 5] = [
            (
                "upstream_up",
                "gauge",
                "Whether an upstream is considered healthy.",
                |u| u.health().is_up() as u64,
            ),
            (
                "upstream_queries_total",
                "counter",
                "Queries sent to the upstream: misses, hedges, resends, prefetches, discovery, probes.",
                |u| u.stats.queries.load(Relaxed),
            ),
            (
                "upstream_failures_total",
                "counter",
                "Upstream attempts that timed out or failed.",
                |u| u.stats.failures.load(Relaxed),
            ),
            (
                "upstream_mismatched_total",
                "counter",
                "Upstream replies ignored for a wrong ID or question.",
                |u| u.stats.mismatches.load(Relaxed),
            ),
            (
                "upstream_tcp_connections_total",
                "counter",
                "TCP connections opened to the upstream.",
                |u| u.stats.tcp_connections.load(Relaxed),
            ),
        ];
        for (name, kind, help, value) in per_upstream {
            let _ = writeln!(o, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} {kind}");
            for u in upstreams {
                let _ = writeln!(
                    o,
                    "{p}_{name}{{upstream=\"{}\",tier=\"{}\"}} {}",
                    u.addr,
                    u.tier.label(),
                    value(u)
                );
            }
        }
        let _ = writeln!(o, "# HELP {p}_upstream_rtt_seconds Round-trip time of answered upstream queries.\n# TYPE {p}_upstream_rtt_seconds histogram");
        for u in upstreams {
            u.stats.rtt.render(
                &mut o,
                &format!("{p}_upstream_rtt_seconds"),
                &format!("upstream=\"{}\",tier=\"{}\"", u.addr, u.tier.label()),
            );
        }
        let _ = writeln!(o, "# HELP {p}_response_duration_seconds Time from a query's arrival to its answer (cache hits count as 0).\n# TYPE {p}_response_duration_seconds histogram");
        self.answer_time
            .render(&mut o, &format!("{p}_response_duration_seconds"), "");
        self.render_overload(&mut o, pool);
        if self.coredns.on {
            self.render_coredns(&mut o, cache);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_rcodes_are_labelled() {
        let m = Metrics::default();
        m.request(Proto::Udp, 28);
        m.request(Proto::Tcp, 999);
        m.response(3);
        m.response(200);
        let s = m.render(CacheStats::default(), &PoolView::default());
        assert!(s.contains("dns_sidecar_requests_total{proto=\"udp\",type=\"AAAA\"} 1\n"));
        assert!(s.contains("dns_sidecar_requests_total{proto=\"tcp\",type=\"other\"} 1\n"));
        assert!(s.contains("dns_sidecar_responses_total{rcode=\"NXDOMAIN\"} 1\n"));
        assert!(s.contains("dns_sidecar_responses_total{rcode=\"other\"} 1\n"));
    }
}
