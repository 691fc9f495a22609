//! CoreDNS's life and faults on the real cluster, an injected app and an app without the
//! sidecar (through the kube-dns VIP, as pods resolve today) resolving side by side, their
//! glibc, musl and Go clients each in a loop, every lookup counted: a replica's node dies
//! (its pod's packets dropped at the node), a rolling restart, scaling 2 → 3 → 2. The
//! injected app loses no lookup and never waits out a resolver timeout; the VIP's app is
//! reported beside it (and, for the dead replica, shown to stall, so the fault was real).

use std::time::Duration;

use dns_sidecar_tests::cluster::fault::Dropped;
use dns_sidecar_tests::cluster::side_by_side::{report, totals, Loops};
use dns_sidecar_tests::cluster::{exclusive, App, Kube};
use dns_sidecar_tests::wait_until;

const CLIENTS: [&str; 3] = ["glibc", "musl", "go"];
/// A Service, an outside name and a name that does not exist: hits, forwards, negatives.
const NAMES: [&str; 3] = [
    "kubernetes.default",
    "www.example.com",
    "missing.example.com",
];

struct Pair {
    injected: App,
    vip: App,
}

fn pair(k: &Kube, test: &str) -> Pair {
    let (ns, plain) = (format!("t-{test}"), format!("t-{test}-vip"));
    k.install();
    k.fresh_namespace(&ns, &[("dns-sidecar.io/inject", "enabled")]);
    k.fresh_namespace(&plain, &[]);
    let p = Pair {
        injected: App::deploy(k, &ns, "app", &[]),
        vip: App::deploy(k, &plain, "app", &[]),
    };
    assert_eq!(k.sidecar_replicas(&p.injected), k.coredns_ips());
    p
}

impl Pair {
    fn start(&self, k: &Kube, secs: u32) -> Loops {
        let apps = [("dns-sidecar", &self.injected), ("vip", &self.vip)];
        Loops::start(k, &apps, &CLIENTS, 100, secs, &NAMES)
    }
    fn remove(&self, k: &Kube) {
        k.delete_namespace(&self.injected.ns);
        k.delete_namespace(&self.vip.ns);
    }
}

/// The injected app's clients: no lookup failed, none waited out a timeout.
fn assert_unharmed(seen: &[dns_sidecar_tests::cluster::side_by_side::Seen], what: &str) {
    let (n, failed, stalls) = totals(seen, "dns-sidecar");
    assert!(n > 0, "{what}: no lookups ran");
    assert_eq!(
        (failed, stalls),
        (0, 0),
        "{what}: the injected app's {n} lookups: failed, stalled"
    );
}

fn coredns_ready(k: &Kube, want: usize) {
    wait_until(Duration::from_secs(180), || {
        let v = k.json(&["-n", "kube-system", "get", "deployment", "coredns"]);
        v["status"]["readyReplicas"] == want
            && v["status"]["updatedReplicas"] == want
            && v["status"]["replicas"] == want
    })
    .unwrap_or_else(|| panic!("CoreDNS: not {want} ready replicas after 180 s"));
}

#[test]
fn a_replicas_node_dies() {
    let _one = exclusive();
    let k = Kube::get();
    let p = pair(&k, "dead");
    let victim = k.coredns_ips()[0].clone();
    let loops = p.start(&k, 40);
    std::thread::sleep(Duration::from_secs(5));
    let drop = Dropped::pod_ip(&victim);
    std::thread::sleep(Duration::from_secs(30));
    let dropped = drop.dropped();
    drop_and_settle(&k, drop);
    let seen = loops.finish();
    report(
        &format!("a CoreDNS replica's node dies ({victim} dropped, {dropped} packets)"),
        &seen,
    );
    assert!(dropped > 0, "nothing was sent to the dead replica");
    assert_unharmed(&seen, "dead replica");
    let (_, _, vip_stalls) = totals(&seen, "vip");
    assert!(
        vip_stalls > 0,
        "through the VIP no lookup waited on the dead replica: the fault did not bite"
    );
    p.remove(&k);
}

/// Heals the replica's network and waits until both replicas are Ready again.
fn drop_and_settle(k: &Kube, d: Dropped) {
    drop(d);
    coredns_ready(k, 2);
}

#[test]
fn a_coredns_rolling_restart() {
    let _one = exclusive();
    let k = Kube::get();
    let p = pair(&k, "rollout");
    let before = k.coredns_ips();
    let loops = p.start(&k, 60);
    std::thread::sleep(Duration::from_secs(3));
    k.ok(&[
        "-n",
        "kube-system",
        "rollout",
        "restart",
        "deployment/coredns",
    ]);
    k.rollout("kube-system", "deployment/coredns");
    let seen = loops.finish();
    report(
        "kubectl -n kube-system rollout restart deployment coredns",
        &seen,
    );
    assert_unharmed(&seen, "rollout");
    let after = k.coredns_ips();
    assert!(
        after.iter().all(|ip| !before.contains(ip)),
        "{before:?} -> {after:?}"
    );
    // The sidecar follows: the new replicas, the old ones forgotten.
    wait_until(Duration::from_secs(90), || {
        k.sidecar_replicas(&p.injected) == k.coredns_ips()
    })
    .unwrap_or_else(|| {
        panic!(
            "the sidecar still asks {:?}, CoreDNS is at {:?}",
            k.sidecar_replicas(&p.injected),
            k.coredns_ips()
        )
    });
    // And the webhook's EndpointSlice watcher, on the live API server: a pod made now
    // starts at the new replicas.
    let ns = p.injected.ns.clone();
    k.ok(&["-n", &ns, "rollout", "restart", "deployment/app"]);
    k.rollout(&ns, "deployment/app");
    let pod = p.injected.pod(&k);
    let want = format!("--upstream={}", k.coredns_ips().join(","));
    assert!(
        pod["spec"]["initContainers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| *a == want.as_str()),
        "{want} not in {}",
        pod["spec"]["initContainers"][0]["args"]
    );
    p.remove(&k);
}

#[test]
fn coredns_scaled_2_3_2() {
    let _one = exclusive();
    let k = Kube::get();
    let p = pair(&k, "scale");
    let loops = p.start(&k, 90);
    k.ok(&[
        "-n",
        "kube-system",
        "scale",
        "deployment/coredns",
        "--replicas=3",
    ]);
    coredns_ready(&k, 3);
    wait_until(Duration::from_secs(60), || {
        k.sidecar_replicas(&p.injected).len() == 3
    })
    .unwrap_or_else(|| {
        panic!(
            "the third replica not used: {:?}",
            k.sidecar_replicas(&p.injected)
        )
    });
    k.ok(&[
        "-n",
        "kube-system",
        "scale",
        "deployment/coredns",
        "--replicas=2",
    ]);
    coredns_ready(&k, 2);
    wait_until(Duration::from_secs(60), || {
        k.sidecar_replicas(&p.injected) == k.coredns_ips()
    })
    .unwrap_or_else(|| {
        panic!(
            "the removed replica still asked: {:?}",
            k.sidecar_replicas(&p.injected)
        )
    });
    let seen = loops.finish();
    report("CoreDNS scaled 2 -> 3 -> 2", &seen);
    assert_unharmed(&seen, "scaling");
    p.remove(&k);
}

#[test]
fn the_node_tier_oom_killed_and_rolled() {
    let _one = exclusive();
    let k = Kube::get();
    k.install();
    let node_cache = dns_sidecar_tests::repo_root().join("manifests/node-cache");
    k.ok(&["apply", "-k", node_cache.to_str().unwrap()]);
    let (tier_ns, ds) = ("dns-sidecar-node", "daemonset/dns-sidecar-node-cache");
    k.rollout(tier_ns, ds);
    let (ns, plain) = ("t-tier", "t-tier-vip");
    k.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
    k.fresh_namespace(plain, &[]);
    let p = Pair {
        injected: App::deploy(&k, ns, "app", &[("dns-sidecar.io/node-cache", "daemonset")]),
        vip: App::deploy(&k, plain, "app", &[]),
    };
    let status = k.plugin_json(&p.injected, "status");
    let tier: Vec<&serde_json::Value> = status["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["tier"] == "node-cache")
        .collect();
    assert_eq!(
        tier.len(),
        1,
        "the node tier is not the sidecar's first tier: {status}"
    );

    let loops = p.start(&k, 75);
    std::thread::sleep(Duration::from_secs(5));
    let (pod, _) = k.pods(tier_ns, "app.kubernetes.io/name=dns-sidecar-node-cache")[0].clone();
    let pid = k.container_pid(tier_ns, &pod, "node-cache");
    // What the OOM killer does: SIGKILL, no drain. The kubelet restarts the container.
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    wait_until(Duration::from_secs(60), || {
        let v = k.json(&["-n", tier_ns, "get", "pod", &pod]);
        v["status"]["containerStatuses"][0]["restartCount"].as_u64() >= Some(1)
            && v["status"]["containerStatuses"][0]["ready"] == true
    })
    .expect("the node tier was not restarted after its kill");
    k.ok(&["-n", tier_ns, "rollout", "restart", ds]);
    k.rollout(tier_ns, ds);
    let seen = loops.finish();
    report(
        "the node tier OOM-killed (SIGKILL), restarted, then rolled",
        &seen,
    );
    assert_unharmed(&seen, "node tier killed and rolled");
    p.remove(&k);
}

#[test]
fn pods_are_created_while_the_webhook_is_down() {
    let _one = exclusive();
    let k = Kube::get();
    k.install();
    let ns = "t-webhook-down";
    k.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
    k.ok(&[
        "-n",
        dns_sidecar_tests::cluster::WEBHOOK_NS,
        "scale",
        dns_sidecar_tests::cluster::WEBHOOK,
        "--replicas=0",
    ]);
    // Gone, not terminating: a terminating webhook still answers for its --drain (5 s).
    wait_until(Duration::from_secs(60), || {
        k.json(&[
            "-n",
            dns_sidecar_tests::cluster::WEBHOOK_NS,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/name=dns-sidecar-webhook",
        ])["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    })
    .expect("the webhook's pods did not go");
    // failurePolicy Ignore: the pod is created and runs, without the sidecar.
    let app = App::deploy(&k, ns, "app", &[]);
    let pod = app.pod(&k);
    assert!(
        pod["spec"]["initContainers"].is_null(),
        "injected with no webhook running? {}",
        pod["spec"]
    );
    let out = app.exec(&k, "glibc", &["/gai-glibc", "kubernetes.default"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10.96.0.1");
    let events = k.json(&[
        "-n",
        ns,
        "get",
        "events",
        "--field-selector",
        "reason=FailedCreate",
    ]);
    assert_eq!(
        events["items"].as_array().map_or(0, Vec::len),
        0,
        "pod creations failed: {events}"
    );

    // Back: new pods are injected again.
    k.ok(&[
        "-n",
        dns_sidecar_tests::cluster::WEBHOOK_NS,
        "scale",
        dns_sidecar_tests::cluster::WEBHOOK,
        "--replicas=2",
    ]);
    k.rollout(
        dns_sidecar_tests::cluster::WEBHOOK_NS,
        dns_sidecar_tests::cluster::WEBHOOK,
    );
    k.wait_injecting();
    k.ok(&["-n", ns, "rollout", "restart", "deployment/app"]);
    k.rollout(ns, "deployment/app");
    let pod = app.pod(&k);
    assert_eq!(
        pod["spec"]["initContainers"][0]["name"], "dns-proxy",
        "not injected after the webhook came back"
    );
    k.delete_namespace(ns);
}
