//! The webhook's decision on arbitrary input shaped like an AdmissionReview: the bytes as
//! the body, and, when they are JSON, as the pod of a CREATE review. Never a panic, never a
//! denial, and a patch that applies to the pod it was made for.
#![no_main]

use base64::Engine;
use clap::Parser;
use dns_sidecar_webhook::config::Args;
use dns_sidecar_webhook::inject::{Settings, UpstreamSource};
use dns_sidecar_webhook::review::review;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// The webhook's defaults, as its flags give them (parsed once: clap costs more than a review).
fn settings() -> &'static Settings {
    static S: OnceLock<Settings> = OnceLock::new();
    S.get_or_init(|| Args::parse_from(["dns-sidecar-webhook"]).settings())
}

fuzz_target!(|data: &[u8]| {
    let settings = settings();
    let ups = ["10.96.0.11".parse().unwrap()];
    let _ = review(data, settings, &ups, UpstreamSource::EndpointSlices);
    let Ok(pod) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "fuzz",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE",
            "namespace": "app",
            "object": pod,
        }
    });
    let r = review(
        &serde_json::to_vec(&body).unwrap(),
        settings,
        &ups,
        UpstreamSource::Static,
    )
    .expect("a well-formed envelope is reviewed");
    assert_eq!(r.body["response"]["allowed"], true, "never a denial");
    if let Some(p) = r.body["response"]["patch"].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(p)
            .expect("patch is base64");
        let patch: json_patch::Patch =
            serde_json::from_slice(&bytes).expect("patch is a JSON Patch");
        let mut doc = body["request"]["object"].clone();
        json_patch::patch(&mut doc, &patch).expect("the patch applies to the pod");
    }
});
