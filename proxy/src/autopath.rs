//! Autopath: the ndots:5 search-list walk of the pod's own resolver, shortened in the
//! sidecar. The sidecar shares the app's resolv.conf, so it knows exactly which names the
//! walk will try, in order (`walk`). Each level includes the one before:
//! - `prefetch`: when the walk's first name misses, the rest of the walk is asked at once,
//!   so the client's later queries are answered from the cache (answers unchanged);
//! - `nxdomain`: names the Kubernetes DNS schema proves cannot exist (`schema`) are answered
//!   NXDOMAIN locally with the cluster zone's SOA, learned from a real negative answer;
//! - `cname`: the walk's first query is answered with a CNAME to the first name of the walk
//!   that exists, and that name's records (`cname`), so the walk is one round trip.
//!
//! The decisions are pure; the engine (`engine/autopath.rs`) does the I/O.

pub mod cname;
pub mod schema;

use crate::search::SearchList;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Off,
    Prefetch,
    Nxdomain,
    Cname,
}

impl Level {
    pub fn parse(s: &str) -> Result<Level, String> {
        match s {
            "off" => Ok(Level::Off),
            "prefetch" => Ok(Level::Prefetch),
            "nxdomain" => Ok(Level::Nxdomain),
            "cname" => Ok(Level::Cname),
            _ => Err(format!("{s:?} is not off, prefetch, nxdomain or cname")),
        }
    }
}

/// Start offsets of the labels of a wire name (no compression), root excluded.
pub fn labels(name: &[u8]) -> Vec<usize> {
    let mut out = Vec::with_capacity(8);
    let mut i = 0;
    while let Some(&len) = name.get(i) {
        if len == 0 || len & 0xC0 != 0 {
            break;
        }
        out.push(i);
        i += len as usize + 1;
    }
    out
}

/// When `qname` (wire, lowercase) is the first name of a search-list walk, `X.<first search
/// domain>` with X of two labels or more and fewer dots than ndots, the names the walk tries
/// after it: X under each later search domain, then X itself. A one-label X is left alone:
/// it is almost always a Service of the pod's own namespace, found at the first try.
pub fn walk(qname: &[u8], s: &SearchList) -> Option<Vec<Vec<u8>>> {
    let first = s.domains.first()?;
    let starts = labels(qname);
    let cut = *starts.iter().find(|&&i| qname[i..] == first[..])?;
    let x = &qname[..cut];
    let x_labels = starts.iter().take_while(|&&i| i < cut).count();
    // Fewer dots than ndots: x_labels - 1 < ndots.
    if x_labels < 2 || x_labels > s.ndots as usize {
        return None;
    }
    let mut out: Vec<Vec<u8>> = s.domains[1..]
        .iter()
        .map(|d| [x, d.as_slice()].concat())
        .filter(|n| n.len() <= 255)
        .collect();
    out.push([x, &[0]].concat());
    Some(out)
}

/// The cluster domain, when the search list is the one kubelet writes for ClusterFirst:
/// `<ns>.svc.<domain> svc.<domain> <domain> ...`.
pub fn cluster_domain(s: &SearchList) -> Option<&[u8]> {
    let [first, second, third, ..] = s.domains.as_slice() else {
        return None;
    };
    let svc_d = [b"\x03svc".as_slice(), third].concat();
    let ns_len = *first.first()? as usize + 1;
    (second[..] == svc_d[..] && first.get(ns_len..) == Some(second.as_slice()))
        .then_some(third.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::parse;
    use crate::wire::{encode_name, name_to_string};

    const RESOLV: &str =
        "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n";

    fn walk_of(name: &str, resolv: &str) -> Option<Vec<String>> {
        let w = walk(&encode_name(name).unwrap(), &parse(resolv))?;
        Some(w.iter().map(|n| name_to_string(n)).collect())
    }

    #[test]
    fn the_walk_after_its_first_name_for_each_number_of_dots() {
        assert_eq!(
            walk_of("redis.shop.svc.cluster.local", RESOLV),
            None,
            "one label"
        );
        assert_eq!(
            walk_of("api.example.com.shop.svc.cluster.local", RESOLV).unwrap(),
            [
                "api.example.com.svc.cluster.local.",
                "api.example.com.cluster.local.",
                "api.example.com.corp.example.",
                "api.example.com."
            ]
        );
        for (x, walks) in [
            ("a.b", true),
            ("a.b.c", true),
            ("a.b.c.d", true),
            ("a.b.c.d.e", true),
            ("a.b.c.d.e.f", false),
            ("a.b.c.d.e.f.g", false),
        ] {
            let got = walk_of(&format!("{x}.shop.svc.cluster.local"), RESOLV);
            assert_eq!(got.is_some(), walks, "{x}: fewer dots than ndots 5 walk");
            if let Some(w) = got {
                assert_eq!(w.last().unwrap(), &format!("{x}."), "{x} itself last");
            }
        }
        for ndots in 0..=3 {
            let resolv =
                format!("search shop.svc.cluster.local svc.cluster.local\noptions ndots:{ndots}\n");
            let got = walk_of("a.b.c.shop.svc.cluster.local", &resolv);
            assert_eq!(got.is_some(), ndots > 2, "two dots, ndots {ndots}");
        }
        assert_eq!(
            walk_of("api.example.com", RESOLV),
            None,
            "not under the first domain"
        );
        assert_eq!(
            walk_of("api.example.com.svc.cluster.local", RESOLV),
            None,
            "a later one"
        );
        assert_eq!(
            walk_of("x.y.shop.svc.cluster.local", "options ndots:5\n"),
            None
        );
    }

    #[test]
    fn the_cluster_domain_of_a_cluster_first_search_list() {
        let d = |r: &str| cluster_domain(&parse(r)).map(name_to_string);
        assert_eq!(d(RESOLV).as_deref(), Some("cluster.local."));
        assert_eq!(
            d("search default.svc.k8s.example svc.k8s.example k8s.example\n").as_deref(),
            Some("k8s.example.")
        );
        assert_eq!(d("search corp.example example\n"), None);
        assert_eq!(
            d("search a.b.svc.cluster.local svc.cluster.local cluster.local\n"),
            None
        );
        assert_eq!(
            d("search shop.svc.cluster.local svc.other cluster.local\n"),
            None
        );
    }
}
