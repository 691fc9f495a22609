//! The node cache as the sidecar's first tier: each choice, by flag and by annotation, on
//! a captured pod; the patched pod still passes the API server's checks.

use super::*;

fn with_node_cache(nc: NodeCache) -> Settings {
    Settings {
        node_cache: nc,
        ..settings()
    }
}

fn sidecar_of(pod: &Value, s: &Settings) -> (Value, Outcome) {
    let out = decide(pod, "dns-demo", s, &ups(), UpstreamSource::EndpointSlices);
    let after = check_injected("plain.json", pod, "dns-demo", &out);
    (after["spec"]["initContainers"][0].clone(), out)
}

fn args(sc: &Value) -> Vec<String> {
    sc["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_daemonset_tier_is_reached_at_the_nodes_address_from_the_downward_api() {
    let pod = pod_of("plain.json");
    let (sc, out) = sidecar_of(&pod, &with_node_cache(NodeCache::DaemonSet));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(args(&sc).contains(&"--node-cache=$(DNS_SIDECAR_HOST_IP):10053".to_string()));
    assert_eq!(
        sc["env"],
        json!([{"name": "DNS_SIDECAR_HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}])
    );
    // The replicas stay the next tier, and the VIP the last.
    assert!(args(&sc).contains(&"--upstream=10.96.0.11,10.96.0.12".to_string()));
    assert!(args(&sc).contains(&"--fallback=10.96.0.10".to_string()));
}

#[test]
fn a_vendor_node_cache_by_address_or_the_vip_and_none_by_default() {
    let pod = pod_of("plain.json");
    let (sc, _) = sidecar_of(&pod, &settings());
    assert!(!args(&sc).iter().any(|a| a.starts_with("--node-cache")));
    assert!(
        sc.get("env").is_none(),
        "nothing changes without a node cache"
    );
    let (sc, _) = sidecar_of(&pod, &with_node_cache(NodeCache::ClusterDns));
    assert!(args(&sc).contains(&"--node-cache=10.96.0.10".to_string()));
    for (value, flag) in [
        ("169.254.20.10", "--node-cache=169.254.20.10:53"),
        ("169.254.10.11:53", "--node-cache=169.254.10.11:53"),
        ("cluster-dns", "--node-cache=10.96.0.10"),
        ("daemonset", "--node-cache=$(DNS_SIDECAR_HOST_IP):10053"),
    ] {
        let mut p = pod.clone();
        p["metadata"]["annotations"] = json!({"dns-sidecar.io/node-cache": value});
        let (sc, out) = sidecar_of(&p, &settings());
        assert!(out.warnings.is_empty(), "{value}: {:?}", out.warnings);
        assert!(
            args(&sc).contains(&flag.to_string()),
            "{value}: {:?}",
            args(&sc)
        );
    }
    let mut p = pod.clone();
    p["metadata"]["annotations"] = json!({"dns-sidecar.io/node-cache": "none"});
    let (sc, _) = sidecar_of(&p, &with_node_cache(NodeCache::DaemonSet));
    assert!(
        !args(&sc).iter().any(|a| a.starts_with("--node-cache")),
        "a pod opts out of the cluster's node cache"
    );
}

#[test]
fn a_bad_node_cache_annotation_warns_and_keeps_the_webhooks_choice() {
    let mut pod = pod_of("plain.json");
    pod["metadata"]["annotations"] = json!({"dns-sidecar.io/node-cache": "the node"});
    let (sc, out) = sidecar_of(&pod, &with_node_cache(NodeCache::DaemonSet));
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("dns-sidecar.io/node-cache=\"the node\" is not none, daemonset"),
        "{}",
        out.warnings[0]
    );
    assert!(args(&sc).contains(&"--node-cache=$(DNS_SIDECAR_HOST_IP):10053".to_string()));
    // cluster-dns with the cluster DNS left out cannot be wired: a warning, no tier.
    let s = Settings {
        cluster_dns: None,
        ..with_node_cache(NodeCache::ClusterDns)
    };
    let pod = pod_of("plain.json");
    let out = decide(&pod, "dns-demo", &s, &ups(), UpstreamSource::EndpointSlices);
    let (_, after) = injected(&pod, &out);
    let sc = &after["spec"]["initContainers"][0];
    assert!(!args(sc).iter().any(|a| a.starts_with("--node-cache")));
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("cluster-dns needs the webhook's --cluster-dns")),
        "{:?}",
        out.warnings
    );
}
