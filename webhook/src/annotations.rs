//! Per-pod tuning annotations (`dns-sidecar.io/<knob>`), each mapped to a proxy flag or a
//! pod setting. A value that does not parse or is out of range is dropped with a warning
//! (kubectl prints it) and the default stays: an annotation never gets a pod rejected.

use std::collections::BTreeMap;
use std::time::Duration;

use dns_sidecar_ops::defaults;
use dns_sidecar_ops::values::{parse_duration, parse_percent, parse_rate};

use crate::dns_config::Fallback;

pub const PREFIX: &str = "dns-sidecar.io/";
pub const INJECT: &str = "dns-sidecar.io/inject";
pub const STATUS: &str = "dns-sidecar.io/status";
/// The label an injected pod gets, for the PodMonitor.
pub const INJECTED_LABEL: &str = "dns-sidecar.io/injected";

mod knobs;

use knobs::{ms, secs, Kind, PodField, Sets, KNOBS};

/// What the annotations ask for, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuning {
    /// Proxy flags in `--flag=value` form, in table order.
    pub proxy_args: Vec<String>,
    pub ndots: Option<u8>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub image: Option<String>,
    pub pull_policy: Option<String>,
    pub fallback: Option<Fallback>,
    pub node_cache: Option<crate::node_cache::NodeCache>,
    /// Per-pod choices beside meshes (None: the webhook's flag): `auto` is true.
    pub istio_group: Option<bool>,
    pub ambient: Option<bool>,
    pub linkerd_skip_port: Option<bool>,
    pub ttl_strict: Option<bool>,
    /// Accepted annotations (suffix → value), for the status annotation.
    pub applied: BTreeMap<String, String>,
}

/// The opt-in/opt-out word of `dns-sidecar.io/inject` (annotation or label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectWish {
    Default,
    Yes,
    No,
}

pub fn inject_wish(value: Option<&str>) -> InjectWish {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("false" | "disabled" | "no" | "off") => InjectWish::No,
        Some("true" | "enabled" | "yes" | "on") => InjectWish::Yes,
        _ => InjectWish::Default,
    }
}

fn bool_word(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "enabled" => Some(true),
        "false" | "0" | "no" | "off" | "disabled" => Some(false),
        _ => None,
    }
}

/// A Kubernetes resource quantity (`100m`, `64Mi`, `1.5`, `2G`), as the API server accepts.
pub fn is_quantity(v: &str) -> bool {
    let num_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, suffix) = v.split_at(num_end);
    let num_ok = !num.is_empty()
        && num.chars().filter(|c| *c == '.').count() <= 1
        && num.chars().any(|c| c.is_ascii_digit());
    let suffix_ok = matches!(
        suffix,
        "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
    );
    num_ok && suffix_ok
}

fn show(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// Validates one value; Err is the warning's explanation.
fn check(kind: Kind, v: &str) -> Result<String, String> {
    match kind {
        Kind::Count { min, max } => match v.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            _ => Err(format!("is not a whole number from {min} to {max}")),
        },
        Kind::Duration { min, max } => match parse_duration(v) {
            Ok(d) if d >= min && d <= max => Ok(show(d)),
            Ok(_) => Err(format!("is outside {} to {}", show(min), show(max))),
            Err(_) => Err("is not a duration (e.g. 500ms, 30s, 5m)".into()),
        },
        Kind::Hedge => match v.trim() {
            "auto" => Ok("auto".into()),
            other => match parse_duration(other) {
                Ok(d) if d >= ms(1) && d <= secs(5) => Ok(show(d)),
                _ => Err("is not \"auto\" or a duration from 1ms to 5s".into()),
            },
        },
        Kind::Percent => parse_percent(v)
            .map(|f| format!("{}%", (f * 10_000.0).round() / 100.0))
            .map_err(|_| "is not a percentage from 0% to 100%".into()),
        Kind::Rate => parse_rate(v)
            .map(|r| r.to_string())
            .map_err(|_| "is not a rate from 0 to 1000 a second".into()),
        Kind::Bool | Kind::Switch => bool_word(v)
            .map(|b| b.to_string())
            .ok_or_else(|| "is not true or false".into()),
        Kind::Quantity if is_quantity(v.trim()) => Ok(v.trim().to_string()),
        Kind::Quantity => Err("is not a resource quantity (e.g. 50m, 64Mi)".into()),
        Kind::Image => {
            let v = v.trim();
            if !v.is_empty()
                && v.len() <= 512
                && !v.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                Ok(v.to_string())
            } else {
                Err("is not an image reference".into())
            }
        }
        Kind::PullPolicy => match v.trim() {
            p @ ("Always" | "IfNotPresent" | "Never") => Ok(p.to_string()),
            _ => Err("is not Always, IfNotPresent or Never".into()),
        },
        Kind::OneOf(words) => words
            .iter()
            .find(|w| **w == v.trim())
            .map(|w| w.to_string())
            .ok_or_else(|| format!("is not {}", or_list(words))),
        Kind::NodeCache => crate::node_cache::NodeCache::parse(v)
            .map(|n| n.word())
            .ok_or_else(|| "is not none, daemonset, cluster-dns or an IP[:PORT]".into()),
    }
}

/// `a, b or c`.
fn or_list(words: &[&str]) -> String {
    match words.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// A value in a warning, as the user wrote it: in double quotes, not escaped, so `"1024"`
/// reads `"1024"` and not `String("1024")`. Control characters (which a warning header
/// cannot carry) become `?`.
pub fn quote(v: &str) -> String {
    let clean: String = v
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("\"{clean}\"")
}

/// Reads every `dns-sidecar.io/` annotation. Unknown keys are reported too: a typo should
/// not go unnoticed.
pub fn parse(annotations: &BTreeMap<String, String>) -> (Tuning, Vec<String>) {
    let mut t = Tuning::default();
    let mut warnings = Vec::new();
    for (key, value) in annotations {
        let Some(suffix) = key.strip_prefix(PREFIX) else {
            continue;
        };
        if key == INJECT || key == STATUS {
            continue;
        }
        let Some(knob) = KNOBS.iter().find(|k| k.key == suffix) else {
            warnings.push(format!("dns-sidecar: unknown annotation {key} ignored"));
            continue;
        };
        match check(knob.kind, value) {
            Ok(v) => {
                t.applied.insert(suffix.to_string(), v);
            }
            Err(why) => warnings.push(format!(
                "dns-sidecar: annotation {key}={} {why}; using the default",
                quote(value)
            )),
        }
    }
    // min-ttl above max-ttl would stop the proxy at start-up: drop the floor instead.
    let dur = |k: &str| t.applied.get(k).and_then(|v| parse_duration(v).ok());
    let default = |v| parse_duration(v).expect("the proxy's defaults parse");
    let min = dur("min-ttl").unwrap_or_else(|| default(defaults::MIN_TTL));
    let max = dur("max-ttl").unwrap_or_else(|| default(defaults::MAX_TTL));
    if min > max && t.applied.remove("min-ttl").is_some() {
        warnings.push(format!(
            "dns-sidecar: annotation {PREFIX}min-ttl is above max-ttl ({}); using the default",
            show(max)
        ));
    }
    for knob in KNOBS {
        let Some(v) = t.applied.get(knob.key) else {
            continue;
        };
        match knob.sets {
            Sets::Pod(PodField::Ndots) => t.ndots = v.parse().ok(),
            Sets::Pod(PodField::Cpu) => t.cpu = Some(v.clone()),
            Sets::Pod(PodField::Memory) => t.memory = Some(v.clone()),
            Sets::Pod(PodField::Image) => t.image = Some(v.clone()),
            Sets::Pod(PodField::PullPolicy) => t.pull_policy = Some(v.clone()),
            Sets::Pod(PodField::Fallback) => t.fallback = Fallback::parse(v),
            Sets::Pod(PodField::NodeCache) => t.node_cache = crate::node_cache::NodeCache::parse(v),
            Sets::Pod(PodField::IstioGroup) => t.istio_group = Some(v == "auto"),
            Sets::Pod(PodField::Ambient) => t.ambient = Some(v == "auto"),
            Sets::Pod(PodField::LinkerdSkipPort) => t.linkerd_skip_port = Some(v == "auto"),
            Sets::Pod(PodField::TtlStrict) => t.ttl_strict = Some(v == "true"),
            Sets::Flag(flag) if matches!(knob.kind, Kind::Switch) => {
                if v == "true" {
                    t.proxy_args.push(flag.to_string());
                }
            }
            Sets::Flag(flag) => t.proxy_args.push(format!("{flag}={v}")),
        }
    }
    (t, warnings)
}

/// The annotation table for README: key, proxy flag or pod setting, accepted values.
pub fn table() -> Vec<(String, &'static str, String)> {
    KNOBS
        .iter()
        .map(|k| {
            let values = match k.kind {
                Kind::Count { min, max } => format!("{min}..{max}"),
                Kind::Duration { min, max } => format!("{}..{}", show(min), show(max)),
                Kind::Hedge => "auto, 1ms..5s".into(),
                Kind::Percent => "0%..100%".into(),
                Kind::Rate => "0..1000 (a second)".into(),
                Kind::Bool | Kind::Switch => "true, false".into(),
                Kind::Quantity => "resource quantity".into(),
                Kind::Image => "image reference".into(),
                Kind::PullPolicy => "Always, IfNotPresent, Never".into(),
                Kind::OneOf(words) => words.join(", "),
                Kind::NodeCache => "none, daemonset, cluster-dns, IP[:PORT]".into(),
            };
            (format!("{PREFIX}{}", k.key), k.sets.describe(), values)
        })
        .collect()
}

#[cfg(test)]
mod tests;
