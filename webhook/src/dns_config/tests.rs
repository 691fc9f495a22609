//! The dnsConfig merge, its limits, and the API server's validation rules.

use super::*;

fn inputs<'a>(host: &'a [String]) -> DnsInputs<'a> {
    DnsInputs {
        namespace: "shop",
        cluster_domain: "cluster.local",
        fallback: Some("10.96.0.10".parse().unwrap()),
        host_searches: host,
        ndots: 5,
    }
}

#[test]
fn plain_cluster_first() {
    let mut w = vec![];
    let c = build(&inputs(&[]), None, &mut w);
    assert_eq!(
        c,
        json!({
            "nameservers": ["127.0.0.1", "10.96.0.10"],
            "searches": ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"],
            "options": [{"name": "ndots", "value": "5"}]
        })
    );
    assert!(w.is_empty());
    validate(&c).unwrap();
}

#[test]
fn merges_the_pods_own_config_as_kubelet_does() {
    let own = json!({
        "nameservers": ["1.1.1.1"],
        "searches": ["corp.example.com", "svc.cluster.local"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]
    });
    let mut w = vec![];
    let c = build(&inputs(&["c.project.internal".into()]), Some(&own), &mut w);
    assert_eq!(
        c["nameservers"],
        json!(["127.0.0.1", "10.96.0.10", "1.1.1.1"])
    );
    assert_eq!(
        c["searches"],
        json!([
            "shop.svc.cluster.local",
            "svc.cluster.local",
            "cluster.local",
            "c.project.internal",
            "corp.example.com"
        ])
    );
    assert_eq!(
        c["options"],
        json!([{"name": "ndots", "value": "2"}, {"name": "edns0"}]),
        "the pod's ndots wins"
    );
    assert!(w.is_empty());
}

#[test]
fn too_many_nameservers_are_dropped_with_a_warning() {
    let own = json!({"nameservers": ["1.1.1.1", "8.8.8.8"]});
    let mut w = vec![];
    let c = build(&inputs(&[]), Some(&own), &mut w);
    assert_eq!(
        c["nameservers"],
        json!(["127.0.0.1", "10.96.0.10", "1.1.1.1"])
    );
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("8.8.8.8"), "{w:?}");
    validate(&c).unwrap();
}

#[test]
fn search_limits_hold() {
    let many: Vec<String> = (0..40).map(|i| format!("d{i}.example.com")).collect();
    let mut w = vec![];
    let c = build(&inputs(&[]), Some(&json!({"searches": many})), &mut w);
    assert_eq!(c["searches"].as_array().unwrap().len(), MAX_SEARCHES);
    assert!(w[0].contains("d39.example.com"));
    validate(&c).unwrap();
    let label = "x".repeat(60);
    let long: Vec<String> = (0..12)
        .map(|i| format!("d{i}.{label}.{label}.{label}.example.com"))
        .collect();
    let mut w = vec![];
    let c = build(&inputs(&[]), Some(&json!({"searches": long})), &mut w);
    let joined = c["searches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(joined.len() <= MAX_SEARCH_CHARS);
    assert_eq!(w.len(), 1);
    validate(&c).unwrap();
}

#[test]
fn validation_mirrors_the_api_server() {
    assert!(validate(&json!({"nameservers": []})).is_err());
    assert!(
        validate(&json!({"nameservers": ["127.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]}))
            .is_err()
    );
    assert!(validate(&json!({"nameservers": ["dns.example.com"]})).is_err());
    assert!(
        validate(&json!({"nameservers": ["127.0.0.1"], "searches": ["Bad_Domain..com"]})).is_err()
    );
    assert!(validate(&json!({"nameservers": ["127.0.0.1"], "options": [{"name": ""}]})).is_err());
    assert!(validate(
        &json!({"nameservers": ["127.0.0.1"], "options": [{"name": "ndots", "value": "banana"}]})
    )
    .is_ok());
    assert!(is_rfc1123_subdomain("a-b.c0"));
    assert!(!is_rfc1123_subdomain("-a.b"));
    assert!(!is_rfc1123_subdomain("A.b"));
}
