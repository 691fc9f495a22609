//! A replica's node dying, as the network sees it: every packet to or from one pod IP
//! dropped at the node (bridged pod-to-pod traffic passes the IPv4 forward hook, since
//! br_netfilter is on; the node's own probes pass output and input). The table is the
//! test's own and goes when the handle drops.

use std::process::Command;

use crate::output_with_stdin;

pub struct Dropped {
    table: String,
}

impl Dropped {
    pub fn pod_ip(ip: &str) -> Dropped {
        let table = format!("dsc_test_drop_{}", ip.replace('.', "_"));
        let rules = format!(
            "table ip {table} {{\n\
             chain forward {{ type filter hook forward priority -200; policy accept;\n\
             ip saddr {ip} counter drop\n ip daddr {ip} counter drop\n }}\n\
             chain output {{ type filter hook output priority -200; policy accept;\n ip daddr {ip} counter drop\n }}\n\
             chain input {{ type filter hook input priority -200; policy accept;\n ip saddr {ip} counter drop\n }}\n\
             }}\n"
        );
        let out = output_with_stdin(Command::new("nft").args(["-f", "-"]), &rules);
        assert!(
            out.status.success(),
            "nft could not drop {ip}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Dropped { table }
    }

    /// Packets dropped so far (both directions, every hook).
    pub fn dropped(&self) -> u64 {
        let out = Command::new("nft")
            .args(["list", "table", "ip", &self.table])
            .output()
            .expect("nft");
        String::from_utf8_lossy(&out.stdout)
            .split("packets ")
            .skip(1)
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }
}

impl Drop for Dropped {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.table])
            .status();
    }
}
