//! `kubectl dns-sidecar`, the project's plugin, found on PATH by the cluster's real kubectl
//! and reading the sidecar through the API server's pod proxy.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{App, Kube};
use crate::built_bin;

/// `kubectl dns-sidecar` as a user runs it: the real kubectl, the plugin on PATH, a
/// kubeconfig of one's own.
pub struct Plugin {
    kubectl: PathBuf,
    path: String,
    kubeconfig: PathBuf,
}

impl Plugin {
    pub fn new(kubectl: &Path, kubeconfig: &Path) -> Plugin {
        let plugin = built_bin("kubectl-dns_sidecar");
        let path = format!(
            "{}:{}:{}",
            plugin.parent().unwrap().display(),
            kubectl.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Plugin {
            kubectl: kubectl.to_path_buf(),
            path,
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    /// `kubectl dns-sidecar ARGS --kubeconfig K`: (succeeded, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(&self.kubectl)
            .arg("dns-sidecar")
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("PATH", &self.path)
            .env_remove("KUBECONFIG")
            .output()
            .expect("run kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl dns-sidecar {args:?} failed: {err}");
        out
    }

    pub fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "kubectl dns-sidecar {args:?} succeeded: {out}");
        err
    }
}

impl Kube {
    /// `kubectl dns-sidecar ARGS -o json` for the pod of an app.
    pub fn plugin_json(&self, app: &App, command: &str) -> Value {
        let plugin = built_bin("kubectl-dns_sidecar");
        let path = format!(
            "{}:{}:{}",
            plugin.parent().unwrap().display(),
            self.kubectl.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let pod = app.pod_name(self);
        let out = self
            .cmd()
            .args(["dns-sidecar", command, &pod, "-n", &app.ns, "-o", "json"])
            .env("PATH", path)
            .output()
            .expect("kubectl dns-sidecar");
        assert!(
            out.status.success(),
            "kubectl dns-sidecar {command} {pod}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("kubectl dns-sidecar's JSON")
    }

    /// The replicas an app's sidecar asks (`kubectl dns-sidecar status`), IPs sorted.
    pub fn sidecar_replicas(&self, app: &App) -> Vec<String> {
        let status = self.plugin_json(app, "status");
        let mut ips: Vec<String> = status["upstreams"]
            .as_array()
            .unwrap_or_else(|| panic!("no upstreams in {status}"))
            .iter()
            .filter(|u| u["tier"] == "replica")
            .filter_map(|u| Some(u["address"].as_str()?.trim_end_matches(":53").to_string()))
            .collect();
        super::sort_ips(&mut ips);
        ips
    }
}
