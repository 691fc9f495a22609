//! The decision, as a pure function: a pod (as the API server sent it) + its namespace +
//! settings + the known CoreDNS upstreams → skip with a reason, or a JSONPatch that injects
//! the sidecar, with warnings for kubectl. Never an error that rejects a pod.

use std::collections::BTreeMap;
use std::net::IpAddr;

use json_patch::{AddOperation, Patch, PatchOperation};
use serde_json::{json, Value};

use crate::annotations::{self, InjectWish};
use crate::dns_config::{self, DnsInputs, Fallback};
use crate::node_cache::NodeCache;
use crate::pod_os;
use crate::sidecar::{self, Mode, Resources, SidecarSpec};

mod fields;
mod meshes;
mod upstreams;

use fields::{admin_port, resources, set_port_sysctl};

/// Settings from the webhook's flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub image: String,
    pub pull_policy: String,
    pub mode: Mode,
    pub cluster_domain: String,
    /// The cluster DNS VIP: the fallback nameserver, and the upstream when none is known.
    pub cluster_dns: Option<IpAddr>,
    pub host_searches: Vec<String>,
    /// Namespace of CoreDNS: nothing there is injected (a DNS loop waiting to happen).
    pub dns_namespace: String,
    /// FQDN of the discovery Service each sidecar follows with `--discover`, if any.
    pub discover: Option<String>,
    /// Whether pods list the cluster DNS after the sidecar, unless an annotation says.
    pub fallback: Fallback,
    /// The sidecars' first tier, unless an annotation says; and our node tier's port.
    pub node_cache: NodeCache,
    pub node_cache_port: u16,
    /// Beside meshes (see `crate::mesh`), unless an annotation says: run in Istio's proxy
    /// group; treat ambient's DNS capture as one logical upstream; have Linkerd skip port
    /// 53; and `--ttl-strict` for every pod (also per namespace, by label).
    pub istio_group: bool,
    pub ambient: bool,
    pub linkerd_skip_port: bool,
    pub ttl_strict: bool,
    /// Query names shown on the sidecars' debug endpoints (`--debug-names`), unless an
    /// annotation says.
    pub debug_names: bool,
    pub admin_port: u16,
    pub resources: Resources,
}

/// Why a pod was left alone (a metrics label and a log word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    OptedOut,
    HostNetwork,
    DnsServer,
    AlreadyInjected,
    DnsPolicy,
    NotPodCreate,
    Windows,
}

impl Skip {
    pub fn reason(self) -> &'static str {
        match self {
            Skip::OptedOut => "opted-out",
            Skip::HostNetwork => "host-network",
            Skip::DnsServer => "dns-server",
            Skip::AlreadyInjected => "already-injected",
            Skip::DnsPolicy => "dns-policy",
            Skip::NotPodCreate => "not-pod-create",
            Skip::Windows => "windows",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Skip(Skip),
    Inject(Patch),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub decision: Decision,
    pub warnings: Vec<String>,
}

/// Where the upstreams came from, for the warning when there are none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamSource {
    /// The discovery Service's ready endpoints (the replicas' pod IPs).
    EndpointSlices,
    /// Per-replica Services labelled `dns-sidecar.io/upstream=true`.
    Services,
    Static,
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Labels CoreDNS pods carry in kubeadm, kops and most distributions.
fn is_dns_server(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get("k8s-app")
        .is_some_and(|v| v == "kube-dns" || v == "coredns")
        || labels
            .get("app.kubernetes.io/name")
            .is_some_and(|v| v == "coredns")
}

pub fn decide(
    pod: &Value,
    namespace: &str,
    s: &Settings,
    upstreams: &[IpAddr],
    source: UpstreamSource,
) -> Outcome {
    decide_with(pod, namespace, None, s, upstreams, source)
}

/// `decide`, knowing the namespace's labels (Istio ambient and `--ttl-strict` can be set
/// per namespace) when the webhook has them.
pub fn decide_with(
    pod: &Value,
    namespace: &str,
    ns_labels: Option<&BTreeMap<String, String>>,
    s: &Settings,
    upstreams: &[IpAddr],
    source: UpstreamSource,
) -> Outcome {
    let skip = |why| Outcome {
        decision: Decision::Skip(why),
        warnings: vec![],
    };
    // Indexing below assumes objects; anything else is not a pod we can change.
    if !pod.get("spec").is_some_and(Value::is_object)
        || !pod
            .get("metadata")
            .is_none_or(|m| m.is_object() || m.is_null())
    {
        return skip(Skip::NotPodCreate);
    }
    let meta = pod.get("metadata");
    let ann = string_map(meta.and_then(|m| m.get("annotations")));
    let labels = string_map(meta.and_then(|m| m.get("labels")));
    let spec = &pod["spec"];

    let wish = match annotations::inject_wish(ann.get(annotations::INJECT).map(String::as_str)) {
        InjectWish::Default => {
            annotations::inject_wish(labels.get(annotations::INJECT).map(String::as_str))
        }
        w => w,
    };
    if wish == InjectWish::No {
        return skip(Skip::OptedOut);
    }
    if sidecar::present(spec) || ann.contains_key(annotations::STATUS) {
        return reinvoked(spec, &labels, &ann, ns_labels, s);
    }
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        return skip(Skip::HostNetwork);
    }
    if is_dns_server(&labels) || namespace == s.dns_namespace {
        return skip(Skip::DnsServer);
    }
    if pod_os::is_windows(spec) {
        return skip(Skip::Windows);
    }
    let policy = spec
        .get("dnsPolicy")
        .and_then(Value::as_str)
        .unwrap_or("ClusterFirst");
    if matches!(policy, "None" | "Default") && wish != InjectWish::Yes {
        return skip(Skip::DnsPolicy);
    }

    let (tuning, mut warnings) = annotations::parse(&ann);
    let found = crate::mesh::find(spec, &labels, &ann, ns_labels);
    let plan = meshes::plan(&found, &tuning, s, spec, &ann, ns_labels);
    let ups = upstreams::for_sidecar(upstreams, s, plan.logical, source, &mut warnings);

    warnings.extend(plan.warnings.iter().cloned());
    let admin_port = admin_port(spec, s.admin_port, &mut warnings);
    let node_cache = tuning.node_cache.unwrap_or(s.node_cache);
    let wiring = upstreams::node_cache_wiring(node_cache, s, &mut warnings);
    let container = sidecar::container(&SidecarSpec {
        image: tuning.image.as_deref().unwrap_or(&s.image),
        pull_policy: tuning.pull_policy.as_deref().unwrap_or(&s.pull_policy),
        mode: s.mode,
        admin_port,
        upstreams: &ups,
        fallback: s.cluster_dns.filter(|vip| !ups.contains(vip)),
        discover: s.discover.as_deref().filter(|_| !plan.logical),
        node_cache: wiring.as_ref(),
        run_as_group: plan.run_as_group,
        resources: resources(&s.resources, &tuning),
        extra_args: &[
            tuning.proxy_args.clone(),
            meshes::proxy_args(&plan),
            debug_names_arg(s, &tuning),
        ]
        .concat(),
    });
    let fallback = tuning.fallback.unwrap_or(s.fallback);
    let inputs = DnsInputs {
        namespace,
        cluster_domain: &s.cluster_domain,
        fallback: s.cluster_dns.filter(|_| fallback == Fallback::ClusterDns),
        host_searches: &s.host_searches,
        ndots: tuning.ndots.unwrap_or(5),
    };
    let own = if matches!(policy, "ClusterFirst" | "ClusterFirstWithHostNet" | "None") {
        spec.get("dnsConfig")
    } else {
        None
    };
    let dns = dns_config::build(&inputs, own, &mut warnings);

    // The two list-shaped changes are whole-value adds (json-patch's diff would rewrite
    // every shifted container and every nameserver).
    let list = match s.mode {
        Mode::Native => "initContainers",
        Mode::Container => "containers",
    };
    // linkerd-init's args first: our container then takes index 0 and shifts the rest.
    let mut ops = meshes::init_ops(&plan);
    if spec.get(list).is_some_and(Value::is_array) {
        ops.push(add(&format!("/spec/{list}/0"), container));
    } else {
        ops.push(add(&format!("/spec/{list}"), json!([container])));
    }
    ops.push(add("/spec/dnsConfig", dns));

    // The rest is diffed from before and after, over a view holding just the fields we
    // change, at their places in the pod: the diff's paths are the pod's, and the cost
    // does not grow with the pod (managedFields alone can be most of it).
    let before = view(pod);
    let mut after = before.clone();
    after["spec"]["dnsPolicy"] = json!("None");
    set_port_sysctl(&mut after["spec"], &mut warnings);
    let mut status = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "mode": match s.mode { Mode::Native => "native", Mode::Container => "container" },
        "upstreams": ups.iter().map(IpAddr::to_string).collect::<Vec<_>>(),
        "fallback": fallback.word(),
        "settings": tuning.applied,
    });
    if wiring.is_some() {
        status["nodeCache"] = json!(node_cache.word());
    }
    if !plan.names.is_empty() {
        status["beside"] = json!(plan.names);
    }
    if !after.get("metadata").is_some_and(Value::is_object) {
        after["metadata"] = json!({});
    }
    if !after["metadata"]
        .get("annotations")
        .is_some_and(Value::is_object)
    {
        after["metadata"]["annotations"] = json!({});
    }
    after["metadata"]["annotations"][annotations::STATUS] = json!(status.to_string());
    // What the PodMonitor selects (manifests/monitoring): the app's own prometheus.io
    // annotations stay the app's.
    if !after["metadata"]
        .get("labels")
        .is_some_and(Value::is_object)
    {
        after["metadata"]["labels"] = json!({});
    }
    after["metadata"]["labels"][annotations::INJECTED_LABEL] = json!("true");
    meshes::annotate(&plan, &mut after);
    ops.extend(json_patch::diff(&before, &after).0);
    Outcome {
        decision: Decision::Inject(Patch(ops)),
        warnings,
    }
}

/// A pod we injected before, seen again after another webhook changed it (a mesh's
/// injector): only the fixes the meshes now beside us need, or nothing.
fn reinvoked(
    spec: &Value,
    labels: &BTreeMap<String, String>,
    ann: &BTreeMap<String, String>,
    ns_labels: Option<&BTreeMap<String, String>>,
    s: &Settings,
) -> Outcome {
    let found = crate::mesh::find(spec, labels, ann, ns_labels);
    let at = ["initContainers", "containers"]
        .into_iter()
        .find_map(|list| {
            spec.get(list)?
                .as_array()?
                .iter()
                .position(|c| c.get("name").and_then(Value::as_str) == Some(sidecar::NAME))
                .map(|i| (list, i))
        });
    let (tuning, _) = annotations::parse(ann);
    let plan = meshes::plan(&found, &tuning, s, spec, ann, ns_labels);
    let ops = match at {
        Some((list, idx)) => meshes::reinvoked_ops(&plan, spec, list, idx, ann),
        None => Vec::new(),
    };
    if ops.is_empty() {
        return Outcome {
            decision: Decision::Skip(Skip::AlreadyInjected),
            warnings: vec![],
        };
    }
    Outcome {
        decision: Decision::Inject(Patch(ops)),
        warnings: plan.warnings,
    }
}

fn add(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: path
            .parse()
            .expect("paths here are built from constant segments"),
        value,
    })
}

/// The pod's annotations, labels, dnsPolicy and securityContext, where present, at their
/// paths.
/// `metadata` is in the view only when the pod has it, so a pod sent without it (which the
/// fuzzer found) gets an op that adds it rather than one that cannot apply.
fn view(pod: &Value) -> Value {
    let mut v = json!({"spec": {}});
    if pod.get("metadata").is_some_and(Value::is_object) {
        v["metadata"] = json!({});
    }
    for k in ["annotations", "labels"] {
        if let Some(a) = pod["metadata"].get(k) {
            v["metadata"][k] = a.clone();
        }
    }
    for k in ["dnsPolicy", "securityContext"] {
        if let Some(x) = pod["spec"].get(k) {
            v["spec"][k] = x.clone();
        }
    }
    v
}

#[cfg(test)]
pub(crate) mod tests;
/// `--debug-names=true` from the webhook's flag, where the pod's annotation does not say
/// (the annotation's own value is among `tuning.proxy_args`).
fn debug_names_arg(s: &Settings, t: &crate::annotations::Tuning) -> Vec<String> {
    if s.debug_names && !t.applied.contains_key("debug-names") {
        vec!["--debug-names=true".to_string()]
    } else {
        Vec::new()
    }
}
