//! The monitoring kit's harness: promtool, the PrometheusRule as a plain rule file, a proxy
//! and a webhook with a little traffic, and a real Prometheus scraping them as the
//! PodMonitor and ServiceMonitor would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{
    dig, free_port, http_get, output_with_stdin, repo_root, require, wait_until, Nsd, Proc, Proxy,
    TempDir,
};

pub fn promtool() -> PathBuf {
    require("promtool", "prometheus")
}

/// The PrometheusRule's groups as a plain rule file, in `dir`.
pub fn rule_file(dir: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(repo_root().join("manifests/monitoring/prometheusrule.yaml"))
            .unwrap();
    let rule: Value = serde_yaml::from_str(&text).unwrap();
    let groups = serde_json::json!({"groups": rule["spec"]["groups"]});
    let path = dir.join("rules.yaml");
    std::fs::write(&path, serde_yaml::to_string(&groups).unwrap()).unwrap();
    path
}

pub fn run(cmd: &mut Command) -> (bool, String) {
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

/// A proxy before NSD, a little traffic (hits, misses, NXDOMAIN), and a webhook that has
/// admitted one pod: everything the dashboard shows has a series.
pub struct Stack {
    pub proxy: Proxy,
    pub webhook: SocketAddrTls,
    _nsd: Nsd,
}

pub struct SocketAddrTls {
    pub addr: std::net::SocketAddr,
    _proc: Proc,
    _dir: TempDir,
}

pub fn webhook() -> SocketAddrTls {
    let dir = TempDir::new("mon-webhook");
    let certs = crate::injected::certs(&dir.0);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let child = Command::new(crate::built_bin("dns-sidecar-webhook"))
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

pub fn https(w: &SocketAddrTls, path: &str) -> (bool, String) {
    run(Command::new("curl")
        .args(["-sk", "--fail", "--max-time", "2"])
        .arg(format!("https://{}{path}", w.addr)))
}

pub fn stack() -> Stack {
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
pub fn check_metrics(scrape: &str, what: &str) {
    let out = output_with_stdin(Command::new(promtool()).args(["check", "metrics"]), scrape);
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

/// Prometheus from Debian's package, scraping `s` every second as the PodMonitor and
/// ServiceMonitor would (the labels their relabelings set), with the rules loaded.
pub fn prometheus(s: &Stack, dir: &Path) -> (Proc, std::net::SocketAddr) {
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
pub fn series(prom: std::net::SocketAddr, expr: &str) -> usize {
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
