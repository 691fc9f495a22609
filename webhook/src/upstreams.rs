//! The CoreDNS upstreams handed to each sidecar at admission, followed with a kube watcher:
//! by default the ready endpoints of the discovery Service (a headless Service selecting
//! `k8s-app: kube-dns`: the replicas' pod IPs, so no change to CoreDNS is needed); or the
//! ClusterIPs of per-replica Services labelled `dns-sidecar.io/upstream=true` (the
//! StatefulSet route); or a static list from `--upstreams`.

use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::inject::UpstreamSource;

pub const LABEL: &str = "dns-sidecar.io/upstream=true";
/// The label EndpointSlices carry naming their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The current upstream list, shared by request handlers.
pub struct Upstreams {
    ips: RwLock<Arc<[IpAddr]>>,
    pub source: UpstreamSource,
    synced: AtomicBool,
    /// Told after every update (the mirror writes on it).
    changes: tokio::sync::Notify,
}

impl Upstreams {
    pub fn fixed(ips: Vec<IpAddr>) -> Arc<Upstreams> {
        Arc::new(Upstreams {
            ips: RwLock::new(ips.into()),
            source: UpstreamSource::Static,
            synced: true.into(),
            changes: tokio::sync::Notify::new(),
        })
    }

    pub fn watched(source: UpstreamSource) -> Arc<Upstreams> {
        Arc::new(Upstreams {
            ips: RwLock::new(Arc::from(Vec::new())),
            source,
            synced: false.into(),
            changes: tokio::sync::Notify::new(),
        })
    }

    pub fn get(&self) -> Arc<[IpAddr]> {
        self.ips.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the list reflects the cluster (the first watch list has arrived).
    pub fn synced(&self) -> bool {
        self.synced.load(Relaxed)
    }

    fn set(&self, ips: Vec<IpAddr>) {
        *self.ips.write().unwrap_or_else(|e| e.into_inner()) = ips.into();
    }

    /// Waits for the next update.
    pub async fn changed(&self) {
        self.changes.notified().await
    }

    /// Wakes whoever waits in `changed`, as an update would.
    pub fn poke(&self) {
        self.changes.notify_one();
    }
}

/// ClusterIPs of the Services (headless ones have none), sorted so sidecars get a stable list.
pub fn cluster_ips<'a>(services: impl Iterator<Item = &'a Service>) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = services
        .filter_map(|s| s.spec.as_ref()?.cluster_ip.as_deref()?.parse().ok())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// The ready IPv4 and IPv6 endpoint addresses of a Service's EndpointSlices, sorted. An
/// endpoint is ready unless it says otherwise (the API's rule for a missing condition);
/// terminating ones (CoreDNS in its lameduck) say `ready: false` and are left out.
pub fn ready_addresses<'a>(slices: impl Iterator<Item = &'a EndpointSlice>) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = slices
        .filter(|s| s.address_type == "IPv4" || s.address_type == "IPv6")
        .flat_map(|s| s.endpoints.iter())
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .flat_map(|e| e.addresses.iter().filter_map(|a| a.parse().ok()))
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Follows the discovery Service's EndpointSlices; runs until the process ends.
pub async fn watch_endpoint_slices(
    client: Client,
    namespace: String,
    service: String,
    target: Arc<Upstreams>,
) {
    let cfg = watcher::Config::default().labels(&format!("{SERVICE_NAME_LABEL}={service}"));
    let what = format!("EndpointSlices of {namespace}/{service}");
    let api: Api<EndpointSlice> = Api::namespaced(client, &namespace);
    follow(api, cfg, target, &what, |s| {
        ready_addresses(s.iter().map(|x| x.as_ref()))
    })
    .await
}

/// Follows the labelled per-replica Services; runs until the process ends.
pub async fn watch_services(client: Client, namespace: String, target: Arc<Upstreams>) {
    let cfg = watcher::Config::default().labels(LABEL);
    let what = format!("Services labelled {LABEL} in {namespace}");
    let api: Api<Service> = Api::namespaced(client, &namespace);
    follow(api, cfg, target, &what, |s| {
        cluster_ips(s.iter().map(|x| x.as_ref()))
    })
    .await
}

/// A reflector store over `api`; after every event (deletions too) the upstream list is
/// recomputed from the whole store, which is the truth.
async fn follow<K>(
    api: Api<K>,
    cfg: watcher::Config,
    target: Arc<Upstreams>,
    what: &str,
    extract: impl Fn(&[Arc<K>]) -> Vec<IpAddr>,
) where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api, cfg).default_backoff());
    futures_util::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Err(e) => log::warn!("watching {what}: {e}"),
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
            Ok(_) => {
                let ips = extract(&reader.state());
                if ips != *target.get() || !target.synced() {
                    log::info!("CoreDNS upstreams now {ips:?} (from {what})");
                }
                target.set(ips);
                target.synced.store(true, Relaxed);
                target.changes.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ServiceSpec;
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions};

    fn svc(ip: Option<&str>) -> Service {
        Service {
            spec: Some(ServiceSpec {
                cluster_ip: ip.map(String::from),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cluster_ips_sorted_deduplicated_headless_skipped() {
        let list = [
            svc(Some("10.96.0.12")),
            svc(Some("None")),
            svc(None),
            svc(Some("10.96.0.11")),
            svc(Some("10.96.0.12")),
            svc(Some("fd00::a")),
        ];
        let want: Vec<IpAddr> = ["10.96.0.11", "10.96.0.12", "fd00::a"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(cluster_ips(list.iter()), want);
    }

    fn slice(family: &str, endpoints: &[(&str, Option<bool>)]) -> EndpointSlice {
        EndpointSlice {
            address_type: family.into(),
            endpoints: endpoints
                .iter()
                .map(|(ip, ready)| Endpoint {
                    addresses: vec![ip.to_string()],
                    conditions: Some(EndpointConditions {
                        ready: *ready,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn ready_endpoints_of_both_families_sorted_terminating_left_out() {
        let slices = [
            slice(
                "IPv4",
                &[
                    ("10.244.1.7", Some(true)),
                    ("10.244.0.3", None),
                    ("10.244.2.9", Some(false)),
                ],
            ),
            slice("IPv6", &[("fd00::7", Some(true))]),
            slice("FQDN", &[("coredns.example", Some(true))]),
            slice("IPv4", &[("10.244.1.7", Some(true))]),
        ];
        let want: Vec<IpAddr> = ["10.244.0.3", "10.244.1.7", "fd00::7"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(ready_addresses(slices.iter()), want);
    }
}
