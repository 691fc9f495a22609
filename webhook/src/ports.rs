//! The ports the pod's own containers declare, so the sidecar's admin port does not clash
//! with one of them (two processes in one network namespace cannot bind the same port).

use serde_json::Value;

/// Every containerPort and hostPort of the pod's containers and init containers.
pub fn used(spec: &Value) -> Vec<u16> {
    let mut ports: Vec<u16> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .flat_map(|p| ["containerPort", "hostPort"].map(|f| p.get(f).and_then(Value::as_u64)))
        .flatten()
        .filter_map(|p| u16::try_from(p).ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// `wanted` if no container uses it, else the next port above it that none uses (wrapping
/// to 1024 past 65535); None if every unprivileged port is taken.
pub fn free_from(wanted: u16, used: &[u16]) -> Option<u16> {
    (wanted..=u16::MAX)
        .chain(1024..wanted)
        .find(|p| used.binary_search(p).is_err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_and_host_ports_of_every_container() {
        let spec = json!({
            "initContainers": [{"name": "i", "ports": [{"containerPort": 9953}]}],
            "containers": [
                {"name": "a", "ports": [{"containerPort": 8080, "hostPort": 9954}]},
                {"name": "b"},
                {"name": "c", "ports": [{"containerPort": 8080}]}
            ]
        });
        assert_eq!(used(&spec), vec![8080, 9953, 9954]);
    }

    #[test]
    fn the_next_free_port_is_taken() {
        assert_eq!(free_from(9953, &[8080]), Some(9953));
        assert_eq!(free_from(9953, &[9953, 9954]), Some(9955));
        assert_eq!(free_from(65535, &[65535]), Some(1024), "wraps");
    }
}
