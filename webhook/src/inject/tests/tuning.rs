//! Opt-in and opt-out, annotations, the fallback, container mode, the port sysctl.

use super::*;

#[test]
fn opt_out_and_forced_injection() {
    let mut pod = pod_of("plain.json");
    pod["metadata"]["annotations"] = json!({"dns-sidecar.io/inject": "false"});
    let out = decide_in(&pod, "dns-demo");
    assert_eq!(out.decision, Decision::Skip(Skip::OptedOut));
    let mut pod = pod_of("plain.json");
    pod["metadata"]["labels"] = json!({"dns-sidecar.io/inject": "disabled"});
    let out = decide_in(&pod, "dns-demo");
    assert_eq!(
        out.decision,
        Decision::Skip(Skip::OptedOut),
        "a label works too"
    );
    let mut pod = pod_of("dnspolicy-default.json");
    pod["metadata"]["annotations"] = json!({"dns-sidecar.io/inject": "true"});
    let out = decide_in(&pod, "dns-demo");
    assert!(
        matches!(out.decision, Decision::Inject { .. }),
        "forced on dnsPolicy Default"
    );
}

#[test]
fn annotations_tune_the_sidecar_and_bad_ones_warn() {
    let mut pod = pod_of("plain.json");
    pod["metadata"]["annotations"] = json!({
        "dns-sidecar.io/cache-size": "20000",
        "dns-sidecar.io/ndots": "2",
        "dns-sidecar.io/memory": "128Mi",
        "dns-sidecar.io/stale-max": "forever"
    });
    let out = decide_in(&pod, "dns-demo");
    let (_, pod) = injected(&pod, &out);
    let sc = &pod["spec"]["initContainers"][0];
    assert!(sc["args"]
        .as_array()
        .unwrap()
        .contains(&json!("--cache-size=20000")));
    assert!(!sc["args"].to_string().contains("stale-max"));
    assert_eq!(sc["resources"]["limits"]["memory"], "128Mi");
    assert_eq!(sc["resources"]["requests"]["memory"], "128Mi");
    assert_eq!(
        pod["spec"]["dnsConfig"]["options"],
        json!([{"name": "ndots", "value": "2"}])
    );
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].contains("dns-sidecar.io/stale-max=\"forever\" is not a duration"),
        "{}",
        out.warnings[0]
    );
}

#[test]
fn no_known_upstreams_falls_back_to_the_vip_and_says_so() {
    let pod = pod_of("plain.json");
    let out = decide(
        &pod,
        "dns-demo",
        &settings(),
        &[],
        UpstreamSource::EndpointSlices,
    );
    let (_, pod) = injected(&pod, &out);
    assert!(pod["spec"]["initContainers"][0]["args"]
        .as_array()
        .unwrap()
        .contains(&json!("--upstream=10.96.0.10")));
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("10.96.0.10"), "{:?}", out.warnings);
}

#[test]
fn container_mode_for_older_clusters() {
    let s = Settings {
        mode: Mode::Container,
        ..settings()
    };
    let pod = pod_of("init-container.json");
    let out = decide(&pod, "dns-demo", &s, &ups(), UpstreamSource::EndpointSlices);
    let (patch, after) = injected(&pod, &out);
    assert_eq!(after["spec"]["containers"][0]["name"], sidecar::NAME);
    assert!(after["spec"]["containers"][0]
        .get("restartPolicy")
        .is_none());
    assert_eq!(
        after["spec"]["initContainers"],
        pod["spec"]["initContainers"]
    );
    let ops = serde_json::to_value(&patch).unwrap();
    assert_eq!(ops[0]["path"], "/spec/containers/0");
}

#[test]
fn a_higher_port_sysctl_is_lowered_with_a_warning() {
    let mut pod = pod_of("plain.json");
    pod["spec"]["securityContext"] =
        json!({"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "1024"}]});
    let out = decide_in(&pod, "dns-demo");
    let (_, pod) = injected(&pod, &out);
    assert_eq!(
        pod["spec"]["securityContext"]["sysctls"],
        json!([{"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"}])
    );
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].contains("lowered from \"1024\" to 53"),
        "the value as the user wrote it: {}",
        out.warnings[0]
    );
}

#[test]
fn query_names_are_shown_only_where_the_flag_or_the_annotation_says() {
    let args = |pod: &Value, s: &Settings| {
        let out = decide(pod, "dns-demo", s, &ups(), UpstreamSource::EndpointSlices);
        let (_, after) = injected(pod, &out);
        after["spec"]["initContainers"][0]["args"].to_string()
    };
    let plain = pod_of("plain.json");
    assert!(
        !args(&plain, &settings()).contains("--debug-names"),
        "off by default"
    );
    let mut asked = plain.clone();
    asked["metadata"]["annotations"] = json!({"dns-sidecar.io/debug-names": "true"});
    assert!(args(&asked, &settings()).contains("\"--debug-names=true\""));
    let on = Settings {
        debug_names: true,
        ..settings()
    };
    assert!(
        args(&plain, &on).contains("\"--debug-names=true\""),
        "the webhook's flag"
    );
    let mut declined = plain.clone();
    declined["metadata"]["annotations"] = json!({"dns-sidecar.io/debug-names": "false"});
    let a = args(&declined, &on);
    assert!(
        a.contains("\"--debug-names=false\"") && !a.contains("=true"),
        "{a}"
    );
}
