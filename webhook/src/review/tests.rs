use super::*;
use crate::inject::tests::settings;
use base64::Engine;

fn fixture_bytes(name: &str) -> Vec<u8> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/admission")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (shared/ must sit beside the repository)",
            p.display()
        )
    })
}

/// Reviews `req` (an AdmissionReview as JSON) with the test settings.
fn review_json(req: &Value) -> Reviewed {
    review(
        &serde_json::to_vec(req).unwrap(),
        &settings(),
        &ups(),
        UpstreamSource::EndpointSlices,
    )
    .unwrap()
}

fn ups() -> Vec<IpAddr> {
    vec!["10.96.0.11".parse().unwrap()]
}

#[test]
fn answers_with_the_requests_uid_and_a_json_patch() {
    let body = fixture_bytes("generate-name.json");
    let req: Value = serde_json::from_slice(&body).unwrap();
    let r = review(&body, &settings(), &ups(), UpstreamSource::EndpointSlices).unwrap();
    assert_eq!(r.outcome, "injected");
    assert_eq!(r.pod, "dns-demo/gen-*");
    assert_eq!(r.body["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(r.body["kind"], "AdmissionReview");
    let resp = &r.body["response"];
    assert_eq!(resp["uid"], req["request"]["uid"]);
    assert_eq!(resp["allowed"], true);
    assert_eq!(resp["patchType"], "JSONPatch");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(resp["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();
    let mut pod = req["request"]["object"].clone();
    json_patch::patch(&mut pod, &patch).unwrap();
    assert_eq!(pod["spec"]["initContainers"][0]["name"], "dns-proxy");
}

#[test]
fn skips_carry_no_patch() {
    let body = fixture_bytes("injected-good.round2.json");
    let r = review(&body, &settings(), &ups(), UpstreamSource::EndpointSlices).unwrap();
    assert_eq!((r.outcome, r.reason), ("skipped", "already-injected"));
    assert!(r.body["response"].get("patch").is_none_or(Value::is_null));
    assert!(r.body["response"]
        .get("patchType")
        .is_none_or(Value::is_null));
    assert_eq!(r.body["response"]["allowed"], true);
}

#[test]
fn dry_run_is_answered_like_any_other() {
    let dry = review(
        &fixture_bytes("dry-run-plain.json"),
        &settings(),
        &ups(),
        UpstreamSource::EndpointSlices,
    )
    .unwrap();
    assert_eq!(dry.outcome, "injected");
}

#[test]
fn warnings_reach_the_response() {
    let mut req: Value = serde_json::from_slice(&fixture_bytes("plain.json")).unwrap();
    req["request"]["object"]["metadata"]["annotations"] =
        serde_json::json!({"dns-sidecar.io/ndots": "99"});
    let r = review_json(&req);
    assert_eq!(r.outcome, "injected");
    let w = r.body["response"]["warnings"].as_array().unwrap();
    assert_eq!(w.len(), 1);
    assert!(w[0].as_str().unwrap().contains("dns-sidecar.io/ndots"));
}

#[test]
fn bad_envelopes_are_errors_not_panics() {
    let plain: Value = serde_json::from_slice(&fixture_bytes("plain.json")).unwrap();
    let mut v1beta1 = plain.clone();
    v1beta1["apiVersion"] = "admission.k8s.io/v1beta1".into();
    let mut no_request = plain.clone();
    no_request.as_object_mut().unwrap().remove("request");
    let mut no_uid = plain.clone();
    no_uid["request"].as_object_mut().unwrap().remove("uid");
    for (body, want) in [
        (
            b"not json".to_vec(),
            "not an admission.k8s.io/v1 AdmissionReview",
        ),
        (b"{}".to_vec(), "AdmissionReview"),
        (serde_json::to_vec(&v1beta1).unwrap(), "v1beta1"),
        (serde_json::to_vec(&no_request).unwrap(), "no request"),
        (serde_json::to_vec(&no_uid).unwrap(), "uid"),
    ] {
        let e = review(&body, &settings(), &ups(), UpstreamSource::EndpointSlices)
            .err()
            .expect("an error");
        assert!(e.to_string().contains(want), "{e}");
    }
}

#[test]
fn only_pod_creation_is_mutated() {
    let mut req: Value = serde_json::from_slice(&fixture_bytes("plain.json")).unwrap();
    req["request"]["operation"] = "UPDATE".into();
    req["request"]["oldObject"] = req["request"]["object"].clone();
    let r = review_json(&req);
    assert_eq!((r.outcome, r.reason), ("skipped", "not-pod-create"));
}
