//! What the CoreDNS stand-ins serve: the cluster zone as CoreDNS's kubernetes plugin answers
//! it (every record with the plugin's `ttl`, NXDOMAIN with an SOA of the same TTL), the
//! discovery Service's headless records (the replicas), a zone for the outside world with
//! a wildcard for names asked once, and a root zone so that a health probe (`. NS`) gets an
//! answer as CoreDNS's forward gives it.

use std::net::Ipv4Addr;

/// Cluster Services in the zone: `svc<i>.default.svc.cluster.local`.
pub const SERVICES: usize = 1000;
/// Outside names: `ext<i>.example.org`; `*.load.example.org` answers anything else.
pub const EXTERNAL: usize = 500;

/// The TTLs the stand-ins answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneSpec {
    /// The kubernetes plugin's `ttl`: 5 s by default, 30 s in kubeadm's Corefile.
    pub cluster_ttl: u32,
    /// The outside world's records.
    pub external_ttl: u32,
}

impl Default for ZoneSpec {
    fn default() -> Self {
        ZoneSpec {
            cluster_ttl: 5,
            external_ttl: 30,
        }
    }
}

pub(super) const ZONES: [(&str, &str); 3] = [
    ("cluster.local", "cluster.zone"),
    ("example.org", "outside.zone"),
    (".", "root.zone"),
];

/// (file, text) of each zone.
pub(super) fn texts(z: &ZoneSpec, replicas: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
    let t = z.cluster_ttl;
    let mut c = format!(
        "$ORIGIN cluster.local.\n$TTL {t}\n@ {t} IN SOA ns.dns hostmaster 1 3600 600 86400 {t}\n@ IN NS ns.dns\nns.dns IN A 10.96.0.10\n"
    );
    for i in 0..SERVICES {
        c.push_str(&format!(
            "svc{i}.default.svc IN A 10.100.{}.{}\n",
            i / 250,
            i % 250 + 1
        ));
    }
    for ip in replicas {
        c.push_str(&format!(
            "dns-sidecar-upstreams.kube-system.svc IN A {ip}\n"
        ));
    }
    let e = z.external_ttl;
    let mut o = format!(
        "$ORIGIN example.org.\n$TTL {e}\n@ IN SOA ns hostmaster 1 3600 600 86400 {e}\n@ IN NS ns\nns IN A 192.0.2.53\n*.load IN A 192.0.2.99\n"
    );
    for i in 0..EXTERNAL {
        o.push_str(&format!(
            "ext{i} IN A 198.51.{}.{}\n",
            100 + i / 250,
            i % 250 + 1
        ));
    }
    let root = "$ORIGIN .\n$TTL 3600\n@ IN SOA a.root hostmaster 1 3600 600 86400 3600\n@ IN NS a.root\na.root IN A 192.0.2.1\n".to_string();
    vec![
        ("cluster.zone", c),
        ("outside.zone", o),
        ("root.zone", root),
    ]
}
