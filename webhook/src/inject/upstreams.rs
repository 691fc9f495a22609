//! Where the sidecar sends its questions: the replicas the webhook knows (or the cluster
//! DNS VIP when it knows none, saying why), and the node cache's wiring, each with the
//! admission warning a fallback earns.

use std::net::IpAddr;

use super::{Settings, UpstreamSource};
use crate::node_cache::{self, NodeCache, Wiring};

/// The replicas handed to the sidecar: the known ones, or the VIP when there are none
/// (with a warning naming why) or when every address reaches one resolver (`logical`:
/// ambient's ztunnel, named by the VIP).
pub(super) fn for_sidecar(
    upstreams: &[IpAddr],
    s: &Settings,
    logical: bool,
    source: UpstreamSource,
    warnings: &mut Vec<String>,
) -> Vec<IpAddr> {
    let (ups, fell_back) = match (upstreams.is_empty(), s.cluster_dns) {
        // Ambient: every address reaches ztunnel; the VIP names the one resolver.
        (_, Some(vip)) if logical => (vec![vip], false),
        (false, _) => (upstreams.to_vec(), false),
        (true, Some(vip)) => (vec![vip], true),
        (true, None) => (vec![], true),
    };
    if fell_back {
        let what = match source {
            UpstreamSource::EndpointSlices => "the discovery Service has no ready endpoint",
            UpstreamSource::Services => {
                "no Service labelled dns-sidecar.io/upstream=true was found"
            }
            UpstreamSource::Static => "no --upstreams were given",
        };
        warnings.push(match s.cluster_dns {
            Some(vip) => {
                format!("dns-sidecar: {what}; the sidecar forwards to the cluster DNS VIP {vip}")
            }
            None => {
                format!("dns-sidecar: {what}; the sidecar uses the nameservers of its resolv.conf")
            }
        });
    }
    ups
}

/// The node cache's wiring for `node_cache`, or None (the replicas asked directly) with a
/// warning when it cannot be wired.
pub(super) fn node_cache_wiring(
    node_cache: NodeCache,
    s: &Settings,
    warnings: &mut Vec<String>,
) -> Option<Wiring> {
    match node_cache::wiring(node_cache, s.cluster_dns, s.node_cache_port) {
        Ok(w) => w,
        Err(why) => {
            warnings.push(format!(
                "dns-sidecar: node cache {}: {why}; the sidecar asks the replicas directly",
                node_cache.word()
            ));
            None
        }
    }
}
