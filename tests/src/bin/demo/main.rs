//! The demo: builds the replica-failure topology, kills a CoreDNS replica's node, and shows
//! side by side what a pod sees with today's resolv.conf, with per-replica nameservers, and
//! with the sidecar. `--svg FILE` also writes a chart of every lookup's time. `rollout`
//! instead rolls CoreDNS (every replica replaced at a new address) under each setup.
//! `cluster` runs the dead-replica comparison on the real cluster of hack/cluster.sh.
//! Run through hack/demo.sh (needs root for network namespaces).

mod cluster;

use std::io::Write;
use std::time::Duration;

use dns_sidecar_tests::netns::{self, summarize, Cluster, GetentResult, Summary};
use dns_sidecar_tests::proxy_bin;

struct Setup {
    label: &'static str,
    resolv: String,
    lookups: usize,
    results: Vec<GetentResult>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let svg = args
        .iter()
        .position(|a| a == "--svg")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let bin = std::env::var_os("DNS_SIDECAR_PROXY_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(proxy_bin);
    if args.iter().any(|a| a == "rollout") {
        return rollout(&bin);
    }
    if args.iter().any(|a| a == "cluster") {
        return cluster::run();
    }

    println!("Building the topology: a node doing kube-proxy's DNAT, 2 CoreDNS replicas (NSD), a pod ...");
    let mut c = Cluster::new(2, 2);
    let args = netns::sidecar_args(&c);
    c.start_proxy(&bin, &args);
    c.set_resolv_conf(&netns::sidecar_resolv_conf());
    for i in 0..4 {
        c.getent(&format!("svc{i}"));
    }
    println!("Killing replica 0's node: its packets now vanish (as kube-proxy keeps sending to it for ~40 s).\n");
    c.blackhole(0, true);

    let mut setups = [
        Setup {
            label: "today: kube-dns VIP",
            resolv: netns::cluster_first_resolv_conf(&[netns::VIP.into()]),
            lookups: 4,
            results: vec![],
        },
        Setup {
            label: "per-replica nameservers",
            resolv: netns::cluster_first_resolv_conf(&[
                netns::replica_vip(0).to_string(),
                netns::replica_vip(1).to_string(),
            ]),
            lookups: 4,
            results: vec![],
        },
        Setup {
            label: "dns-sidecar",
            resolv: netns::sidecar_resolv_conf(),
            lookups: 20,
            results: vec![],
        },
    ];
    let mut name = 100;
    for s in &mut setups {
        c.set_resolv_conf(&s.resolv);
        print!("{:<26}", s.label);
        let _ = std::io::stdout().flush();
        for _ in 0..s.lookups {
            name += 1;
            let l = c.getent(&format!("svc{name}"));
            print!(
                " {}",
                if !l.ok {
                    "FAIL".to_string()
                } else {
                    format!("{:.0}ms", ms(l.took))
                }
            );
            let _ = std::io::stdout().flush();
            s.results.push(l);
        }
        println!();
    }

    println!("\n| setup | lookups | failed | median | max |\n| --- | ---: | ---: | ---: | ---: |");
    let sums: Vec<Summary> = setups.iter().map(|s| summarize(&s.results)).collect();
    for (s, m) in setups.iter().zip(&sums) {
        println!(
            "| {} | {} | {} | {:.1} ms | {:.1} ms |",
            s.label,
            m.n,
            m.failures,
            ms(m.median),
            ms(m.max)
        );
    }
    let (vip, side) = (&sums[0], &sums[2]);
    println!(
        "\nVerdict: with a replica's node dead, today's setup took up to {:.1} s per lookup; the sidecar's worst was {:.1} ms ({} failed).",
        vip.max.as_secs_f64(),
        ms(side.max),
        side.failures
    );
    if let Some(path) = svg {
        std::fs::write(&path, chart(&setups)).expect("write the chart");
        println!("Chart: {path}");
    }
}

/// A CoreDNS rolling restart under each setup at once, each in its own cluster: both
/// replicas replaced in turn at new addresses (the old one out of the endpoints, answering
/// for CoreDNS's 5 s lameduck, then gone), while the pod resolves a Service every 50 ms.
fn rollout(bin: &std::path::Path) {
    use netns::Setup;
    println!(
        "Three clusters (kube-proxy's DNAT, 2 CoreDNS replicas as NSD, a pod), one per setup."
    );
    println!("Rolling CoreDNS: each replica replaced by a new pod at a new address, the old one answering 5 s more, then gone ...\n");
    let event = |c: &Cluster| {
        c.roll_out(&[2, 3]);
        std::thread::sleep(Duration::from_secs(2));
    };
    let setups = [
        Setup::Vip,
        Setup::PerReplica,
        Setup::Sidecar { vip_fallback: true },
    ];
    let runs = netns::measure_all(&setups, 4, 2, bin, &event);
    println!("| setup | lookups | failed | over 1 s | median | max |\n| --- | ---: | ---: | ---: | ---: | ---: |");
    for (setup, _, lookups) in &runs {
        let results: Vec<GetentResult> = lookups.iter().map(|t| t.result).collect();
        let m = summarize(&results);
        let slow = results
            .iter()
            .filter(|r| r.took >= Duration::from_secs(1))
            .count();
        println!(
            "| {} | {} | {} | {} | {:.1} ms | {:.1} ms |",
            setup.label(),
            m.n,
            m.failures,
            slow,
            ms(m.median),
            ms(m.max)
        );
    }
    println!("\nLookups that fail or stall under the VIP are flows conntrack still pins to a replica that is gone\n(kubernetes/kubernetes#129617); the sidecar talks to the replicas' pod IPs and follows them.");
}

/// Each lookup's time as a bar, one row per setup (linear, 0 to 6 s).
fn chart(setups: &[Setup]) -> String {
    let (w, row, left) = (760.0, 120.0, 190.0);
    let h = row * setups.len() as f64 + 40.0;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    s.push_str("<text x=\"10\" y=\"20\" font-size=\"14\">Lookup time per query with one CoreDNS replica's node dead (bar height: 0 to 6 s)</text>\n");
    let colors = ["#d62728", "#ff7f0e", "#2ca02c"];
    for (i, st) in setups.iter().enumerate() {
        let y0 = 40.0 + row * i as f64;
        let base = y0 + row - 20.0;
        s.push_str(&format!(
            "<text x=\"10\" y=\"{}\">{}</text>\n",
            base - 40.0,
            st.label
        ));
        let worst = st.results.iter().map(|l| l.took).max().unwrap_or_default();
        s.push_str(&format!(
            "<text x=\"10\" y=\"{}\" fill=\"#555\">max {:.1} ms</text>\n",
            base - 24.0,
            ms(worst)
        ));
        s.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#999\"/>\n",
            w - 10.0
        ));
        let bw = (w - left - 20.0) / 20.0;
        for (j, l) in st.results.iter().enumerate() {
            let hgt = ((l.took.as_secs_f64() / 6.0).min(1.0) * (row - 30.0)).max(1.0);
            let x = left + bw * j as f64 + 2.0;
            let fill = if l.ok { colors[i % 3] } else { "#000" };
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hgt:.1}\" fill=\"{fill}\"><title>{:.1} ms</title></rect>\n",
                base - hgt,
                bw - 4.0,
                ms(l.took)
            ));
        }
    }
    s.push_str("</svg>\n");
    s
}
