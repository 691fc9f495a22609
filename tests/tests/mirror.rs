//! Mirrored discovery (`--discovery mirror`, for clusters whose kube-system is read-only):
//! the real webhook binary against a local stand-in for the API server (tests/src/
//! apiserver.rs) that holds CoreDNS's own EndpointSlices in kube-system. The webhook reads
//! them by list and watch, and writes their ready endpoints into the EndpointSlices of
//! `dns-sidecar-upstreams` in its own namespace by server-side apply; nothing is written in
//! kube-system; a CoreDNS rollout is followed; a second replica writes the same object; the
//! sidecars it injects follow the mirrored Service.

use std::process::{Command, Stdio};
use std::time::Duration;

use dns_sidecar_tests::apiserver::{endpoint_slice, ApiServer};
use dns_sidecar_tests::{built_bin, free_port, injected, wait_until, Proc, TempDir};
use serde_json::Value;

const OWN: &str = "dns-sidecar-system";
const MIRRORED: &str = "dns-sidecar-upstreams-ipv4";

struct Webhook {
    port: u16,
    certs: std::path::PathBuf,
    _proc: Proc,
}

fn webhook(api: &ApiServer, dir: &TempDir) -> Webhook {
    let certs = injected::certs(&dir.0.join(format!("w{}", free_port("127.0.0.1"))));
    let port = free_port("127.0.0.1");
    let child = Command::new(built_bin("dns-sidecar-webhook"))
        .env("KUBECONFIG", &api.kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(certs.join("tls.crt"))
        .arg("--tls-key")
        .arg(certs.join("tls.key"))
        .args([
            "--discovery",
            "mirror",
            "--namespace",
            OWN,
            "--log-level",
            "warn",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("start dns-sidecar-webhook");
    Webhook {
        port,
        certs,
        _proc: Proc {
            child,
            name: "dns-sidecar-webhook".into(),
        },
    }
}

fn ready_addresses(slice: &Value) -> Vec<String> {
    let mut v: Vec<String> = slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["conditions"]["ready"] != false)
        .map(|e| e["addresses"][0].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn mirrored(api: &ApiServer) -> Vec<String> {
    api.slice(OWN, MIRRORED)
        .map(|s| ready_addresses(&s))
        .unwrap_or_default()
}

#[test]
fn coredns_endpoints_are_mirrored_into_our_namespace_by_server_side_apply() {
    let api = ApiServer::start();
    api.put_namespace(
        "dns-demo",
        serde_json::json!({"dns-sidecar.io/inject": "enabled"}),
    );
    api.put_namespace(
        "mesh-ambient",
        serde_json::json!({"dns-sidecar.io/inject": "enabled", "istio.io/dataplane-mode": "ambient"}),
    );
    api.put_slice(
        "kube-system",
        endpoint_slice(
            "kube-system",
            "kube-dns-abcde",
            "kube-dns",
            &[
                ("10.244.0.11", true),
                ("10.244.0.12", true),
                ("10.244.0.13", false),
            ],
        ),
    );
    let dir = TempDir::new("mirror");
    let first = webhook(&api, &dir);
    wait_until(Duration::from_secs(15), || {
        mirrored(&api) == ["10.244.0.11", "10.244.0.12"]
    })
    .unwrap_or_else(|| panic!("not mirrored: {:?}", api.slice(OWN, MIRRORED)));
    let slice = api.slice(OWN, MIRRORED).unwrap();
    assert_eq!(
        slice["metadata"]["labels"]["kubernetes.io/service-name"], "dns-sidecar-upstreams",
        "CoreDNS indexes slices by this label"
    );
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "dns-sidecar-webhook"
    );
    let writes: Vec<_> = api
        .seen()
        .into_iter()
        .filter(|s| s.method != "GET")
        .collect();
    assert!(!writes.is_empty());
    for w in &writes {
        assert!(
            w.path
                .starts_with(&format!("/apis/discovery.k8s.io/v1/namespaces/{OWN}/")),
            "a write outside our namespace: {w:?}"
        );
        assert_eq!(w.method, "PATCH", "{w:?}");
        assert_eq!(
            w.content_type, "application/apply-patch+yaml",
            "server-side apply"
        );
        assert!(
            w.query.contains("fieldManager=dns-sidecar-webhook") && w.query.contains("force=true"),
            "{}",
            w.query
        );
    }
    let reads_kube_system = api.seen().iter().any(|s| {
        s.path.contains("/namespaces/kube-system/endpointslices") && s.query.contains("kube-dns")
    });
    assert!(reads_kube_system, "CoreDNS's own Service is read");

    // A CoreDNS rollout: a replica replaced at a new address.
    api.put_slice(
        "kube-system",
        endpoint_slice(
            "kube-system",
            "kube-dns-abcde",
            "kube-dns",
            &[("10.244.0.12", true), ("10.244.0.14", true)],
        ),
    );
    wait_until(Duration::from_secs(10), || {
        mirrored(&api) == ["10.244.0.12", "10.244.0.14"]
    })
    .unwrap_or_else(|| panic!("the rollout was not followed: {:?}", mirrored(&api)));

    // A second replica, no leader: it writes the same object.
    let before = api.seen().iter().filter(|s| s.method == "PATCH").count();
    let second = webhook(&api, &dir);
    wait_until(Duration::from_secs(15), || {
        api.seen().iter().filter(|s| s.method == "PATCH").count() >= before + 2
    })
    .expect("the second replica writes too");
    assert_eq!(
        mirrored(&api),
        ["10.244.0.12", "10.244.0.14"],
        "the same content"
    );

    // What the webhook injects follows the mirrored Service.
    let review = std::fs::read_to_string(
        dns_sidecar_tests::repo_root().join("../shared/fixtures/admission/plain.json"),
    )
    .unwrap();
    for w in [&first, &second] {
        let patch = mutate(w, &review);
        assert!(
            patch.contains("--discover=dns-sidecar-upstreams.dns-sidecar-system.svc.cluster.local"),
            "{patch}"
        );
        assert!(
            patch.contains("--upstream=10.244.0.12,10.244.0.14"),
            "{patch}"
        );
    }
    // The namespaces' labels come from the API too: a pod in an ambient namespace (the
    // label on the namespace, not the pod) gets one logical upstream.
    let mut ambient: Value = serde_json::from_str(&review).unwrap();
    ambient["request"]["namespace"] = serde_json::json!("mesh-ambient");
    let ambient = ambient.to_string();
    wait_until(Duration::from_secs(10), || {
        mutate(&first, &ambient).contains("--upstream-mode=logical")
    })
    .unwrap_or_else(|| panic!("not seen as ambient: {}", mutate(&first, &ambient)));
}

/// POSTs `review` to the webhook's /mutate; returns the decoded JSONPatch ("" for none).
fn mutate(w: &Webhook, review: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "--cacert"])
        .arg(w.certs.join("ca.crt"))
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ])
        .arg(format!("https://127.0.0.1:{}/mutate", w.port))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(review.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let resp: Value = serde_json::from_slice(&out.stdout).expect("an AdmissionReview");
    String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            resp["response"]["patch"].as_str().unwrap_or(""),
        )
        .unwrap(),
    )
    .unwrap()
}
