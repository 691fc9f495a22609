//! A pod as the webhook changes it, for the container tests: the captured Deployment pod,
//! the webhook library's patch of it for the test cluster, the resolv.conf kubelet would
//! write from its dnsConfig, and certificates from hack/gen-certs.sh.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{netns, repo_root, require};

/// The pod of a Deployment as the API server sent it (a captured AdmissionReview).
pub fn fixture_pod() -> Value {
    let p = repo_root().join("../shared/fixtures/admission/generate-name.json");
    let review: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    review["request"]["object"].clone()
}

/// The webhook's own decision for a Deployment's pod in this cluster: upstreams the
/// replicas' pod IPs, the VIP as fallback; the patched pod.
pub fn injected_by_library() -> Value {
    use clap::Parser;
    let args = dns_sidecar_webhook::config::Args::try_parse_from([
        "dns-sidecar-webhook",
        "--cluster-dns=10.96.0.10",
    ])
    .unwrap();
    let ups: Vec<std::net::IpAddr> = (0..2).map(|i| netns::replica_ip(i).into()).collect();
    let mut pod = fixture_pod();
    let out = dns_sidecar_webhook::inject::decide(
        &pod,
        "default",
        &args.settings(),
        &ups,
        dns_sidecar_webhook::inject::UpstreamSource::Static,
    );
    let dns_sidecar_webhook::inject::Decision::Inject(patch) = out.decision else {
        panic!("not injected: {:?}", out.decision)
    };
    json_patch::patch(&mut pod, &patch).unwrap();
    pod
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap_or("").to_string())
        .collect()
}

/// The pod's dnsConfig as the resolv.conf kubelet would write.
pub fn resolv_conf(pod: &Value, dir: &Path) -> PathBuf {
    let d = &pod["spec"]["dnsConfig"];
    let options: Vec<String> = d["options"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| match o["value"].as_str() {
            Some(v) => format!("{}:{v}", o["name"].as_str().unwrap()),
            None => o["name"].as_str().unwrap().to_string(),
        })
        .collect();
    let text = netns::resolv_conf(
        &strings(&d["nameservers"]),
        &strings(&d["searches"]),
        &options,
    );
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("resolv.conf");
    std::fs::write(&p, text).unwrap();
    p
}

/// Certificates from hack/gen-certs.sh, readable as a Secret volume is (0644).
pub fn certs(dir: &Path) -> PathBuf {
    require("openssl", "openssl");
    let out = dir.join("certs");
    let st = Command::new("bash")
        .arg(repo_root().join("hack/gen-certs.sh"))
        .arg("--out")
        .arg(&out)
        .args(["--extra-ip", "127.0.0.1"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "hack/gen-certs.sh");
    for f in ["tls.crt", "tls.key"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    out
}
