//! The AdmissionReview envelope: decode what the API server POSTs, run the decision, and
//! answer with the same uid, `allowed: true`, the patch and the warnings. Bad envelopes are
//! the caller's 400; a pod is never denied.

use std::net::IpAddr;

use base64::Engine;
use serde_json::{json, Value};

use crate::inject::{self, Decision, Settings, Skip, UpstreamSource};

const API_VERSION: &str = "admission.k8s.io/v1";

/// The answer to one review, with what happened for metrics and logs.
pub struct Reviewed {
    pub body: Value,
    /// "injected" or "skipped".
    pub outcome: &'static str,
    /// The skip reason ("" when injected).
    pub reason: &'static str,
    pub pod: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BadReview {
    #[error("body is not an admission.k8s.io/v1 AdmissionReview: {0}")]
    Decode(String),
    #[error("AdmissionReview apiVersion {0:?} is not supported (admission.k8s.io/v1 only)")]
    Version(String),
    #[error("AdmissionReview has no request")]
    NoRequest,
    #[error("AdmissionReview request has no uid")]
    NoUid,
}

/// Reads the envelope in place (one JSON decode, the pod never copied or re-encoded:
/// half the cost of kube-core's typed AdmissionReview and its conversion back).
pub fn review(
    body: &[u8],
    s: &Settings,
    upstreams: &[IpAddr],
    source: UpstreamSource,
) -> Result<Reviewed, BadReview> {
    review_in(body, s, upstreams, source, &|_| None)
}

/// `review`, with the labels of the pod's namespace from `ns_labels` when known.
pub fn review_in(
    body: &[u8],
    s: &Settings,
    upstreams: &[IpAddr],
    source: UpstreamSource,
    ns_labels: &dyn Fn(&str) -> Option<crate::namespaces::Labels>,
) -> Result<Reviewed, BadReview> {
    let rev: Value = serde_json::from_slice(body).map_err(|e| BadReview::Decode(e.to_string()))?;
    let api = rev.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api != API_VERSION || rev.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
        return Err(BadReview::Version(api.to_string()));
    }
    let req = rev
        .get("request")
        .filter(|r| r.is_object())
        .ok_or(BadReview::NoRequest)?;
    let uid = req
        .get("uid")
        .and_then(Value::as_str)
        .ok_or(BadReview::NoUid)?;
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let namespace = text(&req["namespace"]);
    let object = &req["object"];
    let name = match req["name"].as_str() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("{}*", text(&object["metadata"]["generateName"])),
    };
    let mut r = Reviewed {
        body: json!({"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": {"uid": uid, "allowed": true}}),
        outcome: "skipped",
        reason: Skip::NotPodCreate.reason(),
        pod: format!("{namespace}/{name}"),
    };
    let kind = &req["kind"];
    let is_pod_create = kind["kind"] == "Pod"
        && kind["group"].as_str().unwrap_or("").is_empty()
        && req["operation"] == "CREATE"
        && object.is_object();
    if !is_pod_create {
        return Ok(r);
    }
    let labels = ns_labels(&namespace);
    let out = inject::decide_with(object, &namespace, labels.as_ref(), s, upstreams, source);
    let resp = &mut r.body["response"];
    if !out.warnings.is_empty() {
        resp["warnings"] = json!(out.warnings);
    }
    match out.decision {
        Decision::Skip(why) => r.reason = why.reason(),
        Decision::Inject(patch) => {
            let bytes = serde_json::to_vec(&patch).map_err(|e| BadReview::Decode(e.to_string()))?;
            resp["patchType"] = json!("JSONPatch");
            resp["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            r.outcome = "injected";
            r.reason = "";
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests;
