//! The flags' parsing, each named in its error.

use super::*;

fn parse(extra: &[&str]) -> Result<Args, clap::Error> {
    let mut v = vec!["dns-sidecar-webhook"];
    v.extend_from_slice(extra);
    Args::try_parse_from(v)
}

#[test]
fn bad_values_name_their_flag() {
    for (flag, value) in [
        ("--cluster-dns", "kube-dns"),
        ("--cluster-domain", "Cluster.Local"),
        ("--proxy-memory-limit", "64MB"),
        ("--sidecar-mode", "sidecar"),
        ("--proxy-admin-port", "80"),
        ("--upstreams", "10.0.0.1,x"),
        ("--tls-reload-interval", "soon"),
        ("--log-level", "loud"),
        ("--discover-service", "kube-dns.kube-system"),
        ("--upstream-source", "pods"),
        ("--fallback", "vip"),
        ("--discovery", "dns"),
        ("--mirror-from", "kube-system/kube-dns"),
        ("--node-cache", "node"),
        ("--node-cache-port", "0"),
    ] {
        let err = parse(&[flag, value]).unwrap_err().to_string();
        assert!(err.contains(flag), "{flag}: {err}");
    }
}

#[test]
fn defaults_and_none() {
    let s = parse(&[]).unwrap().settings();
    assert_eq!(s.cluster_dns, Some("10.96.0.10".parse().unwrap()));
    assert_eq!(s.mode, Mode::Native);
    assert_eq!(s.resources.cpu_limit, None);
    assert_eq!(s.resources.memory_limit.as_deref(), Some("32Mi"));
    assert_eq!(s.resources.memory_request.as_deref(), Some("4Mi"));
    assert_eq!(s.resources.cpu_request.as_deref(), Some("5m"));
    let s = parse(&["--cluster-dns", "none", "--sidecar-mode", "container"])
        .unwrap()
        .settings();
    assert_eq!(s.cluster_dns, None);
    assert_eq!(s.mode, Mode::Container);
}

#[test]
fn discovery_defaults_to_the_headless_service_and_can_be_turned_off() {
    let a = parse(&[]).unwrap();
    assert_eq!(a.check(), Ok(()));
    assert_eq!(
        a.settings().discover.as_deref(),
        Some("dns-sidecar-upstreams.kube-system.svc.cluster.local")
    );
    assert_eq!(a.settings().fallback, Fallback::ClusterDns);
    let a = parse(&["--discover-service", "none"]).unwrap();
    assert_eq!(a.check(), Err(ConfigError::NoDiscoveryService));
    assert!(a
        .check()
        .unwrap_err()
        .to_string()
        .contains("--discover-service"));
    let a = parse(&[
        "--discover-service",
        "none",
        "--upstream-source",
        "services",
    ])
    .unwrap();
    assert_eq!(a.check(), Ok(()));
    assert_eq!(a.settings().discover, None);
    let a = parse(&["--discover-service", "none", "--upstreams", "10.0.0.1"]).unwrap();
    assert_eq!(a.check(), Ok(()));
}

#[test]
fn mirrored_discovery_is_resolved_in_the_webhooks_namespace() {
    let a = parse(&["--discovery", "mirror", "--namespace", "dns-system"]).unwrap();
    assert_eq!(a.check(), Ok(()));
    assert_eq!(
        a.settings().discover.as_deref(),
        Some("dns-sidecar-upstreams.dns-system.svc.cluster.local")
    );
    for bad in [
        &["--discovery", "mirror", "--upstreams", "10.0.0.1"][..],
        &["--discovery", "mirror", "--mirror-from", "none"],
        &["--discovery", "mirror", "--upstream-source", "services"],
    ] {
        let err = parse(bad).unwrap().check().unwrap_err();
        assert_eq!(err, ConfigError::MirrorNeedsWatch, "{bad:?}");
        assert!(err.to_string().contains("--discovery mirror"));
    }
}

#[test]
fn the_node_cache_flag_reaches_the_settings() {
    let s = parse(&["--node-cache", "daemonset", "--node-cache-port", "9053"])
        .unwrap()
        .settings();
    assert_eq!(s.node_cache, crate::node_cache::NodeCache::DaemonSet);
    assert_eq!(s.node_cache_port, 9053);
    assert_eq!(
        parse(&[]).unwrap().settings().node_cache,
        crate::node_cache::NodeCache::None
    );
}
