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
