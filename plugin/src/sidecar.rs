//! The sidecar in a pod as the API server returns it: the injected `dns-proxy` container
//! (a native sidecar among the init containers, or an app container on older clusters),
//! its admin port, the version the webhook recorded in `dns-sidecar.io/status`, and
//! whether it runs.

use serde_json::Value;

/// The webhook's container name (`webhook/src/sidecar.rs`).
pub const CONTAINER: &str = "dns-proxy";
const PORT_NAME: &str = "dns-admin";
const STATUS: &str = "dns-sidecar.io/status";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    pub admin_port: u16,
    /// From the status annotation.
    pub version: Option<String>,
    pub image: String,
}

/// Why a pod's sidecar cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotThere {
    #[error("has no dns-sidecar (no {CONTAINER} container): its namespace is not labelled dns-sidecar.io/inject=enabled, it opted out with dns-sidecar.io/inject: \"false\", or it was created before the webhook ran")]
    NoContainer,
    #[error("has a {CONTAINER} container without an admin port (no port named {PORT_NAME}, no --admin flag)")]
    NoPort,
    #[error("is {0}, not running: the sidecar cannot answer")]
    NotRunning(String),
    #[error("runs its sidecar, but it is not running: {0}")]
    SidecarDown(String),
}

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(move |k| pod["spec"][k].as_array().into_iter().flatten())
}

/// The admin port: the named container port, else the port of `--admin=IP:PORT`.
fn admin_port(c: &Value) -> Option<u16> {
    let named = c["ports"].as_array().into_iter().flatten().find_map(|p| {
        (p["name"] == PORT_NAME)
            .then(|| p["containerPort"].as_u64())
            .flatten()
    });
    named
        .or_else(|| {
            c["args"].as_array().into_iter().flatten().find_map(|a| {
                let addr = a.as_str()?.strip_prefix("--admin=")?;
                addr.rsplit_once(':')?.1.parse().ok()
            })
        })
        .and_then(|p| u16::try_from(p).ok())
}

/// Why the sidecar's container is not running, from the pod's status (None: it runs, or
/// the status does not say).
fn down(pod: &Value) -> Option<NotThere> {
    let status = &pod["status"];
    if let Some(phase) = status["phase"].as_str().filter(|p| *p != "Running") {
        return Some(NotThere::NotRunning(phase.to_string()));
    }
    let cs = ["initContainerStatuses", "containerStatuses"]
        .into_iter()
        .flat_map(|k| status[k].as_array().into_iter().flatten())
        .find(|c| c["name"] == CONTAINER)?;
    let state = cs["state"].as_object()?;
    if state.contains_key("running") {
        return None;
    }
    let (what, detail) = state.iter().next()?;
    let reason = detail["reason"].as_str().unwrap_or("");
    Some(NotThere::SidecarDown(
        format!("{what} {reason}").trim().to_string(),
    ))
}

/// The sidecar of `pod`, or why there is none to read.
pub fn find(pod: &Value) -> Result<Sidecar, NotThere> {
    let c = containers(pod)
        .find(|c| c["name"] == CONTAINER)
        .ok_or(NotThere::NoContainer)?;
    let admin_port = admin_port(c).ok_or(NotThere::NoPort)?;
    if let Some(why) = down(pod) {
        return Err(why);
    }
    let version = pod["metadata"]["annotations"][STATUS]
        .as_str()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v["version"].as_str().map(String::from));
    Ok(Sidecar {
        admin_port,
        version,
        image: c["image"].as_str().unwrap_or("").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: Value, status: Value) -> Value {
        json!({
            "metadata": {"annotations": {STATUS: "{\"version\":\"0.1.0\",\"mode\":\"native\"}"}},
            "spec": {"initContainers": containers, "containers": [{"name": "app"}]},
            "status": status,
        })
    }

    #[test]
    fn the_sidecar_its_port_and_version_are_found() {
        let c = json!([{"name": CONTAINER, "image": "r/p:0.1.0",
                        "ports": [{"name": PORT_NAME, "containerPort": 9953}]}]);
        let running = json!({"phase": "Running", "initContainerStatuses": [
            {"name": CONTAINER, "state": {"running": {}}}]});
        assert_eq!(
            find(&pod(c.clone(), running)),
            Ok(Sidecar {
                admin_port: 9953,
                version: Some("0.1.0".into()),
                image: "r/p:0.1.0".into()
            })
        );
        let by_flag =
            json!([{"name": CONTAINER, "args": ["--listen=127.0.0.1:53", "--admin=0.0.0.0:9999"]}]);
        assert_eq!(find(&pod(by_flag, json!({}))).unwrap().admin_port, 9999);
    }

    #[test]
    fn a_pod_without_it_or_with_it_down_says_why() {
        assert_eq!(find(&pod(json!([]), json!({}))), Err(NotThere::NoContainer));
        assert_eq!(
            find(&pod(json!([{"name": CONTAINER}]), json!({}))),
            Err(NotThere::NoPort)
        );
        let c = json!([{"name": CONTAINER, "ports": [{"name": PORT_NAME, "containerPort": 9953}]}]);
        assert_eq!(
            find(&pod(c.clone(), json!({"phase": "Pending"}))),
            Err(NotThere::NotRunning("Pending".into()))
        );
        let crashing = json!({"phase": "Running", "initContainerStatuses": [
            {"name": CONTAINER, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]});
        assert_eq!(
            find(&pod(c, crashing)),
            Err(NotThere::SidecarDown("waiting CrashLoopBackOff".into()))
        );
    }
}
