//! The real helm (built from the Go module proxy by `hack/cluster.sh build`) and the
//! chart: running it, reading what it renders as objects keyed by kind, namespace and name.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value;

use super::{cluster_bin, Kube};
use crate::repo_root;

pub fn chart() -> String {
    repo_root().join("charts/dns-sidecar").display().to_string()
}

pub fn helm(args: &[&str], kube: Option<&Kube>) -> Output {
    let bin = cluster_bin("helm", "helm");
    assert!(
        bin.exists(),
        "{} is missing: run `hack/cluster.sh build`",
        bin.display()
    );
    let mut c = Command::new(bin);
    c.args(args);
    if let Some(k) = kube {
        c.env("KUBECONFIG", &k.kubeconfig);
    }
    c.output().expect("helm")
}

pub fn helm_ok(args: &[&str], kube: Option<&Kube>) -> String {
    let out = helm(args, kube);
    assert!(
        out.status.success(),
        "helm {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// YAML documents as JSON, keyed by (kind, namespace, name).
pub fn objects(yaml: &str) -> BTreeMap<(String, String, String), Value> {
    let mut m = BTreeMap::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v: Value = match serde::Deserialize::deserialize(doc) {
            Ok(Value::Null) | Err(_) => continue,
            Ok(v) => v,
        };
        let key = |p: &str| v["metadata"][p].as_str().unwrap_or("").to_string();
        let kind = v["kind"].as_str().unwrap_or("").to_string();
        m.insert((kind, key("namespace"), key("name")), v);
    }
    m
}

/// The labels Helm's convention adds to every object of a chart.
pub fn without_chart_labels(mut v: Value) -> Value {
    if let Some(l) = v["metadata"]
        .get_mut("labels")
        .and_then(Value::as_object_mut)
    {
        for k in [
            "app.kubernetes.io/part-of",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
        ] {
            l.remove(k);
        }
        if l.is_empty() {
            v["metadata"].as_object_mut().unwrap().remove("labels");
        }
    }
    v
}
