//! A pod beside a mesh or Cilium, in the namespaces of a `Cluster`: each project's own
//! rules loaded into the pod's (or the node's) namespace with iptables-restore, its DNS
//! proxy's stand-in (`src/bin/mesh_stand_in.rs`) as the user it runs as there, our sidecar
//! as the webhook runs it (uid 65532, and the group the webhook gives it), and the app as
//! another user. Counts come from the stand-ins' logs and the rules' packet counters.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;
use crate::{built_bin, output_with_stdin, wait_until, Proc};

/// The uid and gid an app container runs as here.
pub const APP_UID: u32 = 1000;

impl Cluster {
    /// Loads `rules` (iptables-restore syntax) into the pod's namespace, added to what is
    /// there.
    pub fn load_pod_rules(&self, rules: &str) {
        self.load_rules(&self.pod.clone(), rules);
    }

    /// Loads `rules` into the node's namespace.
    pub fn load_node_rules(&self, rules: &str) {
        self.load_rules(&self.node.clone(), rules);
    }

    fn load_rules(&self, ns: &str, rules: &str) {
        crate::require("iptables-restore", "iptables");
        let out = output_with_stdin(
            Command::new("ip").args(["netns", "exec", ns, "iptables-restore", "--noflush"]),
            rules,
        );
        assert!(
            out.status.success(),
            "iptables-restore in {ns}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Lets non-root processes of the pod bind port 53, as the webhook's sysctl does.
    pub fn allow_low_ports(&self) {
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.pod,
            "sysctl",
            "-qw",
            "net.ipv4.ip_unprivileged_port_start=53",
        ]);
    }

    /// Starts `cmd` in namespace `ns` as `uid`:`gid` (no other groups), stdout to null.
    pub fn spawn_as(&mut self, ns: &str, uid: u32, gid: u32, cmd: &[String], name: &str) -> usize {
        crate::require("setpriv", "util-linux");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "setpriv"])
            .args([
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".into(),
                "--".into(),
            ])
            .args(cmd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.procs.push(Proc {
            child,
            name: name.into(),
        });
        self.procs.len() - 1
    }

    /// Our sidecar in the pod on 127.0.0.1:53 (admin 127.0.0.1:9953) as uid 65532 and
    /// group `gid`, with `args`; waits until it is ready.
    pub fn start_proxy_as(&mut self, bin: &Path, gid: u32, args: &[String]) -> usize {
        self.allow_low_ports();
        let mut cmd = vec![
            bin.display().to_string(),
            "--listen=127.0.0.1:53".into(),
            "--admin=127.0.0.1:9953".into(),
            "--log-level=error".into(),
            "--drain=0s".into(),
        ];
        cmd.extend(args.iter().cloned());
        let pod = self.pod.clone();
        let h = self.spawn_as(&pod, 65532, gid, &cmd, "dns-sidecar-proxy");
        wait_until(Duration::from_secs(10), || {
            self.pod_http("/readyz").starts_with("ready")
        })
        .unwrap_or_else(|| panic!("the sidecar in {pod} (gid {gid}) is not ready"));
        h
    }

    /// A stand-in (`mesh_stand_in MODE ARGS`) in `ns` as `uid`, logging to a fresh file;
    /// returns that file, once the stand-in listens on its `--listen` port (UDP).
    pub fn start_stand_in(&mut self, ns: &str, uid: u32, mode: &str, args: &[String]) -> PathBuf {
        let log = self.dir.0.join(format!("{mode}-{}.log", self.procs.len()));
        std::fs::write(&log, "").unwrap();
        // Written by the stand-in as its own user.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut cmd = vec![
            built_bin("mesh_stand_in").display().to_string(),
            mode.to_string(),
            "--log".into(),
            log.display().to_string(),
        ];
        cmd.extend(args.iter().cloned());
        self.spawn_as(ns, uid, uid, &cmd, mode);
        let listen = args
            .iter()
            .position(|a| a == "--listen")
            .and_then(|i| args.get(i + 1))
            .expect("--listen")
            .clone();
        let port = listen.rsplit(':').next().unwrap().to_string();
        let ns = ns.to_string();
        wait_until(Duration::from_secs(10), || {
            let out = Command::new("ip")
                .args(["netns", "exec", &ns, "ss", "-lunH"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                .unwrap_or_default();
            out.contains(&format!(":{port} "))
        })
        .unwrap_or_else(|| panic!("{mode} does not listen on {listen}"));
        log
    }

    /// One lookup by the app (`dig`, uid `APP_UID`) of `name` at `server`; its status.
    pub fn app_dig(&self, server: &str, name: &str, extra: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.pod, "setpriv"])
            .args([
                &format!("--reuid={APP_UID}"),
                &format!("--regid={APP_UID}"),
                "--clear-groups",
                "--",
                "dig",
                &format!("@{server}"),
                "+time=5",
                "+tries=1",
                "+noall",
                "+comments",
                "+answer",
            ])
            .args(extra)
            .arg(name)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Packets a rule of `chain` in `table` of the pod's namespace counted, the first
    /// rule whose listing contains `needle`.
    pub fn rule_packets(&self, ns: &str, table: &str, chain: &str, needle: &str) -> u64 {
        let out = sh(&[
            "ip", "netns", "exec", ns, "iptables", "-t", table, "-L", chain, "-v", "-x", "-n",
        ]);
        out.lines()
            .skip(2)
            .find(|l| l.contains(needle))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// Lines in a stand-in's log: queries it received.
pub fn logged(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Istio's nat and raw rules for sidecar mode with DNS capture, as istio-iptables renders
/// them (`tools/istio-iptables/pkg/capture/run.go`; the golden `dns-uid-gid.golden`):
/// `servers` are the resolv.conf nameservers istio-init captures, or None for istio-cni,
/// whose capture has no destination match.
pub fn istio_sidecar_rules(servers: Option<&[&str]>) -> String {
    let mut nat = String::from(
        "*nat\n:ISTIO_REDIRECT - [0:0]\n:ISTIO_IN_REDIRECT - [0:0]\n:ISTIO_OUTPUT - [0:0]\n:ISTIO_OUTPUT_DNS - [0:0]\n\
         -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n\
         -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n\
         -A OUTPUT -j ISTIO_OUTPUT\n\
         -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN\n\
         -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT\n\
         -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 1337 -j RETURN\n\
         -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n\
         -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT\n\
         -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1337 -j RETURN\n\
         -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN\n\
         -A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS\n",
    );
    let mut raw = String::from(
        "*raw\n:ISTIO_OUTPUT_DNS - [0:0]\n:ISTIO_INBOUND - [0:0]\n\
         -A OUTPUT -j ISTIO_OUTPUT_DNS\n\
         -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 1337 -j CT --zone 1\n\
         -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 1337 -j CT --zone 2\n\
         -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1337 -j CT --zone 1\n\
         -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1337 -j CT --zone 2\n\
         -A PREROUTING -j ISTIO_INBOUND\n",
    );
    match servers {
        Some(list) => {
            for s in list {
                nat.push_str(&format!(
                    "-A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d {s}/32 -j REDIRECT --to-ports 15053\n"
                ));
            }
            for s in list {
                nat.push_str(&format!(
                    "-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d {s}/32 -j REDIRECT --to-port 15053\n"
                ));
                raw.push_str(&format!(
                    "-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d {s}/32 -j CT --zone 2\n\
                     -A ISTIO_INBOUND -p udp --sport 53 -s {s}/32 -j CT --zone 1\n"
                ));
            }
        }
        None => {
            nat.push_str(
                "-A ISTIO_OUTPUT_DNS -p tcp --dport 53 -j REDIRECT --to-ports 15053\n\
                 -A ISTIO_OUTPUT_DNS -p udp --dport 53 -j REDIRECT --to-port 15053\n",
            );
            raw.push_str(
                "-A ISTIO_OUTPUT_DNS -p udp --dport 53 -j CT --zone 2\n\
                 -A ISTIO_INBOUND -p udp --sport 53 -j CT --zone 1\n",
            );
        }
    }
    nat.push_str(
        "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n-A ISTIO_OUTPUT -j ISTIO_REDIRECT\nCOMMIT\n",
    );
    raw.push_str("COMMIT\n");
    nat + &raw
}

/// istio-cni's in-pod rules for ambient (`cni/pkg/iptables/iptables.go`, `AppendInpodRules`;
/// the golden `default.golden`): port 53 leaving the pod, unless marked 0x539 (ztunnel's
/// own sockets), to ztunnel on 15053.
pub const AMBIENT_RULES: &str = "*nat\n:ISTIO_OUTPUT - [0:0]\n\
-A OUTPUT -j ISTIO_OUTPUT\n\
-A ISTIO_OUTPUT ! -o lo -p udp -m mark ! --mark 0x539/0xfff -m udp --dport 53 -j REDIRECT --to-port 15053\n\
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp --dport 53 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15053\n\
-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT\n\
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ACCEPT\n\
COMMIT\n\
*raw\n:ISTIO_OUTPUT - [0:0]\n:ISTIO_PRERT - [0:0]\n\
-A OUTPUT -j ISTIO_OUTPUT\n\
-A PREROUTING -j ISTIO_PRERT\n\
-A ISTIO_OUTPUT -p udp -m mark --mark 0x539/0xfff -m udp --dport 53 -j CT --zone 1\n\
-A ISTIO_PRERT -p udp -m mark ! --mark 0x539/0xfff -m udp --sport 53 -j CT --zone 1\n\
COMMIT\n";

/// linkerd2-proxy-init's outbound rules (`pkg/iptables/iptables.go`): TCP redirected to
/// linkerd-proxy's outbound port 4140, unless from its uid (2102), on loopback, or to a
/// skipped port.
pub fn linkerd_rules(skip: &str) -> String {
    format!(
        "*nat\n:PROXY_INIT_OUTPUT - [0:0]\n\
         -A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 -j RETURN\n\
         -A PROXY_INIT_OUTPUT -o lo -j RETURN\n\
         -A PROXY_INIT_OUTPUT -p tcp -m multiport --dports {skip} -j RETURN\n\
         -A PROXY_INIT_OUTPUT -p tcp -j REDIRECT --to-port 4140\n\
         -A OUTPUT -j PROXY_INIT_OUTPUT\n\
         COMMIT\n"
    )
}
