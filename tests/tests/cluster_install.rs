//! The install as README and docs/install.md tell a user, on the real cluster of `hack/cluster.sh` (API
//! server, kubelet, containerd, kube-proxy and CoreDNS built from the registries):
//! `manifests/base` and `hack/gen-certs.sh --apply`, a namespace labelled, an app of a
//! glibc, a musl and a Go client. The kubelet runs the native sidecar before the app and
//! writes the app's resolv.conf from the patched dnsConfig; every kind of name resolves;
//! `kubectl dns-sidecar` (through the API server's pod proxy) shows the CoreDNS pods as
//! upstreams; CoreDNS's own request counter grows by the sidecar's misses, where an app
//! without the sidecar sends it every lookup and every search-list step.

use serde_json::Value;

use dns_sidecar_tests::cluster::metrics::{coredns_requests, sidecar};
use dns_sidecar_tests::cluster::{exclusive, lookups, App, Kube};

const INJECT: (&str, &str) = ("dns-sidecar.io/inject", "enabled");

fn started_at(status: &Value) -> String {
    status["state"]["running"]["startedAt"]
        .as_str()
        .unwrap_or_else(|| panic!("not running: {status}"))
        .to_string()
}

/// Names in the test's namespace: a headless Service over a StatefulSet's pod, and an
/// ExternalName to an outside name the node's upstream serves.
fn services(k: &Kube, ns: &str) {
    k.apply(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec: {{clusterIP: None, selector: {{app: web}}, ports: [{{port: 80}}]}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {{name: ext, namespace: {ns}}}\n\
         spec: {{type: ExternalName, externalName: www.example.com}}\n---\n\
         apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec:\n  serviceName: web\n  replicas: 1\n  selector: {{matchLabels: {{app: web}}}}\n\
         \x20 template:\n    metadata: {{labels: {{app: web}}, annotations: {{dns-sidecar.io/inject: disabled}}}}\n\
         \x20   spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n\
         \x20     - {{name: web, image: localhost/dns-sidecar-clients:test, imagePullPolicy: Never, command: [/gai-glibc, --wait]}}\n"
    ));
    k.rollout(ns, "statefulset/web");
}

#[test]
fn an_injected_pod_runs_its_sidecar_first_and_resolves_every_kind_of_name() {
    let _one = exclusive();
    let k = Kube::get();
    k.install();
    let ns = "t-install";
    k.fresh_namespace(ns, &[INJECT]);
    services(&k, ns);
    let app = App::deploy(&k, ns, "app", &[]);
    let pod = app.pod(&k);

    // The native sidecar: the first init container, restartPolicy Always, started (its
    // startup probe passed) before the kubelet started any app container.
    let init = &pod["spec"]["initContainers"][0];
    assert_eq!(init["name"], "dns-proxy", "{}", pod["spec"]);
    assert_eq!(init["restartPolicy"], "Always");
    let side = &pod["status"]["initContainerStatuses"][0];
    assert_eq!(side["started"], true, "{side}");
    let side_start = started_at(side);
    for c in pod["status"]["containerStatuses"].as_array().unwrap() {
        assert!(
            started_at(c) >= side_start,
            "{} started at {} before the sidecar ({side_start})",
            c["name"],
            started_at(c)
        );
    }

    // resolv.conf as docs/how-it-works.md says: the sidecar, then the cluster DNS as the fallback, the
    // ClusterFirst search list and ndots, written by the kubelet from the dnsConfig.
    let out = app.exec(&k, "glibc", &["/gai-glibc", "--cat", "/etc/resolv.conf"]);
    let resolv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        resolv,
        format!(
            "search {ns}.svc.cluster.local svc.cluster.local cluster.local\n\
             nameserver 127.0.0.1\nnameserver 10.96.0.10\noptions ndots:5\n"
        ),
        "the app's resolv.conf"
    );

    let web0 = k.pods(ns, "app=web")[0].1.clone();
    let cases = [
        ("kubernetes.default", "10.96.0.1"),
        ("web-0.web", web0.as_str()),
        ("ext", "198.51.100.80"),
        ("www.example.com", "198.51.100.80"),
    ];
    for (container, bin) in dns_sidecar_tests::cluster::CLIENTS {
        for (name, want) in cases {
            let out = app.exec(&k, container, &[bin, name]);
            let got = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && got.lines().any(|l| l == want),
                "{container}: {name} gave {got:?} (want {want}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    k.delete_namespace(ns);
}

/// Every sidecar's queries sent upstream, summed over the injected pods of the cluster.
fn all_sidecars_sent(k: &Kube) -> f64 {
    let v = k.json(&["get", "pods", "-A"]);
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .filter(|p| {
            p["spec"]["initContainers"]
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c["name"] == "dns-proxy"))
        })
        .map(|p| {
            sidecar(
                p["status"]["podIP"].as_str().unwrap(),
                "dns_sidecar_upstream_queries_total",
            )
        })
        .sum()
}

#[test]
fn the_sidecar_asks_the_coredns_pods_and_coredns_sees_only_its_misses() {
    let _one = exclusive();
    let k = Kube::get();
    k.install();
    let (ns, plain) = ("t-upstreams", "t-upstreams-plain");
    k.fresh_namespace(ns, &[INJECT]);
    k.fresh_namespace(plain, &[]);
    let app = App::deploy(&k, ns, "app", &[]);
    let other = App::deploy(&k, plain, "app", &[]);
    assert!(
        other.pod(&k)["spec"]["initContainers"].is_null(),
        "a pod outside an opted-in namespace must not be injected"
    );

    // The sidecar's replicas, read through the API server's pod proxy, are CoreDNS's pods.
    assert_eq!(k.sidecar_replicas(&app), k.coredns_ips());

    // Fifty lookups of one Service name each way, CoreDNS's own counter read around them.
    let n = 50;
    let before = coredns_requests(&k);
    let r = lookups::collect(
        other.start_loop(&k, "glibc", 20, n, 60, &["kubernetes.default"]),
        "plain",
    );
    let through_vip = coredns_requests(&k) - before;
    assert_eq!(lookups::summary(&r).failures, 0);
    // ndots 5: each lookup walks the search list (A and AAAA) before the name that exists.
    assert!(
        through_vip >= f64::from(2 * n),
        "without the sidecar CoreDNS counted {through_vip} requests for {n} lookups"
    );

    let (c0, s0) = (coredns_requests(&k), all_sidecars_sent(&k));
    let r = lookups::collect(
        app.start_loop(&k, "glibc", 20, n, 60, &["kubernetes.default"]),
        "injected",
    );
    let (c1, s1) = (coredns_requests(&k), all_sidecars_sent(&k));
    assert_eq!(lookups::summary(&r).failures, 0);
    let (coredns, sent) = (c1 - c0, s1 - s0);
    eprintln!("{n} lookups: CoreDNS counted {through_vip} without the sidecar, {coredns} with it (the sidecars sent {sent})");
    assert!(
        (coredns - sent).abs() <= 2.0,
        "CoreDNS counted {coredns} requests, the sidecars sent {sent}"
    );
    assert!(
        coredns < f64::from(n) / 2.0,
        "with the sidecar CoreDNS still counted {coredns} requests for {n} lookups of one name"
    );
    k.delete_namespace(ns);
    k.delete_namespace(plain);
}
