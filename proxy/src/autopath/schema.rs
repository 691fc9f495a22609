//! Which names under the cluster domain cannot exist, by the Kubernetes DNS schema
//! (kubernetes/dns docs/specification.md) as CoreDNS's kubernetes plugin serves it. Under
//! `<domain>` there are only:
//! - `svc`: `<ns>.svc`, `<service>.<ns>.svc`, `<hostname or endpoint>.<service>.<ns>.svc`
//!   (headless endpoints, pods with hostname and subdomain), `_<port>._<proto>.<service>.<ns>.svc`
//!   (SRV);
//! - `pod`: `<ns>.pod`, `<a-b-c-d>.<ns>.pod`;
//! - `dns-version` (TXT, the schema version) and `ns.dns` (the nameserver CoreDNS names).
//!
//! So a name with any other label right under the domain, more than four labels before
//! `svc`, four without the two leading underscore labels of SRV, or more than two before
//! `pod`, cannot exist. The proof holds only for a cluster domain served by the kubernetes
//! plugin alone: rewrite, template or stub zones under it break it, which is why the level
//! using it is opt-in.

/// Whether `name` (wire, lowercase) is under `domain` and the schema says it cannot exist.
pub fn impossible(name: &[u8], domain: &[u8]) -> bool {
    let Some(prefix_len) = name.len().checked_sub(domain.len()) else {
        return false;
    };
    if name[prefix_len..] != domain[..] {
        return false;
    }
    // The domain must start at a label boundary of the name.
    let starts = super::labels(name);
    let Some(pos) = starts.iter().position(|&i| i == prefix_len) else {
        return false;
    };
    // Labels before the domain, leftmost first.
    let before: Vec<&[u8]> = starts[..pos]
        .iter()
        .map(|&i| &name[i + 1..i + 1 + name[i] as usize])
        .collect();
    let Some((last, rest)) = before.split_last() else {
        return false;
    };
    let underscore = |l: &[u8]| l.first() == Some(&b'_');
    match *last {
        b"svc" => match rest.len() {
            0..=3 => false,
            4 => !(underscore(rest[0]) && underscore(rest[1])),
            _ => true,
        },
        b"pod" => rest.len() > 2,
        b"dns" | b"dns-version" => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode_name;

    fn no(name: &str) -> bool {
        impossible(
            &encode_name(name).unwrap(),
            &encode_name("cluster.local").unwrap(),
        )
    }

    #[test]
    fn what_the_schema_allows_is_never_claimed_absent() {
        for name in [
            "cluster.local",
            "svc.cluster.local",
            "shop.svc.cluster.local",
            "redis.shop.svc.cluster.local",
            "redis-0.redis.shop.svc.cluster.local",
            "10-244-1-7.redis.shop.svc.cluster.local",
            "_redis._tcp.redis.shop.svc.cluster.local",
            "pod.cluster.local",
            "shop.pod.cluster.local",
            "10-244-1-7.shop.pod.cluster.local",
            "dns-version.cluster.local",
            "ns.dns.cluster.local",
            // Another zone entirely: never ours to judge.
            "api.example.com",
            "api.example.com.corp.example",
            "local",
        ] {
            assert!(!no(name), "{name} may exist");
        }
    }

    #[test]
    fn what_the_schema_rules_out() {
        for name in [
            // The walk of api.example.com from namespace shop, first and third names.
            "api.example.com.shop.svc.cluster.local",
            "api.example.com.cluster.local",
            "example.com.cluster.local",
            // Four labels before svc without SRV's underscores; five or more.
            "a.b.redis.shop.svc.cluster.local",
            "_a.b.redis.shop.svc.cluster.local",
            "x._a._b.redis.shop.svc.cluster.local",
            // Too deep under pod.
            "a.10-244-1-7.shop.pod.cluster.local",
            // Anything else right under the domain.
            "kubernetes.cluster.local",
            "www.google.com.cluster.local",
        ] {
            assert!(no(name), "{name} cannot exist");
        }
    }

    #[test]
    fn a_domain_that_is_not_a_label_suffix_is_not_matched() {
        // "xcluster.local" ends with the bytes of "cluster.local" only with a label shift.
        let name = encode_name("a.b.c.d.e.xcluster.local").unwrap();
        assert!(!impossible(&name, &encode_name("cluster.local").unwrap()));
    }
}
