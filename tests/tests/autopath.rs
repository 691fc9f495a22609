//! `--autopath` with real client resolvers in a pod (root: network namespaces): glibc's
//! `getent ahosts`, musl's getaddrinfo (a static client built with musl-gcc) and Go's own
//! resolver (built with CGO_ENABLED=0), each resolving through the sidecar with the
//! resolv.conf the webhook writes (ndots 5, the ClusterFirst search list and a node search
//! domain, `corp.internal`). Every level must give each client the addresses `off` gives,
//! and fail where `off` fails; and what upstream sees is counted per cold lookup and in a
//! steady workload.

use std::collections::BTreeMap;
use std::time::Duration;

use dns_sidecar_tests::clients::{go_gai, musl_gai};
use dns_sidecar_tests::netns::autopath::{self as load, Load, LEVELS, NAMES};
use dns_sidecar_tests::netns::{Client, Cluster};
use dns_sidecar_tests::proxy_bin;

/// Addresses each (client, name) resolved to; None where the lookup failed.
type Seen = BTreeMap<(String, &'static str), Option<Vec<String>>>;

#[test]
fn autopath_every_level_gives_glibc_musl_and_go_the_same_addresses() {
    let clients = [
        Client::Glibc,
        Client::Program(musl_gai()),
        Client::Program(go_gai()),
    ];
    let results: Vec<(&str, Seen, Cluster)> = std::thread::scope(|s| {
        let runs: Vec<_> = LEVELS
            .iter()
            .map(|level| {
                let clients = &clients;
                s.spawn(move || {
                    let c = load::pod(&proxy_bin(), level, 5, None);
                    let mut got = BTreeMap::new();
                    for name in NAMES {
                        for client in clients {
                            got.insert((client.label(), name), c.addresses(client, name));
                        }
                    }
                    (*level, got, c)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let off = &results[0].1;
    for ((client, name), addrs) in off {
        assert_eq!(
            addrs.is_none(),
            name.starts_with("nope"),
            "off, {client}: {name} -> {addrs:?}"
        );
    }
    for (level, got, c) in &results {
        for (k, addrs) in got {
            assert_eq!(addrs, &off[k], "{level}: {} resolving {}", k.0, k.1);
        }
        let m = |n| load::metric(c, n);
        eprintln!(
            "autopath {level:<8}: prefetched {}, local NXDOMAIN {}, CNAME answers {}",
            m("dns_sidecar_autopath_prefetches_total"),
            m("dns_sidecar_autopath_local_nxdomain_total"),
            m("dns_sidecar_autopath_cname_answers_total")
        );
        match *level {
            "off" => assert_eq!(m("dns_sidecar_autopath_prefetches_total"), 0),
            "prefetch" => assert!(m("dns_sidecar_autopath_prefetches_total") > 0),
            "nxdomain" => assert!(m("dns_sidecar_autopath_local_nxdomain_total") > 0),
            _ => assert!(m("dns_sidecar_autopath_cname_answers_total") > 0),
        }
    }
}

#[test]
fn autopath_upstream_load_per_cold_lookup_and_steady_state() {
    // Every level under both negative TTLs at once, each in its own cluster; the window is
    // at least twice the TTL, so each negative answer expires in it.
    let runs: Vec<(u32, Load)> = std::thread::scope(|s| {
        let runs: Vec<_> = [5u32, 30]
            .iter()
            .flat_map(|ttl| LEVELS.iter().map(move |level| (*ttl, *level)))
            .map(|(ttl, level)| {
                s.spawn(move || {
                    let window = Duration::from_secs(30.max(2 * ttl as u64));
                    (ttl, load::measure(&proxy_bin(), level, ttl, window, None))
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for ttl in [5, 30] {
        let loads: Vec<&Load> = runs.iter().filter(|r| r.0 == ttl).map(|r| &r.1).collect();
        eprintln!("{}", load::report(ttl, &loads));
        let off = loads[0].per_minute();
        let cname = loads[3];
        for cold in &cname.cold {
            assert!(
                cold.client_queries <= 2,
                "cname: one round trip (A and AAAA) per cold lookup: {cold:?}"
            );
        }
        assert!(
            cname.per_minute() * 3.0 <= off,
            "negative TTL {ttl}: cname sends at most a third of off's queries ({} vs {off})",
            cname.per_minute()
        );
        assert!(loads[2].per_minute() < off, "nxdomain saves queries");
    }
}
