use super::*;
use clap::Parser;

fn args(extra: &[&str]) -> Result<Args, clap::Error> {
    let mut v = vec!["dns-sidecar-proxy"];
    v.extend_from_slice(extra);
    Args::try_parse_from(v)
}

#[test]
fn defaults() {
    let a = args(&["--upstream", "10.0.0.1"]).unwrap();
    let c = Config::from_args(a, None).unwrap();
    assert_eq!(c.listen, vec!["127.0.0.1:53".parse().unwrap()]);
    assert_eq!(c.upstreams, vec!["10.0.0.1:53".parse().unwrap()]);
    assert_eq!(c.cache.capacity.get(), 10_000);
    assert_eq!(c.cache.stale_window, Some(Duration::from_secs(3600)));
    assert!(c.cache.prefetch);
    assert_eq!(c.engine.query_timeout, Duration::from_millis(1500));
    assert_eq!(c.threads, 1);
}

#[test]
fn upstreams_repeat_or_comma_separate() {
    let a = args(&[
        "--upstream",
        "10.0.0.1:5353,10.0.0.2",
        "--upstream",
        "[fd00::1]:53",
    ])
    .unwrap();
    let c = Config::from_args(a, None).unwrap();
    assert_eq!(c.upstreams.len(), 3);
    assert_eq!(c.upstreams[0].port(), 5353);
}

#[test]
fn bad_values_name_their_flag() {
    for (flag, value) in [
        ("--min-ttl", "5x"),
        ("--upstream", "not-an-ip"),
        ("--cache-size", "0"),
        ("--hedge-delay", "0ms"),
        ("--cache-bytes", "12"),
        ("--prefetch", "maybe"),
        ("--threads", "0"),
        ("--log-level", "loud"),
    ] {
        let err = args(&["--upstream", "10.0.0.1", flag, value])
            .unwrap_err()
            .to_string();
        assert!(err.contains(flag), "{flag}: {err}");
    }
}

#[test]
fn refuses_a_forwarding_loop() {
    let a = args(&["--listen", "127.0.0.1:53", "--upstream", "127.0.0.1"]).unwrap();
    let e = Config::from_args(a, None).unwrap_err();
    assert_eq!(
        e,
        ConfigError::Loop("--upstream", "127.0.0.1:53".parse().unwrap())
    );
    assert!(e.to_string().contains("--upstream 127.0.0.1:53"));
    let a = args(&["--listen", "0.0.0.0:5300", "--upstream", "127.0.0.2:5300"]).unwrap();
    assert!(matches!(
        Config::from_args(a, None),
        Err(ConfigError::Loop(..))
    ));
    let a = args(&["--upstream", "10.0.0.1", "--fallback", "127.0.0.1"]).unwrap();
    assert!(Config::from_args(a, None)
        .unwrap_err()
        .to_string()
        .starts_with("--fallback 127.0.0.1:53"));
    let a = args(&["--listen", "127.0.0.1:5300", "--upstream", "127.0.0.1:53"]).unwrap();
    assert!(
        Config::from_args(a, None).is_ok(),
        "another port is another server"
    );
}

#[test]
fn resolv_conf_upstreams_skip_ourselves() {
    let rc = "nameserver 127.0.0.1\nnameserver 10.96.0.10\n";
    let c = Config::from_args(args(&[]).unwrap(), Some(rc)).unwrap();
    assert_eq!(c.upstreams, vec!["10.96.0.10:53".parse().unwrap()]);
    let e = Config::from_args(args(&[]).unwrap(), Some("nameserver 127.0.0.1\n")).unwrap_err();
    assert!(matches!(e, ConfigError::NoUpstream(_)), "{e}");
}

#[test]
fn discover_takes_name_and_port() {
    let a = args(&[
        "--upstream",
        "10.0.0.1",
        "--discover",
        "coredns.kube-system.svc.cluster.local:1053",
    ])
    .unwrap();
    let d = Config::from_args(a, None).unwrap().discover.unwrap();
    assert_eq!(d.port, 1053);
    assert_eq!(d.name, "coredns.kube-system.svc.cluster.local");
    assert_eq!(d.max_interval, Duration::from_secs(30));
    assert_eq!(d.min_interval, Duration::from_secs(2));
    let a = args(&["--fallback", "10.96.0.10", "--discover", "x.test"]).unwrap();
    let c = Config::from_args(a, Some("nameserver 127.0.0.1\n")).unwrap();
    assert!(
        c.upstreams.is_empty(),
        "the fallback alone can resolve the name"
    );
    let a = args(&["--upstream", "10.0.0.1", "--discover", "bad..name"]).unwrap();
    assert!(Config::from_args(a, None)
        .unwrap_err()
        .to_string()
        .starts_with("--discover"));
}

#[test]
fn ttl_order_is_checked() {
    let a = args(&["--upstream", "10.0.0.1", "--min-ttl", "2h"]).unwrap();
    assert_eq!(
        Config::from_args(a, None).unwrap_err(),
        ConfigError::TtlOrder(7200, 3600)
    );
}

#[test]
fn units() {
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("1d").is_err());
    assert_eq!(parse_bytes("8M"), Ok(8 << 20));
    assert_eq!(parse_bytes("512k"), Ok(512 << 10));
    assert!(parse_bytes("x").is_err());
}

#[test]
fn ttl_strict_serves_nothing_past_the_upstreams_ttl_and_takes_refused_as_an_answer() {
    let plain = Config::from_args(args(&["--upstream", "10.0.0.1"]).unwrap(), None).unwrap();
    assert_eq!(plain.cache.min_ttl, 5);
    assert!(!plain.pool.refused_final);
    let c = Config::from_args(
        args(&["--upstream", "10.0.0.1", "--ttl-strict", "--min-ttl", "30s"]).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(
        c.cache.min_ttl, 0,
        "no upward clamp, whatever --min-ttl says"
    );
    assert_eq!(c.cache.stale_window, None, "no stale answers");
    assert!(c.pool.refused_final);
}

#[test]
fn a_logical_upstream_has_no_discovery_and_keeps_soa_less_denials_briefly() {
    let c = Config::from_args(
        args(&[
            "--upstream",
            "10.96.0.10",
            "--discover",
            "dns-sidecar-upstreams.kube-system.svc.cluster.local",
            "--upstream-mode",
            "logical",
        ])
        .unwrap(),
        None,
    )
    .unwrap();
    assert!(c.pool.logical);
    assert_eq!(c.discover, None);
    assert_eq!(c.cache.soa_less_negative_ttl, 5);
    let r = Config::from_args(args(&["--upstream", "10.0.0.1"]).unwrap(), None).unwrap();
    assert!(!r.pool.logical);
    assert_eq!(r.cache.soa_less_negative_ttl, 0, "RFC 2308 §5 by default");
    assert!(args(&["--upstream-mode", "ambient"])
        .unwrap_err()
        .to_string()
        .contains("--upstream-mode"));
}
