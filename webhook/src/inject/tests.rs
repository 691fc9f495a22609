//! The decision on every AdmissionReview captured from a real kube-apiserver
//! (../shared/fixtures/admission): apply the patch we return to the pod the API server sent,
//! then check the result as the API server's validation would, and that a second round (the
//! reinvocation the ServiceAccount plugin triggers) changes nothing.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;
use crate::dns_config;

mod fixes;
mod golden;
mod meshes;
mod node_cache;
mod shapes;
mod tuning;

fn fixtures_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/admission");
    assert!(
        d.is_dir(),
        "fixtures not found at {} (the shared/ folder must sit beside this repository)",
        d.display()
    );
    d
}

fn fixture(name: &str) -> Value {
    let p = fixtures_dir().join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

pub(crate) fn settings() -> Settings {
    Settings {
        image: "registry.example/dns-sidecar-proxy:0.1.0".into(),
        pull_policy: "IfNotPresent".into(),
        mode: Mode::Native,
        cluster_domain: "cluster.local".into(),
        cluster_dns: Some("10.96.0.10".parse().unwrap()),
        host_searches: vec![],
        dns_namespace: "kube-system".into(),
        discover: Some("dns-sidecar-upstreams.kube-system.svc.cluster.local".into()),
        fallback: Fallback::ClusterDns,
        node_cache: NodeCache::None,
        node_cache_port: 10053,
        istio_group: true,
        ambient: true,
        linkerd_skip_port: true,
        ttl_strict: false,
        debug_names: false,
        admin_port: 9953,
        resources: Resources {
            cpu_request: Some("10m".into()),
            cpu_limit: None,
            memory_request: Some("16Mi".into()),
            memory_limit: Some("64Mi".into()),
        },
    }
}

fn ups() -> Vec<IpAddr> {
    vec!["10.96.0.11".parse().unwrap(), "10.96.0.12".parse().unwrap()]
}

/// The pod the API server sent in a fixture.
fn pod_of(name: &str) -> Value {
    fixture(name)["request"]["object"].clone()
}

/// The decision with the test settings and upstreams.
fn decide_in(pod: &Value, ns: &str) -> Outcome {
    decide(pod, ns, &settings(), &ups(), UpstreamSource::EndpointSlices)
}

fn run(name: &str) -> (Value, String, Outcome) {
    let review = fixture(name);
    let pod = review["request"]["object"].clone();
    let ns = review["request"]["namespace"].as_str().unwrap().to_string();
    let out = decide_in(&pod, &ns);
    (pod, ns, out)
}

/// The patch of an injection, and the pod it makes of `pod`.
fn injected(pod: &Value, out: &Outcome) -> (Patch, Value) {
    let Decision::Inject(patch) = &out.decision else {
        panic!("not injected: {:?}", out.decision)
    };
    let mut after = pod.clone();
    json_patch::patch(&mut after, patch).unwrap_or_else(|e| panic!("patch does not apply: {e}"));
    (patch.clone(), after)
}

fn names(spec: &Value, list: &str) -> Vec<String> {
    spec[list]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Everything the API server would check of the mutated pod, plus our own invariants.
fn check_injected(name: &str, before: &Value, ns: &str, out: &Outcome) -> Value {
    let (patch, after) = injected(before, out);
    let patch = &patch;
    let spec = &after["spec"];
    assert_eq!(spec["dnsPolicy"], "None", "{name}");
    dns_config::validate(&spec["dnsConfig"]).unwrap_or_else(|e| panic!("{name}: {e}"));
    let searches = &spec["dnsConfig"]["searches"];
    assert_eq!(searches[0], format!("{ns}.svc.cluster.local"), "{name}");
    assert_eq!(searches[1], "svc.cluster.local");
    assert_eq!(searches[2], "cluster.local");
    assert_eq!(spec["dnsConfig"]["nameservers"][0], "127.0.0.1");
    assert_eq!(
        spec["dnsConfig"]["nameservers"][1], "10.96.0.10",
        "{name}: fallback second"
    );
    let init = names(spec, "initContainers");
    assert_eq!(init[0], sidecar::NAME, "{name}: sidecar first");
    assert_eq!(
        &init[1..],
        names(&before["spec"], "initContainers"),
        "{name}: others kept in order"
    );
    let sc = &spec["initContainers"][0];
    assert_eq!(sc["restartPolicy"], "Always");
    assert!(!sc["image"].as_str().unwrap().is_empty());
    assert!(sc["args"]
        .as_array()
        .unwrap()
        .contains(&json!("--upstream=10.96.0.11,10.96.0.12")));
    assert_eq!(sc["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        sc["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    let mut all = init.clone();
    all.extend(names(spec, "containers"));
    let mut uniq = all.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        all.len(),
        "{name}: container names unique across both lists: {all:?}"
    );
    assert!(spec["securityContext"]["sysctls"]
        .as_array()
        .unwrap()
        .contains(&json!({"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"})));
    let status: Value = serde_json::from_str(
        after["metadata"]["annotations"][crate::annotations::STATUS]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(status["mode"], "native");
    assert_eq!(
        after["metadata"]["labels"][crate::annotations::INJECTED_LABEL],
        "true",
        "{name}: the label the PodMonitor selects"
    );
    for (k, v) in before["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
    {
        assert_eq!(&after["metadata"]["labels"][k], v, "{name}: label {k} kept");
    }
    assert_eq!(status["upstreams"], json!(["10.96.0.11", "10.96.0.12"]));
    // Everything the pod had is still there.
    for (k, v) in before["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        assert_eq!(
            &after["metadata"]["annotations"][k], v,
            "{name}: annotation {k} kept"
        );
    }
    assert_eq!(
        after["spec"]["containers"], before["spec"]["containers"],
        "{name}: app containers untouched"
    );
    assert_eq!(after["spec"]["volumes"], before["spec"]["volumes"]);
    // Minimal: nothing removed, the container lists touched by one add only.
    let ops = serde_json::to_value(patch).unwrap();
    for (i, op) in ops.as_array().unwrap().iter().enumerate() {
        assert!(op["op"] == "add" || op["op"] == "replace", "{name}: {op}");
        let path = op["path"].as_str().unwrap();
        if i > 0 {
            assert!(
                !path.starts_with("/spec/initContainers") && !path.starts_with("/spec/containers"),
                "{name}: {op}"
            );
        }
    }
    assert!(ops.as_array().unwrap().len() <= 6, "{name}: {ops}");
    after
}

/// What the API server does before calling again: the ServiceAccount plugin mounts the
/// token into the new container.
fn add_token_mount(pod: &mut Value) {
    let vol = pod["spec"]["volumes"][0]["name"].clone();
    pod["spec"]["initContainers"][0]["volumeMounts"] = json!([{
        "name": vol, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"
    }]);
}

#[test]
fn own_dns_config_is_merged() {
    let (before, _, out) = run("dnsconfig-clusterfirst.json");
    let (_, pod) = injected(&before, &out);
    assert_eq!(
        pod["spec"]["dnsConfig"],
        json!({
            "nameservers": ["127.0.0.1", "10.96.0.10", "1.1.1.1"],
            "searches": ["dns-demo.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example.com"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]
        })
    );
}

#[test]
fn patch_paths_escape_slashes_and_create_missing_maps() {
    let (before, _, out) = run("annotations-slash.json");
    let (patch, _) = injected(&before, &out);
    let ops = serde_json::to_value(&patch).unwrap();
    let paths: Vec<&str> = ops
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/metadata/annotations/dns-sidecar.io~1status"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/spec/initContainers"),
        "created whole when absent: {paths:?}"
    );
    let (before, _, out) = run("plain.json");
    let (patch, _) = injected(&before, &out);
    let ops = serde_json::to_value(&patch).unwrap();
    let ann = ops
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == "/metadata/annotations")
        .expect("whole map added");
    assert!(ann["value"].get("dns-sidecar.io/status").is_some());
    let (before, _, out) = run("native-sidecar.json");
    let (patch, _) = injected(&before, &out);
    let ops = serde_json::to_value(&patch).unwrap();
    assert_eq!(
        ops[0]["path"], "/spec/initContainers/0",
        "one add at index 0, nothing shifted by hand"
    );
}
