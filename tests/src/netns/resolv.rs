//! resolv.conf texts: the pod's as the webhook writes it, and ClusterFirst's.

use super::*;

/// resolv.conf text for nameservers, with the ClusterFirst search list of namespace
/// `default` and the options the webhook writes.
pub fn resolv_conf(nameservers: &[String], searches: &[String], options: &[String]) -> String {
    let mut s = String::new();
    for n in nameservers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    s.push_str(&format!("search {}\n", searches.join(" ")));
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    s
}

/// The resolv.conf a pod in namespace `default` gets from the webhook (its own code), with
/// the cluster DNS VIP after the sidecar (`dns-sidecar.io/fallback: cluster-dns`).
pub fn sidecar_resolv_conf() -> String {
    sidecar_resolv_conf_with(true)
}

/// The same, with or without the VIP (`dns-sidecar.io/fallback: none`).
pub fn sidecar_resolv_conf_with(vip_fallback: bool) -> String {
    sidecar_resolv_conf_for(vip_fallback, &[])
}

/// The same, with search domains the nodes add (kubelet's `--host-searches` of the webhook).
pub fn sidecar_resolv_conf_for(vip_fallback: bool, host_searches: &[String]) -> String {
    let inputs = dns_sidecar_webhook::dns_config::DnsInputs {
        namespace: "default",
        cluster_domain: DOMAIN,
        fallback: vip_fallback.then(|| VIP.parse().unwrap()),
        host_searches,
        ndots: 5,
    };
    let cfg = dns_sidecar_webhook::dns_config::build(&inputs, None, &mut Vec::new());
    let strs = |k: &str| -> Vec<String> {
        cfg[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let options: Vec<String> = cfg["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| match o.get("value").and_then(|v| v.as_str()) {
            Some(v) => format!("{}:{v}", o["name"].as_str().unwrap()),
            None => o["name"].as_str().unwrap().to_string(),
        })
        .collect();
    resolv_conf(&strs("nameservers"), &strs("searches"), &options)
}

/// What kubelet writes for ClusterFirst today, with these nameservers.
pub fn cluster_first_resolv_conf(nameservers: &[String]) -> String {
    let searches: Vec<String> = [
        "default.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    resolv_conf(nameservers, &searches, &["ndots:5".to_string()])
}
