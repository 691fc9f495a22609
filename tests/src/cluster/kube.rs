//! The real cluster `hack/cluster.sh up` runs, reached with the real kubectl it built: the
//! kubeconfig it wrote, commands that fail loudly, JSON out, manifests in.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::{output_with_stdin, repo_root, wait_until};

/// The kubectl of the cluster's release and the admin kubeconfig.
#[derive(Clone)]
pub struct Kube {
    pub kubectl: PathBuf,
    pub kubeconfig: PathBuf,
}

/// The one cluster is shared: tests that change it (faults, scaling) run one at a time.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The binaries `hack/cluster.sh build` made, from the version the cluster scripts pin.
pub fn cluster_bin(component: &str, binary: &str) -> PathBuf {
    let common = std::fs::read_to_string(repo_root().join("hack/cluster/lib/common.sh"))
        .expect("hack/cluster/lib/common.sh");
    let key = match component {
        "kubernetes" => "K8S_VERSION",
        "coredns" => "COREDNS_VERSION",
        "node-cache" => "NODE_CACHE_VERSION",
        "crictl" => "CRICTL_VERSION",
        "helm" => "HELM_VERSION",
        other => panic!("no pinned version for {other}"),
    };
    let version = common
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} not set in common.sh"));
    let cache = std::env::var("DNS_SIDECAR_CLUSTER_CACHE")
        .unwrap_or_else(|_| "/var/cache/dns-sidecar-cluster".into());
    Path::new(&cache)
        .join(format!("{component}-{version}/bin"))
        .join(binary)
}

impl Kube {
    /// The running cluster, or a failure saying how to start it.
    pub fn get() -> Kube {
        let kubeconfig = repo_root().join("target/cluster/kubeconfig");
        let kubectl = cluster_bin("kubernetes", "kubectl");
        assert!(
            kubeconfig.exists() && kubectl.exists(),
            "the cluster is not up ({} missing): run `hack/cluster.sh up` (hack/test.sh does)",
            kubeconfig.display()
        );
        let k = Kube {
            kubectl,
            kubeconfig,
        };
        let out = k.run(&["get", "--raw", "/readyz"]);
        assert!(
            out.status.success(),
            "the cluster's API server does not answer: {} (hack/cluster.sh status)",
            String::from_utf8_lossy(&out.stderr)
        );
        k
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.env("KUBECONFIG", &self.kubeconfig);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"))
    }

    /// Stdout of a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl -o json")
    }

    /// `kubectl apply` of a manifest given as text.
    pub fn apply(&self, yaml: &str) {
        let out = output_with_stdin(self.cmd().args(["apply", "-f", "-"]), yaml);
        assert!(
            out.status.success(),
            "kubectl apply failed: {}\n{yaml}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A namespace made anew (an old one of the name is deleted first), labelled as given.
    pub fn fresh_namespace(&self, name: &str, labels: &[(&str, &str)]) {
        self.delete_namespace(name);
        self.ok(&["create", "namespace", name]);
        for (k, v) in labels {
            self.ok(&[
                "label",
                "namespace",
                name,
                &format!("{k}={v}"),
                "--overwrite",
            ]);
        }
        // The ServiceAccount admission plugin refuses pods until the controller made it.
        wait_until(Duration::from_secs(30), || {
            self.run(&["-n", name, "get", "serviceaccount", "default"])
                .status
                .success()
        })
        .unwrap_or_else(|| panic!("namespace {name}: no default ServiceAccount after 30 s"));
    }

    pub fn delete_namespace(&self, name: &str) {
        let _ = self.run(&[
            "delete",
            "namespace",
            name,
            "--ignore-not-found",
            "--wait=true",
        ]);
    }

    /// Waits for a rollout (deployment/NAME, daemonset/NAME) in a namespace.
    pub fn rollout(&self, ns: &str, what: &str) {
        self.ok(&["-n", ns, "rollout", "status", what, "--timeout=180s"]);
    }

    /// Names and pod IPs of the Running pods matching a selector, sorted by name.
    pub fn pods(&self, ns: &str, selector: &str) -> Vec<(String, String)> {
        let v = self.json(&["-n", ns, "get", "pods", "-l", selector]);
        let mut pods: Vec<(String, String)> = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| {
                p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null()
            })
            .filter_map(|p| {
                Some((
                    p["metadata"]["name"].as_str()?.to_string(),
                    p["status"]["podIP"].as_str()?.to_string(),
                ))
            })
            .collect();
        pods.sort();
        pods
    }

    /// The PID, on this machine, of a container's main process (as the kubelet's runtime
    /// knows it: `crictl inspect`), for faults a real node gives: an OOM kill is a SIGKILL.
    pub fn container_pid(&self, ns: &str, pod: &str, container: &str) -> u32 {
        let v = self.json(&["-n", ns, "get", "pod", pod]);
        let id = v["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == container)
            .and_then(|c| c["containerID"].as_str())
            .unwrap_or_else(|| panic!("{ns}/{pod}: no container {container} running"))
            .trim_start_matches("containerd://")
            .to_string();
        let out = std::process::Command::new(cluster_bin("crictl", "crictl"))
            .args([
                "--runtime-endpoint",
                "unix:///run/dns-sidecar-cluster/containerd/containerd.sock",
                "inspect",
                &id,
            ])
            .output()
            .expect("crictl");
        let info: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "crictl inspect {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        info["info"]["pid"]
            .as_u64()
            .expect("crictl inspect: info.pid") as u32
    }

    /// The CoreDNS replicas' pod IPs (Running, not terminating), sorted.
    pub fn coredns_ips(&self) -> Vec<String> {
        let mut ips: Vec<String> = self
            .pods("kube-system", "k8s-app=kube-dns")
            .into_iter()
            .map(|p| p.1)
            .collect();
        super::sort_ips(&mut ips);
        ips
    }
}
