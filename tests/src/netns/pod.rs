//! Clients in the pod namespace: glibc's getent, dig, and HTTP to the sidecar's admin port.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

#[derive(Debug, Clone, Copy)]
pub struct GetentResult {
    pub ok: bool,
    pub took: Duration,
}

impl Cluster {
    /// GET on the sidecar's admin port, from inside the pod.
    pub fn pod_http(&self, path: &str) -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.pod,
                "curl",
                "-s",
                "--max-time",
                "2",
                &format!("http://127.0.0.1:9953{path}"),
            ])
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
    }

    /// One lookup through glibc in the pod, as an application does it (`getent ahosts`).
    pub fn getent(&self, name: &str) -> GetentResult {
        let start = Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.pod, "getent", "ahosts", name])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        GetentResult {
            ok: out.status.success() && !out.stdout.is_empty(),
            took: start.elapsed(),
        }
    }

    /// One lookup through another resolver in the pod: `client NAME`, as `getent` is run
    /// (e.g. the static musl client of `crate::clients`).
    pub fn resolve_with(&self, client: &std::path::Path, name: &str) -> GetentResult {
        let start = Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.pod])
            .arg(client)
            .arg(name)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        GetentResult {
            ok: out.status.success() && !out.stdout.is_empty(),
            took: start.elapsed(),
        }
    }

    /// `dig` in the pod against `server`.
    pub fn dig(&self, server: &str, name: &str) -> (String, Duration) {
        let start = Instant::now();
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.pod,
                "dig",
                &format!("@{server}"),
                "+time=5",
                "+tries=1",
                "+noall",
                "+comments",
                name,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let status = text
            .split("status: ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or("TIMEOUT")
            .to_string();
        (status, start.elapsed())
    }
}
