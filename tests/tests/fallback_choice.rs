//! `dns-sidecar.io/fallback`: what listing the cluster DNS VIP after the sidecar costs and
//! buys, measured with glibc's resolver and musl's (the static client of tests/clients,
//! as in an Alpine image). musl sends every query to every nameserver at once, so with the
//! VIP listed each musl lookup also reaches CoreDNS through the VIP, cache or no cache;
//! glibc asks the VIP only when the sidecar fails. With `none`, CoreDNS sees only the
//! sidecar's misses, and there is no DNS while the sidecar is down.

use dns_sidecar_tests::clients::musl_gai;
use dns_sidecar_tests::netns::{self, Cluster, GetentResult};
use dns_sidecar_tests::proxy_bin;

/// Queries that reached the VIP during three lookups of one external name, all answered.
fn vip_queries(c: &Cluster, lookup: &dyn Fn() -> GetentResult) -> u64 {
    assert!(lookup().ok, "warm-up");
    let before = c.packets_to_vip();
    for _ in 0..3 {
        assert!(lookup().ok);
    }
    c.packets_to_vip() - before
}

#[test]
fn fallback_choice_vip_load_with_glibc_and_musl() {
    let musl = musl_gai();
    let mut c = Cluster::new(2, 2);
    let h = c.start_proxy(&proxy_bin(), &netns::sidecar_args(&c));
    let name = "www.example.org";
    let mut seen = Vec::new();
    for vip_fallback in [true, false] {
        c.set_resolv_conf(&netns::sidecar_resolv_conf_with(vip_fallback));
        let glibc = vip_queries(&c, &|| c.getent(name));
        let m = vip_queries(&c, &|| c.resolve_with(&musl, &[name]));
        let choice = if vip_fallback { "cluster-dns" } else { "none" };
        eprintln!(
            "fallback {choice:<11}: queries to the VIP in 3 lookups of {name}: glibc {glibc}, musl {m}"
        );
        seen.push((vip_fallback, glibc, m));
    }
    for (vip_fallback, glibc, m) in &seen {
        assert_eq!(*glibc, 0, "glibc asks the VIP only when the sidecar fails");
        if *vip_fallback {
            assert!(*m > 0, "musl asks every nameserver at once, the VIP too");
        } else {
            assert_eq!(*m, 0, "with none, CoreDNS sees only the sidecar's misses");
        }
    }
    // The cost of none: with the sidecar down there is no DNS at all.
    c.kill_proc(h);
    assert!(!c.getent("svc3").ok, "glibc: no nameserver answers");
    assert!(!c.resolve_with(&musl, &["svc3"]).ok, "musl: nor here");
    c.set_resolv_conf(&netns::sidecar_resolv_conf_with(true));
    assert!(c.getent("svc3").ok, "with the VIP listed, DNS goes on");
    assert!(c.resolve_with(&musl, &["svc3"]).ok);
}
