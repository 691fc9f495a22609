//! The Helm chart (`charts/dns-sidecar`), checked by the real helm (built from the Go module
//! proxy by `hack/cluster.sh build`): `helm lint --strict`; `helm template` with the default
//! values gives the objects of `kubectl kustomize manifests/base` but for the differences
//! listed here, each with its reason, and `injector=policy` those of
//! `manifests/admission-policy`; a wrong value is refused naming it. On the real cluster:
//! tests/tests/chart_install.rs.

use std::collections::BTreeMap;
use std::process::Command;

use dns_sidecar_tests::cluster::helm::{chart, helm, helm_ok, objects, without_chart_labels};
use dns_sidecar_tests::cluster::{cluster_bin, WEBHOOK_NS};
use dns_sidecar_tests::repo_root;

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
