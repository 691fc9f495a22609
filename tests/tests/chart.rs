//! The Helm chart (`charts/dns-sidecar`), checked by the real helm (built from the Go module
//! proxy by `hack/cluster.sh build`): `helm lint --strict`; `helm template` with the default
//! values gives the objects of `kubectl kustomize manifests/base` but for the differences
//! listed here, each with its reason, and `injector=policy` those of
//! `manifests/admission-policy`; a wrong value is refused naming it; and on the real
//! cluster, `helm install` injects a pod, `helm upgrade` with a changed value loses no pod
//! creation (counted), and `helm uninstall` leaves no object of ours behind.

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use dns_sidecar_tests::cluster::{cluster_bin, exclusive, App, Kube, WEBHOOK, WEBHOOK_NS};
use dns_sidecar_tests::{repo_root, wait_until};

fn chart() -> String {
    repo_root().join("charts/dns-sidecar").display().to_string()
}

fn helm(args: &[&str], kube: Option<&Kube>) -> Output {
    let bin = cluster_bin("helm", "helm");
    assert!(
        bin.exists(),
        "{} is missing: run `hack/cluster.sh build`",
        bin.display()
    );
    let mut c = Command::new(bin);
    c.args(args);
    if let Some(k) = kube {
        c.env("KUBECONFIG", &k.kubeconfig);
    }
    c.output().expect("helm")
}

fn helm_ok(args: &[&str], kube: Option<&Kube>) -> String {
    let out = helm(args, kube);
    assert!(
        out.status.success(),
        "helm {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// YAML documents as JSON, keyed by (kind, namespace, name).
fn objects(yaml: &str) -> BTreeMap<(String, String, String), Value> {
    let mut m = BTreeMap::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v: Value = match serde::Deserialize::deserialize(doc) {
            Ok(Value::Null) | Err(_) => continue,
            Ok(v) => v,
        };
        let key = |p: &str| v["metadata"][p].as_str().unwrap_or("").to_string();
        let kind = v["kind"].as_str().unwrap_or("").to_string();
        m.insert((kind, key("namespace"), key("name")), v);
    }
    m
}

/// The labels Helm's convention adds to every object of a chart.
fn without_chart_labels(mut v: Value) -> Value {
    if let Some(l) = v["metadata"]
        .get_mut("labels")
        .and_then(Value::as_object_mut)
    {
        for k in [
            "app.kubernetes.io/part-of",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
        ] {
            l.remove(k);
        }
        if l.is_empty() {
            v["metadata"].as_object_mut().unwrap().remove("labels");
        }
    }
    v
}

#[test]
fn helm_lints_the_chart_strictly() {
    let out = helm_ok(&["lint", "--strict", &chart()], None);
    assert!(
        out.contains("1 chart(s) linted, 0 chart(s) failed"),
        "{out}"
    );
}

#[test]
fn the_default_values_give_manifests_base() {
    let chart_objs = objects(&helm_ok(
        &["template", "dns-sidecar", &chart(), "-n", WEBHOOK_NS],
        None,
    ));
    let kubectl = cluster_bin("kubernetes", "kubectl");
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(repo_root().join("manifests/base"))
        .output()
        .expect("kubectl kustomize");
    assert!(out.status.success());
    let mut base = objects(&String::from_utf8_lossy(&out.stdout));

    // The differences, each for a reason:
    // - the Namespace: Helm installs into the release namespace, which `helm install
    //   --create-namespace` makes; the webhook configuration leaves it out by name either way;
    let ns = base.remove(&("Namespace".into(), String::new(), WEBHOOK_NS.into()));
    assert!(ns.is_some(), "manifests/base has its Namespace");
    let mut chart_objs: BTreeMap<_, _> = chart_objs
        .into_iter()
        .map(|(k, v)| (k, without_chart_labels(v)))
        .collect();
    // - the serving certificate: the chart generates it at install (and keeps it across
    //   upgrades), where manifests/base leaves it to hack/gen-certs.sh --apply, which also
    //   patches the CA into the webhook configuration.
    let secret = chart_objs.remove(&(
        "Secret".into(),
        WEBHOOK_NS.into(),
        "dns-sidecar-webhook-tls".into(),
    ));
    assert!(
        secret.is_some_and(|s| s["data"]["ca.crt"].is_string()),
        "the generated certificate"
    );
    let mwc = chart_objs
        .get_mut(&(
            "MutatingWebhookConfiguration".into(),
            String::new(),
            "dns-sidecar".into(),
        ))
        .expect("the webhook configuration");
    let ca = mwc["webhooks"][0]["clientConfig"]
        .as_object_mut()
        .unwrap()
        .remove("caBundle");
    assert!(
        ca.is_some(),
        "the generated CA in the webhook configuration"
    );

    let (only_chart, only_base): (Vec<_>, Vec<_>) = (
        chart_objs
            .keys()
            .filter(|k| !base.contains_key(*k))
            .collect(),
        base.keys()
            .filter(|k| !chart_objs.contains_key(*k))
            .collect(),
    );
    assert!(
        only_chart.is_empty() && only_base.is_empty(),
        "only in the chart: {only_chart:?}; only in manifests/base: {only_base:?}"
    );
    for (key, b) in &base {
        assert_eq!(
            &chart_objs[key], b,
            "{key:?} differs between helm template and kubectl kustomize"
        );
    }
}

#[test]
fn the_policy_values_give_manifests_admission_policy() {
    let chart_objs = objects(&helm_ok(
        &[
            "template",
            "dns-sidecar",
            &chart(),
            "-n",
            WEBHOOK_NS,
            "--set",
            "injector=policy",
        ],
        None,
    ));
    let out = Command::new(cluster_bin("kubernetes", "kubectl"))
        .arg("kustomize")
        .arg(repo_root().join("manifests/admission-policy"))
        .output()
        .expect("kubectl kustomize");
    assert!(out.status.success());
    let mut policy = objects(&String::from_utf8_lossy(&out.stdout));
    // The Namespace: helm's release namespace, as for the webhook.
    assert!(policy
        .remove(&("Namespace".into(), String::new(), WEBHOOK_NS.into()))
        .is_some());
    let chart_objs: BTreeMap<_, _> = chart_objs
        .into_iter()
        .map(|(k, v)| (k, without_chart_labels(v)))
        .collect();
    assert_eq!(
        chart_objs.keys().collect::<Vec<_>>(),
        policy.keys().collect::<Vec<_>>(),
        "the objects of injector=policy and of manifests/admission-policy"
    );
    for (key, want) in &policy {
        assert_eq!(
            &chart_objs[key], want,
            "{key:?} differs between helm template and kubectl kustomize"
        );
    }
}

#[test]
fn a_wrong_value_is_refused_naming_it() {
    for (set, named) in [
        ("sidecar.fallback=bogus", "/sidecar/fallback"),
        ("discovery.mode=elsewhere", "/discovery/mode"),
        ("webhok.replicas=3", "'webhok' not allowed"),
        ("sidecar.adminPort=53", "/sidecar/adminPort"),
        (
            "sidecar.resources.requests.memory=lots",
            "/sidecar/resources/requests/memory",
        ),
        ("certificates.mode=self", "/certificates/mode"),
        ("injector=sidecar", "/injector"),
    ] {
        let out = helm(&["template", "x", &chart(), "--set", set], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(named),
            "--set {set}: {err}"
        );
    }
}

fn object_exists(k: &Kube, args: &[&str]) -> bool {
    k.run(args).status.success()
}

/// Our objects, cluster-wide, by the chart's label, plus the few that carry only names.
fn ours_left(k: &Kube) -> Vec<String> {
    let mut left = Vec::new();
    for kind in [
        "deployment",
        "service",
        "serviceaccount",
        "secret",
        "role",
        "rolebinding",
        "poddisruptionbudget",
        "daemonset",
        "configmap",
    ] {
        let out = k.ok(&[
            "get",
            kind,
            "-A",
            "-l",
            "app.kubernetes.io/part-of=dns-sidecar",
            "-o",
            "name",
        ]);
        left.extend(out.lines().map(String::from));
    }
    for kind in [
        "clusterrole",
        "clusterrolebinding",
        "mutatingwebhookconfiguration",
        "namespace",
    ] {
        let out = k.ok(&[
            "get",
            kind,
            "-l",
            "app.kubernetes.io/part-of=dns-sidecar",
            "-o",
            "name",
        ]);
        left.extend(out.lines().map(String::from));
    }
    left
}

#[test]
fn helm_installs_upgrades_and_uninstalls_on_the_cluster() {
    let _one = exclusive();
    let k = Kube::get();
    // The chart's objects have manifests/base's names: take that install away first.
    let base = repo_root().join("manifests/base");
    let _ = k.run(&[
        "delete",
        "-k",
        base.to_str().unwrap(),
        "--ignore-not-found",
        "--wait=true",
    ]);
    helm_ok(
        &[
            "install",
            "dns-sidecar",
            &chart(),
            "-n",
            WEBHOOK_NS,
            "--create-namespace",
            "--wait",
            "--timeout",
            "3m",
        ],
        Some(&k),
    );
    k.wait_injecting();

    let ns = "t-helm";
    k.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
    let app = App::deploy(&k, ns, "app", &[]);
    assert_eq!(
        app.pod(&k)["spec"]["initContainers"][0]["name"],
        "dns-proxy"
    );
    let out = app.exec(&k, "glibc", &["/gai-glibc", "kubernetes.default"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10.96.0.1");

    // An upgrade with a changed value, while pods are created one after another.
    let upgrade = std::thread::spawn({
        let (kc, chart) = (k.kubeconfig.clone(), chart());
        move || {
            let mut c = Command::new(cluster_bin("helm", "helm"));
            c.env("KUBECONFIG", kc).args([
                "upgrade",
                "dns-sidecar",
                &chart,
                "-n",
                WEBHOOK_NS,
                "--reuse-values",
                "--set",
                "sidecar.resources.requests.memory=24Mi",
                "--wait",
                "--timeout",
                "3m",
            ]);
            c.output().expect("helm upgrade")
        }
    });
    let (mut created, mut injected, mut failed) = (0, 0, Vec::new());
    for i in 0..40 {
        let name = format!("p{i}");
        let out = k.run(&[
            "-n",
            ns,
            "run",
            &name,
            "--image=localhost/dns-sidecar-clients:test",
            "--image-pull-policy=Never",
            "--restart=Never",
            "--command",
            "--",
            "/gai-glibc",
            "--wait",
        ]);
        if out.status.success() {
            created += 1;
            let pod = k.json(&["-n", ns, "get", "pod", &name]);
            injected += (pod["spec"]["initContainers"][0]["name"] == "dns-proxy") as u32;
        } else {
            failed.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(250));
        if upgrade.is_finished() && i >= 20 {
            break;
        }
    }
    let up = upgrade.join().unwrap();
    assert!(
        up.status.success(),
        "helm upgrade: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    eprintln!(
        "during helm upgrade: {created} pods created, {injected} injected, {} failed",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "pod creations failed during the upgrade: {failed:?}"
    );
    assert_eq!(
        injected, created,
        "pods created uninjected during the upgrade"
    );
    k.rollout(WEBHOOK_NS, WEBHOOK);
    k.wait_injecting();
    k.ok(&["-n", ns, "rollout", "restart", "deployment/app"]);
    k.rollout(ns, "deployment/app");
    let pod = app.pod(&k);
    assert_eq!(
        pod["spec"]["initContainers"][0]["resources"]["requests"]["memory"], "24Mi",
        "the upgraded value"
    );

    helm_ok(
        &[
            "uninstall",
            "dns-sidecar",
            "-n",
            WEBHOOK_NS,
            "--wait",
            "--timeout",
            "3m",
        ],
        Some(&k),
    );
    wait_until(Duration::from_secs(60), || ours_left(&k).is_empty())
        .unwrap_or_else(|| panic!("left after helm uninstall: {:?}", ours_left(&k)));
    assert!(!object_exists(
        &k,
        &["get", "mutatingwebhookconfiguration", "dns-sidecar"]
    ));
    assert!(!object_exists(
        &k,
        &[
            "-n",
            "kube-system",
            "get",
            "service",
            "dns-sidecar-upstreams"
        ]
    ));
    k.delete_namespace(ns);
    k.install();
}
