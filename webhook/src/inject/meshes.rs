//! The smallest change each mesh beside us needs (`crate::mesh` finds them), as parts of
//! the patch: for a fresh injection, what the sidecar gets (its group, proxy flags, its
//! upstreams) and what the pod gets (linkerd-init's args, Linkerd's skip annotation); when
//! the webhook is called again after a mesh's injector, the same fixes applied to the
//! sidecar already there. Each fix has a webhook flag and a per-pod annotation; a pod
//! without a mesh gets nothing from here.

use std::collections::BTreeMap;

use json_patch::{PatchOperation, ReplaceOperation};
use serde_json::{json, Value};

use super::{add, Settings};
use crate::annotations::Tuning;
use crate::mesh::{self, Findings};

/// What the meshes found ask of this injection.
#[derive(Debug, Default)]
pub(super) struct MeshPlan {
    /// Our container's group (Istio's proxy group, which its rules exempt).
    pub run_as_group: Option<u64>,
    /// Istio ambient's capture: one logical upstream, the cluster DNS VIP.
    pub logical: bool,
    /// `--ttl-strict` (Cilium FQDN policy).
    pub ttl_strict: bool,
    /// linkerd-init's index among the init containers and its new args.
    pub linkerd_init: Option<(usize, Vec<String>)>,
    /// Linkerd's skip annotation, with port 53 in it.
    pub linkerd_annotation: Option<String>,
    /// For the status annotation.
    pub names: Vec<&'static str>,
    pub warnings: Vec<String>,
}

/// The plan for a pod where `found` stands beside us.
pub(super) fn plan(
    found: &Findings,
    t: &Tuning,
    s: &Settings,
    spec: &Value,
    ann: &BTreeMap<String, String>,
    ns_labels: Option<&BTreeMap<String, String>>,
) -> MeshPlan {
    let mut p = MeshPlan::default();
    if let Some(istio) = &found.istio {
        p.names.push(if istio.cni { "istio-cni" } else { "istio" });
        if t.istio_group.unwrap_or(s.istio_group) {
            p.run_as_group = Some(istio.gid);
            p.warnings.push(if istio.dns_capture {
                format!(
                    "dns-sidecar: Istio's DNS capture found ({}): the sidecar runs in the istio-proxy group ({}), which Istio's rules exempt, so its queries to CoreDNS are not captured and sent back through the agent (a loop); the app's own DNS still goes through the agent",
                    if istio.cni { "istio-cni" } else { "istio-init" },
                    istio.gid
                )
            } else {
                format!(
                    "dns-sidecar: Istio's sidecar found: the sidecar runs in the istio-proxy group ({}), so its queries to CoreDNS bypass Envoy",
                    istio.gid
                )
            });
        }
    }
    if found.ambient_dns {
        p.names.push("ambient");
        if t.ambient.unwrap_or(s.ambient) {
            p.logical = true;
            p.warnings.push("dns-sidecar: Istio ambient's DNS capture: ztunnel answers every port-53 query the pod sends, through the cluster DNS, so the sidecar asks it as one logical upstream (--upstream-mode=logical), without per-replica failover; annotate the pod ambient.istio.io/dns-capture: \"false\" to keep that".into());
        }
    } else if found.ambient_uncaptured {
        p.names.push("ambient-no-dns-capture");
    }
    if let Some(l) = &found.linkerd {
        p.names.push("linkerd");
        if t.linkerd_skip_port.unwrap_or(s.linkerd_skip_port) {
            p.linkerd_init = l.init.and_then(|i| {
                let args: Vec<String> = spec["initContainers"][i]["args"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                mesh::linkerd_init_args(&args).map(|new| (i, new))
            });
            let current = ann
                .get(mesh::LINKERD_SKIP_ANNOTATION)
                .map_or(mesh::LINKERD_DEFAULT_SKIP, String::as_str);
            let wanted = mesh::with_port(current, 53);
            if ann.get(mesh::LINKERD_SKIP_ANNOTATION) != Some(&wanted) {
                p.linkerd_annotation = Some(wanted);
            }
            if p.linkerd_init.is_some() || p.linkerd_annotation.is_some() {
                p.warnings.push("dns-sidecar: Linkerd found: port 53 joins the outbound ports its proxy-init skips (linkerd-init's --outbound-ports-to-ignore, and config.linkerd.io/skip-outbound-ports for linkerd-cni), so the sidecar's TCP queries are not redirected into linkerd-proxy, which may not run yet".into());
            }
        }
    }
    let ns_strict = ns_labels
        .and_then(|l| l.get("dns-sidecar.io/ttl-strict"))
        .is_some_and(|v| v == "true");
    p.ttl_strict = t.ttl_strict.unwrap_or(ns_strict || s.ttl_strict);
    if p.ttl_strict {
        p.names.push("ttl-strict");
    }
    p
}

/// The proxy flags the plan adds.
pub(super) fn proxy_args(p: &MeshPlan) -> Vec<String> {
    let mut v = Vec::new();
    if p.logical {
        v.push("--upstream-mode=logical".to_string());
    }
    if p.ttl_strict {
        v.push("--ttl-strict".to_string());
    }
    v
}

fn replace(path: String, value: Value) -> PatchOperation {
    PatchOperation::Replace(ReplaceOperation {
        path: path
            .parse()
            .expect("paths here are built from known segments"),
        value,
    })
}

/// The ops on linkerd-init's args (made before our container is added, so the index holds).
pub(super) fn init_ops(p: &MeshPlan) -> Vec<PatchOperation> {
    p.linkerd_init
        .iter()
        .map(|(i, args)| replace(format!("/spec/initContainers/{i}/args"), json!(args)))
        .collect()
}

/// Sets the plan's annotation in the diffed view of the pod.
pub(super) fn annotate(p: &MeshPlan, after: &mut Value) {
    if let Some(v) = &p.linkerd_annotation {
        after["metadata"]["annotations"][mesh::LINKERD_SKIP_ANNOTATION] = json!(v);
    }
}

/// On a call after a mesh's injector, for a pod we injected before: the plan's fixes the
/// sidecar (in `list`, at `idx`) and the pod do not have yet. The proxy flags are given at
/// the first injection only: what they depend on (labels, annotations) does not change
/// between the calls.
pub(super) fn reinvoked_ops(
    p: &MeshPlan,
    spec: &Value,
    list: &str,
    idx: usize,
    ann: &BTreeMap<String, String>,
) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    if let Some(g) = p.run_as_group {
        let sc = &spec[list][idx]["securityContext"];
        if sc["runAsGroup"].as_u64() != Some(g) {
            ops.push(if sc.is_object() {
                let path = format!("/spec/{list}/{idx}/securityContext/runAsGroup");
                if sc.get("runAsGroup").is_some() {
                    replace(path, json!(g))
                } else {
                    add(&path, json!(g))
                }
            } else {
                add(
                    &format!("/spec/{list}/{idx}/securityContext"),
                    json!({"runAsGroup": g}),
                )
            });
        }
    }
    ops.extend(init_ops(p));
    if let Some(v) = &p.linkerd_annotation {
        let path = format!(
            "/metadata/annotations/{}",
            mesh::LINKERD_SKIP_ANNOTATION
                .replace('~', "~0")
                .replace('/', "~1")
        );
        ops.push(if ann.contains_key(mesh::LINKERD_SKIP_ANNOTATION) {
            replace(path, json!(v))
        } else {
            add(&path, json!(v))
        });
    }
    ops
}
