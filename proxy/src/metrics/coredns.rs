//! `--metrics-compat coredns`: the series CoreDNS's prometheus and cache plugins export,
//! with their names, labels and request-duration buckets, so dashboards and alerts made for
//! CoreDNS (and NodeLocal DNSCache) work on the sidecars under a scrape job of their own.
//! The sidecar is one server block for the root zone: `server="dns://:53"`, `zone="."`,
//! `view=""`. It does not split its cache by success and denial: every entry and hit is
//! counted as `type="success"`; the request-duration histogram is not split by query type
//! (`type="all"`).

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use dns_sidecar_ops::histogram::{Histogram, COREDNS_BUCKETS};

use super::{Metrics, QTYPES, RCODES};
use crate::cache::CacheStats;

pub struct Compat {
    pub on: bool,
    /// Time from a query's arrival to its answer, with CoreDNS's buckets.
    pub duration: Histogram<16>,
}

impl Default for Compat {
    fn default() -> Self {
        Compat {
            on: false,
            duration: Histogram::with_bounds(&COREDNS_BUCKETS),
        }
    }
}

const SERVER: &str = "server=\"dns://:53\"";

impl Metrics {
    pub(super) fn render_coredns(&self, o: &mut String, cache: CacheStats) {
        let _ = writeln!(o, "# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.\n# TYPE coredns_dns_requests_total counter");
        for (pi, proto) in ["udp", "tcp"].iter().enumerate() {
            for (ti, n) in self.requests[pi].iter().enumerate() {
                let t = QTYPES.get(ti).map_or("other", |q| q.1);
                let _ = writeln!(
                    o,
                    "coredns_dns_requests_total{{{SERVER},zone=\".\",view=\"\",proto=\"{proto}\",family=\"1\",type=\"{t}\"}} {}",
                    n.load(Relaxed)
                );
            }
        }
        let _ = writeln!(o, "# HELP coredns_dns_responses_total Counter of response status codes.\n# TYPE coredns_dns_responses_total counter");
        for (i, name) in RCODES.iter().enumerate() {
            let _ = writeln!(
                o,
                "coredns_dns_responses_total{{{SERVER},zone=\".\",view=\"\",rcode=\"{name}\",plugin=\"\"}} {}",
                self.responses[i].load(Relaxed)
            );
        }
        let _ = writeln!(o, "# HELP coredns_dns_request_duration_seconds Histogram of the time (in seconds) each request took per zone.\n# TYPE coredns_dns_request_duration_seconds histogram");
        self.coredns.duration.render(
            o,
            "coredns_dns_request_duration_seconds",
            &format!("{SERVER},zone=\".\",view=\"\",type=\"all\""),
        );
        let hits = self.cache_hits.load(Relaxed);
        let misses = self.cache_misses.load(Relaxed);
        let series = [
            (
                "cache_entries",
                "gauge",
                "The number of elements in the cache.",
                ",type=\"success\"",
                cache.entries as u64,
            ),
            (
                "cache_hits_total",
                "counter",
                "The count of cache hits.",
                ",type=\"success\"",
                hits,
            ),
            (
                "cache_misses_total",
                "counter",
                "The count of cache misses.",
                "",
                misses,
            ),
            (
                "cache_requests_total",
                "counter",
                "The count of cache requests.",
                "",
                hits + misses,
            ),
        ];
        for (name, kind, help, extra, v) in series {
            let _ = writeln!(
                o,
                "# HELP coredns_{name} {help}\n# TYPE coredns_{name} {kind}\ncoredns_{name}{{{SERVER}{extra},zones=\".\",view=\"\"}} {v}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Proto;
    use std::time::Duration;

    #[test]
    fn coredns_names_labels_and_buckets() {
        let mut m = Metrics::default();
        m.coredns.on = true;
        m.request(Proto::Udp, 1);
        m.response(3);
        m.cache_hits.fetch_add(2, Relaxed);
        m.cache_misses.fetch_add(1, Relaxed);
        m.coredns.duration.observe(Duration::from_micros(300));
        let s = m.render(CacheStats::default(), &crate::upstream::PoolView::default());
        for want in [
            "coredns_dns_requests_total{server=\"dns://:53\",zone=\".\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"} 1\n",
            "coredns_dns_responses_total{server=\"dns://:53\",zone=\".\",view=\"\",rcode=\"NXDOMAIN\",plugin=\"\"} 1\n",
            "coredns_dns_request_duration_seconds_bucket{server=\"dns://:53\",zone=\".\",view=\"\",type=\"all\",le=\"0.00025\"} 0\n",
            "coredns_dns_request_duration_seconds_bucket{server=\"dns://:53\",zone=\".\",view=\"\",type=\"all\",le=\"0.0005\"} 1\n",
            "le=\"8.192\"} 1\n",
            "coredns_cache_hits_total{server=\"dns://:53\",type=\"success\",zones=\".\",view=\"\"} 2\n",
            "coredns_cache_misses_total{server=\"dns://:53\",zones=\".\",view=\"\"} 1\n",
            "coredns_cache_requests_total{server=\"dns://:53\",zones=\".\",view=\"\"} 3\n",
        ] {
            assert!(s.contains(want), "missing {want}");
        }
        m.coredns.on = false;
        assert!(
            !m.render(CacheStats::default(), &crate::upstream::PoolView::default())
                .contains("coredns_"),
            "off by default"
        );
    }
}
