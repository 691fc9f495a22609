//! Flags (each also read from `DNS_SIDECAR_<FLAG>`), parsed once into typed settings.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use dns_sidecar_ops::values::parse_duration;

use crate::annotations::is_quantity;
use crate::dns_config::{is_rfc1123_subdomain, Fallback};
use crate::inject::Settings;
use crate::sidecar::{Mode, Resources};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "dns-sidecar-webhook",
    version,
    about = "Mutating admission webhook: gives pods in opted-in namespaces the dns-sidecar proxy \
             and a resolv.conf that points at it."
)]
pub struct Args {
    /// HTTPS address to serve /mutate, /healthz, /readyz and /metrics on.
    #[arg(long, env = "DNS_SIDECAR_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,

    /// PEM certificate chain (reloaded when it changes).
    #[arg(
        long,
        env = "DNS_SIDECAR_TLS_CERT",
        default_value = "/etc/dns-sidecar/tls/tls.crt"
    )]
    pub tls_cert: PathBuf,

    /// PEM private key (reloaded when it changes).
    #[arg(
        long,
        env = "DNS_SIDECAR_TLS_KEY",
        default_value = "/etc/dns-sidecar/tls/tls.key"
    )]
    pub tls_key: PathBuf,

    /// How often the certificate files are checked for changes.
    #[arg(long, env = "DNS_SIDECAR_TLS_RELOAD_INTERVAL", value_parser = parse_duration, default_value = "2s")]
    pub tls_reload_interval: Duration,

    /// Proxy image to inject.
    #[arg(long, env = "DNS_SIDECAR_PROXY_IMAGE", default_value = concat!("dns-sidecar-proxy:", env!("CARGO_PKG_VERSION")))]
    pub proxy_image: String,

    /// imagePullPolicy of the injected proxy.
    #[arg(long, env = "DNS_SIDECAR_PROXY_PULL_POLICY", default_value = "IfNotPresent", value_parser = ["Always", "IfNotPresent", "Never"])]
    pub proxy_pull_policy: String,

    /// "native": first init container with restartPolicy Always (Kubernetes >= 1.29);
    /// "container": first app container (older clusters).
    #[arg(long, env = "DNS_SIDECAR_SIDECAR_MODE", default_value = "native", value_parser = ["native", "container"])]
    pub sidecar_mode: String,

    /// Port of the proxy's admin server (probes, metrics), on the pod IP.
    #[arg(long, env = "DNS_SIDECAR_PROXY_ADMIN_PORT", default_value_t = 9953, value_parser = clap::value_parser!(u16).range(1024..))]
    pub proxy_admin_port: u16,

    /// CPU request of the injected proxy (measured on the cluster: 11 mCPU at 100 lookups a
    /// second, near nothing idle; see docs/benchmarks.md, "What a sidecar costs").
    #[arg(long, env = "DNS_SIDECAR_PROXY_CPU_REQUEST", default_value = "5m", value_parser = quantity)]
    pub proxy_cpu_request: String,

    /// CPU limit of the injected proxy ("" for none).
    #[arg(long, env = "DNS_SIDECAR_PROXY_CPU_LIMIT", default_value = "", value_parser = quantity_or_empty)]
    pub proxy_cpu_limit: String,

    /// Memory request of the injected proxy (measured: 1.5 MiB working set idle, 3.5 MiB
    /// with its default cache of 10,000 entries full).
    #[arg(long, env = "DNS_SIDECAR_PROXY_MEMORY_REQUEST", default_value = "4Mi", value_parser = quantity)]
    pub proxy_memory_request: String,

    /// Memory limit of the injected proxy (room for its 8 MB cache byte bound, queries in
    /// flight and the allocator's slack).
    #[arg(long, env = "DNS_SIDECAR_PROXY_MEMORY_LIMIT", default_value = "32Mi", value_parser = quantity_or_empty)]
    pub proxy_memory_limit: String,

    /// Cluster domain (kubelet's --cluster-domain).
    #[arg(long, env = "DNS_SIDECAR_CLUSTER_DOMAIN", default_value = "cluster.local", value_parser = domain)]
    pub cluster_domain: String,

    /// Cluster DNS Service IP: the pods' second nameserver (so a crashed sidecar degrades
    /// to today's behaviour) and the upstream when no per-replica Service is known.
    /// "none" to leave it out.
    #[arg(long, env = "DNS_SIDECAR_CLUSTER_DNS", default_value = "10.96.0.10", value_parser = ip_or_none)]
    pub cluster_dns: MaybeIp,

    /// Search domains your nodes add after the cluster ones (kubelet copies the node's),
    /// comma-separated.
    #[arg(long, env = "DNS_SIDECAR_HOST_SEARCHES", value_delimiter = ',', value_parser = domain)]
    pub host_searches: Vec<String>,

    /// Namespace of CoreDNS, the discovery Service and any per-replica Services.
    #[arg(long, env = "DNS_SIDECAR_DNS_NAMESPACE", default_value = "kube-system")]
    pub dns_namespace: String,

    /// Headless Service in --dns-namespace selecting the CoreDNS pods: its ready endpoints
    /// are injected as upstreams, and every sidecar follows it with `--discover`. "none"
    /// leaves `--discover` out.
    #[arg(long, env = "DNS_SIDECAR_DISCOVER_SERVICE", default_value = "dns-sidecar-upstreams", value_parser = service_or_none)]
    pub discover_service: MaybeName,

    /// Where the discovery Service lives: "kube-system" (the headless Service of
    /// manifests/base in --dns-namespace, selecting the CoreDNS pods) or "mirror" (for
    /// clusters whose kube-system is read-only, such as GKE Autopilot: the webhook mirrors
    /// the ready endpoints of --mirror-from into a selector-less headless Service of the
    /// same name in --namespace, manifests/mirror).
    #[arg(long, env = "DNS_SIDECAR_DISCOVERY", default_value = "kube-system", value_parser = ["kube-system", "mirror"])]
    pub discovery: String,

    /// The webhook's own namespace (the Deployment sets it from the downward API): where
    /// "mirror" writes.
    #[arg(
        long,
        env = "DNS_SIDECAR_NAMESPACE",
        default_value = "dns-sidecar-system"
    )]
    pub namespace: String,

    /// CoreDNS's own Service in --dns-namespace, whose EndpointSlices "mirror" copies.
    #[arg(long, env = "DNS_SIDECAR_MIRROR_FROM", default_value = "kube-dns", value_parser = service_or_none)]
    pub mirror_from: MaybeName,

    /// Where the upstreams injected at admission come from: "endpointslices" (the
    /// discovery Service's ready pod IPs) or "services" (ClusterIPs of per-replica Services
    /// labelled dns-sidecar.io/upstream=true, the StatefulSet route).
    #[arg(long, env = "DNS_SIDECAR_UPSTREAM_SOURCE", default_value = "endpointslices", value_parser = ["endpointslices", "services"])]
    pub upstream_source: String,

    /// Static upstream IPs (comma-separated) instead of watching the cluster.
    #[arg(long, env = "DNS_SIDECAR_UPSTREAMS", value_delimiter = ',')]
    pub upstreams: Vec<IpAddr>,

    /// Whether pods list the cluster DNS after the sidecar ("cluster-dns": DNS survives a
    /// sidecar restart, but musl pods also ask the VIP on every lookup) or not ("none");
    /// the annotation dns-sidecar.io/fallback overrides it per pod.
    #[arg(long, env = "DNS_SIDECAR_FALLBACK", default_value = "cluster-dns", value_parser = fallback)]
    pub fallback: Fallback,

    /// The sidecars' first tier, a cache shared by the node: "none"; "daemonset" (our node
    /// tier, manifests/node-cache, on each node's address from the downward API);
    /// "cluster-dns" (the VIP, where a vendor node cache serves it on the node, as GKE's
    /// NodeLocal DNSCache); or an IP[:PORT] (NodeLocal's 169.254.20.10, AKS LocalDNS's
    /// 169.254.10.11). The annotation dns-sidecar.io/node-cache overrides it per pod.
    #[arg(long, env = "DNS_SIDECAR_NODE_CACHE", default_value = "none", value_parser = node_cache)]
    pub node_cache: crate::node_cache::NodeCache,

    /// The port of our node tier on each node's address ("daemonset").
    #[arg(long, env = "DNS_SIDECAR_NODE_CACHE_PORT", default_value_t = crate::node_cache::DEFAULT_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub node_cache_port: u16,

    /// Beside Istio's sidecar: run the proxy in the istio-proxy group, which Istio's
    /// capture rules exempt ("auto"), or leave it alone ("off"); per pod with
    /// dns-sidecar.io/istio-group.
    #[arg(long, env = "DNS_SIDECAR_ISTIO_GROUP", default_value = "auto", value_parser = auto_off)]
    pub istio_group: bool,

    /// Beside Istio ambient's DNS capture: ask the cluster DNS VIP as one logical upstream
    /// ("auto"), or leave the sidecar as it is ("off"); per pod with dns-sidecar.io/ambient.
    #[arg(long, env = "DNS_SIDECAR_AMBIENT", default_value = "auto", value_parser = auto_off)]
    pub ambient: bool,

    /// Beside Linkerd: add port 53 to the outbound ports its proxy-init skips ("auto"), or
    /// not ("off"); per pod with dns-sidecar.io/linkerd-skip-port.
    #[arg(long, env = "DNS_SIDECAR_LINKERD_SKIP_PORT", default_value = "auto", value_parser = auto_off)]
    pub linkerd_skip_port: bool,

    /// Give every sidecar --ttl-strict (clusters under Cilium FQDN policy); per namespace
    /// with the label dns-sidecar.io/ttl-strict=true, per pod with the annotation.
    #[arg(long, env = "DNS_SIDECAR_TTL_STRICT")]
    pub ttl_strict: bool,

    /// Let every sidecar keep and show query names on its debug endpoints (/debug/top,
    /// /debug/cache, /debug/recent); per pod with dns-sidecar.io/debug-names. Whoever
    /// reaches a pod's admin port, or has `pods/proxy` on it, then reads them.
    #[arg(long, env = "DNS_SIDECAR_DEBUG_NAMES")]
    pub debug_names: bool,

    /// After SIGTERM, keep serving this long with /readyz failing, so the API server and
    /// kube-proxy stop sending here before the port closes (a rollout then refuses no
    /// admission, which failurePolicy Ignore would turn into an uninjected pod).
    #[arg(long, env = "DNS_SIDECAR_DRAIN", value_parser = parse_duration, default_value = "5s")]
    pub drain: Duration,

    /// Log level: error, warn, info or debug.
    #[arg(long, env = "DNS_SIDECAR_LOG_LEVEL", default_value = "info", value_parser = dns_sidecar_ops::values::parse_level)]
    pub log_level: log::LevelFilter,
}

fn quantity(s: &str) -> Result<String, String> {
    if is_quantity(s) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a resource quantity (e.g. 10m, 64Mi)"))
    }
}

fn quantity_or_empty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Ok(String::new())
    } else {
        quantity(s)
    }
}

fn domain(s: &str) -> Result<String, String> {
    let d = s.trim_end_matches('.');
    if is_rfc1123_subdomain(d) {
        Ok(d.to_string())
    } else {
        Err(format!("{s:?} is not a lowercase DNS domain"))
    }
}

/// A Service name, or none at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybeName(pub Option<String>);

fn service_or_none(s: &str) -> Result<MaybeName, String> {
    if s == "none" {
        Ok(MaybeName(None))
    } else if is_rfc1123_subdomain(s) && !s.contains('.') && s.len() <= 63 {
        Ok(MaybeName(Some(s.to_string())))
    } else {
        Err(format!("{s:?} is not a Service name (or \"none\")"))
    }
}

fn auto_off(s: &str) -> Result<bool, String> {
    match s {
        "auto" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?} is not auto or off")),
    }
}

fn node_cache(s: &str) -> Result<crate::node_cache::NodeCache, String> {
    crate::node_cache::NodeCache::parse(s)
        .ok_or_else(|| format!("{s:?} is not none, daemonset, cluster-dns or an IP[:PORT]"))
}

fn fallback(s: &str) -> Result<Fallback, String> {
    Fallback::parse(s).ok_or_else(|| format!("{s:?} is not cluster-dns or none"))
}

/// An IP address, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaybeIp(pub Option<IpAddr>);

fn ip_or_none(s: &str) -> Result<MaybeIp, String> {
    if s == "none" {
        return Ok(MaybeIp(None));
    }
    s.parse()
        .map(|ip| MaybeIp(Some(ip)))
        .map_err(|_| format!("{s:?} is not an IP address (or \"none\")"))
}

/// Flags that parse one by one but do not go together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--upstream-source endpointslices needs a --discover-service to watch (or give --upstreams)")]
    NoDiscoveryService,
    #[error("--discovery mirror needs --discover-service and --mirror-from, with --upstream-source endpointslices and no --upstreams: it mirrors what it watches")]
    MirrorNeedsWatch,
}

impl Args {
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.upstreams.is_empty()
            && self.upstream_source == "endpointslices"
            && self.discover_service.0.is_none()
        {
            return Err(ConfigError::NoDiscoveryService);
        }
        if self.mirror()
            && (self.discover_service.0.is_none()
                || self.mirror_from.0.is_none()
                || !self.upstreams.is_empty()
                || self.upstream_source != "endpointslices")
        {
            return Err(ConfigError::MirrorNeedsWatch);
        }
        Ok(())
    }

    /// Whether discovery is mirrored into --namespace.
    pub fn mirror(&self) -> bool {
        self.discovery == "mirror"
    }

    /// The discovery Service's FQDN, as the sidecars resolve it: in --dns-namespace, or
    /// where the mirror writes it.
    pub fn discover_fqdn(&self) -> Option<String> {
        let svc = self.discover_service.0.as_ref()?;
        let ns = if self.mirror() {
            &self.namespace
        } else {
            &self.dns_namespace
        };
        Some(format!("{svc}.{ns}.svc.{}", self.cluster_domain))
    }

    pub fn settings(&self) -> Settings {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Settings {
            image: self.proxy_image.clone(),
            pull_policy: self.proxy_pull_policy.clone(),
            mode: if self.sidecar_mode == "container" {
                Mode::Container
            } else {
                Mode::Native
            },
            cluster_domain: self.cluster_domain.clone(),
            cluster_dns: self.cluster_dns.0,
            host_searches: self.host_searches.clone(),
            dns_namespace: self.dns_namespace.clone(),
            discover: self.discover_fqdn(),
            fallback: self.fallback,
            node_cache: self.node_cache,
            node_cache_port: self.node_cache_port,
            istio_group: self.istio_group,
            ambient: self.ambient,
            linkerd_skip_port: self.linkerd_skip_port,
            ttl_strict: self.ttl_strict,
            debug_names: self.debug_names,
            admin_port: self.proxy_admin_port,
            resources: Resources {
                cpu_request: opt(&self.proxy_cpu_request),
                cpu_limit: opt(&self.proxy_cpu_limit),
                memory_request: opt(&self.proxy_memory_request),
                memory_limit: opt(&self.proxy_memory_limit),
            },
        }
    }
}

#[cfg(test)]
mod tests;
