//! The AdmissionReview envelope: decode what the API server POSTs, run the decision, and
//! answer with the same uid, `allowed: true`, the patch and the warnings. Bad envelopes are
//! the caller's 400; a pod is never denied.

use std::net::IpAddr;

use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;
use serde_json::Value;

use crate::inject::{self, Decision, Settings, Skip, UpstreamSource};

/// The answer to one review, with what happened for metrics and logs.
pub struct Reviewed {
    pub body: Value,
    /// "injected", "skipped" or "error".
    pub outcome: &'static str,
    /// Skip reason or error kind ("" when injected).
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
}

pub fn review(
    body: &[u8],
    s: &Settings,
    upstreams: &[IpAddr],
    source: UpstreamSource,
) -> Result<Reviewed, BadReview> {
    let rev: AdmissionReview<DynamicObject> =
        serde_json::from_slice(body).map_err(|e| BadReview::Decode(e.to_string()))?;
    if rev.types.api_version != "admission.k8s.io/v1" || rev.types.kind != "AdmissionReview" {
        return Err(BadReview::Version(rev.types.api_version));
    }
    let req: AdmissionRequest<DynamicObject> = rev.try_into().map_err(|_| BadReview::NoRequest)?;
    let namespace = req.namespace.clone().unwrap_or_default();
    let name = if req.name.is_empty() {
        req.object
            .as_ref()
            .and_then(|o| o.metadata.generate_name.clone())
            .map(|g| format!("{g}*"))
            .unwrap_or_default()
    } else {
        req.name.clone()
    };
    let pod = format!("{namespace}/{name}");
    let resp = AdmissionResponse::from(&req);
    let is_pod_create =
        req.kind.kind == "Pod" && req.kind.group.is_empty() && req.operation == Operation::Create;
    let object = match (&req.object, is_pod_create) {
        (Some(o), true) => serde_json::to_value(o).map_err(|e| BadReview::Decode(e.to_string()))?,
        _ => return Ok(reviewed(resp, "skipped", Skip::NotPodCreate.reason(), pod)),
    };
    let out = inject::decide(&object, &namespace, s, upstreams, source);
    let mut resp = resp;
    if !out.warnings.is_empty() {
        resp.warnings = Some(out.warnings);
    }
    match out.decision {
        Decision::Skip(why) => Ok(reviewed(resp, "skipped", why.reason(), pod)),
        Decision::Inject { patch, .. } => match resp.clone().with_patch(patch) {
            Ok(r) => Ok(reviewed(r, "injected", "", pod)),
            // Not expected (a patch is plain JSON); admit the pod untouched and say so.
            Err(e) => {
                let mut r = resp;
                r.warnings
                    .get_or_insert_with(Vec::new)
                    .push(format!("dns-sidecar: not injected: {e}"));
                Ok(reviewed(r, "error", "patch", pod))
            }
        },
    }
}

#[cfg(test)]
mod tests;

fn reviewed(
    resp: AdmissionResponse,
    outcome: &'static str,
    reason: &'static str,
    pod: String,
) -> Reviewed {
    use base64::Engine;
    let patch = resp.patch.clone();
    let mut body = serde_json::to_value(resp.into_review()).unwrap_or(Value::Null);
    // kube-core writes the patch bytes as a JSON array of numbers; Go's []byte (and every
    // webhook the API server talks to) uses a base64 string, four times smaller.
    if let Some(p) = patch {
        body["response"]["patch"] =
            Value::String(base64::engine::general_purpose::STANDARD.encode(p));
    }
    Reviewed {
        body,
        outcome,
        reason,
        pod,
    }
}
