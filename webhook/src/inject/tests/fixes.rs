//! Real-world pod shapes: Windows pods, the pod's own `rotate`, an app on the admin port,
//! the fallback choice, and what the sidecar is told (discovery, fallback, drain).

use super::*;

fn args_of(pod: &Value, list: &str) -> Vec<String> {
    pod["spec"][list][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn windows_pods_are_skipped() {
    for spec_part in [
        json!({"os": {"name": "windows"}}),
        json!({"nodeSelector": {"kubernetes.io/os": "windows"}}),
    ] {
        let mut pod = pod_of("plain.json");
        for (k, v) in spec_part.as_object().unwrap() {
            pod["spec"][k] = v.clone();
        }
        let out = decide_in(&pod, "dns-demo");
        assert_eq!(out.decision, Decision::Skip(Skip::Windows), "{spec_part}");
        assert_eq!(Skip::Windows.reason(), "windows");
    }
}

#[test]
fn the_pods_own_rotate_is_dropped_with_a_warning() {
    let mut pod = pod_of("plain.json");
    pod["spec"]["dnsConfig"] = json!({"options": [{"name": "rotate"}, {"name": "edns0"}]});
    let out = decide_in(&pod, "dns-demo");
    let (_, after) = injected(&pod, &out);
    assert_eq!(
        after["spec"]["dnsConfig"]["options"],
        json!([{"name": "ndots", "value": "5"}, {"name": "edns0"}])
    );
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].contains("\"rotate\" dropped"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn an_app_on_the_admin_port_moves_the_sidecars_admin_port_and_probes() {
    let mut pod = pod_of("plain.json");
    pod["spec"]["containers"][0]["ports"] =
        json!([{"containerPort": 9953}, {"containerPort": 8080, "hostPort": 9954}]);
    let out = decide_in(&pod, "dns-demo");
    let (_, after) = injected(&pod, &out);
    let sc = &after["spec"]["initContainers"][0];
    assert!(args_of(&after, "initContainers").contains(&"--admin=0.0.0.0:9955".to_string()));
    assert_eq!(sc["ports"][0]["containerPort"], 9955);
    for probe in ["startupProbe", "livenessProbe"] {
        assert_eq!(sc[probe]["httpGet"]["port"], 9955, "{probe}");
    }
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("9955"), "{:?}", out.warnings);
    let plain = pod_of("plain.json");
    let out = decide_in(&plain, "dns-demo");
    assert!(out.warnings.is_empty(), "no clash, no warning");
}

#[test]
fn fallback_none_leaves_only_the_sidecar_in_resolv_conf() {
    let mut pod = pod_of("plain.json");
    pod["metadata"]["annotations"] = json!({"dns-sidecar.io/fallback": "none"});
    let out = decide_in(&pod, "dns-demo");
    let (_, after) = injected(&pod, &out);
    assert_eq!(
        after["spec"]["dnsConfig"]["nameservers"],
        json!(["127.0.0.1"])
    );
    assert!(
        args_of(&after, "initContainers").contains(&"--fallback=10.96.0.10".to_string()),
        "the sidecar itself still falls back to the VIP"
    );
    // The webhook's default can be none, and an annotation brings the VIP back.
    let s = Settings {
        fallback: Fallback::None,
        ..settings()
    };
    let mut pod = pod_of("plain.json");
    let out = decide(&pod, "dns-demo", &s, &ups(), UpstreamSource::EndpointSlices);
    let (_, after) = injected(&pod, &out);
    assert_eq!(
        after["spec"]["dnsConfig"]["nameservers"],
        json!(["127.0.0.1"])
    );
    pod["metadata"]["annotations"] = json!({"dns-sidecar.io/fallback": "cluster-dns"});
    let out = decide(&pod, "dns-demo", &s, &ups(), UpstreamSource::EndpointSlices);
    let (_, after) = injected(&pod, &out);
    assert_eq!(
        after["spec"]["dnsConfig"]["nameservers"],
        json!(["127.0.0.1", "10.96.0.10"])
    );
    pod["metadata"]["annotations"] = json!({"dns-sidecar.io/fallback": "vip"});
    let out = decide(&pod, "dns-demo", &s, &ups(), UpstreamSource::EndpointSlices);
    assert!(
        out.warnings[0].contains("dns-sidecar.io/fallback=\"vip\" is not cluster-dns or none"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn the_sidecar_discovers_falls_back_and_exits_at_once_as_a_native_sidecar() {
    let pod = pod_of("plain.json");
    let (_, after) = injected(&pod, &decide_in(&pod, "dns-demo"));
    let args = args_of(&after, "initContainers");
    for want in [
        "--upstream=10.96.0.11,10.96.0.12",
        "--fallback=10.96.0.10",
        "--discover=dns-sidecar-upstreams.kube-system.svc.cluster.local",
        "--drain=0s",
    ] {
        assert!(args.contains(&want.to_string()), "{want} in {args:?}");
    }
    // Container mode keeps the drain: the sidecar may be stopped while the app still runs.
    let s = Settings {
        mode: Mode::Container,
        discover: None,
        ..settings()
    };
    let out = decide(&pod, "dns-demo", &s, &ups(), UpstreamSource::Static);
    let (_, after) = injected(&pod, &out);
    let args = args_of(&after, "containers");
    assert!(!args.iter().any(|a| a.starts_with("--drain")), "{args:?}");
    assert!(
        !args.iter().any(|a| a.starts_with("--discover")),
        "{args:?}"
    );
    // Every flag parses as the proxy reads it.
    let mut argv = vec!["dns-sidecar-proxy".to_string()];
    argv.extend(args_of(
        &injected(&pod, &decide_in(&pod, "x")).1,
        "initContainers",
    ));
    let parsed = <dns_sidecar_proxy::config::Args as clap::Parser>::try_parse_from(&argv);
    assert!(parsed.is_ok(), "{argv:?}: {:?}", parsed.err());
}

#[test]
fn the_autopath_annotation_becomes_the_proxy_flag() {
    let mut pod = pod_of("plain.json");
    pod["metadata"]["annotations"] = json!({"dns-sidecar.io/autopath": "cname"});
    let (_, after) = injected(&pod, &decide_in(&pod, "dns-demo"));
    let args = args_of(&after, "initContainers");
    assert!(args.contains(&"--autopath=cname".to_string()), "{args:?}");
    let mut argv = vec!["dns-sidecar-proxy".to_string()];
    argv.extend(args);
    let parsed = <dns_sidecar_proxy::config::Args as clap::Parser>::try_parse_from(&argv).unwrap();
    assert_eq!(parsed.autopath, dns_sidecar_proxy::autopath::Level::Cname);
    pod["metadata"]["annotations"] = json!({"dns-sidecar.io/autopath": "always"});
    let out = decide_in(&pod, "dns-demo");
    assert!(
        out.warnings[0].contains("is not off, prefetch, nxdomain or cname"),
        "{:?}",
        out.warnings
    );
}
