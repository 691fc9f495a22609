//! What a sidecar costs on a real node, as the kubelet reports it (`/metrics/resource`
//! through the API server's node proxy: `container_memory_working_set_bytes`,
//! `container_cpu_usage_seconds_total`), beside NodeLocal DNSCache's per node: idle, with
//! 10,000 names cached, and under a steady load of lookups.

use std::time::Duration;

use super::{App, Kube};

/// One container's working set (bytes) and CPU seconds, as the kubelet last read them.
pub fn usage(k: &Kube, ns: &str, pod: &str, container: &str) -> (f64, f64) {
    let text = k.ok(&["get", "--raw", "/api/v1/nodes/node1/proxy/metrics/resource"]);
    let want = format!("container=\"{container}\",namespace=\"{ns}\",pod=\"{pod}\"");
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&want))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or_else(|| {
                panic!("{name} of {ns}/{pod}/{container} not in the kubelet's /metrics/resource")
            })
    };
    (
        value("container_memory_working_set_bytes"),
        value("container_cpu_usage_seconds_total"),
    )
}

/// Names no other run asks, with a trailing dot (no search-list walk): one entry for A and
/// one for AAAA each, NXDOMAIN from the node's upstream.
pub fn names(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{i}-{tag}.example.com.")).collect()
}

/// Runs `names` once each through a container's resolver, as fast as answers come.
pub fn prime(k: &Kube, app: &App, container: &str, names: &[String]) {
    for chunk in names.chunks(2500) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let child = app.start_loop(k, container, 0, chunk.len() as u32, 600, &refs);
        let out = child.wait_with_output().expect("kubectl exec");
        assert!(
            out.status.success(),
            "priming: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A steady load of `per_s` lookups a second of a few names for `secs`, then the CPU
/// seconds `usage` saw go by, per second.
pub fn cpu_under_load(
    k: &Kube,
    app: &App,
    container: &str,
    at: (&str, &str, &str),
    per_s: u32,
    secs: u32,
) -> f64 {
    let (_, cpu0) = usage(k, at.0, at.1, at.2);
    let interval = 1000 / per_s.max(1);
    let child = app.start_loop(
        k,
        container,
        interval,
        per_s * secs,
        secs + 5,
        &["kubernetes.default", "www.example.com"],
    );
    let _ = child.wait_with_output();
    // The kubelet's figures come from a cAdvisor read every 10 s or so.
    std::thread::sleep(Duration::from_secs(15));
    let (_, cpu1) = usage(k, at.0, at.1, at.2);
    (cpu1 - cpu0) / f64::from(secs)
}

/// The table: a sidecar (in one pod) beside NodeLocal DNSCache (for the node), idle, with
/// 10,000 names, and the CPU a second of 100 lookups a second cost each.
pub fn measure(k: &Kube) -> String {
    k.install();
    let (side_ns, plain_ns) = ("m-cost-sidecar", "m-cost-nodelocal");
    k.fresh_namespace(side_ns, &[("dns-sidecar.io/inject", "enabled")]);
    k.fresh_namespace(plain_ns, &[]);
    k.install_nodelocal();
    let side = App::deploy(k, side_ns, "app", &[]);
    let plain = App::deploy(k, plain_ns, "app", &[]);
    let side_at = (
        side_ns.to_string(),
        side.pod_name(k),
        "dns-proxy".to_string(),
    );
    let (nl_pod, _) = k.pods("kube-system", "k8s-app=node-local-dns")[0].clone();
    let nl_at = ("kube-system".to_string(), nl_pod, "node-cache".to_string());
    let at = |a: &(String, String, String)| (a.0.clone(), a.1.clone(), a.2.clone());
    let read = |a: &(String, String, String)| usage(k, &a.0, &a.1, &a.2).0 / 1048576.0;
    std::thread::sleep(Duration::from_secs(20));
    let idle = (read(&side_at), read(&nl_at));
    prime(k, &side, "glibc", &names("s", 10_000));
    prime(k, &plain, "glibc", &names("n", 10_000));
    std::thread::sleep(Duration::from_secs(20));
    let full = (read(&side_at), read(&nl_at));
    let (sa, na) = (at(&side_at), at(&nl_at));
    let cpu = (
        cpu_under_load(k, &side, "glibc", (&sa.0, &sa.1, &sa.2), 100, 30),
        cpu_under_load(k, &plain, "glibc", (&na.0, &na.1, &na.2), 100, 30),
    );
    k.delete_namespace(side_ns);
    k.delete_namespace(plain_ns);
    k.remove_nodelocal();
    format!(
        "| | working set, idle | with 10,000 names | CPU at 100 lookups/s |\n| --- | ---: | ---: | ---: |\n\
         | dns-sidecar (one pod) | {:.2} MiB | {:.2} MiB | {:.1} mCPU |\n\
         | NodeLocal DNSCache (one node) | {:.2} MiB | {:.2} MiB | {:.1} mCPU |\n",
        idle.0, full.0, cpu.0 * 1000.0, idle.1, full.1, cpu.1 * 1000.0
    )
}
