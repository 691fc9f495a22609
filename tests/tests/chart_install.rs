//! The Helm chart on the real cluster, with the real helm: `helm install` injects a pod,
//! `helm upgrade` with a changed value refuses no pod creation and leaves none uninjected
//! (each counted), and `helm uninstall` leaves no object of ours behind.

use std::process::Command;
use std::time::Duration;

use dns_sidecar_tests::cluster::helm::{chart, helm_ok};
use dns_sidecar_tests::cluster::{cluster_bin, exclusive, App, Kube, WEBHOOK, WEBHOOK_NS};
use dns_sidecar_tests::{repo_root, wait_until};

fn object_exists(k: &Kube, args: &[&str]) -> bool {
    k.run(args).status.success()
}

/// Our objects, cluster-wide, by the chart's label, plus the few that carry only names.
fn ours_left(k: &Kube) -> Vec<String> {
    let mut left = Vec::new();
    for kind in [
        "deployment",
        "service",
        "serviceaccount",
        "secret",
        "role",
        "rolebinding",
        "poddisruptionbudget",
        "daemonset",
        "configmap",
    ] {
        let out = k.ok(&[
            "get",
            kind,
            "-A",
            "-l",
            "app.kubernetes.io/part-of=dns-sidecar",
            "-o",
            "name",
        ]);
        left.extend(out.lines().map(String::from));
    }
    for kind in [
        "clusterrole",
        "clusterrolebinding",
        "mutatingwebhookconfiguration",
        "namespace",
    ] {
        let out = k.ok(&[
            "get",
            kind,
            "-l",
            "app.kubernetes.io/part-of=dns-sidecar",
            "-o",
            "name",
        ]);
        left.extend(out.lines().map(String::from));
    }
    left
}

#[test]
fn helm_installs_upgrades_and_uninstalls_on_the_cluster() {
    let _one = exclusive();
    let k = Kube::get();
    // The chart's objects have manifests/base's names: take that install away first.
    let base = repo_root().join("manifests/base");
    let _ = k.run(&[
        "delete",
        "-k",
        base.to_str().unwrap(),
        "--ignore-not-found",
        "--wait=true",
    ]);
    helm_ok(
        &[
            "install",
            "dns-sidecar",
            &chart(),
            "-n",
            WEBHOOK_NS,
            "--create-namespace",
            "--wait",
            "--timeout",
            "3m",
        ],
        Some(&k),
    );
    k.wait_injecting();

    let ns = "t-helm";
    k.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
    let app = App::deploy(&k, ns, "app", &[]);
    assert_eq!(
        app.pod(&k)["spec"]["initContainers"][0]["name"],
        "dns-proxy"
    );
    let out = app.exec(&k, "glibc", &["/gai-glibc", "kubernetes.default"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10.96.0.1");

    // An upgrade with a changed value, while pods are created one after another.
    let upgrade = std::thread::spawn({
        let (kc, chart) = (k.kubeconfig.clone(), chart());
        move || {
            let mut c = Command::new(cluster_bin("helm", "helm"));
            c.env("KUBECONFIG", kc).args([
                "upgrade",
                "dns-sidecar",
                &chart,
                "-n",
                WEBHOOK_NS,
                "--reuse-values",
                "--set",
                "sidecar.resources.requests.memory=24Mi",
                "--wait",
                "--timeout",
                "3m",
            ]);
            c.output().expect("helm upgrade")
        }
    });
    let (mut created, mut injected, mut failed) = (0, 0, Vec::new());
    for i in 0..40 {
        let name = format!("p{i}");
        let out = k.run(&[
            "-n",
            ns,
            "run",
            &name,
            "--image=localhost/dns-sidecar-clients:test",
            "--image-pull-policy=Never",
            "--restart=Never",
            "--command",
            "--",
            "/gai-glibc",
            "--wait",
        ]);
        if out.status.success() {
            created += 1;
            let pod = k.json(&["-n", ns, "get", "pod", &name]);
            injected += (pod["spec"]["initContainers"][0]["name"] == "dns-proxy") as u32;
        } else {
            failed.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(250));
        if upgrade.is_finished() && i >= 20 {
            break;
        }
    }
    let up = upgrade.join().unwrap();
    assert!(
        up.status.success(),
        "helm upgrade: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    eprintln!(
        "during helm upgrade: {created} pods created, {injected} injected, {} failed",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "pod creations failed during the upgrade: {failed:?}"
    );
    assert_eq!(
        injected, created,
        "pods created uninjected during the upgrade"
    );
    k.rollout(WEBHOOK_NS, WEBHOOK);
    k.wait_injecting();
    k.ok(&["-n", ns, "rollout", "restart", "deployment/app"]);
    k.rollout(ns, "deployment/app");
    let pod = app.pod(&k);
    assert_eq!(
        pod["spec"]["initContainers"][0]["resources"]["requests"]["memory"], "24Mi",
        "the upgraded value"
    );

    helm_ok(
        &[
            "uninstall",
            "dns-sidecar",
            "-n",
            WEBHOOK_NS,
            "--wait",
            "--timeout",
            "3m",
        ],
        Some(&k),
    );
    wait_until(Duration::from_secs(60), || ours_left(&k).is_empty())
        .unwrap_or_else(|| panic!("left after helm uninstall: {:?}", ours_left(&k)));
    assert!(!object_exists(
        &k,
        &["get", "mutatingwebhookconfiguration", "dns-sidecar"]
    ));
    assert!(!object_exists(
        &k,
        &[
            "-n",
            "kube-system",
            "get",
            "service",
            "dns-sidecar-upstreams"
        ]
    ));
    k.delete_namespace(ns);
    k.install();
}
