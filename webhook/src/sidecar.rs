//! The injected proxy container: image and resources from flags (overridable per pod),
//! the proxy's flags, probes on its admin port, and a locked-down security context.
//! Port 53 is bound without any capability: the pod gets the namespaced sysctl
//! `net.ipv4.ip_unprivileged_port_start=53` instead (see README, "Why a sysctl").

use std::net::IpAddr;

use serde_json::{json, Map, Value};

/// The sidecar's container name; also how a pod already injected is recognised.
pub const NAME: &str = "dns-proxy";
/// UID/GID the proxy runs as (distroless "nonroot").
pub const UID: u64 = 65532;
pub const PORT_SYSCTL: &str = "net.ipv4.ip_unprivileged_port_start";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// First init container with `restartPolicy: Always` (Kubernetes >= 1.29).
    Native,
    /// First app container, for older clusters.
    Container,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub cpu_request: Option<String>,
    pub cpu_limit: Option<String>,
    pub memory_request: Option<String>,
    pub memory_limit: Option<String>,
}

/// Everything the container is built from.
#[derive(Debug, Clone)]
pub struct SidecarSpec<'a> {
    pub image: &'a str,
    pub pull_policy: &'a str,
    pub mode: Mode,
    pub admin_port: u16,
    pub upstreams: &'a [IpAddr],
    /// Asked by the proxy only while every upstream is down (the cluster DNS VIP).
    pub fallback: Option<IpAddr>,
    /// The discovery Service's FQDN, followed with `--discover`.
    pub discover: Option<&'a str>,
    pub resources: Resources,
    /// The node cache as the first tier (`node_cache::wiring`).
    pub node_cache: Option<&'a crate::node_cache::Wiring>,
    /// The group to run as, where a mesh exempts its own (Istio's 1337); else `UID`.
    pub run_as_group: Option<u64>,
    /// Tuning flags from annotations, `--flag=value`.
    pub extra_args: &'a [String],
}

fn resources(r: &Resources) -> Value {
    let mut requests = Map::new();
    let mut limits = Map::new();
    if let Some(v) = &r.cpu_request {
        requests.insert("cpu".into(), json!(v));
    }
    if let Some(v) = &r.memory_request {
        requests.insert("memory".into(), json!(v));
    }
    if let Some(v) = &r.cpu_limit {
        limits.insert("cpu".into(), json!(v));
    }
    if let Some(v) = &r.memory_limit {
        limits.insert("memory".into(), json!(v));
    }
    let mut out = Map::new();
    if !requests.is_empty() {
        out.insert("requests".into(), Value::Object(requests));
    }
    if !limits.is_empty() {
        out.insert("limits".into(), Value::Object(limits));
    }
    Value::Object(out)
}

pub fn container(s: &SidecarSpec) -> Value {
    let mut args = vec![
        "--listen=127.0.0.1:53".to_string(),
        // On the pod IP, like linkerd-proxy's admin port: kubelet probes and Prometheus
        // reach it there; DNS itself stays on loopback.
        format!("--admin=0.0.0.0:{}", s.admin_port),
    ];
    let ups: Vec<String> = s.upstreams.iter().map(IpAddr::to_string).collect();
    if !ups.is_empty() {
        args.push(format!("--upstream={}", ups.join(",")));
    }
    if let Some(f) = s.fallback {
        args.push(format!("--fallback={f}"));
    }
    if let Some(d) = s.discover {
        args.push(format!("--discover={d}"));
    }
    if let Some(w) = s.node_cache {
        args.push(w.arg.clone());
    }
    if s.mode == Mode::Native {
        // Kubernetes stops a native sidecar only after every app container has exited:
        // nobody is left to answer, and a drain would only hold up Jobs and rollouts.
        args.push("--drain=0s".into());
    }
    args.extend(s.extra_args.iter().cloned());
    let probe = |path: &str, period: u32, failures: u32| {
        json!({
            "httpGet": {"path": path, "port": s.admin_port},
            "periodSeconds": period,
            "timeoutSeconds": 1,
            "failureThreshold": failures
        })
    };
    let mut c = json!({
        "name": NAME,
        "image": s.image,
        "imagePullPolicy": s.pull_policy,
        "args": args,
        "ports": [{"name": "dns-admin", "containerPort": s.admin_port, "protocol": "TCP"}],
        "resources": resources(&s.resources),
        // Up before any app container starts; no readiness probe, so a DNS outage never
        // takes the pod out of its Services.
        "startupProbe": probe("/readyz", 1, 30),
        "livenessProbe": probe("/healthz", 10, 3),
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": UID,
            "runAsGroup": s.run_as_group.unwrap_or(UID),
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}
        }
    });
    if let Some(env) = s.node_cache.and_then(|w| w.env.clone()) {
        c["env"] = json!([env]);
    }
    if s.mode == Mode::Native {
        c["restartPolicy"] = json!("Always");
    }
    c
}

/// Whether any container or init container is our sidecar.
pub fn present(spec: &Value) -> bool {
    ["initContainers", "containers"].iter().any(|k| {
        spec.get(*k).and_then(Value::as_array).is_some_and(|a| {
            a.iter()
                .any(|c| c.get("name").and_then(Value::as_str) == Some(NAME))
        })
    })
}
