//! The autopath part of hack/bench-proxy.sh: for each level and both cluster negative
//! TTLs (5 s, CoreDNS's default; 30 s, kubeadm's), the queries glibc sends and upstream
//! gets per cold lookup, the cold lookup's time with replicas `--delay-ms` away (default
//! 20), and upstream queries per minute while glibc resolves three external names every
//! second. Needs root (network namespaces).

use std::time::Duration;

use dns_sidecar_tests::netns::autopath::{measure, report, Load, LEVELS};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let delay = Duration::from_millis(arg("--delay-ms", 20));
    let window = Duration::from_secs(arg("--window-secs", 60));
    let bin = std::env::var_os("DNS_SIDECAR_PROXY_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(dns_sidecar_tests::proxy_bin);
    let runs: Vec<(u32, Load)> = std::thread::scope(|s| {
        let runs: Vec<_> = [5u32, 30]
            .iter()
            .flat_map(|ttl| LEVELS.iter().map(move |level| (*ttl, *level)))
            .map(|(ttl, level)| {
                let bin = &bin;
                s.spawn(move || (ttl, measure(bin, level, ttl, window, Some(delay))))
            })
            .collect();
        runs.into_iter().map(|r| r.join().expect("a run")).collect()
    });
    println!(
        "Autopath, replicas {} ms away, steady window {} s:\n",
        delay.as_millis(),
        window.as_secs()
    );
    for ttl in [5, 30] {
        let loads: Vec<&Load> = runs.iter().filter(|r| r.0 == ttl).map(|r| &r.1).collect();
        println!("{}", report(ttl, &loads));
    }
}
