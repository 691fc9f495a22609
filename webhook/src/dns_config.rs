//! The pod's dnsConfig for `dnsPolicy: None` that reproduces ClusterFirst with the sidecar
//! first: nameservers 127.0.0.1 then the cluster DNS VIP (a crashed sidecar refuses at once
//! and glibc moves on), the ClusterFirst search list, ndots merged with the pod's options.
//! Kept within the API server's validation limits (see fixtures/admission/VALIDATION.md).

use std::net::IpAddr;

use serde_json::{json, Value};

/// Limits the API server enforces on a pod's dnsConfig.
pub const MAX_NAMESERVERS: usize = 3;
pub const MAX_SEARCHES: usize = 32;
pub const MAX_SEARCH_CHARS: usize = 2048;

/// Whether the pod's resolv.conf lists the cluster DNS VIP after 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// A restarting sidecar costs nothing (glibc moves on at once), but musl asks every
    /// nameserver at once, so musl pods keep loading CoreDNS through the VIP.
    ClusterDns,
    /// CoreDNS sees only the sidecar's misses; no DNS while the sidecar restarts.
    None,
}

impl Fallback {
    pub fn parse(s: &str) -> Option<Fallback> {
        match s.trim() {
            "cluster-dns" => Some(Fallback::ClusterDns),
            "none" => Some(Fallback::None),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Fallback::ClusterDns => "cluster-dns",
            Fallback::None => "none",
        }
    }
}

/// What the sidecar-backed dnsConfig is made from.
#[derive(Debug, Clone)]
pub struct DnsInputs<'a> {
    pub namespace: &'a str,
    pub cluster_domain: &'a str,
    pub fallback: Option<IpAddr>,
    /// Search domains the nodes add after the cluster ones (kubelet copies the node's).
    pub host_searches: &'a [String],
    pub ndots: u8,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the dnsConfig; `own` is the pod's own dnsConfig, merged as kubelet merges it
/// for ClusterFirst. Anything dropped to stay valid is reported in `warnings`.
pub fn build(i: &DnsInputs, own: Option<&Value>, warnings: &mut Vec<String>) -> Value {
    let mut nameservers = vec!["127.0.0.1".to_string()];
    if let Some(f) = i.fallback {
        nameservers.push(f.to_string());
    }
    for ns in strings(own.and_then(|o| o.get("nameservers"))) {
        if !nameservers.contains(&ns) {
            nameservers.push(ns);
        }
    }
    if nameservers.len() > MAX_NAMESERVERS {
        let dropped = nameservers.split_off(MAX_NAMESERVERS);
        warnings.push(format!(
            "dns-sidecar: the pod's nameservers {} do not fit after 127.0.0.1 and the cluster DNS (at most {MAX_NAMESERVERS}); dropped",
            dropped.join(", ")
        ));
    }

    let d = i.cluster_domain;
    let mut searches = vec![
        format!("{}.svc.{d}", i.namespace),
        format!("svc.{d}"),
        d.to_string(),
    ];
    for s in i
        .host_searches
        .iter()
        .cloned()
        .chain(strings(own.and_then(|o| o.get("searches"))))
    {
        if !searches.contains(&s) {
            searches.push(s);
        }
    }
    let mut dropped = Vec::new();
    while searches.len() > MAX_SEARCHES || searches.join(" ").len() > MAX_SEARCH_CHARS {
        dropped.push(searches.pop().unwrap_or_default());
    }
    if !dropped.is_empty() {
        dropped.reverse();
        warnings.push(format!(
            "dns-sidecar: search domains {} dropped to stay within {MAX_SEARCHES} domains and {MAX_SEARCH_CHARS} characters",
            dropped.join(" ")
        ));
    }

    // ndots first, then the pod's own options; the pod's own win by name.
    let mut options: Vec<Value> = vec![json!({"name": "ndots", "value": i.ndots.to_string()})];
    if let Some(own_opts) = own.and_then(|o| o.get("options")).and_then(Value::as_array) {
        for o in own_opts {
            let name = o.get("name").and_then(Value::as_str).unwrap_or("");
            if name == "rotate" {
                // glibc and Go would send every other first attempt to the fallback.
                warnings.push(
                    "dns-sidecar: the pod's dnsConfig option \"rotate\" dropped: it would send \
                     half the lookups past the sidecar to the fallback nameserver"
                        .into(),
                );
                continue;
            }
            match options.iter_mut().find(|x| x["name"] == name) {
                Some(x) => *x = o.clone(),
                None => options.push(o.clone()),
            }
        }
    }
    json!({"nameservers": nameservers, "searches": searches, "options": options})
}

/// Checks a dnsConfig the way the API server's validation does; returns the first problem.
pub fn validate(cfg: &Value) -> Result<(), String> {
    let ns = strings(cfg.get("nameservers"));
    if ns.is_empty() {
        return Err("spec.dnsConfig.nameservers: must provide at least one".into());
    }
    if ns.len() > MAX_NAMESERVERS {
        return Err(format!(
            "spec.dnsConfig.nameservers: must not have more than {MAX_NAMESERVERS}"
        ));
    }
    if let Some(bad) = ns.iter().find(|s| s.parse::<IpAddr>().is_err()) {
        return Err(format!(
            "spec.dnsConfig.nameservers: {bad:?} is not an IP address"
        ));
    }
    let searches = strings(cfg.get("searches"));
    if searches.len() > MAX_SEARCHES {
        return Err(format!("spec.dnsConfig.searches: more than {MAX_SEARCHES}"));
    }
    if searches.join(" ").len() > MAX_SEARCH_CHARS {
        return Err(format!(
            "spec.dnsConfig.searches: more than {MAX_SEARCH_CHARS} characters"
        ));
    }
    if let Some(bad) = searches.iter().find(|s| !is_rfc1123_subdomain(s)) {
        return Err(format!(
            "spec.dnsConfig.searches: {bad:?} is not a lowercase RFC 1123 subdomain"
        ));
    }
    for o in cfg
        .get("options")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if o.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            return Err("spec.dnsConfig.options: name must not be empty".into());
        }
    }
    Ok(())
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`, at most 253 characters.
pub fn is_rfc1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

#[cfg(test)]
mod tests;
