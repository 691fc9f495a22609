//! `demo cluster`: the dead-replica comparison on the real cluster of `hack/cluster.sh`.
//! Three apps of the test clients resolve side by side: one through the kube-dns VIP as
//! pods do today, one with per-replica nameservers (a selector-less Service per CoreDNS
//! pod, as manifests/coredns gives), one injected with the sidecar. A CoreDNS replica's
//! node then dies (its pod's packets dropped at the node) while their glibc clients each
//! look a Service up every 200 ms for 30 s. The namespaces go at the end.

use dns_sidecar_tests::cluster::fault::Dropped;
use dns_sidecar_tests::cluster::lookups::{row, summary};
use dns_sidecar_tests::cluster::side_by_side::Loops;
use dns_sidecar_tests::cluster::{app_manifest, App, Kube};

const NS: [&str; 3] = ["demo-vip", "demo-per-replica", "demo-sidecar"];

/// One selector-less Service per CoreDNS pod (its EndpointSlice names the pod's IP), and
/// the app that lists them as its nameservers.
fn per_replica(k: &Kube, ns: &str, replicas: &[String]) -> App {
    let mut ips = Vec::new();
    for (i, ip) in replicas.iter().enumerate() {
        k.apply(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: coredns-{i}, namespace: {ns}}}\n\
             spec: {{ports: [{{name: dns, port: 53, protocol: UDP}}]}}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: coredns-{i}, namespace: {ns}, labels: {{kubernetes.io/service-name: coredns-{i}}}}}\n\
             addressType: IPv4\nports: [{{name: dns, port: 53, protocol: UDP}}]\n\
             endpoints: [{{addresses: [\"{ip}\"]}}]\n"
        ));
        let svc = k.json(&["-n", ns, "get", "service", &format!("coredns-{i}")]);
        ips.push(svc["spec"]["clusterIP"].as_str().unwrap().to_string());
    }
    let mut yaml = app_manifest(ns, "app", &[]);
    yaml = yaml.replace(
        "    spec:\n",
        &format!(
            "    spec:\n      dnsPolicy: None\n      dnsConfig:\n        nameservers: [{}]\n        searches: [{ns}.svc.cluster.local, svc.cluster.local, cluster.local]\n        options: [{{name: ndots, value: \"5\"}}]\n",
            ips.join(", ")
        ),
    );
    k.apply(&yaml);
    k.rollout(ns, "deployment/app");
    App {
        ns: ns.into(),
        name: "app".into(),
    }
}

pub fn run() {
    let k = Kube::get();
    println!(
        "The cluster of hack/cluster.sh: installing the webhook (manifests/base), three apps ..."
    );
    k.install();
    let replicas = k.coredns_ips();
    k.fresh_namespace(NS[0], &[]);
    k.fresh_namespace(NS[1], &[]);
    k.fresh_namespace(NS[2], &[("dns-sidecar.io/inject", "enabled")]);
    let vip = App::deploy(&k, NS[0], "app", &[]);
    let per = per_replica(&k, NS[1], &replicas);
    let side = App::deploy(&k, NS[2], "app", &[]);
    let apps = [
        ("today: kube-dns VIP", &vip),
        ("per-replica nameservers", &per),
        ("dns-sidecar", &side),
    ];
    println!(
        "Killing the node of CoreDNS replica {}: its packets now vanish, as when its node dies.\n",
        replicas[0]
    );
    let dead = Dropped::pod_ip(&replicas[0]);
    let loops = Loops::start(&k, &apps, &["glibc"], 200, 30, &["kubernetes.default"]);
    let seen = loops.finish();
    drop(dead);
    println!("| setup | lookups | failed | median | max |\n| --- | ---: | ---: | ---: | ---: |");
    for s in &seen {
        println!(
            "{}",
            row(s.label.trim_end_matches("/glibc"), &summary(&s.results))
        );
    }
    for ns in NS {
        k.delete_namespace(ns);
    }
    println!("\n(glibc's getaddrinfo in each pod, a lookup every 200 ms for 30 s, as far as its stalls allow.)");
}
