//! `kubectl dns-sidecar` run by the real kubectl (as a plugin found on PATH), on the real
//! cluster: an injected pod's sidecar read through the API server's pod proxy, its
//! upstreams the CoreDNS pods, queries made with dig inside the pod's network namespace;
//! every command's table and JSON checked, and the errors of a pod not found, a pod
//! without the sidecar, one without query names, one that cannot be reached, one Pending,
//! and a user the real RBAC authorizer refuses `pods/proxy` or `pods`. A sidecar older than
//! the debug endpoints: tests/tests/plugin_stand_in.rs.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use dns_sidecar_tests::cluster::fault::Dropped;
use dns_sidecar_tests::cluster::{exclusive, App, Kube, Plugin};
use dns_sidecar_tests::{require, wait_until, TempDir};

fn row<'a>(out: &'a str, first: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("no row for {first} in\n{out}"))
}

/// dig inside the pod's network namespace, at its sidecar on 127.0.0.1:53: the status.
fn dig_in_pod(pid: u32, name: &str) -> String {
    let dig = require("dig", "bind9-dnsutils");
    let out = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .arg(dig)
        .args(["+tries=1", "+time=3", "@127.0.0.1", name, "A"])
        .output()
        .expect("nsenter dig");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("no answer")
        .to_string()
}

#[test]
fn each_command_answers_through_the_api_servers_pod_proxy() {
    let _one = exclusive();
    let k = Kube::get();
    k.install();
    let ns = "t-plugin";
    k.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
    let app = App::deploy(&k, ns, "app", &[("dns-sidecar.io/debug-names", "true")]);
    let pod = app.pod_name(&k);
    let pid = k.container_pid(ns, &pod, "glibc");
    let p = Plugin::new(&k.kubectl, &k.kubeconfig);

    for _ in 0..5 {
        assert_eq!(dig_in_pod(pid, "www.example.com"), "NOERROR");
    }
    assert_eq!(dig_in_pod(pid, "missing.example.com"), "NXDOMAIN");

    let status = p.ok(&["status", &pod, "-n", ns]);
    println!("$ kubectl dns-sidecar status {pod} -n {ns}\n{status}");
    assert!(
        status.starts_with(&format!("{ns}/{pod}: dns-sidecar 0.1.0 (upstream mode replicas), pool healthy, query names shown\n")),
        "{status}"
    );
    assert!(row(&status, "UPSTREAM").contains("LAST TROUBLE"));
    for ip in k.coredns_ips() {
        let live = row(&status, &format!("{ip}:53"));
        assert!(live.contains("replica") && live.contains(" up "), "{live}");
    }

    // A replica's node dies: distinct names until the sidecar has marked it down.
    let dead = k.coredns_ips()[0].clone();
    let dead_net = Dropped::pod_ip(&dead);
    let mut i = 0;
    wait_until(std::time::Duration::from_secs(60), || {
        i += 1;
        dig_in_pod(pid, &format!("n{i}.example.com"));
        row(&p.ok(&["status", &pod, "-n", ns]), &format!("{dead}:53")).contains("down")
    })
    .unwrap_or_else(|| {
        panic!(
            "{dead} never shown down:\n{}",
            p.ok(&["status", &pod, "-n", ns])
        )
    });
    let down = p.ok(&["status", &pod, "-n", ns]);
    assert!(
        row(&down, &format!("{dead}:53")).contains("timed out"),
        "{down}"
    );

    // With every replica silent, an uncached name fails and is in the recent failures.
    let live: Vec<String> = k
        .coredns_ips()
        .into_iter()
        .filter(|ip| *ip != dead)
        .collect();
    let both: Vec<Dropped> = live.iter().map(|ip| Dropped::pod_ip(ip)).collect();
    assert_eq!(dig_in_pod(pid, "gone.example.com"), "SERVFAIL");
    drop(both);
    drop(dead_net);
    let recent = p.ok(&["recent", &pod, "-n", ns]);
    println!("$ kubectl dns-sidecar recent {pod} -n {ns}\n{recent}");
    let gone = recent
        .lines()
        .find(|l| l.contains("gone.example.com."))
        .unwrap_or_else(|| panic!("{recent}"));
    // Asked of the replica still up, not of the one already marked down.
    assert!(
        gone.contains("SERVFAIL") && gone.contains(&format!("{}:53 timed out", live[0])),
        "{gone}"
    );

    let json_out: Value =
        serde_json::from_str(&p.ok(&["status", &format!("pod/{pod}"), "-n", ns, "-o", "json"]))
            .unwrap();
    assert_eq!(json_out["format"], 1);
    let replicas = json_out["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["tier"] == "replica")
        .count();
    assert_eq!(replicas, k.coredns_ips().len(), "{json_out}");

    // The context's namespace when -n is not given, and --context passed on.
    let dir = TempDir::new("plugin-kubeconfig");
    let kc = dir.0.join("kubeconfig");
    std::fs::copy(&k.kubeconfig, &kc).unwrap();
    let mut set = k.cmd();
    set.env("KUBECONFIG", &kc).args([
        "config",
        "set-context",
        "--current",
        &format!("--namespace={ns}"),
    ]);
    assert!(set.output().unwrap().status.success());
    let in_context = Plugin::new(&k.kubectl, &kc);
    let status = in_context.ok(&["status", &pod, "--context", "dns-sidecar"]);
    assert!(status.starts_with(&format!("{ns}/{pod}: ")), "{status}");

    let top = p.ok(&["top", &pod, "-n", ns, "--count", "2"]);
    println!("$ kubectl dns-sidecar top {pod} -n {ns} --count 2\n{top}");
    let www = row(&top, "www.example.com.");
    let cells: Vec<&str> = www.split_whitespace().collect();
    assert_eq!(cells[1..5], ["A", "5", "1", "0"], "{top}");
    assert_eq!(
        top.lines().count(),
        4,
        "a title, the header and two names: {top}"
    );

    let cache = p.ok(&["cache", &pod, "www.example.com", "A", "-n", ns]);
    println!("$ kubectl dns-sidecar cache {pod} www.example.com A -n {ns}\n{cache}");
    assert!(
        cache.contains("www.example.com. A: positive NOERROR, "),
        "{cache}"
    );
    assert!(row(&cache, "answer").ends_with("198.51.100.80"), "{cache}");
    let neg = p.ok(&["cache", &pod, "missing.example.com.", "-n", ns]);
    assert!(
        neg.contains("missing.example.com. A: negative NXDOMAIN"),
        "{neg}"
    );
    assert!(row(&neg, "authority").contains("SOA"), "{neg}");
    let none = p.ok(&["cache", &pod, "never", "AAAA", "-n", ns]);
    assert!(
        none.starts_with(&format!(
            "{ns}/{pod}: nothing held for never (AAAA); looked under never.{ns}.svc.cluster.local., never.svc.cluster.local., never.cluster.local., never."
        )),
        "{none}"
    );
    let bad = p.fails(&["cache", &pod, "bad name", "-n", ns]);
    assert!(bad.contains("is not a DNS name"), "{bad}");
    k.delete_namespace(ns);
}

/// A pod of the clients image whose container is named as our sidecar and declares its
/// admin port, where nothing listens; `node` pins it (an unknown node keeps it Pending).
fn impostor(ns: &str, name: &str, node_selector: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n\
         \x20 terminationGracePeriodSeconds: 1\n  nodeSelector: {{kubernetes.io/hostname: {node_selector}}}\n\
         \x20 containers:\n  - name: dns-proxy\n    image: localhost/dns-sidecar-clients:test\n\
         \x20   imagePullPolicy: Never\n    command: [/gai-glibc, --wait]\n\
         \x20   ports: [{{name: dns-admin, containerPort: 9953}}]\n"
    )
}

/// A kubeconfig for a ServiceAccount of the namespace, with a token the API server issues.
fn kubeconfig_for(k: &Kube, ns: &str, sa: &str, dir: &TempDir) -> PathBuf {
    k.ok(&["-n", ns, "create", "serviceaccount", sa]);
    let token = k.ok(&["-n", ns, "create", "token", sa]);
    let kc = dir.0.join(format!("{sa}.kubeconfig"));
    std::fs::copy(&k.kubeconfig, &kc).unwrap();
    let run = |args: &[&str]| {
        let out = k.cmd().env("KUBECONFIG", &kc).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "config",
        "set-credentials",
        sa,
        &format!("--token={}", token.trim()),
    ]);
    run(&[
        "config",
        "set-context",
        "--current",
        &format!("--user={sa}"),
    ]);
    kc
}

#[test]
fn each_failure_says_what_is_wrong() {
    let _one = exclusive();
    let k = Kube::get();
    k.install();
    let (ns, plain) = ("t-plugin-errors", "t-plugin-plain");
    k.fresh_namespace(ns, &[("dns-sidecar.io/inject", "enabled")]);
    k.fresh_namespace(plain, &[]);
    let p = Plugin::new(&k.kubectl, &k.kubeconfig);

    let err = p.fails(&["status", "nope", "-n", ns]);
    assert!(
        err.contains(&format!("error: pod {ns}/nope not found")),
        "{err}"
    );

    let bare = App::deploy(&k, plain, "bare", &[]);
    let bare_pod = bare.pod_name(&k);
    let err = p.fails(&["status", &bare_pod, "-n", plain]);
    assert!(
        err.contains(&format!(
            "pod {plain}/{bare_pod} has no dns-sidecar (no dns-proxy container)"
        )),
        "{err}"
    );

    let quiet = App::deploy(&k, ns, "quiet", &[]);
    let quiet_pod = quiet.pod_name(&k);
    let err = p.fails(&["top", &quiet_pod, "-n", ns]);
    assert!(
        err.contains("keeps no query names")
            && err.contains("dns-sidecar.io/debug-names: \"true\""),
        "{err}"
    );
    let err = p.fails(&["cache", &quiet_pod, "www", "-n", ns]);
    assert!(err.contains("keeps no query names"), "{err}");
    assert!(p
        .ok(&["status", &quiet_pod, "-n", ns])
        .contains("query names hidden"));

    k.apply(&impostor(plain, "unreachable-1", "node1"));
    k.ok(&[
        "-n",
        plain,
        "wait",
        "--for=condition=Ready",
        "pod/unreachable-1",
        "--timeout=60s",
    ]);
    let err = p.fails(&["status", "unreachable-1", "-n", plain]);
    assert!(
        err.contains(&format!("cannot reach {plain}/unreachable-1's sidecar"))
            && err.contains("connection refused"),
        "{err}"
    );
    k.apply(&impostor(plain, "pending-1", "no-such-node"));
    let err = p.fails(&["status", "pending-1", "-n", plain]);
    assert!(err.contains("is Pending, not running"), "{err}");

    // A user the real authorizer lets read pods but not pods/proxy, then not even pods.
    let dir = TempDir::new("plugin-rbac");
    k.ok(&[
        "-n",
        ns,
        "create",
        "role",
        "pods-only",
        "--verb=get",
        "--resource=pods",
    ]);
    k.ok(&[
        "-n",
        ns,
        "create",
        "rolebinding",
        "viewer",
        "--role=pods-only",
        &format!("--serviceaccount={ns}:viewer"),
    ]);
    let viewer = Plugin::new(&k.kubectl, &kubeconfig_for(&k, ns, "viewer", &dir));
    let err = viewer.fails(&["status", &quiet_pod, "-n", ns]);
    assert!(
        err.contains(&format!(
            "you may not read {ns}/{quiet_pod}'s sidecar through the API server"
        )) && err.contains("cannot get resource \"pods/proxy\"")
            && err.contains("`get` on `pods/proxy`"),
        "{err}"
    );
    let nobody = Plugin::new(&k.kubectl, &kubeconfig_for(&k, ns, "nobody", &dir));
    let err = nobody.fails(&["status", &quiet_pod, "-n", ns]);
    assert!(
        err.contains(&format!("you may not read pod {ns}/{quiet_pod}")),
        "{err}"
    );

    k.delete_namespace(ns);
    k.delete_namespace(plain);
}
