//! `--discover`: the sidecar follows the replicas behind a headless Service (in-process fake
//! upstreams on 127.0.0.2 and 127.0.0.3 as pod IPs, their discovery answers set by the test).

use std::net::Ipv4Addr;
use std::time::Duration;

use dns_sidecar_tests::fake::FakeUpstream;
use dns_sidecar_tests::{dig, free_port, wait_until, Proxy};

#[test]
fn discover_follows_the_headless_service() {
    // Replicas on 127.0.0.2 and 127.0.0.3, one port, as pod IPs behind a headless Service.
    let port = free_port("127.0.0.2");
    let seed = FakeUpstream::start("127.0.0.1:0", Ipv4Addr::new(192, 0, 2, 1), 60);
    let r2 = FakeUpstream::start(&format!("127.0.0.2:{port}"), Ipv4Addr::new(192, 0, 2, 2), 1);
    let r3 = FakeUpstream::start(&format!("127.0.0.3:{port}"), Ipv4Addr::new(192, 0, 2, 3), 1);
    seed.set_discovery(&[Ipv4Addr::new(127, 0, 0, 2)]);
    r2.set_discovery(&[Ipv4Addr::new(127, 0, 0, 2)]);
    let disc = format!("upstreams.test:{port}");
    let p = Proxy::for_upstream(
        seed.addr,
        &[
            "--discover",
            &disc,
            "--discover-interval",
            "1s",
            "--min-ttl",
            "0",
            "--max-ttl",
            "0",
        ],
    );
    wait_until(Duration::from_secs(5), || {
        p.metrics().contains("upstream=\"127.0.0.2:")
    })
    .expect("discovered the first replica");
    // Scale to two replicas: the sidecar starts using the new one without a restart.
    // Every replica serves the same records, as CoreDNS replicas do.
    let both = [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)];
    r3.set_discovery(&both);
    r2.set_discovery(&both);
    wait_until(Duration::from_secs(5), || {
        p.metrics().contains("upstream=\"127.0.0.3:")
    })
    .expect("discovered the second replica");
    let before = r3.queries();
    for i in 0..30 {
        assert_eq!(
            dig(p.dns, &[&format!("z{i}.example.test")]).status,
            "NOERROR"
        );
    }
    assert!(r3.queries() > before, "the new replica answers queries");
    assert!(
        !p.metrics().contains(&format!("upstream=\"{}\"", seed.addr)),
        "the seed is only a fallback"
    );
}
