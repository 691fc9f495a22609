//! Injection by MutatingAdmissionPolicy (`manifests/admission-policy`), checked on the real
//! API server (Kubernetes 1.36, where the API is GA and on by default): the pod shapes
//! captured from a real kube-apiserver (`shared/fixtures/admission`) and one with tuning
//! annotations (one of them out of bounds) are created through the policy and through the
//! webhook (server-side dry runs: admission in full, nothing stored), and the two results
//! are the same pod but for the differences named here; then a pod injected by the policy
//! alone runs, resolves, and loses no lookup while a CoreDNS replica's node dies.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use dns_sidecar_tests::cluster::fault::Dropped;
use dns_sidecar_tests::cluster::side_by_side::{report, totals, Loops};
use dns_sidecar_tests::cluster::{exclusive, App, Kube};
use dns_sidecar_tests::{output_with_stdin, repo_root, wait_until};

const NS: &str = "t-policy";
const SHAPES: [&str; 8] = [
    "plain",
    "dnsconfig-clusterfirst",
    "dnspolicy-default",
    "hostnetwork-clusterfirstwithhostnet",
    "init-container",
    "native-sidecar",
    "annotations-slash",
    "generate-name",
];

/// A captured pod, as a user would write it: what admission added before the webhook
/// (the ServiceAccount token volume, default tolerations) and bookkeeping taken out.
fn shape(name: &str) -> Value {
    let path = repo_root()
        .join("../shared/fixtures/admission")
        .join(format!("{name}.json"));
    let review: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let mut pod = review["request"]["object"].clone();
    let meta = pod["metadata"].as_object_mut().unwrap();
    for k in [
        "managedFields",
        "creationTimestamp",
        "uid",
        "resourceVersion",
    ] {
        meta.remove(k);
    }
    meta.insert("namespace".into(), json!(NS));
    let spec = pod["spec"].as_object_mut().unwrap();
    spec.remove("tolerations");
    if let Some(v) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        v.retain(|v| {
            !v["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("kube-api-access")
        });
    }
    for list in ["containers", "initContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(m) = c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                m.retain(|m| {
                    !m["name"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("kube-api-access")
                });
            }
        }
    }
    pod
}

/// The plain shape with tuning annotations, one of them out of bounds.
fn annotated() -> Value {
    let mut pod = shape("plain");
    pod["metadata"]["name"] = json!("annotated");
    pod["metadata"]["annotations"] = json!({
        "dns-sidecar.io/cache-size": "5000",
        "dns-sidecar.io/min-ttl": "2s",
        "dns-sidecar.io/max-ttl": "999999s",
        "dns-sidecar.io/ndots": "2",
        "dns-sidecar.io/autopath": "off",
        "dns-sidecar.io/memory": "32Mi",
        "dns-sidecar.io/prefetch": "false",
        "dns-sidecar.io/upstream-tcp": "true",
        "dns-sidecar.io/query-timeout": "2s",
        "dns-sidecar.io/debug-names": "true",
        "dns-sidecar.io/fallback": "none",
    });
    pod
}

/// What the API server would store: a server-side dry run of the create.
fn admitted(k: &Kube, pod: &Value) -> Value {
    let out = output_with_stdin(
        k.cmd()
            .args(["create", "--dry-run=server", "-o", "json", "-f", "-"]),
        &pod.to_string(),
    );
    assert!(
        out.status.success(),
        "create {}: {}",
        pod["metadata"]["name"],
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The pod without what differs on every create (names of generated objects, times).
fn comparable(mut pod: Value) -> Value {
    let meta = pod["metadata"].as_object_mut().unwrap();
    for k in [
        "uid",
        "creationTimestamp",
        "managedFields",
        "resourceVersion",
        "generation",
    ] {
        meta.remove(k);
    }
    if meta.contains_key("generateName") {
        meta.remove("name");
    }
    // The token volume's random suffix.
    let text = pod.to_string();
    let re_free = text
        .split("kube-api-access-")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                format!("kube-api-access-xxxxx{}", &part[5..])
            }
        })
        .collect::<String>();
    serde_json::from_str(&re_free).unwrap()
}

fn sidecar_args(pod: &Value) -> Vec<String> {
    pod["spec"]["initContainers"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "dns-proxy"))
        .and_then(|c| c["args"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Where two JSON values differ: each path with both sides.
fn differences(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                differences(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{at}/{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{at}/{i}"), out);
            }
        }
        _ if a != b => out.push(format!("{at}: webhook {a}, policy {b}")),
        _ => {}
    }
}

fn kustomization(name: &str) -> String {
    repo_root()
        .join("manifests")
        .join(name)
        .display()
        .to_string()
}

/// The differences the policy has by design, taken out of the webhook's pod: the replicas
/// at admission (`--upstream`, from the EndpointSlices a policy cannot read; the policy's
/// sidecar starts from the cluster DNS and discovers them), and the status annotation's
/// content (the webhook's names the upstreams and the settings it applied).
fn without_designed_differences(mut webhook: Value, policy: &Value) -> Value {
    for c in webhook["spec"]
        .get_mut("initContainers")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if c["name"] == "dns-proxy" {
            let args: Vec<Value> = c["args"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| !a.as_str().unwrap().starts_with("--upstream="))
                .cloned()
                .collect();
            c["args"] = json!(args);
        }
    }
    let (w, p) = (
        &webhook["metadata"]["annotations"]["dns-sidecar.io/status"],
        &policy["metadata"]["annotations"]["dns-sidecar.io/status"],
    );
    assert_eq!(
        w.is_string(),
        p.is_string(),
        "the status annotation on one side only"
    );
    if p.is_string() {
        webhook["metadata"]["annotations"]["dns-sidecar.io/status"] = p.clone();
    }
    webhook
}

#[test]
fn the_policy_gives_the_webhooks_pods_and_they_resolve_and_fail_over() {
    let _one = exclusive();
    let k = Kube::get();
    let mut pods: Vec<Value> = SHAPES.iter().map(|s| shape(s)).collect();
    pods.push(annotated());

    // Through the webhook (and no policy left from an earlier run).
    let _ = k.run(&[
        "delete",
        "mutatingadmissionpolicybinding,mutatingadmissionpolicy",
        "dns-sidecar",
        "--ignore-not-found",
    ]);
    k.install();
    k.fresh_namespace(NS, &[("dns-sidecar.io/inject", "enabled")]);
    let by_webhook: Vec<Value> = pods.iter().map(|p| comparable(admitted(&k, p))).collect();

    // Through the policy alone.
    let _ = k.run(&[
        "delete",
        "-k",
        &kustomization("base"),
        "--ignore-not-found",
        "--wait=true",
    ]);
    k.ok(&["apply", "-k", &kustomization("admission-policy")]);
    k.fresh_namespace(NS, &[("dns-sidecar.io/inject", "enabled")]);
    wait_until(Duration::from_secs(60), || {
        !sidecar_args(&admitted(&k, &pods[0])).is_empty()
    })
    .expect("the MutatingAdmissionPolicy never injected a pod");
    let by_policy: Vec<Value> = pods.iter().map(|p| comparable(admitted(&k, p))).collect();

    let mut injected = BTreeMap::new();
    for ((pod, w), p) in pods.iter().zip(by_webhook).zip(&by_policy) {
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or("generate-name")
            .to_string();
        injected.insert(name.clone(), !sidecar_args(p).is_empty());
        let mut diff = Vec::new();
        differences(&without_designed_differences(w, p), p, "", &mut diff);
        assert!(
            diff.is_empty(),
            "{name}: the webhook's pod and the policy's differ: {diff:#?}"
        );
    }
    eprintln!("injected by the policy: {injected:?}");
    assert!(injected["plain"]);
    assert!(!injected["hostnetwork"], "hostNetwork is skipped");
    assert!(
        !injected["dnspolicy-default"],
        "dnsPolicy Default is skipped"
    );
    let tuned = sidecar_args(&by_policy[SHAPES.len()]);
    assert!(
        tuned.contains(&"--cache-size=5000".into()) && tuned.contains(&"--min-ttl=2s".into()),
        "{tuned:?}"
    );
    assert!(
        !tuned.iter().any(|a| a.starts_with("--max-ttl")),
        "an out-of-bounds value is left out: {tuned:?}"
    );

    // Reinvocation-safe: a pod the policy injected, created again, is not changed twice.
    let again = admitted(&k, &by_policy[0]);
    assert_eq!(
        sidecar_args(&again).len(),
        sidecar_args(&by_policy[0]).len()
    );
    assert_eq!(
        again["spec"]["initContainers"].as_array().map(Vec::len),
        Some(1)
    );

    // A pod injected by the policy alone runs, resolves and fails over.
    let app = App::deploy(&k, NS, "app", &[]);
    assert_eq!(
        app.pod(&k)["spec"]["initContainers"][0]["name"],
        "dns-proxy"
    );
    let loops = Loops::start(
        &k,
        &[("policy", &app)],
        &["glibc", "musl"],
        100,
        30,
        &["kubernetes.default", "www.example.com"],
    );
    std::thread::sleep(Duration::from_secs(5));
    let dead = Dropped::pod_ip(&k.coredns_ips()[0]);
    let seen = loops.finish();
    drop(dead);
    report(
        "injected by the policy: a CoreDNS replica's node dies",
        &seen,
    );
    let (n, failed, stalls) = totals(&seen, "policy");
    assert!(n > 0);
    assert_eq!((failed, stalls), (0, 0), "failed, stalled of {n} lookups");

    k.delete_namespace(NS);
    let _ = k.run(&[
        "delete",
        "-k",
        &kustomization("admission-policy"),
        "--ignore-not-found",
        "--wait=true",
    ]);
    k.install();
}
