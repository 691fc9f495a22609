//! Every pod shape the API server sent (captured), shapes that are not pods, CoreDNS pods.

use super::*;

#[test]
fn every_captured_shape_is_injected_or_skipped_as_expected() {
    let cases: &[(&str, Option<Skip>)] = &[
        ("plain.json", None),
        ("dnsconfig-clusterfirst.json", None),
        ("init-container.json", None),
        ("native-sidecar.json", None),
        ("annotations-slash.json", None),
        ("generate-name.json", None),
        ("dry-run-plain.json", None),
        ("injected-good.round1.json", None),
        ("injected-good-existing-init.round1.json", None),
        ("injected-good-existing-dnsconfig.round1.json", None),
        ("dnspolicy-default.json", Some(Skip::DnsPolicy)),
        (
            "hostnetwork-clusterfirstwithhostnet.json",
            Some(Skip::HostNetwork),
        ),
        ("injected-good-hostnet.round1.json", Some(Skip::HostNetwork)),
        ("injected-good.round2.json", Some(Skip::AlreadyInjected)),
        (
            "injected-good-hostnet.round2.json",
            Some(Skip::AlreadyInjected),
        ),
        (
            "injected-good-existing-init.round2.json",
            Some(Skip::AlreadyInjected),
        ),
        (
            "injected-good-existing-dnsconfig.round2.json",
            Some(Skip::AlreadyInjected),
        ),
    ];
    // Every request fixture is covered.
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| {
            f.ends_with(".json")
                && !f.contains(".patch.")
                && !f.contains(".stored.")
                && !f.starts_with("status-")
                && !f.starts_with("mutating")
        })
        .collect();
    on_disk.sort();
    let mut covered: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
    covered.sort();
    assert_eq!(covered, on_disk, "a fixture without an expectation");

    for (name, want) in cases {
        let (pod, ns, out) = run(name);
        match (&out.decision, want) {
            (Decision::Skip(got), Some(w)) => assert_eq!(got, w, "{name}"),
            (Decision::Inject(_), None) => {
                let mut after = check_injected(name, &pod, &ns, &out);
                // Reinvocation: the same pod again, and with the token mount added.
                let again = decide_in(&after, &ns);
                assert_eq!(
                    again.decision,
                    Decision::Skip(Skip::AlreadyInjected),
                    "{name}: idempotent"
                );
                add_token_mount(&mut after);
                let round2 = decide_in(&after, &ns);
                assert_eq!(
                    round2.decision,
                    Decision::Skip(Skip::AlreadyInjected),
                    "{name}: round 2"
                );
                assert!(out.warnings.is_empty(), "{name}: {:?}", out.warnings);
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn coredns_pods_are_never_injected() {
    let mut pod = pod_of("plain.json");
    pod["metadata"]["labels"] = json!({"k8s-app": "kube-dns"});
    let out = decide_in(&pod, "dns-demo");
    assert_eq!(out.decision, Decision::Skip(Skip::DnsServer));
    let pod = pod_of("plain.json");
    let out = decide_in(&pod, "kube-system");
    assert_eq!(out.decision, Decision::Skip(Skip::DnsServer));
}

#[test]
fn shapes_that_are_not_pods_are_skipped_not_panicked_on() {
    for pod in [
        json!({}),
        json!({"spec": 5}),
        json!({"spec": {}, "metadata": "x"}),
        json!(null),
        json!([1]),
    ] {
        let out = decide_in(&pod, "ns");
        assert_eq!(out.decision, Decision::Skip(Skip::NotPodCreate), "{pod}");
    }
    // A minimal pod is fine, and (found by the admission fuzz target) one without metadata,
    // or with null metadata, gets a patch that applies: it adds the metadata it annotates.
    for pod in [json!({"spec": {}}), json!({"spec": {}, "metadata": null})] {
        let out = decide_in(&pod, "ns");
        let (_, after) = injected(&pod, &out);
        assert!(after["metadata"]["annotations"][annotations::STATUS].is_string());
    }
}
