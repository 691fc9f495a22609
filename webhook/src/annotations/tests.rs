use super::*;

fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string()))
        .collect()
}

#[test]
fn good_values_become_flags() {
    let (t, w) = parse(&ann(&[
        ("cache-size", "50000"),
        ("min-ttl", "10s"),
        ("max-ttl", "5m"),
        ("negative-ttl", "30s"),
        ("stale-max", "2h"),
        ("prefetch", "false"),
        ("upstream-timeout", "300ms"),
        ("query-timeout", "2s"),
        ("hedge-delay", "50ms"),
        ("retry-budget", "20%"),
        ("retry-min-per-second", "0.5"),
        ("upstream-tcp", "true"),
        ("log-queries", "yes"),
        ("ndots", "2"),
        ("cpu", "50m"),
        ("memory", "128Mi"),
        ("image", "registry.example/dns-sidecar-proxy:0.2.0"),
        ("pull-policy", "Always"),
    ]));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        t.proxy_args,
        [
            "--cache-size=50000",
            "--min-ttl=10s",
            "--max-ttl=300s",
            "--negative-ttl=30s",
            "--stale-max=7200s",
            "--prefetch=false",
            "--upstream-timeout=300ms",
            "--query-timeout=2s",
            "--hedge-delay=50ms",
            "--retry-budget=20%",
            "--retry-min-per-second=0.5",
            "--upstream-tcp",
            "--log-queries",
        ]
    );
    assert_eq!(t.ndots, Some(2));
    assert_eq!(t.cpu.as_deref(), Some("50m"));
    assert_eq!(t.memory.as_deref(), Some("128Mi"));
    assert_eq!(
        t.image.as_deref(),
        Some("registry.example/dns-sidecar-proxy:0.2.0")
    );
    assert_eq!(t.pull_policy.as_deref(), Some("Always"));
    assert_eq!(t.applied.len(), 18);
}

#[test]
fn every_proxy_flag_the_webhook_writes_is_accepted_by_the_proxy() {
    use clap::Parser;
    let (t, _) = parse(&ann(&[
        ("cache-size", "1"),
        ("min-ttl", "0s"),
        ("max-ttl", "24h"),
        ("negative-ttl", "1h"),
        ("stale-max", "0"),
        ("prefetch", "true"),
        ("upstream-timeout", "5s"),
        ("query-timeout", "4500ms"),
        ("hedge-delay", "auto"),
        ("retry-budget", "0"),
        ("retry-min-per-second", "1000"),
        ("upstream-tcp", "true"),
        ("log-queries", "true"),
    ]));
    let mut argv = vec![
        "dns-sidecar-proxy".to_string(),
        "--upstream=10.0.0.1".to_string(),
    ];
    argv.extend(t.proxy_args);
    let args = dns_sidecar_proxy::config::Args::try_parse_from(&argv).unwrap();
    dns_sidecar_proxy::config::Config::from_args(args, None).unwrap();
}

#[test]
fn bad_and_out_of_range_values_warn_and_keep_the_default() {
    for (k, v) in [
        ("cache-size", "lots"),
        ("cache-size", "0"),
        ("cache-size", "99999999"),
        ("min-ttl", "2h"),
        ("max-ttl", "0s"),
        ("negative-ttl", "soon"),
        ("stale-max", "30d"),
        ("prefetch", "maybe"),
        ("upstream-timeout", "5ms"),
        ("query-timeout", "10s"),
        ("hedge-delay", "0ms"),
        ("retry-budget", "150%"),
        ("retry-budget", "some"),
        ("retry-min-per-second", "-1"),
        ("upstream-tcp", "2"),
        ("ndots", "0"),
        ("ndots", "16"),
        ("cpu", "a lot"),
        ("memory", "64MB"),
        ("image", "two words"),
        ("image", ""),
        ("pull-policy", "sometimes"),
    ] {
        let (t, w) = parse(&ann(&[(k, v)]));
        assert_eq!(t, Tuning::default(), "{k}={v} must change nothing");
        assert_eq!(w.len(), 1, "{k}={v}: {w:?}");
        assert!(
            w[0].contains(&format!("{PREFIX}{k}")) && w[0].contains("using the default"),
            "{}",
            w[0]
        );
    }
}

#[test]
fn min_ttl_above_max_ttl_is_dropped() {
    let (t, w) = parse(&ann(&[("min-ttl", "10m"), ("max-ttl", "1m")]));
    assert_eq!(t.proxy_args, ["--max-ttl=60s"]);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("min-ttl"));
    let (t, w) = parse(&ann(&[("max-ttl", "2s")]));
    assert_eq!(
        t.proxy_args,
        ["--max-ttl=2s"],
        "the proxy's default min-ttl (5s) is clamped by it, no conflict"
    );
    assert!(w.is_empty());
}

#[test]
fn unknown_keys_of_ours_warn_and_others_are_ignored() {
    let mut a = ann(&[("cache-sise", "100")]);
    a.insert("example.com/team".into(), "x".into());
    a.insert(INJECT.into(), "true".into());
    let (t, w) = parse(&a);
    assert_eq!(t, Tuning::default());
    assert_eq!(
        w,
        ["dns-sidecar: unknown annotation dns-sidecar.io/cache-sise ignored"]
    );
}

#[test]
fn inject_words() {
    assert_eq!(inject_wish(Some("false")), InjectWish::No);
    assert_eq!(inject_wish(Some("Disabled")), InjectWish::No);
    assert_eq!(inject_wish(Some("enabled")), InjectWish::Yes);
    assert_eq!(inject_wish(Some("true")), InjectWish::Yes);
    assert_eq!(inject_wish(Some("whatever")), InjectWish::Default);
    assert_eq!(inject_wish(None), InjectWish::Default);
}

#[test]
fn quantities() {
    for q in ["10m", "1", "0.5", "64Mi", "1Gi", "2G", "100k"] {
        assert!(is_quantity(q), "{q}");
    }
    for q in ["", "m", "64MB", "1.2.3", "-1", "ten"] {
        assert!(!is_quantity(q), "{q}");
    }
}
