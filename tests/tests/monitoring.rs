//! The operators' monitoring kit, checked with the real tools of Debian's prometheus
//! package: `promtool check metrics` on live scrapes of the proxy and the webhook,
//! `promtool check rules` and `promtool test rules` (a case per alert) on the
//! PrometheusRule of manifests/monitoring, and a real Prometheus server scraping a proxy
//! and a webhook under a little load, with those rules loaded, in which every panel of the
//! Grafana dashboard, and the usual CoreDNS dashboard queries on `--metrics-compat coredns`,
//! must return data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use dns_sidecar_tests::{
    dig, free_port, http_get, repo_root, require, wait_until, Nsd, Proc, Proxy, TempDir,
};

fn promtool() -> PathBuf {
    require("promtool", "prometheus")
}

/// The PrometheusRule's groups as a plain rule file, in `dir`.
fn rule_file(dir: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(repo_root().join("manifests/monitoring/prometheusrule.yaml"))
            .unwrap();
    let rule: Value = serde_yaml::from_str(&text).unwrap();
    let groups = serde_json::json!({"groups": rule["spec"]["groups"]});
    let path = dir.join("rules.yaml");
    std::fs::write(&path, serde_yaml::to_string(&groups).unwrap()).unwrap();
    path
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

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

/// A proxy before NSD, a little traffic (hits, misses, NXDOMAIN), and a webhook that has
/// admitted one pod: everything the dashboard shows has a series.
struct Stack {
    proxy: Proxy,
    webhook: SocketAddrTls,
    _nsd: Nsd,
}

struct SocketAddrTls {
    addr: std::net::SocketAddr,
    _proc: Proc,
    _dir: TempDir,
}

fn webhook() -> SocketAddrTls {
    require("openssl", "openssl");
    let dir = TempDir::new("mon-webhook");
    let certs = dir.0.join("certs");
    let st = Command::new("bash")
        .arg(repo_root().join("hack/gen-certs.sh"))
        .arg("--out")
        .arg(&certs)
        .args(["--extra-ip", "127.0.0.1"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let child = Command::new(dns_sidecar_tests::built_bin("dns-sidecar-webhook"))
        .args([
            "--listen",
            &addr.to_string(),
            "--upstreams",
            "10.96.0.11",
            "--log-level",
            "warn",
        ])
        .arg("--tls-cert")
        .arg(certs.join("tls.crt"))
        .arg("--tls-key")
        .arg(certs.join("tls.key"))
        .spawn()
        .unwrap();
    let w = SocketAddrTls {
        addr,
        _proc: Proc {
            child,
            name: "dns-sidecar-webhook".into(),
        },
        _dir: dir,
    };
    wait_until(Duration::from_secs(10), || https(&w, "/healthz").0).expect("webhook up");
    let review = repo_root().join("../shared/fixtures/admission/plain.json");
    let out = Command::new("curl")
        .args([
            "-sk",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
        ])
        .arg(format!("@{}", review.display()))
        .arg(format!("https://{addr}/mutate"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"allowed\":true"));
    w
}

fn https(w: &SocketAddrTls, path: &str) -> (bool, String) {
    run(Command::new("curl")
        .args(["-sk", "--fail", "--max-time", "2"])
        .arg(format!("https://{}{path}", w.addr)))
}

fn stack() -> Stack {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let proxy = Proxy::start(&[
        "--upstream".to_string(),
        nsd.addr.to_string(),
        "--metrics-compat".to_string(),
        "coredns".to_string(),
    ]);
    for i in 0..3 {
        for name in [
            "www.example.test",
            &format!("nope{i}.example.test"),
            "mail.example.test",
        ] {
            dig(proxy.dns, &[name]);
        }
    }
    Stack {
        proxy,
        webhook: webhook(),
        _nsd: nsd,
    }
}

/// `promtool check metrics` reads a scrape on stdin; clean means exit 0 and nothing said.
fn check_metrics(scrape: &str, what: &str) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{what}: {said}"
    );
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

/// Prometheus from Debian's package, scraping `s` every second as the PodMonitor and
/// ServiceMonitor would (the labels their relabelings set), with the rules loaded.
fn prometheus(s: &Stack, dir: &Path) -> (Proc, std::net::SocketAddr) {
    let bin = require("prometheus", "prometheus");
    rule_file(dir);
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yaml]\nscrape_configs:\n\
         - job_name: dns-sidecar\n  static_configs:\n  - targets: ['{}']\n    labels: {{namespace: shop, workload: web, pod: web-7d9f8c6b5-x2x9z}}\n\
         - job_name: dns-sidecar-webhook\n  scheme: https\n  tls_config: {{insecure_skip_verify: true}}\n  static_configs:\n  - targets: ['{}']\n",
        s.proxy.admin, s.webhook.addr
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let child = Command::new(bin)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc {
        child,
        name: "prometheus".into(),
    };
    wait_until(Duration::from_secs(20), || {
        http_get(addr, "/-/ready").0 == 200
    })
    .expect("prometheus ready");
    (p, addr)
}

/// The number of series an instant query returns.
fn series(prom: std::net::SocketAddr, expr: &str) -> usize {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "--get", "--data-urlencode"])
        .arg(format!("query={expr}"))
        .arg(format!("http://{prom}/api/v1/query"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_ne!(v["status"], "error", "{expr}: {v}");
    v["data"]["result"].as_array().map_or(0, |r| r.len())
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
