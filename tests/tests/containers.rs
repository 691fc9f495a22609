//! The images that ship, under a real container runtime (podman with runc; root: network
//! namespaces): the proxy run exactly as the webhook injects it, the webhook serving TLS
//! from a mounted certificate, and an injected pod end to end, its app container resolving
//! through the sidecar, then through the fallback nameserver with the sidecar stopped.
//! Podman 4.3 cannot play native sidecars (init containers with restartPolicy Always), so
//! the pod's containers run as a podman "pod" would, sharing the pod's network namespace:
//! the sidecar started first and kept running, as container mode does.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use dns_sidecar_tests::clients::musl_gai;
use dns_sidecar_tests::injected::{certs, fixture_pod, injected_by_library, resolv_conf, strings};
use dns_sidecar_tests::netns::{self, Cluster};
use dns_sidecar_tests::podman::{
    build_scratch, image, require_image, run_once, security_flags, Container,
};
use dns_sidecar_tests::{repo_root, wait_until, TempDir};

/// The sidecar of `pod` started in the cluster's pod namespace, with the pod's resolv.conf.
fn start_sidecar(c: &Cluster, pod: &Value, dir: &Path) -> Container {
    let sc = &pod["spec"]["initContainers"][0];
    assert_eq!(sc["name"], "dns-proxy");
    let mut flags = security_flags(sc, &pod["spec"]);
    flags.push(format!(
        "--volume={}:/etc/resolv.conf:ro",
        resolv_conf(pod, dir).display()
    ));
    let img = sc["image"].as_str().unwrap();
    assert_eq!(
        img,
        require_image("dns-sidecar-proxy"),
        "the image the webhook injects is the one built"
    );
    let sidecar = Container::start(
        &format!("{}-proxy", c.id),
        &c.pod,
        &flags,
        img,
        &strings(&sc["args"]),
    );
    wait_until(Duration::from_secs(15), || {
        c.pod_http("/readyz").starts_with("ready")
    })
    .unwrap_or_else(|| panic!("sidecar not ready:\n{}", sidecar.logs()));
    sidecar
}

fn dig_tcp(c: &Cluster, name: &str) -> String {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &c.pod,
            "dig",
            "@127.0.0.1",
            "+tcp",
            "+time=2",
            "+tries=1",
            "+short",
            name,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn container_proxy_image_runs_as_injected_as_uid_65532() {
    let c = Cluster::new(2, 2);
    let dir = TempDir::new("container-proxy");
    let pod = injected_by_library();
    let sidecar = start_sidecar(&c, &pod, &dir.0);
    assert_eq!(sidecar.uid(), 65532, "non-root, as injected");
    let (status, _) = c.dig("127.0.0.1", "svc7.default.svc.cluster.local");
    assert_eq!(status, "NOERROR", "UDP on 127.0.0.1:53");
    assert_eq!(
        dig_tcp(&c, "svc8.default.svc.cluster.local"),
        "10.100.0.9",
        "TCP"
    );
}

/// A network namespace of its own, removed on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        netns::require_root_and_tools();
        let name = format!("dsc{}-{tag}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        assert!(Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap()
            .success());
        let _ = Command::new("ip")
            .args(["-n", &name, "link", "set", "lo", "up"])
            .status();
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn container_proxy_without_the_sysctl_stops_naming_it() {
    let ns = Netns::new("nosysctl");
    let pod = injected_by_library();
    let sc = &pod["spec"]["initContainers"][0];
    let flags: Vec<String> = security_flags(sc, &pod["spec"])
        .into_iter()
        .filter(|f| !f.starts_with("--sysctl"))
        .collect();
    let (code, out) = run_once(
        &ns.0,
        &flags,
        &require_image("dns-sidecar-proxy"),
        &strings(&sc["args"]),
    );
    assert_ne!(code, 0, "it must not start: {out}");
    assert!(
        out.contains("net.ipv4.ip_unprivileged_port_start")
            && out.contains("--listen 127.0.0.1:53"),
        "the message names the sysctl and the flag: {out}"
    );
}

/// The webhook image with the manifest's flags and security context, in the pod namespace.
fn start_webhook(c: &Cluster, certs: &Path) -> Container {
    let dep: Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo_root().join("manifests/base/deployment.yaml")).unwrap(),
    )
    .unwrap();
    let spec = &dep["spec"]["template"]["spec"];
    let mut ctr = spec["containers"][0].clone();
    // The manifest sets the user at pod level; kubelet applies it to the container.
    for k in ["runAsUser", "runAsGroup"] {
        ctr["securityContext"][k] = spec["securityContext"][k].clone();
    }
    let mut flags = security_flags(&ctr, &json!({}));
    flags.push(format!(
        "--volume={}:/etc/dns-sidecar/tls:ro",
        certs.display()
    ));
    let mut args = strings(&ctr["args"]);
    // No API server here: the replicas are given, as --upstreams does.
    args.push(format!(
        "--upstreams={},{}",
        netns::replica_ip(0),
        netns::replica_ip(1)
    ));
    let w = Container::start(
        &format!("{}-webhook", c.id),
        &c.pod,
        &flags,
        &require_image("dns-sidecar-webhook"),
        &args,
    );
    wait_until(Duration::from_secs(15), || {
        curl(c, certs, &["https://127.0.0.1:8443/healthz"]).0 == 200
    })
    .unwrap_or_else(|| panic!("webhook not serving:\n{}", w.logs()));
    w
}

fn curl(c: &Cluster, certs: &Path, args: &[&str]) -> (u16, String) {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &c.pod,
            "curl",
            "-s",
            "--max-time",
            "5",
            "-w",
            "\n%{http_code}",
            "--cacert",
        ])
        .arg(certs.join("ca.crt"))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The pod the webhook container returns for the captured review (moved to namespace
/// `default`, the one the test cluster's zone serves): its patch applied.
fn injected_by_container(c: &Cluster, certs: &Path, dir: &Path) -> Value {
    let captured = repo_root().join("../shared/fixtures/admission/generate-name.json");
    let mut r: Value = serde_json::from_str(&std::fs::read_to_string(captured).unwrap()).unwrap();
    r["request"]["namespace"] = json!("default");
    r["request"]["object"]["metadata"]["namespace"] = json!("default");
    let review = dir.join("review.json");
    std::fs::write(&review, r.to_string()).unwrap();
    let (code, body) = curl(
        c,
        certs,
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", review.display()),
            "https://127.0.0.1:8443/mutate",
        ],
    );
    assert_eq!(code, 200, "{body}");
    let resp: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(resp["response"]["allowed"], true);
    use base64::Engine;
    let patch = base64::engine::general_purpose::STANDARD
        .decode(resp["response"]["patch"].as_str().expect("a patch"))
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();
    let mut pod = fixture_pod();
    json_patch::patch(&mut pod, &patch).unwrap();
    std::fs::write(
        dir.join("pod.json"),
        serde_json::to_string_pretty(&pod).unwrap(),
    )
    .unwrap();
    pod
}

#[test]
fn container_webhook_image_serves_tls_non_root_read_only() {
    let c = Cluster::new(1, 1);
    let dir = TempDir::new("container-webhook");
    let certs = certs(&dir.0);
    let w = start_webhook(&c, &certs);
    assert_eq!(w.uid(), 65532, "non-root");
    assert_eq!(curl(&c, &certs, &["https://127.0.0.1:8443/readyz"]).0, 200);
    let pod = injected_by_container(&c, &certs, &dir.0);
    assert_eq!(pod["spec"]["initContainers"][0]["name"], "dns-proxy");
    assert_eq!(pod["spec"]["dnsPolicy"], "None");
}

#[test]
fn container_injected_pod_resolves_through_the_sidecar_then_the_fallback() {
    let c = Cluster::new(2, 2);
    let dir = TempDir::new("container-pod");
    let certs = certs(&dir.0);
    let _webhook = start_webhook(&c, &certs);
    let pod = injected_by_container(&c, &certs, &dir.0);
    assert_eq!(
        strings(&pod["spec"]["dnsConfig"]["nameservers"]),
        ["127.0.0.1", "10.96.0.10"],
        "the sidecar, then the cluster DNS VIP"
    );
    let sidecar = start_sidecar(&c, &pod, &dir.0);
    // The app: a static musl client on scratch, with the pod's resolv.conf, as the app
    // container's user.
    let app = image("dns-sidecar-testclient");
    build_scratch(&app, &[("/gai", &musl_gai())], &dir.0.join("app"));
    let flags = vec![
        "--user=1000:1000".to_string(),
        "--read-only".into(),
        format!(
            "--volume={}:/etc/resolv.conf:ro",
            dir.0.join("resolv.conf").display()
        ),
    ];
    let requests = || -> u64 {
        c.pod_http("/metrics")
            .lines()
            .filter(|l| l.starts_with("dns_sidecar_requests_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let before = requests();
    let (code, out) = run_once(&c.pod, &flags, &app, &["/gai".into(), "svc7".into()]);
    assert_eq!((code, out.trim()), (0, "10.100.0.8"), "resolved in the pod");
    assert!(requests() > before, "through the sidecar");
    sidecar.stop();
    assert!(!sidecar.state().0, "the sidecar is stopped");
    let (code, out) = run_once(&c.pod, &flags, &app, &["/gai".into(), "svc9".into()]);
    assert_eq!(
        (code, out.trim()),
        (0, "10.100.0.10"),
        "through the fallback nameserver"
    );
}
