//! The node's cache as the sidecar's first tier (`--node-cache` here, `dns-sidecar.io/
//! node-cache` per pod): none; our node tier (`daemonset`: the proxy as a DaemonSet on each
//! node's address, which the sidecar learns from the downward API's `status.hostIP`); the
//! cluster DNS VIP (`cluster-dns`, where a vendor's node cache serves it on the node, as
//! GKE's NodeLocal DNSCache does); or an address (NodeLocal's 169.254.20.10, AKS LocalDNS's
//! 169.254.10.11). Pure: the choice becomes the proxy's flag and, for the DaemonSet, an
//! environment variable.

use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Value};

/// The port our node tier listens on, on the node's address (manifests/node-cache).
pub const DEFAULT_PORT: u16 = 10053;
/// The environment variable the sidecar gets the node's address in.
pub const HOST_IP_ENV: &str = "DNS_SIDECAR_HOST_IP";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeCache {
    None,
    DaemonSet,
    ClusterDns,
    Addr(SocketAddr),
}

impl NodeCache {
    /// `none`, `daemonset`, `cluster-dns`, or `IP[:PORT]` (port 53 by default).
    pub fn parse(s: &str) -> Option<NodeCache> {
        let s = s.trim();
        Some(match s {
            "none" => NodeCache::None,
            "daemonset" => NodeCache::DaemonSet,
            "cluster-dns" => NodeCache::ClusterDns,
            _ => NodeCache::Addr(
                s.parse::<SocketAddr>()
                    .ok()
                    .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))?,
            ),
        })
    }

    /// As the status annotation shows it.
    pub fn word(&self) -> String {
        match self {
            NodeCache::None => "none".into(),
            NodeCache::DaemonSet => "daemonset".into(),
            NodeCache::ClusterDns => "cluster-dns".into(),
            NodeCache::Addr(a) => a.to_string(),
        }
    }
}

/// What the sidecar container gets for a choice: the proxy flag, and the environment
/// variable it refers to (the DaemonSet's address, from the downward API).
#[derive(Debug, Clone, PartialEq)]
pub struct Wiring {
    pub arg: String,
    pub env: Option<Value>,
}

/// The wiring for `nc`, or None when there is no node cache; Err explains a choice that
/// cannot be made (`cluster-dns` with the cluster DNS left out).
pub fn wiring(
    nc: NodeCache,
    cluster_dns: Option<IpAddr>,
    port: u16,
) -> Result<Option<Wiring>, String> {
    Ok(match nc {
        NodeCache::None => None,
        NodeCache::DaemonSet => Some(Wiring {
            // Kubernetes expands $(VAR) in args from the container's environment.
            arg: format!("--node-cache=$({HOST_IP_ENV}):{port}"),
            env: Some(json!({
                "name": HOST_IP_ENV,
                "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}
            })),
        }),
        NodeCache::ClusterDns => match cluster_dns {
            Some(vip) => Some(Wiring {
                arg: format!("--node-cache={vip}"),
                env: None,
            }),
            None => return Err("cluster-dns needs the webhook's --cluster-dns".into()),
        },
        NodeCache::Addr(a) => Some(Wiring {
            arg: format!("--node-cache={a}"),
            env: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_show() {
        assert_eq!(NodeCache::parse("none"), Some(NodeCache::None));
        assert_eq!(NodeCache::parse(" daemonset "), Some(NodeCache::DaemonSet));
        assert_eq!(NodeCache::parse("cluster-dns"), Some(NodeCache::ClusterDns));
        let nodelocal = NodeCache::parse("169.254.20.10").unwrap();
        assert_eq!(nodelocal.word(), "169.254.20.10:53");
        assert_eq!(
            NodeCache::parse("169.254.10.11:53"),
            Some(NodeCache::Addr("169.254.10.11:53".parse().unwrap()))
        );
        assert_eq!(
            NodeCache::parse("[fd00::a]:5353").unwrap().word(),
            "[fd00::a]:5353"
        );
        for bad in ["", "node", "169.254.20", "10.0.0.1:99999"] {
            assert_eq!(NodeCache::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn each_choice_is_wired() {
        let vip = Some("10.96.0.10".parse().unwrap());
        assert_eq!(wiring(NodeCache::None, vip, 10053), Ok(None));
        let ds = wiring(NodeCache::DaemonSet, vip, 10053).unwrap().unwrap();
        assert_eq!(ds.arg, "--node-cache=$(DNS_SIDECAR_HOST_IP):10053");
        assert_eq!(
            ds.env.unwrap()["valueFrom"]["fieldRef"]["fieldPath"],
            "status.hostIP"
        );
        assert_eq!(
            wiring(NodeCache::ClusterDns, vip, 10053)
                .unwrap()
                .unwrap()
                .arg,
            "--node-cache=10.96.0.10"
        );
        assert!(wiring(NodeCache::ClusterDns, None, 10053).is_err());
        let a = NodeCache::parse("169.254.10.11").unwrap();
        assert_eq!(
            wiring(a, vip, 10053).unwrap().unwrap().arg,
            "--node-cache=169.254.10.11:53"
        );
    }
}
