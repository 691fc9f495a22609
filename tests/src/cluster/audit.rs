//! The API server's own record of what the project's ServiceAccounts asked of it
//! (`hack/cluster/config/audit-policy.yaml` keeps theirs and nothing else): the real
//! server's answer to "which requests did the webhook make?".

use serde_json::Value;

/// The audit log `hack/cluster.sh up` has the API server write.
pub fn log_path() -> std::path::PathBuf {
    let state = std::env::var("DNS_SIDECAR_CLUSTER_STATE")
        .unwrap_or_else(|_| "/var/lib/dns-sidecar-cluster".into());
    std::path::Path::new(&state).join("logs/audit.log")
}

/// One request as the API server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub user: String,
    /// The pod a bound ServiceAccount token was issued for.
    pub pod: Option<String>,
    pub verb: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub uri: String,
    pub code: u64,
}

/// Every request (past the response stage) made by `user` so far.
pub fn requests_by(user: &str) -> Vec<Request> {
    let text = std::fs::read_to_string(log_path()).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (is the cluster up with its audit log?)",
            log_path().display()
        )
    });
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == user)
        .map(|e| Request {
            user: user.to_string(),
            pod: e["user"]["extra"]["authentication.kubernetes.io/pod-name"][0]
                .as_str()
                .map(String::from),
            verb: e["verb"].as_str().unwrap_or("").to_string(),
            resource: e["objectRef"]["resource"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            namespace: e["objectRef"]["namespace"].as_str().map(String::from),
            uri: e["requestURI"].as_str().unwrap_or("").to_string(),
            code: e["responseStatus"]["code"].as_u64().unwrap_or(0),
        })
        .collect()
}

/// The writes among them (anything but get, list and watch).
pub fn writes_by(user: &str) -> Vec<Request> {
    requests_by(user)
        .into_iter()
        .filter(|r| !matches!(r.verb.as_str(), "get" | "list" | "watch"))
        .collect()
}
