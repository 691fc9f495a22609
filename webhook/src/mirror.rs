//! Discovery without writing to kube-system (`--discovery mirror`): where kube-system is
//! read-only (GKE Autopilot refuses every create there), the webhook mirrors the ready
//! endpoints of CoreDNS's own Service (`kube-dns`, read from kube-system) into the
//! EndpointSlices of a selector-less headless Service in its own namespace, which CoreDNS's
//! kubernetes plugin then serves like any headless Service (it indexes EndpointSlices by
//! their `kubernetes.io/service-name` label and publishes ready endpoints). Written with
//! server-side apply under one field manager, and the content a pure function of the ready
//! addresses, so both webhook replicas write the same object without a leader: the second
//! write of an unchanged slice is a no-op. One slice per address family.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::upstreams::{Upstreams, SERVICE_NAME_LABEL};

/// The field manager of every write, and the EndpointSlices' managed-by label (not the
/// EndpointSlice controller's, so it leaves them alone).
pub const MANAGER: &str = "dns-sidecar-webhook";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Written again this often even when nothing changed, so a slice deleted by hand comes back.
const RESYNC: Duration = Duration::from_secs(300);

/// The slices for `service` in `namespace` holding `ips` (ready), one per family, each
/// named for its family; a family without addresses gets a slice with no endpoint, so a
/// family that goes away is emptied rather than left stale.
pub fn desired(namespace: &str, service: &str, ips: &[IpAddr]) -> Vec<EndpointSlice> {
    let family = |v6: bool| {
        let addrs: Vec<&IpAddr> = ips.iter().filter(|ip| ip.is_ipv6() == v6).collect();
        let name = if v6 { "ipv6" } else { "ipv4" };
        EndpointSlice {
            metadata: ObjectMeta {
                name: Some(format!("{service}-{name}")),
                namespace: Some(namespace.to_string()),
                labels: Some(
                    [
                        (SERVICE_NAME_LABEL.to_string(), service.to_string()),
                        (MANAGED_BY_LABEL.to_string(), MANAGER.to_string()),
                    ]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            address_type: if v6 { "IPv6" } else { "IPv4" }.to_string(),
            endpoints: addrs
                .iter()
                .map(|ip| Endpoint {
                    addresses: vec![ip.to_string()],
                    conditions: Some(EndpointConditions {
                        ready: Some(true),
                        serving: Some(true),
                        terminating: Some(false),
                    }),
                    ..Endpoint::default()
                })
                .collect(),
            ports: Some(
                [("dns", "UDP"), ("dns-tcp", "TCP")]
                    .iter()
                    .map(|(n, p)| EndpointPort {
                        name: Some(n.to_string()),
                        port: Some(53),
                        protocol: Some(p.to_string()),
                        ..EndpointPort::default()
                    })
                    .collect(),
            ),
        }
    };
    vec![family(false), family(true)]
}

/// Writes the slices for `service` in `namespace` from `source` (the mirrored CoreDNS
/// endpoints) whenever they change, and every `RESYNC`; runs until the process ends.
/// Nothing is written before `source` has synced: an empty list at start is not CoreDNS
/// having no replica.
pub async fn run(client: Client, namespace: String, service: String, source: Arc<Upstreams>) {
    let api: Api<EndpointSlice> = Api::namespaced(client, &namespace);
    let params = PatchParams::apply(MANAGER).force();
    let mut written: Option<Arc<[IpAddr]>> = None;
    loop {
        let _ = tokio::time::timeout(RESYNC, source.changed()).await;
        if !source.synced() {
            continue;
        }
        let ips = source.get();
        let mut ok = true;
        for slice in desired(&namespace, &service, &ips) {
            let name = slice.metadata.name.clone().unwrap_or_default();
            if let Err(e) = api.patch(&name, &params, &Patch::Apply(&slice)).await {
                log::warn!("mirroring CoreDNS into {namespace}/{name}: {e}");
                ok = false;
            }
        }
        if ok && written.as_deref() != Some(&ips[..]) {
            log::info!("mirrored CoreDNS endpoints {ips:?} into {namespace}/{service}");
            written = Some(ips);
        }
        if !ok {
            // Try again soon rather than at the next change.
            tokio::time::sleep(Duration::from_secs(2)).await;
            source.poke();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slice_per_family_labelled_for_coredns_and_kept_from_the_controller() {
        let ips: Vec<IpAddr> = ["10.244.0.11", "10.244.0.12", "fd00::3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let s = desired("dns-sidecar", "dns-sidecar-upstreams", &ips);
        assert_eq!(s.len(), 2);
        let v = serde_json::to_value(&s[0]).unwrap();
        assert_eq!(v["apiVersion"], "discovery.k8s.io/v1");
        assert_eq!(v["kind"], "EndpointSlice");
        assert_eq!(v["metadata"]["name"], "dns-sidecar-upstreams-ipv4");
        assert_eq!(v["metadata"]["namespace"], "dns-sidecar");
        assert_eq!(
            v["metadata"]["labels"]["kubernetes.io/service-name"],
            "dns-sidecar-upstreams"
        );
        assert_eq!(
            v["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
            "dns-sidecar-webhook"
        );
        assert_eq!(v["addressType"], "IPv4");
        let addrs: Vec<&str> = v["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["addresses"][0].as_str().unwrap())
            .collect();
        assert_eq!(addrs, ["10.244.0.11", "10.244.0.12"]);
        assert_eq!(v["endpoints"][0]["conditions"]["ready"], true);
        assert_eq!(v["ports"][0]["port"], 53);
        let v6 = serde_json::to_value(&s[1]).unwrap();
        assert_eq!(v6["addressType"], "IPv6");
        assert_eq!(v6["endpoints"][0]["addresses"][0], "fd00::3");
    }

    #[test]
    fn the_same_addresses_give_the_same_slices_and_a_family_that_left_is_emptied() {
        let a: Vec<IpAddr> = vec!["10.244.0.11".parse().unwrap()];
        assert_eq!(
            desired("n", "s", &a),
            desired("n", "s", &a),
            "both replicas agree"
        );
        let v6 = serde_json::to_value(&desired("n", "s", &a)[1]).unwrap();
        assert_eq!(v6["endpoints"], serde_json::json!([]));
    }
}
