//! The install as docs/install.md tells a user: `kubectl apply -k manifests/base`, then
//! `hack/gen-certs.sh --apply`, then the webhook's rollout. Done once per cluster: a test
//! finding the webhook Ready with its certificate reuses it.

use std::process::Command;

use super::Kube;
use crate::repo_root;

pub const NS: &str = "dns-sidecar-system";
pub const WEBHOOK: &str = "deployment/dns-sidecar-webhook";

impl Kube {
    /// A shell command's environment with this cluster's kubectl first on PATH.
    pub fn env_for(&self, c: &mut Command) {
        let dir = self.kubectl.parent().unwrap().to_path_buf();
        let path = std::env::var("PATH").unwrap_or_default();
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("PATH", format!("{}:{path}", dir.display()));
    }

    /// The webhook installed from manifests/base and Ready (and a test that left another
    /// install behind, such as the mirror's, replaced by it).
    pub fn install(&self) {
        let has = |args: &[&str]| self.run(args).status.success();
        let installed = has(&["-n", NS, "get", "secret", "dns-sidecar-webhook-tls"])
            && has(&[
                "-n",
                "kube-system",
                "get",
                "service",
                "dns-sidecar-upstreams",
            ]);
        if !installed {
            let base = repo_root().join("manifests/base");
            self.ok(&["apply", "-k", base.to_str().unwrap()]);
            let certs = repo_root().join("target/cluster/certs");
            let mut c = Command::new("bash");
            c.arg(repo_root().join("hack/gen-certs.sh"))
                .arg("--out")
                .arg(&certs)
                .arg("--apply");
            self.env_for(&mut c);
            let out = c.output().expect("hack/gen-certs.sh");
            assert!(
                out.status.success(),
                "hack/gen-certs.sh --apply failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.ok(&["-n", NS, "scale", WEBHOOK, "--replicas=2"]);
        self.rollout(NS, WEBHOOK);
        self.wait_injecting();
    }

    /// Until the API server reaches the webhook (its Service's endpoints and kube-proxy's
    /// rules follow the rollout by a moment, and `failurePolicy: Ignore` would admit a pod
    /// uninjected meanwhile): a pod in an opted-in namespace, created as a server-side dry
    /// run, comes back injected.
    pub fn wait_injecting(&self) {
        let ns = "dns-sidecar-probe";
        if !self.run(&["get", "namespace", ns]).status.success() {
            self.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
        }
        let pod = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: probe, namespace: {ns}}}\n\
             spec: {{containers: [{{name: c, image: {}}}]}}\n",
            super::CLIENTS_IMAGE
        );
        let injected = || {
            let out = crate::output_with_stdin(
                self.cmd()
                    .args(["create", "--dry-run=server", "-o", "json", "-f", "-"]),
                &pod,
            );
            String::from_utf8_lossy(&out.stdout).contains("\"dns-proxy\"")
        };
        crate::wait_until(std::time::Duration::from_secs(60), injected)
            .expect("the webhook is Ready but the API server's dry-run pods are not injected");
    }
}
