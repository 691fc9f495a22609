//! Whether a pod will run on Windows nodes, where a Linux sidecar cannot start: its
//! `spec.os.name`, its nodeSelector, or a required node affinity whose every term asks for
//! `kubernetes.io/os` in Windows only.

use serde_json::Value;

const OS_LABEL: &str = "kubernetes.io/os";

pub fn is_windows(spec: &Value) -> bool {
    if spec.pointer("/os/name").and_then(Value::as_str) == Some("windows") {
        return true;
    }
    if spec
        .pointer("/nodeSelector/kubernetes.io~1os")
        .and_then(Value::as_str)
        == Some("windows")
    {
        return true;
    }
    let terms = spec
        .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array);
    // Terms are ORed: Windows only if every one of them asks for Windows only.
    terms.is_some_and(|t| !t.is_empty() && t.iter().all(term_is_windows_only))
}

fn term_is_windows_only(term: &Value) -> bool {
    let exprs = term.get("matchExpressions").and_then(Value::as_array);
    exprs.into_iter().flatten().any(|e| {
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        e.get("key").and_then(Value::as_str) == Some(OS_LABEL)
            && e.get("operator").and_then(Value::as_str) == Some("In")
            && !values.is_empty()
            && values.iter().all(|v| *v == "windows")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn affinity(terms: Value) -> Value {
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}})
    }

    fn os_in(values: &[&str]) -> Value {
        json!({"matchExpressions": [{"key": OS_LABEL, "operator": "In", "values": values}]})
    }

    #[test]
    fn windows_by_os_node_selector_or_required_affinity() {
        assert!(is_windows(&json!({"os": {"name": "windows"}})));
        assert!(!is_windows(&json!({"os": {"name": "linux"}})));
        assert!(is_windows(
            &json!({"nodeSelector": {"kubernetes.io/os": "windows"}})
        ));
        assert!(!is_windows(
            &json!({"nodeSelector": {"kubernetes.io/os": "linux"}})
        ));
        assert!(is_windows(&affinity(json!([os_in(&["windows"])]))));
        assert!(
            !is_windows(&affinity(json!([os_in(&["windows", "linux"])]))),
            "may land on Linux"
        );
        assert!(
            !is_windows(&affinity(json!([os_in(&["windows"]), os_in(&["linux"])]))),
            "terms are ORed"
        );
        assert!(!is_windows(&affinity(json!([]))));
        assert!(!is_windows(&json!({"containers": []})));
    }
}
