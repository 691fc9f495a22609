//! The CoreDNS upstreams handed to each sidecar: the ClusterIPs of the Services in the DNS
//! namespace labelled `dns-sidecar.io/upstream=true` (one per CoreDNS replica), followed with
//! a kube watcher, or a static list from `--upstreams`.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};

use crate::inject::UpstreamSource;

pub const LABEL: &str = "dns-sidecar.io/upstream=true";

/// The current upstream list, shared by request handlers.
pub struct Upstreams {
    ips: RwLock<Arc<[IpAddr]>>,
    pub source: UpstreamSource,
    synced: std::sync::atomic::AtomicBool,
}

impl Upstreams {
    pub fn fixed(ips: Vec<IpAddr>) -> Arc<Upstreams> {
        Arc::new(Upstreams {
            ips: RwLock::new(ips.into()),
            source: UpstreamSource::Static,
            synced: true.into(),
        })
    }

    pub fn watched() -> Arc<Upstreams> {
        Arc::new(Upstreams {
            ips: RwLock::new(Arc::from(Vec::new())),
            source: UpstreamSource::Watched,
            synced: false.into(),
        })
    }

    pub fn get(&self) -> Arc<[IpAddr]> {
        self.ips.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the list reflects the cluster (the first watch list has arrived).
    pub fn synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set(&self, ips: Vec<IpAddr>) {
        *self.ips.write().unwrap_or_else(|e| e.into_inner()) = ips.into();
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

/// Follows the labelled Services with a reflector store; runs until the process ends.
pub async fn watch(client: Client, namespace: String, target: Arc<Upstreams>) {
    let api: Api<Service> = Api::namespaced(client, &namespace);
    let (reader, writer) = kube::runtime::reflector::store();
    let cfg = watcher::Config::default().labels(LABEL);
    // Every event counts, deletions too: the store is the truth, recomputed after each.
    let stream = kube::runtime::reflector(writer, watcher(api, cfg).default_backoff());
    futures_util::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Err(e) => log::warn!("watching Services in {namespace}: {e}"),
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
            Ok(_) => {
                let ips = cluster_ips(reader.state().iter().map(|s| s.as_ref()));
                if ips != *target.get() || !target.synced() {
                    log::info!("CoreDNS upstreams now {ips:?}");
                }
                target.set(ips);
                target
                    .synced
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ServiceSpec;

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
}
