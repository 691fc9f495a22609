//! Counters read where they are kept: CoreDNS's own `coredns_dns_requests_total` from each
//! replica's prometheus plugin (pod IP, port 9153), and a sidecar's from its admin port on
//! the pod IP. The node reaches pod IPs directly.

use std::net::SocketAddr;

use super::Kube;
use crate::http_get;

/// The sum of every series of `name` in a Prometheus text.
pub fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (head, value) = l.rsplit_once(' ')?;
            let n = head.split_once('{').map_or(head, |(n, _)| n);
            (n == name)
                .then(|| value.trim().parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// A histogram's cumulative buckets (upper bound, count), every series of `name` summed
/// per bound, in order of bound (`+Inf` last).
pub fn buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let series = format!("{name}_bucket{{");
    let mut by_le: Vec<(f64, f64)> = Vec::new();
    for l in text.lines().filter(|l| l.starts_with(&series)) {
        let Some((head, value)) = l.rsplit_once(' ') else {
            continue;
        };
        let le = head
            .split_once("le=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .and_then(|(le, _)| le.parse::<f64>().ok());
        let (Some(le), Ok(v)) = (le, value.trim().parse::<f64>()) else {
            continue;
        };
        match by_le.iter_mut().find(|(b, _)| *b == le) {
            Some(b) => b.1 += v,
            None => by_le.push((le, v)),
        }
    }
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    by_le
}

/// What a histogram counted between two reads (`after` minus `before`, per bound).
pub fn bucket_delta(before: &[(f64, f64)], after: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after
        .iter()
        .map(|&(le, n)| {
            let was = before.iter().find(|b| b.0 == le).map_or(0.0, |b| b.1);
            (le, n - was)
        })
        .collect()
}

/// The `q` quantile of cumulative buckets, interpolated within its bucket as Prometheus's
/// `histogram_quantile` does; the highest finite bound when it falls in `+Inf`; None with
/// nothing counted.
pub fn quantile(b: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = b.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lo, mut below) = (0.0, 0.0);
    for &(le, n) in b {
        if n >= rank {
            if le.is_infinite() {
                return Some(lo);
            }
            let share = if n > below {
                (rank - below) / (n - below)
            } else {
                1.0
            };
            return Some(lo + (le - lo) * share);
        }
        (lo, below) = (le, n);
    }
    Some(lo)
}

pub fn scrape(ip: &str, port: u16) -> String {
    let addr: SocketAddr = format!("{ip}:{port}").parse().expect("pod address");
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "GET http://{addr}/metrics");
    body
}

/// Requests every CoreDNS replica has counted, summed (its own count, not ours).
pub fn coredns_requests(k: &Kube) -> f64 {
    k.coredns_ips()
        .iter()
        .map(|ip| sum(&scrape(ip, 9153), "coredns_dns_requests_total"))
        .sum()
}

/// The sidecar's admin port, as the webhook injects it.
pub const SIDECAR_ADMIN: u16 = 9953;

/// A sidecar's metric, summed over its series.
pub fn sidecar(pod_ip: &str, name: &str) -> f64 {
    sum(&scrape(pod_ip, SIDECAR_ADMIN), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE h histogram\n\
        h_bucket{server=\"a\",le=\"0.001\"} 50\n\
        h_bucket{server=\"a\",le=\"0.01\"} 90\n\
        h_bucket{server=\"a\",le=\"+Inf\"} 100\n\
        h_bucket{server=\"b\",le=\"0.001\"} 50\n\
        h_bucket{server=\"b\",le=\"0.01\"} 100\n\
        h_bucket{server=\"b\",le=\"+Inf\"} 100\n\
        h_count 200\n";

    #[test]
    fn buckets_sum_series_and_quantiles_interpolate_as_prometheus_does() {
        let b = buckets(TEXT, "h");
        assert_eq!(
            b,
            vec![(0.001, 100.0), (0.01, 190.0), (f64::INFINITY, 200.0)]
        );
        // The median: rank 100, at the top of the first bucket.
        assert_eq!(quantile(&b, 0.5), Some(0.001));
        // 0.9: rank 180, 80 of the second bucket's 90.
        let q = quantile(&b, 0.9).unwrap();
        assert!((q - (0.001 + 0.009 * 80.0 / 90.0)).abs() < 1e-12, "{q}");
        // 0.99: rank 198, in +Inf: the highest finite bound.
        assert_eq!(quantile(&b, 0.99), Some(0.01));
        let d = bucket_delta(&b, &b);
        assert_eq!(quantile(&d, 0.99), None, "nothing counted in between");
    }
}
