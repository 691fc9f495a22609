//! `--allow-from`: which client addresses may ask. A sidecar listens on loopback and needs
//! none; the node tier listens on the node's address, which anything that routes to the
//! node reaches, so it answers only the cluster's pod (and node) ranges and refuses the
//! rest, as unbound's `access-control` and CoreDNS's `acl` do.

use std::net::IpAddr;

/// An address range, `10.244.0.0/16` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            // An IPv4 client on an IPv6 socket arrives mapped.
            (IpAddr::V4(_), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(v4.into())),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?} is not an address range (e.g. 10.244.0.0/16)");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

/// Whether `ip` may ask: every address when `allow` is empty.
pub fn allowed(allow: &[Cidr], ip: IpAddr) -> bool {
    allow.is_empty() || allow.iter().any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_hold_what_they_should() {
        let pods = [c("10.244.0.0/16"), c("fd00::/8")];
        assert!(allowed(&pods, "10.244.7.9".parse().unwrap()));
        assert!(!allowed(&pods, "10.245.0.1".parse().unwrap()));
        assert!(allowed(&pods, "fd12::1".parse().unwrap()));
        assert!(!allowed(&pods, "2001:db8::1".parse().unwrap()));
        assert!(
            allowed(&pods, "::ffff:10.244.1.1".parse().unwrap()),
            "v4-mapped"
        );
        assert!(
            allowed(&[], "192.0.2.1".parse().unwrap()),
            "no list: everyone"
        );
        assert!(allowed(&[c("0.0.0.0/0")], "192.0.2.1".parse().unwrap()));
        assert!(
            allowed(&[c("192.0.2.1")], "192.0.2.1".parse().unwrap()),
            "one host"
        );
        assert!(!allowed(&[c("192.0.2.1")], "192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn bad_ranges_say_so() {
        for s in ["10.0.0.0/33", "10.0.0/8", "pods", "fd00::/129", ""] {
            let e = s.parse::<Cidr>().unwrap_err();
            assert!(e.contains("address range"), "{s}: {e}");
        }
    }
}
