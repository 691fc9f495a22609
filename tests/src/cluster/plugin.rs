//! `kubectl dns-sidecar`, the project's plugin, found on PATH by the cluster's real kubectl
//! and reading the sidecar through the API server's pod proxy.

use serde_json::Value;

use super::{App, Kube};
use crate::built_bin;

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
