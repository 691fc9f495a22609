//! The pod fields an injection sets beside the sidecar: its admin port (moved off the
//! app's ports), its resources (flags, then annotations), and the port sysctl.

use serde_json::{json, Value};

use crate::annotations::{quote, Tuning};
use crate::ports;
use crate::sidecar::{self, Resources};

/// The admin port, moved past the ports the pod's containers declare if it clashes.
pub(super) fn admin_port(spec: &Value, wanted: u16, warnings: &mut Vec<String>) -> u16 {
    let used = ports::used(spec);
    let port = ports::free_from(wanted, &used).unwrap_or(wanted);
    if port != wanted {
        warnings.push(format!(
            "dns-sidecar: port {wanted} is used by a container of this pod; the sidecar's admin port (probes, metrics) is {port}"
        ));
    }
    port
}

pub(super) fn resources(base: &Resources, t: &Tuning) -> Resources {
    let mut r = base.clone();
    if let Some(cpu) = &t.cpu {
        r.cpu_request = Some(cpu.clone());
    }
    if let Some(mem) = &t.memory {
        // A cache's memory is what it is: request and limit move together.
        r.memory_request = Some(mem.clone());
        r.memory_limit = Some(mem.clone());
    }
    r
}

/// Lets the non-root sidecar bind port 53 with no capability (a namespaced, "safe" sysctl).
pub(super) fn set_port_sysctl(spec: &mut Value, warnings: &mut Vec<String>) {
    if !spec.get("securityContext").is_some_and(Value::is_object) {
        // Absent or null (anything else was filtered by the API server's schema).
        spec["securityContext"] = json!({});
    }
    let sc = &mut spec["securityContext"];
    if !sc.get("sysctls").is_some_and(Value::is_array) {
        sc["sysctls"] = json!([]);
    }
    let list = sc["sysctls"].as_array_mut().expect("just made an array");
    match list.iter_mut().find(|x| x["name"] == sidecar::PORT_SYSCTL) {
        Some(x) => {
            let v: u32 = x["value"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(u32::MAX);
            if v > 53 {
                let was = match &x["value"] {
                    Value::String(s) => quote(s),
                    other => other.to_string(),
                };
                warnings.push(format!(
                    "dns-sidecar: sysctl {} lowered from {was} to 53 so the sidecar can bind port 53",
                    sidecar::PORT_SYSCTL,
                ));
                x["value"] = json!("53");
            }
        }
        None => list.push(json!({"name": sidecar::PORT_SYSCTL, "value": "53"})),
    }
}
