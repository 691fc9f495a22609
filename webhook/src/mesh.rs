//! Service meshes and Cilium, recognised from the pod as the API server hands it over (the
//! webhook is called again after the mesh's injector, `reinvocationPolicy: IfNeeded`), and
//! the smallest change that keeps our pod correct beside each (see README, "Service meshes
//! and Cilium"):
//! - Istio sidecar mode: our container runs with the istio-proxy group, which both
//!   istio-init's and istio-cni's rules exempt (`-m owner --gid-owner 1337 -j RETURN`), so
//!   our upstream queries are never captured and sent back to us (the loop) and our TCP does
//!   not go through Envoy; the app's own DNS still goes through the agent.
//! - Istio ambient with DNS capture: every port-53 packet leaving the pod goes to ztunnel,
//!   which re-resolves through the cluster DNS, so the proxy treats its upstream as one
//!   logical resolver (`--upstream-mode=logical`, the VIP only, no discovery).
//! - Linkerd: port 53 joins the outbound ports its proxy-init skips, so our TCP (truncated
//!   answers, `--upstream-tcp`) is not redirected into a linkerd-proxy that may not run yet.
//!
//! Pure: a pod and its namespace's labels in, findings out.

use std::collections::BTreeMap;

use serde_json::Value;

/// Istio's proxy user and group (`ProxyUID`, `ProxyGID` in its injection template).
pub const ISTIO_PROXY_GID: u64 = 1337;
/// What linkerd2-proxy-init skips when the pod does not say (`IgnoreOutboundPorts`); the
/// annotation replaces it rather than adding to it, so ours keeps these.
pub const LINKERD_DEFAULT_SKIP: &str = "4567,4568";
pub const LINKERD_SKIP_ANNOTATION: &str = "config.linkerd.io/skip-outbound-ports";
pub const LINKERD_SKIP_FLAG: &str = "--outbound-ports-to-ignore";
pub const AMBIENT_LABEL: &str = "istio.io/dataplane-mode";
pub const AMBIENT_DNS_ANNOTATION: &str = "ambient.istio.io/dns-capture";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Istio {
    /// `ISTIO_META_DNS_CAPTURE=true` on istio-proxy: port 53 is redirected to the agent.
    pub dns_capture: bool,
    /// istio-cni (an `istio-validation` init container) rather than istio-init: capture
    /// has no destination match.
    pub cni: bool,
    /// The istio-proxy container's group.
    pub gid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linkerd {
    /// Where `linkerd-init` stands among the init containers (none with linkerd-cni).
    pub init: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub istio: Option<Istio>,
    /// Istio ambient with DNS capture on for this pod.
    pub ambient_dns: bool,
    /// Ambient, but the pod opted out of DNS capture.
    pub ambient_uncaptured: bool,
    pub linkerd: Option<Linkerd>,
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .filter_map(|k| spec.get(k).and_then(Value::as_array))
        .flatten()
}

fn named<'a>(spec: &'a Value, name: &str) -> Option<&'a Value> {
    containers(spec).find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

fn env<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c.get("env")?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))?
        .get("value")?
        .as_str()
}

fn init_index(spec: &Value, name: &str) -> Option<usize> {
    spec.get("initContainers")?
        .as_array()?
        .iter()
        .position(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// What the pod runs beside us. `ns_labels` are its namespace's labels, when known.
pub fn find(
    spec: &Value,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    ns_labels: Option<&BTreeMap<String, String>>,
) -> Findings {
    let mut f = Findings::default();
    if let Some(proxy) = named(spec, "istio-proxy") {
        f.istio = Some(Istio {
            dns_capture: env(proxy, "ISTIO_META_DNS_CAPTURE")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            cni: init_index(spec, "istio-validation").is_some(),
            gid: proxy
                .pointer("/securityContext/runAsGroup")
                .and_then(Value::as_u64)
                .unwrap_or(ISTIO_PROXY_GID),
        });
    } else {
        // A pod with a sidecar is in sidecar mode whatever its namespace says.
        let mode = labels
            .get(AMBIENT_LABEL)
            .or_else(|| ns_labels.and_then(|l| l.get(AMBIENT_LABEL)));
        if mode.is_some_and(|m| m == "ambient") {
            let off = annotations
                .get(AMBIENT_DNS_ANNOTATION)
                .is_some_and(|v| v.eq_ignore_ascii_case("false"));
            f.ambient_dns = !off;
            f.ambient_uncaptured = off;
        }
    }
    if named(spec, "linkerd-proxy").is_some() {
        f.linkerd = Some(Linkerd {
            init: init_index(spec, "linkerd-init"),
        });
    }
    f
}

/// A comma-separated port list with `port` in it (unchanged if it is there already).
pub fn with_port(list: &str, port: u16) -> String {
    let has = list
        .split(',')
        .map(str::trim)
        .any(|p| p == port.to_string() || port_range_holds(p, port));
    if has {
        return list.to_string();
    }
    if list.trim().is_empty() {
        port.to_string()
    } else {
        format!("{},{port}", list.trim_end_matches(','))
    }
}

/// Whether `a-b` (linkerd accepts ranges) holds `port`.
fn port_range_holds(p: &str, port: u16) -> bool {
    p.split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
        .is_some_and(|(a, b)| (a..=b).contains(&port))
}

/// linkerd-init's args with port 53 among the outbound ports it ignores: added to the
/// flag's value (as `--flag=v` or `--flag v`), or the flag added with linkerd's default.
/// None when 53 is there already.
pub fn linkerd_init_args(args: &[String]) -> Option<Vec<String>> {
    let mut out = args.to_vec();
    let eq = format!("{LINKERD_SKIP_FLAG}=");
    for i in 0..out.len() {
        if let Some(v) = out[i].strip_prefix(&eq) {
            let new = with_port(v, 53);
            return (new != v).then(|| {
                out[i] = format!("{eq}{new}");
                out
            });
        }
        if out[i] == LINKERD_SKIP_FLAG {
            let v = out.get(i + 1).cloned().unwrap_or_default();
            let new = with_port(&v, 53);
            if new == v {
                return None;
            }
            match out.get_mut(i + 1) {
                Some(x) => *x = new,
                None => out.push(new),
            }
            return Some(out);
        }
    }
    out.push(LINKERD_SKIP_FLAG.to_string());
    out.push(with_port(LINKERD_DEFAULT_SKIP, 53));
    Some(out)
}

#[cfg(test)]
mod tests;
