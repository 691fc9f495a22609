//! The ways a pod can resolve on the cluster, each an app of the test clients in a
//! namespace of its own: through the kube-dns VIP (today), per-replica nameservers,
//! NodeLocal DNSCache (its addon, intercepting the VIP on the node), the sidecar alone, and
//! the sidecar with NodeLocal or with our node tier as its first tier.

use super::super::{app_manifest, App, Kube};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    Vip,
    PerReplica,
    NodeLocal,
    Sidecar,
    SidecarNodeLocal,
    SidecarTier,
}

impl Setup {
    pub const ALL: [Setup; 6] = [
        Setup::Vip,
        Setup::PerReplica,
        Setup::NodeLocal,
        Setup::Sidecar,
        Setup::SidecarNodeLocal,
        Setup::SidecarTier,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Setup::Vip => "vip",
            Setup::PerReplica => "per-replica",
            Setup::NodeLocal => "nodelocal",
            Setup::Sidecar => "sidecar",
            Setup::SidecarNodeLocal => "sidecar+nodelocal",
            Setup::SidecarTier => "sidecar+tier",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Setup::Vip => "today: kube-dns VIP",
            Setup::PerReplica => "per-replica nameservers",
            Setup::NodeLocal => "NodeLocal DNSCache",
            Setup::Sidecar => "dns-sidecar",
            Setup::SidecarNodeLocal => "dns-sidecar + NodeLocal tier",
            Setup::SidecarTier => "dns-sidecar + our node tier",
        }
    }

    pub fn parse(s: &str) -> Option<Setup> {
        Setup::ALL.into_iter().find(|x| x.name() == s)
    }

    /// NodeLocal DNSCache must be installed (it intercepts the VIP for every pod on the
    /// node, so the setups without it run while it is not).
    pub fn with_nodelocal(self) -> bool {
        matches!(self, Setup::NodeLocal | Setup::SidecarNodeLocal)
    }

    /// Which node cache a pod of this setup leans on, if any.
    pub fn node_cache(self) -> Option<NodeCache> {
        match self {
            Setup::NodeLocal | Setup::SidecarNodeLocal => Some(NodeCache::NodeLocal),
            Setup::SidecarTier => Some(NodeCache::Ours),
            _ => None,
        }
    }

    pub fn ns(self) -> String {
        format!("m-{}", self.name().replace('+', "-"))
    }

    /// Its app, deployed and running (`replicas` pods).
    pub fn deploy(self, k: &Kube, replicas: u32) -> App {
        let ns = self.ns();
        let inject = [("dns-sidecar.io/inject", "enabled")];
        let labels: &[(&str, &str)] = if self.injected() { &inject } else { &[] };
        k.fresh_namespace(&ns, labels);
        let annotations: &[(&str, &str)] = match self {
            Setup::SidecarNodeLocal => &[("dns-sidecar.io/node-cache", "169.254.20.10")],
            Setup::SidecarTier => &[("dns-sidecar.io/node-cache", "daemonset")],
            _ => &[],
        };
        let mut yaml = app_manifest(&ns, "app", annotations)
            .replace("replicas: 1", &format!("replicas: {replicas}"));
        if self == Setup::PerReplica {
            yaml = yaml.replace("    spec:\n", &per_replica_dns(k, &ns));
        }
        k.apply(&yaml);
        k.rollout(&ns, "deployment/app");
        App {
            ns,
            name: "app".into(),
        }
    }

    /// Before a run: per-replica Services follow their pods (a StatefulSet's Service would;
    /// here each EndpointSlice is pointed again at the replicas' current IPs, which a
    /// rollout in an earlier run changed).
    pub fn refresh(self, k: &Kube) {
        if self == Setup::PerReplica {
            per_replica_dns(k, &self.ns());
        }
    }

    pub fn injected(self) -> bool {
        matches!(
            self,
            Setup::Sidecar | Setup::SidecarNodeLocal | Setup::SidecarTier
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeCache {
    NodeLocal,
    Ours,
}

/// One selector-less Service per CoreDNS pod (its EndpointSlice the pod's IP, as
/// `manifests/coredns` gives with a StatefulSet), and the pod spec's dnsConfig naming them.
fn per_replica_dns(k: &Kube, ns: &str) -> String {
    let mut ips = Vec::new();
    for (i, ip) in k.coredns_ips().iter().enumerate() {
        k.apply(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: coredns-{i}, namespace: {ns}}}\n\
             spec: {{ports: [{{name: dns, port: 53, protocol: UDP}}, {{name: dns-tcp, port: 53, protocol: TCP}}]}}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: coredns-{i}, namespace: {ns}, labels: {{kubernetes.io/service-name: coredns-{i}}}}}\n\
             addressType: IPv4\nports: [{{name: dns, port: 53, protocol: UDP}}, {{name: dns-tcp, port: 53, protocol: TCP}}]\n\
             endpoints: [{{addresses: [\"{ip}\"]}}]\n"
        ));
        let svc = k.json(&["-n", ns, "get", "service", &format!("coredns-{i}")]);
        ips.push(svc["spec"]["clusterIP"].as_str().unwrap().to_string());
    }
    format!(
        "    spec:\n      dnsPolicy: None\n      dnsConfig:\n        nameservers: [{}]\n        searches: [{ns}.svc.cluster.local, svc.cluster.local, cluster.local]\n        options: [{{name: ndots, value: \"5\"}}]\n",
        ips.join(", ")
    )
}
