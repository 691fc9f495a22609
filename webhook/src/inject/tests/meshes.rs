//! Pods beside meshes: what Istio's and Linkerd's injectors add (webhook/tests/fixtures/
//! mesh), on the captured plain pod, before our injection (the mesh's webhook first) and
//! after it (ours first, then the mesh's, then our reinvocation, which fixes what it can
//! and then changes nothing more); Istio ambient by pod and by namespace; Cilium's
//! TTL-strict by annotation, namespace label and flag; each fix switched off per pod.

use std::collections::BTreeMap;

use super::*;

fn additions(file: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mesh")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// What the mesh's injector makes of `pod`: its init containers first, its containers
/// after, its annotations, labels and volumes merged.
fn mesh_injects(pod: &mut Value, file: &str) {
    let add = additions(file);
    let spec = &mut pod["spec"];
    let mut init: Vec<Value> = add["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    init.extend(
        spec["initContainers"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    if !init.is_empty() {
        spec["initContainers"] = json!(init);
    }
    for (list, k) in [("containers", "containers"), ("volumes", "volumes")] {
        let mut v = spec[list].as_array().cloned().unwrap_or_default();
        v.extend(add[k].as_array().cloned().unwrap_or_default());
        spec[list] = json!(v);
    }
    for k in ["annotations", "labels"] {
        if !pod["metadata"][k].is_object() {
            pod["metadata"][k] = json!({});
        }
        for (key, v) in add[k].as_object().into_iter().flatten() {
            pod["metadata"][k][key] = v.clone();
        }
    }
}

fn ours(pod: &Value) -> Value {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|l| pod["spec"][*l].as_array())
        .flatten()
        .find(|c| c["name"] == sidecar::NAME)
        .cloned()
        .expect("our sidecar")
}

fn args(c: &Value) -> Vec<String> {
    c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn init_named<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["spec"]["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// Ours first, then the mesh's injector, then our reinvocation (whose patch must apply),
/// then another call, which must change nothing.
fn us_then_mesh(file: &str, s: &Settings) -> (Value, Outcome) {
    let mut pod = pod_of("plain.json");
    let first = decide(&pod, "dns-demo", s, &ups(), UpstreamSource::EndpointSlices);
    pod = injected(&pod, &first).1;
    add_token_mount(&mut pod);
    mesh_injects(&mut pod, file);
    let again = decide(&pod, "dns-demo", s, &ups(), UpstreamSource::EndpointSlices);
    let after = match &again.decision {
        Decision::Inject(_) => injected(&pod, &again).1,
        Decision::Skip(_) => pod.clone(),
    };
    let third = decide(
        &after,
        "dns-demo",
        s,
        &ups(),
        UpstreamSource::EndpointSlices,
    );
    assert_eq!(
        third.decision,
        Decision::Skip(Skip::AlreadyInjected),
        "{file}: a third call changes nothing"
    );
    (after, again)
}

fn mesh_then_us(file: &str, s: &Settings) -> (Value, Outcome) {
    let mut pod = pod_of("plain.json");
    mesh_injects(&mut pod, file);
    let out = decide(&pod, "dns-demo", s, &ups(), UpstreamSource::EndpointSlices);
    let (_, after) = injected(&pod, &out);
    dns_config::validate(&after["spec"]["dnsConfig"]).unwrap();
    (after, out)
}

#[test]
fn beside_istios_sidecar_ours_runs_in_the_proxy_group_whichever_webhook_ran_first() {
    for file in [
        "istio-init.json",
        "istio-cni.json",
        "istio-native-no-capture.json",
    ] {
        for (order, (pod, out)) in [
            ("mesh first", mesh_then_us(file, &settings())),
            ("ours first", us_then_mesh(file, &settings())),
        ] {
            let c = ours(&pod);
            assert_eq!(c["securityContext"]["runAsGroup"], 1337, "{file}, {order}");
            assert_eq!(
                c["securityContext"]["runAsUser"], 65532,
                "{file}, {order}: our uid"
            );
            assert_eq!(out.warnings.len(), 1, "{file}, {order}: {:?}", out.warnings);
            let w = &out.warnings[0];
            assert!(w.contains("istio-proxy group (1337)"), "{w}");
            let capture = file != "istio-native-no-capture.json";
            assert_eq!(w.contains("DNS capture"), capture, "{file}: {w}");
            assert!(!file.contains("cni") || w.contains("istio-cni"), "{w}");
            // Istio's own containers are untouched.
            let istio = pod["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .chain(pod["spec"]["initContainers"].as_array().unwrap())
                .find(|c| c["name"] == "istio-proxy")
                .unwrap();
            assert_eq!(istio["securityContext"]["runAsUser"], 1337);
        }
    }
    let mut off = pod_of("plain.json");
    mesh_injects(&mut off, "istio-init.json");
    off["metadata"]["annotations"]["dns-sidecar.io/istio-group"] = json!("off");
    let out = decide_in(&off, "dns-demo");
    assert_eq!(
        ours(&injected(&off, &out).1)["securityContext"]["runAsGroup"],
        65532
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[test]
fn beside_linkerd_port_53_joins_the_skipped_outbound_ports() {
    for (order, (pod, out)) in [
        ("mesh first", mesh_then_us("linkerd.json", &settings())),
        ("ours first", us_then_mesh("linkerd.json", &settings())),
    ] {
        let init = init_named(&pod, "linkerd-init");
        let a = args(init);
        let i = a
            .iter()
            .position(|x| x == "--outbound-ports-to-ignore")
            .unwrap();
        assert_eq!(a[i + 1], "4567,4568,53", "{order}");
        assert_eq!(
            pod["metadata"]["annotations"]["config.linkerd.io/skip-outbound-ports"], "4567,4568,53",
            "{order}: for linkerd-cni too, with Linkerd's defaults kept"
        );
        assert!(
            out.warnings[0].contains("Linkerd found"),
            "{:?}",
            out.warnings
        );
        assert_eq!(
            ours(&pod)["securityContext"]["runAsGroup"],
            65532,
            "no group change"
        );
    }
    // linkerd-cni: no init container; the annotation alone (read by the CNI plugin).
    let (pod, _) = mesh_then_us("linkerd-cni.json", &settings());
    assert_eq!(
        pod["metadata"]["annotations"]["config.linkerd.io/skip-outbound-ports"],
        "4567,4568,53"
    );
    // The pod's own skip list is kept, 53 added.
    let mut own = pod_of("plain.json");
    mesh_injects(&mut own, "linkerd-cni.json");
    own["metadata"]["annotations"]["config.linkerd.io/skip-outbound-ports"] = json!("25,587");
    let (_, after) = injected(&own, &decide_in(&own, "dns-demo"));
    assert_eq!(
        after["metadata"]["annotations"]["config.linkerd.io/skip-outbound-ports"],
        "25,587,53"
    );
}

#[test]
fn under_istio_ambient_the_sidecar_asks_one_logical_upstream() {
    let ambient_ns: BTreeMap<String, String> =
        [("istio.io/dataplane-mode".to_string(), "ambient".to_string())].into();
    let plain = pod_of("plain.json");
    let by_ns = decide_with(
        &plain,
        "dns-demo",
        Some(&ambient_ns),
        &settings(),
        &ups(),
        UpstreamSource::EndpointSlices,
    );
    let (by_pod_out, by_pod) = {
        let (pod, out) = mesh_then_us("ambient.json", &settings());
        (out, pod)
    };
    for (what, pod, out) in [
        ("pod label", by_pod, by_pod_out),
        ("namespace label", injected(&plain, &by_ns).1, by_ns),
    ] {
        let a = args(&ours(&pod));
        assert!(
            a.contains(&"--upstream-mode=logical".to_string()),
            "{what}: {a:?}"
        );
        assert!(
            a.contains(&"--upstream=10.96.0.10".to_string()),
            "{what}: the VIP only"
        );
        assert!(!a.iter().any(|x| x.starts_with("--discover")), "{what}");
        assert!(
            out.warnings[0].contains("ambient"),
            "{what}: {:?}",
            out.warnings
        );
        let status: Value = serde_json::from_str(
            pod["metadata"]["annotations"]["dns-sidecar.io/status"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(status["beside"], json!(["ambient"]), "{what}");
    }
    // Opted out of capture: replica-true, as without a mesh.
    let (pod, out) = mesh_then_us("ambient-no-dns-capture.json", &settings());
    let a = args(&ours(&pod));
    assert!(!a.contains(&"--upstream-mode=logical".to_string()), "{a:?}");
    assert!(a.contains(&"--upstream=10.96.0.11,10.96.0.12".to_string()));
    assert!(out.warnings.is_empty());
}

#[test]
fn ttl_strict_by_annotation_namespace_or_flag() {
    let strict = |pod: &Value, ns: Option<&BTreeMap<String, String>>, s: &Settings| {
        let out = decide_with(
            pod,
            "dns-demo",
            ns,
            s,
            &ups(),
            UpstreamSource::EndpointSlices,
        );
        args(&ours(&injected(pod, &out).1)).contains(&"--ttl-strict".to_string())
    };
    let plain = pod_of("plain.json");
    assert!(!strict(&plain, None, &settings()), "nothing by default");
    let ns: BTreeMap<String, String> =
        [("dns-sidecar.io/ttl-strict".to_string(), "true".to_string())].into();
    assert!(
        strict(&plain, Some(&ns), &settings()),
        "the namespace says so"
    );
    let flag = Settings {
        ttl_strict: true,
        debug_names: false,
        ..settings()
    };
    assert!(strict(&plain, None, &flag), "the cluster says so");
    let mut no = plain.clone();
    no["metadata"]["annotations"] = json!({"dns-sidecar.io/ttl-strict": "false"});
    assert!(!strict(&no, Some(&ns), &flag), "the pod says no");
    let mut yes = plain.clone();
    yes["metadata"]["annotations"] = json!({"dns-sidecar.io/ttl-strict": "true"});
    assert!(strict(&yes, None, &settings()));
}
