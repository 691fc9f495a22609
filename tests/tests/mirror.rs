//! Mirrored discovery (`manifests/mirror`, for clusters whose kube-system is read-only) on
//! the real cluster, with every write to kube-system denied by a ValidatingAdmissionPolicy
//! as GKE Autopilot's Warden denies them: the webhook's two replicas read CoreDNS's own
//! EndpointSlices and write their ready endpoints into `dns-sidecar-upstreams` in their own
//! namespace by server-side apply, both to one object; the API server's audit log shows
//! every write of theirs was that; a CoreDNS rollout is followed; injected pods discover
//! through the mirrored Service; a namespace's ambient label reaches the webhook; and the
//! webhook's rights are exactly docs/install.md's.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use dns_sidecar_tests::cluster::audit::writes_by;
use dns_sidecar_tests::cluster::rights::assert_rights;
use dns_sidecar_tests::cluster::{exclusive, App, Kube, WEBHOOK, WEBHOOK_NS};
use dns_sidecar_tests::{repo_root, wait_until};

const SA: &str = "system:serviceaccount:dns-sidecar-system:dns-sidecar-webhook";

/// Warden's rule, as a policy: no create, update or delete in kube-system but by the
/// control plane's own components (and `cluster-provider`, who rolls CoreDNS as the
/// provider does on Autopilot).
const DENY_KUBE_SYSTEM: &str = r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: t-deny-kube-system-writes}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE, DELETE]
      resources: ["*"]
  # A namespaceSelector would also match every cluster-scoped object.
  matchConditions:
  - name: in-kube-system
    expression: "has(request.namespace) && request.namespace == 'kube-system'"
  validations:
  - expression: >-
      request.userInfo.username.startsWith('system:serviceaccount:kube-system:') ||
      request.userInfo.username.startsWith('system:node:') ||
      request.userInfo.username in ['system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'cluster-provider']
    message: "denied by managed-namespaces-limitation (a stand-in for GKE Warden)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: t-deny-kube-system-writes}
spec:
  policyName: t-deny-kube-system-writes
  validationActions: [Deny]
"#;

/// The policy in force while it lives; deleted however the test ends.
struct Denied<'a>(&'a Kube);

impl<'a> Denied<'a> {
    fn apply(k: &'a Kube) -> Denied<'a> {
        k.apply(DENY_KUBE_SYSTEM);
        // It binds asynchronously: in force once the admin's own write is refused.
        wait_until(Duration::from_secs(30), || {
            let out = k.run(&["-n", "kube-system", "create", "configmap", "t-probe"]);
            String::from_utf8_lossy(&out.stderr).contains("managed-namespaces-limitation")
        })
        .expect("the ValidatingAdmissionPolicy never denied a write in kube-system");
        Denied(k)
    }
}

impl Drop for Denied<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&[
            "delete",
            "validatingadmissionpolicybinding,validatingadmissionpolicy",
            "t-deny-kube-system-writes",
            "--ignore-not-found",
        ]);
    }
}

fn kustomization(name: &str) -> String {
    repo_root()
        .join("manifests")
        .join(name)
        .display()
        .to_string()
}

/// The ready addresses in the mirrored EndpointSlices, sorted.
fn mirrored(k: &Kube) -> Vec<String> {
    let v = k.json(&[
        "-n",
        WEBHOOK_NS,
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=dns-sidecar-upstreams",
    ]);
    let mut ips: Vec<String> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["conditions"]["ready"] != false)
        .filter_map(|e| e["addresses"][0].as_str().map(String::from))
        .collect();
    dns_sidecar_tests::cluster::sort_ips(&mut ips);
    ips
}

fn follows_coredns(k: &Kube, what: &str) {
    wait_until(Duration::from_secs(90), || mirrored(k) == k.coredns_ips()).unwrap_or_else(|| {
        panic!(
            "{what}: mirrored {:?}, CoreDNS at {:?}",
            mirrored(k),
            k.coredns_ips()
        )
    });
}

fn sidecar_args(app: &App, k: &Kube) -> Vec<String> {
    let pod = app.pod(k);
    pod["spec"]["initContainers"][0]["args"]
        .as_array()
        .unwrap_or_else(|| panic!("not injected: {}", pod["spec"]))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn coredns_endpoints_are_mirrored_into_our_namespace_with_kube_system_read_only() {
    let _one = exclusive();
    let k = Kube::get();
    let _ = k.run(&[
        "delete",
        "-k",
        &kustomization("base"),
        "--ignore-not-found",
        "--wait=true",
    ]);
    let denied = Denied::apply(&k);

    k.ok(&["apply", "-k", &kustomization("mirror")]);
    let mut c = Command::new("bash");
    c.arg(repo_root().join("hack/gen-certs.sh"))
        .arg("--out")
        .arg(repo_root().join("target/cluster/certs-mirror"))
        .arg("--apply");
    k.env_for(&mut c);
    assert!(
        c.output().unwrap().status.success(),
        "hack/gen-certs.sh --apply"
    );
    k.rollout(WEBHOOK_NS, WEBHOOK);
    k.wait_injecting();
    assert_rights(&k, "mirror", "dns-sidecar-system:dns-sidecar-webhook");

    follows_coredns(&k, "installed");
    let slices = k.json(&[
        "-n",
        WEBHOOK_NS,
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=dns-sidecar-upstreams",
        "--show-managed-fields",
    ]);
    let slice = &slices["items"][0];
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "dns-sidecar-webhook"
    );
    let managers: Vec<(&str, &str)> = slice["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap(),
                m["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        managers,
        [("dns-sidecar-webhook", "Apply")],
        "one field manager, server-side apply"
    );

    // A CoreDNS rollout, by the provider (the user may not): every replica at a new address.
    k.ok(&[
        "-n",
        "kube-system",
        "rollout",
        "restart",
        "deployment/coredns",
        "--as=cluster-provider",
        "--as-group=system:masters",
    ]);
    k.rollout("kube-system", "deployment/coredns");
    follows_coredns(&k, "after a rollout");

    // Both replicas wrote, and every write of the webhook's was an apply to its own
    // namespace's EndpointSlices: the API server's own record.
    let writes = writes_by(SA);
    assert!(
        !writes.is_empty(),
        "no write by the webhook in the audit log"
    );
    for w in &writes {
        assert!(
            w.verb == "patch"
                && w.resource == "endpointslices"
                && w.namespace.as_deref() == Some(WEBHOOK_NS)
                && w.uri.contains("fieldManager=dns-sidecar-webhook")
                && w.uri.contains("force=true")
                && w.code < 300,
            "a write that is not the mirror's apply: {w:?}"
        );
    }
    let writers: BTreeSet<&str> = writes.iter().filter_map(|w| w.pod.as_deref()).collect();
    let replicas = k.pods(WEBHOOK_NS, "app.kubernetes.io/name=dns-sidecar-webhook");
    assert_eq!(replicas.len(), 2);
    for (pod, _) in &replicas {
        assert!(
            writers.contains(pod.as_str()),
            "both replicas write, without a leader: {pod} did not ({writers:?})"
        );
    }

    // Pods injected now discover through the mirrored Service, starting at the replicas.
    let ns = "t-mirror";
    k.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
    let app = App::deploy(&k, ns, "app", &[]);
    let args = sidecar_args(&app, &k);
    assert!(
        args.contains(
            &"--discover=dns-sidecar-upstreams.dns-sidecar-system.svc.cluster.local".to_string()
        ),
        "{args:?}"
    );
    assert!(
        args.contains(&format!("--upstream={}", k.coredns_ips().join(","))),
        "{args:?}"
    );
    let out = app.exec(&k, "glibc", &["/gai-glibc", "kubernetes.default"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10.96.0.1");
    wait_until(Duration::from_secs(60), || {
        k.sidecar_replicas(&app) == k.coredns_ips()
    })
    .unwrap_or_else(|| panic!("the sidecar asks {:?}", k.sidecar_replicas(&app)));

    // A namespace's label reaches the webhook through the API (a review does not carry
    // it): an ambient namespace's pods get one logical upstream.
    k.ok(&["label", "namespace", ns, "istio.io/dataplane-mode=ambient"]);
    wait_until(Duration::from_secs(60), || {
        k.ok(&["-n", ns, "rollout", "restart", "deployment/app"]);
        k.rollout(ns, "deployment/app");
        sidecar_args(&app, &k).contains(&"--upstream-mode=logical".to_string())
    })
    .unwrap_or_else(|| panic!("not seen as ambient: {:?}", sidecar_args(&app, &k)));

    k.delete_namespace(ns);
    drop(denied);
    let _ = k.run(&[
        "delete",
        "-k",
        &kustomization("mirror"),
        "--ignore-not-found",
        "--wait=true",
    ]);
    k.install();
}
