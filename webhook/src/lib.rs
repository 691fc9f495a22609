//! dns-sidecar-webhook: the injector. `inject` (the decision), `annotations`, `dns_config`,
//! `sidecar`, `pod_os` and `ports` are pure and unit-tested; `review` is the AdmissionReview envelope;
//! `server`, `tls` and `upstreams` are the I/O around them.

#![forbid(unsafe_code)]

pub mod annotations;
pub mod config;
pub mod dns_config;
pub mod inject;
pub mod mesh;
pub mod metrics;
pub mod mirror;
pub mod namespaces;
pub mod node_cache;
pub mod pod_os;
pub mod ports;
pub mod review;
pub mod server;
pub mod sidecar;
pub mod tls;
pub mod upstreams;
