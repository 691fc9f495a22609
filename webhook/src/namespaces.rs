//! The namespaces' labels, followed with a kube reflector: an AdmissionReview carries the
//! pod but not its namespace, and two choices are made per namespace (Istio ambient's
//! `istio.io/dataplane-mode`, and `dns-sidecar.io/ttl-strict` for Cilium FQDN policy).
//! Read-only, cluster-wide (a ClusterRole to get, list and watch namespaces).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client};

pub type Labels = BTreeMap<String, String>;

#[derive(Default)]
pub struct Namespaces {
    labels: RwLock<HashMap<String, Labels>>,
    synced: AtomicBool,
}

impl Namespaces {
    pub fn new() -> Arc<Namespaces> {
        Arc::default()
    }

    /// The labels of `ns`, once the first list has arrived and if it exists.
    pub fn labels(&self, ns: &str) -> Option<Labels> {
        if !self.synced.load(Relaxed) {
            return None;
        }
        self.labels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(ns)
            .cloned()
    }

    fn replace(&self, all: HashMap<String, Labels>) {
        *self.labels.write().unwrap_or_else(|e| e.into_inner()) = all;
        self.synced.store(true, Relaxed);
    }
}

/// Follows every namespace's labels; runs until the process ends.
pub async fn watch(client: Client, target: Arc<Namespaces>) {
    let api: Api<Namespace> = Api::all(client);
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    futures_util::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Err(e) => log::warn!("watching namespaces: {e}"),
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
            Ok(_) => target.replace(
                reader
                    .state()
                    .iter()
                    .filter_map(|n| {
                        let name = n.metadata.name.clone()?;
                        Some((name, n.metadata.labels.clone().unwrap_or_default()))
                    })
                    .collect(),
            ),
        }
    }
}
