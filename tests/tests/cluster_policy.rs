//! Policy on the real API server: a namespace enforcing Pod Security `restricted` admits
//! injected pods and runs them; the ServiceAccounts' rights, as the real RBAC authorizer
//! lists them, are exactly docs/install.md's table ("What each ServiceAccount may do"). The
//! mirror's rights are checked with its install (tests/tests/mirror.rs).

use dns_sidecar_tests::cluster::rights::assert_rights;
use dns_sidecar_tests::cluster::{exclusive, Kube};
use dns_sidecar_tests::repo_root;

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
