//! The real webhook binary over real HTTPS: a certificate made by hack/gen-certs.sh, the
//! AdmissionReviews a real kube-apiserver sent (../shared/fixtures/admission) POSTed with
//! curl, and openssl s_client checking protocol versions and certificate rotation.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use dns_sidecar_tests::{built_bin, free_port, repo_root, require, wait_until, Proc, TempDir};
use serde_json::Value;

struct Webhook {
    addr: SocketAddr,
    certs: PathBuf,
    _proc: Proc,
    _dir: TempDir,
}

fn gen_certs(dir: &Path) {
    require("openssl", "openssl");
    let st = Command::new("bash")
        .arg(repo_root().join("hack/gen-certs.sh"))
        .args(["--out"])
        .arg(dir)
        .args(["--extra-ip", "127.0.0.1", "--extra-dns", "localhost"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "hack/gen-certs.sh failed");
}

fn start() -> Webhook {
    let dir = TempDir::new("webhook");
    let certs = dir.0.join("live");
    gen_certs(&certs);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let child = Command::new(built_bin("dns-sidecar-webhook"))
        .args(["--listen", &addr.to_string()])
        .arg("--tls-cert")
        .arg(certs.join("tls.crt"))
        .arg("--tls-key")
        .arg(certs.join("tls.key"))
        .args([
            "--tls-reload-interval",
            "100ms",
            "--upstreams",
            "10.96.0.11,10.96.0.12",
        ])
        .args([
            "--proxy-image",
            "registry.example/dns-sidecar-proxy:0.1.0",
            "--log-level",
            "warn",
        ])
        .spawn()
        .expect("start dns-sidecar-webhook");
    let w = Webhook {
        addr,
        certs,
        _proc: Proc {
            child,
            name: "dns-sidecar-webhook".into(),
        },
        _dir: dir,
    };
    wait_until(Duration::from_secs(10), || w.get("/healthz").0 == 200)
        .expect("webhook /healthz over HTTPS");
    w
}

impl Webhook {
    fn curl(&self, args: &[&str]) -> (u16, String) {
        require("curl", "curl");
        let out = Command::new("curl")
            .args(["-s", "--max-time", "5", "--cacert"])
            .arg(self.certs.join("ca.crt"))
            .args(["-w", "\n%{http_code}"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }
    fn get(&self, path: &str) -> (u16, String) {
        self.curl(&[&self.url(path)])
    }
    fn post(&self, body_file: &Path) -> (u16, String) {
        let data = format!("@{}", body_file.display());
        self.curl(&[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &data,
            &self.url("/mutate?timeout=10s"),
        ])
    }
    /// SHA-256 fingerprint of the certificate a new TLS connection is given.
    fn served_fingerprint(&self, extra: &[&str]) -> Option<String> {
        let mut s = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &self.addr.to_string(),
                "-servername",
                "localhost",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pem = {
            use std::io::Read;
            let mut out = String::new();
            s.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            let _ = s.wait();
            out
        };
        let start = pem.find("-----BEGIN CERTIFICATE-----")?;
        let end = pem.find("-----END CERTIFICATE-----")? + 25;
        fingerprint_of(&pem[start..end])
    }
}

fn fingerprint_of(pem: &str) -> Option<String> {
    let mut c = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(pem.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

fn fixtures() -> PathBuf {
    let d = repo_root().join("../shared/fixtures/admission");
    assert!(
        d.is_dir(),
        "fixtures not found at {} (shared/ must sit beside the repository)",
        d.display()
    );
    d
}

#[test]
fn captured_reviews_get_correct_answers_over_https() {
    let w = start();
    for (name, injected) in [
        ("plain.json", true),
        ("generate-name.json", true),
        ("dry-run-plain.json", true),
        ("annotations-slash.json", true),
        ("native-sidecar.json", true),
        ("dnsconfig-clusterfirst.json", true),
        ("hostnetwork-clusterfirstwithhostnet.json", false),
        ("dnspolicy-default.json", false),
        ("injected-good.round2.json", false),
    ] {
        let path = fixtures().join(name);
        let req: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (code, body) = w.post(&path);
        assert_eq!(code, 200, "{name}: {body}");
        let review: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
        let resp = &review["response"];
        assert_eq!(resp["uid"], req["request"]["uid"], "{name}");
        assert_eq!(resp["allowed"], true, "{name}: never denied");
        match resp["patch"].as_str() {
            Some(b64) => {
                assert!(injected, "{name}: unexpected patch");
                assert_eq!(resp["patchType"], "JSONPatch");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
                let mut pod = req["request"]["object"].clone();
                json_patch::patch(&mut pod, &patch).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(pod["spec"]["initContainers"][0]["name"], "dns-proxy");
                assert_eq!(pod["spec"]["dnsPolicy"], "None");
                assert_eq!(pod["spec"]["dnsConfig"]["nameservers"][0], "127.0.0.1");
            }
            None => assert!(!injected, "{name}: no patch"),
        }
    }
    let (_, metrics) = w.get("/metrics");
    assert!(
        metrics
            .contains("dns_sidecar_webhook_admissions_total{outcome=\"injected\",reason=\"\"} 6"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "dns_sidecar_webhook_admissions_total{outcome=\"skipped\",reason=\"host-network\"} 1"
    ));
    assert!(
        metrics.contains("dns_sidecar_webhook_admission_duration_seconds_count{} 9"),
        "{metrics}"
    );
    assert_eq!(w.get("/readyz").0, 200);
}

#[test]
fn bad_bodies_get_400_with_a_message() {
    let w = start();
    let dir = TempDir::new("bodies");
    for (body, want) in [("not json", "not an admission.k8s.io/v1 AdmissionReview"), ("{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"request\":null}", "v1beta1")] {
        let f = dir.0.join("b.json");
        std::fs::write(&f, body).unwrap();
        let (code, text) = w.post(&f);
        assert_eq!(code, 400, "{body}");
        assert!(text.contains(want), "{text}");
    }
    let big = dir.0.join("big.json");
    std::fs::write(&big, vec![b' '; 5 << 20]).unwrap();
    // 413, or the connection closed under curl's upload once the 413 went out.
    let code = w.post(&big).0;
    assert!(
        code == 413 || code == 0,
        "bodies over 4 MiB are refused, got {code}"
    );
    assert_eq!(w.get("/healthz").0, 200, "and the server carries on");
    assert!(w
        .get("/metrics")
        .1
        .contains("dns_sidecar_webhook_bad_requests_total 2"));
}

#[test]
fn tls_1_2_and_1_3_only() {
    let w = start();
    assert!(w.served_fingerprint(&["-tls1_3"]).is_some());
    assert!(w.served_fingerprint(&["-tls1_2"]).is_some());
    assert!(
        w.served_fingerprint(&["-tls1_1"]).is_none(),
        "TLS 1.1 refused"
    );
}

#[test]
fn a_rotated_certificate_is_served_to_the_next_connection() {
    let w = start();
    let old = w.served_fingerprint(&[]).expect("a certificate");
    // A bad pair (key missing its certificate's match) is refused: the old one stays.
    let other = TempDir::new("other");
    gen_certs(&other.0);
    std::fs::copy(other.0.join("tls.key"), w.certs.join("tls.key")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        w.served_fingerprint(&[]).as_deref(),
        Some(old.as_str()),
        "mismatched pair not taken"
    );
    assert_eq!(w.get("/healthz").0, 200, "still serving with the old pair");
    // The full new pair is.
    std::fs::copy(other.0.join("tls.crt"), w.certs.join("tls.crt")).unwrap();
    let new = fingerprint_of(&std::fs::read_to_string(other.0.join("tls.crt")).unwrap()).unwrap();
    assert_ne!(new, old);
    wait_until(Duration::from_secs(5), || {
        w.served_fingerprint(&[]).as_deref() == Some(new.as_str())
    })
    .expect("the new certificate is served without a restart");
}
