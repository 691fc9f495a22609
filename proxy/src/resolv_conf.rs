//! The nameservers of a resolv.conf, the proxy's upstreams when none are given.

use std::net::{IpAddr, SocketAddr};

/// Nameserver lines in order; malformed ones are skipped (glibc does the same).
/// Zone indexes (`fe80::1%eth0`) are dropped.
pub fn nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            let ip = words.next()?.split('%').next()?;
            ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers_in_order_and_skips_the_rest() {
        let text = "# generated\nsearch default.svc.cluster.local svc.cluster.local\n\
                    nameserver 127.0.0.1\nnameserver  10.96.0.10 \nnameserver bogus\n\
                    nameserver fe80::1%eth0\noptions ndots:5\n";
        let got = nameservers(text);
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:53".parse().unwrap(),
            "10.96.0.10:53".parse().unwrap(),
            "[fe80::1]:53".parse().unwrap(),
        ];
        assert_eq!(got, want);
        assert!(nameservers("").is_empty());
    }
}
