//! Policy on the real API server: a namespace enforcing Pod Security `restricted` admits
//! injected pods and runs them; the ServiceAccounts' rights, as the real RBAC authorizer
//! lists them, are exactly README's table ("What each ServiceAccount may do"); and
//! `manifests/mirror` works with every write to kube-system denied by a
//! ValidatingAdmissionPolicy, as GKE Autopilot's Warden denies them.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use dns_sidecar_tests::cluster::{exclusive, Kube, WEBHOOK, WEBHOOK_NS};
use dns_sidecar_tests::{repo_root, wait_until};

/// A pod that passes `restricted` on its own; the sidecar must not spoil it.
fn restricted_app(ns: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app, namespace: {ns}}}\nspec:\n\
         \x20 selector: {{matchLabels: {{app: app}}}}\n  template:\n    metadata: {{labels: {{app: app}}}}\n\
         \x20   spec:\n      terminationGracePeriodSeconds: 1\n\
         \x20     securityContext: {{runAsNonRoot: true, runAsUser: 1000, seccompProfile: {{type: RuntimeDefault}}}}\n\
         \x20     containers:\n      - name: glibc\n        image: localhost/dns-sidecar-clients:test\n\
         \x20       imagePullPolicy: Never\n        command: [/gai-glibc, --wait]\n\
         \x20       securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}\n"
    )
}

#[test]
fn a_restricted_namespace_admits_and_runs_injected_pods() {
    let _one = exclusive();
    let k = Kube::get();
    k.install();
    let ns = "t-restricted";
    k.fresh_namespace(
        ns,
        &[
            ("dns-sidecar.io/inject", "enabled"),
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/enforce-version", "latest"),
        ],
    );
    k.apply(&restricted_app(ns));
    k.rollout(ns, "deployment/app");
    let pods = k.json(&["-n", ns, "get", "pods", "-l", "app=app"]);
    let pod = &pods["items"][0];
    assert_eq!(
        pod["spec"]["initContainers"][0]["name"], "dns-proxy",
        "not injected: {}",
        pod["spec"]
    );
    let name = pod["metadata"]["name"].as_str().unwrap();
    let out = k.ok(&[
        "-n",
        ns,
        "exec",
        name,
        "-c",
        "glibc",
        "--",
        "/gai-glibc",
        "kubernetes.default",
    ]);
    assert_eq!(out.trim(), "10.96.0.1");
    k.delete_namespace(ns);
}

/// README's rows for one install: (namespace or "any", resource, verb).
fn readme_rights(install: &str) -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("### What each ServiceAccount may do")
        .nth(1)
        .expect("README: What each ServiceAccount may do");
    let mut rows = Vec::new();
    for line in section
        .lines()
        .filter(|l| l.starts_with(&format!("| {install} |")))
    {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        for verb in cells[4].split_whitespace().filter(|v| *v != "none") {
            rows.push((cells[2].to_string(), cells[3].to_string(), verb.to_string()));
        }
    }
    rows
}

/// (resource, verb) pairs `kubectl auth can-i --list` gives a ServiceAccount in a
/// namespace, without those every authenticated user has.
fn can_i(k: &Kube, sa: &str, ns: &str) -> BTreeSet<(String, String)> {
    let out = k.ok(&[
        "auth",
        "can-i",
        "--list",
        &format!("--as=system:serviceaccount:{sa}"),
        "-n",
        ns,
    ]);
    let mut set = BTreeSet::new();
    for line in out.lines().skip(1) {
        let Some(resource) = line
            .split_whitespace()
            .next()
            .filter(|_| !line.starts_with(' '))
        else {
            continue;
        };
        if resource.starts_with("selfsubject") {
            continue;
        }
        let verbs = line
            .rsplit_once('[')
            .map(|(_, v)| v.trim_end_matches(']'))
            .unwrap_or("");
        for v in verbs.split_whitespace() {
            set.insert((resource.to_string(), v.to_string()));
        }
    }
    set
}

fn assert_rights(k: &Kube, install: &str, sa: &str) {
    let rows = readme_rights(install);
    for ns in ["kube-system", WEBHOOK_NS, "default"] {
        let want: BTreeSet<(String, String)> = rows
            .iter()
            .filter(|(n, _, _)| n == "any" || n == ns)
            .map(|(_, r, v)| (r.clone(), v.clone()))
            .collect();
        assert_eq!(can_i(k, sa, ns), want, "{install}: {sa} in {ns}");
    }
}

const WEBHOOK_SA: &str = "dns-sidecar-system:dns-sidecar-webhook";

#[test]
fn the_service_accounts_may_do_exactly_what_readme_lists() {
    let _one = exclusive();
    let k = Kube::get();
    // What the mirror's install adds beside base, should a failed test have left it.
    let mirror_rbac = repo_root().join("manifests/mirror/rbac.yaml");
    let _ = k.run(&[
        "delete",
        "-f",
        mirror_rbac.to_str().unwrap(),
        "--ignore-not-found",
    ]);
    k.install();
    assert_rights(&k, "base", WEBHOOK_SA);
    let node_cache = repo_root().join("manifests/node-cache");
    k.ok(&["apply", "-k", node_cache.to_str().unwrap()]);
    assert_rights(&k, "node-cache", "dns-sidecar-node:default");
}

/// Warden's rule, as a policy: no create, update or delete in kube-system but by the
/// control plane's own components.
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
      request.userInfo.username in ['system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver']
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

fn uninstall(k: &Kube, kustomization: &str) {
    let dir = repo_root().join("manifests").join(kustomization);
    let _ = k.run(&[
        "delete",
        "-k",
        dir.to_str().unwrap(),
        "--ignore-not-found",
        "--wait=true",
    ]);
}

#[test]
fn mirror_discovery_works_with_every_kube_system_write_denied() {
    let _one = exclusive();
    let k = Kube::get();
    uninstall(&k, "base");
    let denied = Denied::apply(&k);
    // The policy is in force (it binds asynchronously): the admin's own write is refused.
    wait_until(Duration::from_secs(30), || {
        let out = k.run(&["-n", "kube-system", "create", "configmap", "t-probe"]);
        String::from_utf8_lossy(&out.stderr).contains("managed-namespaces-limitation")
    })
    .expect("the ValidatingAdmissionPolicy never denied a write in kube-system");

    let mirror = repo_root().join("manifests/mirror");
    k.ok(&["apply", "-k", mirror.to_str().unwrap()]);
    let mut c = Command::new("bash");
    c.arg(repo_root().join("hack/gen-certs.sh"))
        .arg("--out")
        .arg(repo_root().join("target/cluster/certs-mirror"))
        .arg("--apply");
    k.env_for(&mut c);
    assert!(c.status().unwrap().success(), "hack/gen-certs.sh --apply");
    k.rollout(WEBHOOK_NS, WEBHOOK);
    assert_rights(&k, "mirror", WEBHOOK_SA);

    // The mirrored slice holds CoreDNS's ready pod IPs, and an injected pod uses them.
    let mirrored = || {
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
            .filter_map(|e| e["addresses"][0].as_str().map(String::from))
            .collect();
        ips.sort();
        ips
    };
    wait_until(Duration::from_secs(60), || mirrored() == k.coredns_ips()).unwrap_or_else(|| {
        panic!(
            "mirrored {:?}, CoreDNS at {:?}",
            mirrored(),
            k.coredns_ips()
        )
    });
    let ns = "t-mirror";
    k.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
    let app = dns_sidecar_tests::cluster::App::deploy(&k, ns, "app", &[]);
    let out = app.exec(&k, "glibc", &["/gai-glibc", "kubernetes.default"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10.96.0.1");
    wait_until(Duration::from_secs(60), || {
        k.sidecar_replicas(&app) == k.coredns_ips()
    })
    .unwrap_or_else(|| panic!("the sidecar asks {:?}", k.sidecar_replicas(&app)));

    k.delete_namespace(ns);
    drop(denied);
    uninstall(&k, "mirror");
    k.install();
}
