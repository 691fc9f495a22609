//! An app on the cluster: a Deployment whose pod runs the three test clients (glibc, musl,
//! Go; `tests/clients`) as its containers, in a namespace opted in or not. Lookups are run
//! in a container with `kubectl exec`, as the app would make them, and counted.

use std::process::Child;
use std::time::Duration;

use serde_json::Value;

use super::Kube;
use crate::wait_until;

pub const CLIENTS_IMAGE: &str = "localhost/dns-sidecar-clients:test";
/// The containers of an app pod, and the client binary each runs.
pub const CLIENTS: [(&str, &str); 3] = [
    ("glibc", "/gai-glibc"),
    ("musl", "/gai-musl"),
    ("go", "/gai-go"),
];

pub struct App {
    pub ns: String,
    pub name: String,
}

/// The Deployment's manifest; `annotations` go on its pod template.
pub fn app_manifest(ns: &str, name: &str, annotations: &[(&str, &str)]) -> String {
    let ann: String = annotations
        .iter()
        .map(|(k, v)| format!("        {k}: \"{v}\"\n"))
        .collect();
    let containers: String = CLIENTS
        .iter()
        .map(|(c, bin)| {
            format!(
                "      - name: {c}\n        image: {CLIENTS_IMAGE}\n        imagePullPolicy: Never\n        command: [{bin}, --wait]\n"
            )
        })
        .collect();
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n      annotations:\n        dns-sidecar.io/test: \"{name}\"\n{ann}    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n{containers}"
    )
}

impl App {
    /// Deploys the app and waits for its pod to run.
    pub fn deploy(k: &Kube, ns: &str, name: &str, annotations: &[(&str, &str)]) -> App {
        k.apply(&app_manifest(ns, name, annotations));
        k.rollout(ns, &format!("deployment/{name}"));
        App {
            ns: ns.into(),
            name: name.into(),
        }
    }

    /// The app's one Running pod (after a rollout, the new one).
    pub fn pod(&self, k: &Kube) -> Value {
        let mut found = None;
        wait_until(Duration::from_secs(60), || {
            let v = k.json(&[
                "-n",
                &self.ns,
                "get",
                "pods",
                "-l",
                &format!("app={}", self.name),
            ]);
            let live: Vec<Value> = v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| {
                    p["status"]["phase"] == "Running"
                        && p["metadata"]["deletionTimestamp"].is_null()
                })
                .cloned()
                .collect();
            if live.len() == 1 {
                found = live.into_iter().next();
            }
            found.is_some()
        })
        .unwrap_or_else(|| panic!("{}/{}: not exactly one Running pod", self.ns, self.name));
        found.unwrap()
    }

    pub fn pod_name(&self, k: &Kube) -> String {
        self.pod(k)["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Runs a command in one of the app's containers; its output.
    pub fn exec(&self, k: &Kube, container: &str, cmd: &[&str]) -> std::process::Output {
        let pod = self.pod_name(k);
        let mut args = vec!["-n", &self.ns, "exec", &pod, "-c", container, "--"];
        args.extend(cmd);
        k.run(&args)
    }

    /// The names of its Running pods (an app of several replicas).
    pub fn pod_names(&self, k: &Kube) -> Vec<String> {
        k.pods(&self.ns, &format!("app={}", self.name))
            .into_iter()
            .map(|p| p.0)
            .collect()
    }

    /// Starts a bounded lookup loop in a container: at most `count` lookups of `names` in
    /// turn, one every `interval_ms`, none begun after `secs`. Read it with
    /// `lookups::collect`.
    pub fn start_loop(
        &self,
        k: &Kube,
        container: &str,
        interval_ms: u32,
        count: u32,
        secs: u32,
        names: &[&str],
    ) -> Child {
        self.start_loop_in(
            k,
            &self.pod_name(k),
            container,
            interval_ms,
            count,
            secs,
            names,
        )
    }

    /// `start_loop` in one pod of the app.
    #[allow(clippy::too_many_arguments)]
    pub fn start_loop_in(
        &self,
        k: &Kube,
        pod: &str,
        container: &str,
        interval_ms: u32,
        count: u32,
        secs: u32,
        names: &[&str],
    ) -> Child {
        let bin = CLIENTS
            .iter()
            .find(|c| c.0 == container)
            .expect("a client container")
            .1;
        let (i, n, t) = (interval_ms.to_string(), count.to_string(), secs.to_string());
        let mut args = vec![
            "-n", &self.ns, "exec", pod, "-c", container, "--", bin, "--loop", &i, &n, &t,
        ];
        args.extend(names);
        k.cmd()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl exec")
    }
}
