use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn ports_join_the_list_once() {
    assert_eq!(with_port("4567,4568", 53), "4567,4568,53");
    assert_eq!(with_port("4567,53", 53), "4567,53");
    assert_eq!(with_port("1-100", 53), "1-100", "a range that holds it");
    assert_eq!(with_port("", 53), "53");
}

#[test]
fn linkerd_init_args_get_port_53_in_either_form() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        linkerd_init_args(&s(&[
            "--proxy-uid",
            "2102",
            "--outbound-ports-to-ignore",
            "4567,4568"
        ])),
        Some(s(&[
            "--proxy-uid",
            "2102",
            "--outbound-ports-to-ignore",
            "4567,4568,53"
        ]))
    );
    assert_eq!(
        linkerd_init_args(&s(&["--outbound-ports-to-ignore=4567"])),
        Some(s(&["--outbound-ports-to-ignore=4567,53"]))
    );
    assert_eq!(
        linkerd_init_args(&s(&["--proxy-uid", "2102"])),
        Some(s(&[
            "--proxy-uid",
            "2102",
            "--outbound-ports-to-ignore",
            "4567,4568,53"
        ])),
        "absent: linkerd's default, and 53"
    );
    assert_eq!(
        linkerd_init_args(&s(&["--outbound-ports-to-ignore", "4567,4568,53"])),
        None,
        "already there"
    );
}

#[test]
fn ambient_comes_from_the_pod_or_its_namespace_and_a_sidecar_wins() {
    let spec = serde_json::json!({"containers": [{"name": "app"}]});
    let none = BTreeMap::new();
    let ambient = map(&[(AMBIENT_LABEL, "ambient")]);
    assert!(find(&spec, &ambient, &none, None).ambient_dns);
    assert!(
        find(&spec, &none, &none, Some(&ambient)).ambient_dns,
        "by namespace"
    );
    let opted = map(&[(AMBIENT_DNS_ANNOTATION, "false")]);
    let f = find(&spec, &ambient, &opted, None);
    assert!(!f.ambient_dns && f.ambient_uncaptured);
    let out = map(&[(AMBIENT_LABEL, "none")]);
    assert!(
        !find(&spec, &out, &none, Some(&ambient)).ambient_dns,
        "pod opted out"
    );
    let sidecar = serde_json::json!({"containers": [{"name": "app"}, {"name": "istio-proxy"}]});
    let f = find(&sidecar, &none, &none, Some(&ambient));
    assert!(!f.ambient_dns && f.istio.is_some(), "sidecar mode");
    assert_eq!(
        find(&spec, &none, &none, None),
        Findings::default(),
        "no mesh"
    );
}
