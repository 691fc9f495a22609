//! The real one-node cluster of `hack/cluster.sh` (API server, kubelet, containerd,
//! kube-proxy, CoreDNS built from the registries), as the cluster tests use it: `kube`
//! (kubectl against it, shared one test at a time), `install` (the webhook as docs/install.md
//! installs it), `workload` (an app of glibc, musl and Go clients), `lookups` (what a loop
//! of lookups in a pod saw), `fault` (a replica's node dying, at the node's firewall),
//! `metrics` (CoreDNS's and the sidecar's counters, read from their pods), `side_by_side`
//! (apps resolving in loops while something happens, and what each saw), `plugin`
//! (`kubectl dns-sidecar` through the API server's pod proxy), `rights` (RBAC as the
//! authorizer lists it, against docs/install.md), `audit` (the API server's record of our requests), `nodelocal` (NodeLocal
//! DNSCache as its addon deploys it), `matrix` (every setup through every fault), `cost` (what a sidecar and NodeLocal
//! cost, as the kubelet reports it), `helm` (the real helm and what the chart renders).

pub mod audit;
pub mod cost;
pub mod fault;
pub mod helm;
mod install;
mod kube;
pub mod lookups;
pub mod matrix;
pub mod metrics;
pub mod nodelocal;
pub mod overload;
mod plugin;
pub mod rights;
pub mod side_by_side;
mod workload;

pub use install::{NS as WEBHOOK_NS, WEBHOOK};
pub use kube::{cluster_bin, exclusive, Kube};
pub use plugin::Plugin;
pub use workload::{app_manifest, App, CLIENTS, CLIENTS_IMAGE};

/// Addresses in numeric order, as the webhook lists them (10.244.0.9 before 10.244.0.10).
pub fn sort_ips(ips: &mut [String]) {
    ips.sort_by_key(|ip| ip.parse::<std::net::IpAddr>().ok());
}
