//! The operators' monitoring kit, checked with the real tools of Debian's prometheus
//! package: `promtool check metrics` on live scrapes of the proxy and the webhook,
//! `promtool check rules` and `promtool test rules` (a case per alert) on the
//! PrometheusRule of manifests/monitoring, and a real Prometheus server scraping a proxy
//! and a webhook under a little load, with those rules loaded, in which every panel of the
//! Grafana dashboard, and the usual CoreDNS dashboard queries on `--metrics-compat coredns`,
//! must return data.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use dns_sidecar_tests::prom::{
    check_metrics, https, prometheus, promtool, rule_file, run, series, stack,
};
use dns_sidecar_tests::{dig, http_get, repo_root, wait_until, TempDir};

#[test]
fn promtool_checks_the_rules_and_tests_every_alert() {
    let dir = TempDir::new("rules");
    let rules = rule_file(&dir.0);
    let (ok, out) = run(Command::new(promtool())
        .args(["check", "rules"])
        .arg(&rules));
    assert!(ok, "promtool check rules: {out}");
    let tests =
        std::fs::read_to_string(repo_root().join("tests/monitoring/rules_test.yaml")).unwrap();
    std::fs::write(dir.0.join("rules_test.yaml"), &tests).unwrap();
    let (ok, out) = run(Command::new(promtool())
        .args(["test", "rules"])
        .arg(dir.0.join("rules_test.yaml")));
    assert!(ok, "promtool test rules: {out}");
    // Every alert has a case.
    let rules: Value = serde_yaml::from_str(&std::fs::read_to_string(&rules).unwrap()).unwrap();
    for g in rules["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            if let Some(alert) = r["alert"].as_str() {
                assert!(
                    tests.contains(&format!("alertname: {alert}\n")),
                    "no promtool test for {alert}"
                );
            }
        }
    }
}

#[test]
fn promtool_finds_the_live_scrapes_clean() {
    let s = stack();
    let (code, proxy) = http_get(s.proxy.admin, "/metrics");
    assert_eq!(code, 200);
    check_metrics(&proxy, "the proxy's /metrics");
    let (ok, webhook) = https(&s.webhook, "/metrics");
    assert!(ok);
    check_metrics(&webhook, "the webhook's /metrics");
}

#[test]
fn every_dashboard_panel_has_data_in_a_real_prometheus() {
    let s = stack();
    let dir = TempDir::new("prometheus");
    let (_prom, addr) = prometheus(&s, &dir.0);
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("manifests/monitoring/dashboard.json")).unwrap(),
    )
    .unwrap();
    let exprs: Vec<(String, String)> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["targets"].as_array().unwrap().iter().map(move |t| {
                (
                    p["title"].as_str().unwrap().to_string(),
                    t["expr"]
                        .as_str()
                        .unwrap()
                        .replace("$namespace", ".*")
                        .replace("$workload", ".*")
                        .replace("$__rate_interval", "1m"),
                )
            })
        })
        .collect();
    assert!(exprs.len() >= 10);
    // And what CoreDNS's own dashboards ask of `--metrics-compat coredns`.
    let mut exprs = exprs;
    for e in [
        "sum(rate(coredns_dns_requests_total[1m])) by (server, type)",
        "sum(rate(coredns_dns_responses_total[1m])) by (server, rcode)",
        "histogram_quantile(0.99, sum(rate(coredns_dns_request_duration_seconds_bucket[1m])) by (server, le))",
        "sum(rate(coredns_cache_hits_total[1m])) by (server, type)",
        "sum(rate(coredns_cache_misses_total[1m])) by (server)",
        "sum(coredns_cache_entries) by (server, type)",
    ] {
        exprs.push(("CoreDNS dashboard".into(), e.to_string()));
    }
    // Keep a little traffic going while the rates fill in.
    let mut empty = Vec::new();
    let found = wait_until(Duration::from_secs(40), || {
        dig(s.proxy.dns, &["www.example.test"]);
        dig(s.proxy.dns, &[&format!("n{}.example.test", empty.len())]);
        empty = exprs
            .iter()
            .filter(|(_, e)| series(addr, e) == 0)
            .cloned()
            .collect();
        empty.is_empty()
    });
    assert!(found.is_some(), "panels without data: {empty:#?}");
}
