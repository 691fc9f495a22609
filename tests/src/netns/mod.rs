//! The replica-failure topology on one machine, in network namespaces this harness makes and
//! removes (names unique per run):
//!
//! ```text
//!   pod ns 10.244.1.2 ──veth── node ns (kube-proxy: nftables DNAT + conntrack) ──bridge── replica ns 10.244.0.11
//!   (glibc getent, dig,        10.96.0.10:53 → replicas, round robin per new flow          replica ns 10.244.0.12
//!    the sidecar on 127.0.0.1) 10.96.0.1N:53 → replica N (one Service per replica)       (NSD as CoreDNS)
//! ```
//!
//! Faults are made the way they happen: a dead node drops packets silently (nftables drop),
//! a dead process leaves a closed port (NSD killed, ICMP unreachable), a slow replica has
//! netem delay. Only addresses inside these namespaces are ever sent to.
//!
//! One file per fixture kind: `topology` (the namespaces, links and the cluster's life),
//! `services` (kube-proxy's rules and the cluster zone), `faults`, `rollout` (CoreDNS
//! replaced and scaled while the pod resolves), `autopath` (a pod's sidecar at each autopath
//! level, and what it costs upstream), `meshes` (meshes' and Cilium's rules and stand-ins
//! beside the sidecar), `pod` (clients in the pod), `resolv`
//! (resolv.conf texts), `stats` (summaries of lookups).

pub mod autopath;
mod faults;
pub mod meshes;
mod pod;
mod resolv;
mod rollout;
mod services;
mod stats;
mod topology;

pub use pod::{Client, GetentResult};
pub use resolv::{
    cluster_first_resolv_conf, resolv_conf, sidecar_resolv_conf, sidecar_resolv_conf_for,
    sidecar_resolv_conf_with,
};
pub use rollout::{measure, measure_all, sidecar_args, Setup, Timed, LAMEDUCK};
pub use stats::{summarize, Summary};
pub use topology::{Cluster, Replica};

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use crate::require;

pub const VIP: &str = "10.96.0.10";
pub const DOMAIN: &str = "cluster.local";
/// The discovery Service (headless) listing the replicas' pod IPs, as manifests/ makes it.
pub const HEADLESS: &str = "dns-sidecar-upstreams.kube-system.svc.cluster.local";

/// Fails clearly when the topology cannot be built here.
pub fn require_root_and_tools() {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(
        uid.as_deref().unwrap_or(""),
        "0",
        "the network-namespace tests need root (ip netns, nftables): run them as root, as CI does"
    );
    require("ip", "iproute2");
    require("nft", "nftables");
    require("nsd", "nsd");
    require("getent", "libc-bin");
    require("tc", "iproute2");
}

pub(crate) fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Whether `server:port`, asked from namespace `ns` (one try of a second), answers `name`
/// with at least one record: the wait for a server just started.
pub(crate) fn answers_in(ns: &str, server: &str, port: u16, name: &str) -> bool {
    let (at, port) = (format!("@{server}"), port.to_string());
    Command::new("ip")
        .args(["netns", "exec", ns, "dig", &at, "-p", &port])
        .args(["+time=1", "+tries=1", "+short", name])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
}

pub fn replica_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, 0, 11 + i as u8)
}

pub fn replica_vip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 96, 0, 11 + i as u8)
}

/// Runs `f` on a new thread that has entered network namespace `ns` (network namespaces are
/// per thread), so the sockets it makes live there.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    in_netns_at(PathBuf::from("/run/netns").join(ns), f)
}

/// `in_netns` for the namespace at `path` (`/run/netns/NAME`, or a process's
/// `/proc/PID/ns/net`). Threads `f` makes start in the namespace too.
pub fn in_netns_at<T: Send + 'static>(
    path: PathBuf,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    use std::os::fd::AsRawFd;
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // SAFETY: setns on this thread only, with a valid namespace descriptor.
        let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns into {}", path.display());
        f()
    })
}
