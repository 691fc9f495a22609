//! Clients in the pod namespace: glibc's getent, dig, and HTTP to the sidecar's admin port.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// A client resolver in the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// glibc's getaddrinfo, through `getent ahosts`.
    Glibc,
    /// A program that prints one address per line (the musl and Go clients of
    /// `crate::clients`).
    Program(std::path::PathBuf),
}

impl Client {
    pub fn label(&self) -> String {
        match self {
            Client::Glibc => "glibc".into(),
            Client::Program(p) => p
                .file_name()
                .map_or("?".into(), |f| f.to_string_lossy().into_owned()),
        }
    }
}

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
        self.resolve_with(Path::new("getent"), &["ahosts", name])
    }

    /// One lookup through a client in the pod (`getent ahosts NAME`, or a program of
    /// `crate::clients` given NAME), timed.
    pub fn resolve_with(&self, client: &Path, args: &[&str]) -> GetentResult {
        let start = Instant::now();
        let out = self.exec(client, args);
        GetentResult {
            ok: out.status.success() && !out.stdout.is_empty(),
            took: start.elapsed(),
        }
    }

    fn exec(&self, client: &Path, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.pod])
            .arg(client)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .unwrap()
    }

    /// The addresses `client` resolves `name` to in the pod, sorted; None when it fails.
    pub fn addresses(&self, client: &Client, name: &str) -> Option<Vec<String>> {
        let out = match client {
            Client::Glibc => self.exec(Path::new("getent"), &["ahosts", name]),
            Client::Program(p) => self.exec(p, &[name]),
        };
        if !out.status.success() {
            return None;
        }
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect();
        v.sort();
        v.dedup();
        (!v.is_empty()).then_some(v)
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
