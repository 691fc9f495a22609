//! A minimal HTTP client for the admin endpoints, and reading one Prometheus series.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The value of `series` (`name` or `name{k="v",...}`) in a Prometheus text: the first line
/// of that name carrying every label given (others may be there too), 0 when none does.
pub fn metric(text: &str, series: &str) -> f64 {
    let (name, want) = match series.split_once('{') {
        Some((n, rest)) => (n, rest.trim_end_matches('}')),
        None => (series, ""),
    };
    let labels: Vec<&str> = split_labels(want);
    text.lines()
        .find_map(|l| {
            let (head, value) = l.rsplit_once(' ')?;
            let (n, have) = match head.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let have = split_labels(have);
            (n == name && labels.iter().all(|w| have.contains(w)))
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0.0)
}

/// `k="v",k2="v2"` into its pairs (values here hold no commas).
fn split_labels(s: &str) -> Vec<&str> {
    s.split(',').filter(|p| !p.is_empty()).collect()
}

/// Minimal HTTP/1.0 GET; returns (status, body), (0, "") if nothing answers.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
