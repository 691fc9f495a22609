//! NodeLocal DNSCache on the cluster, as the upstream addon deploys it: the addon's own
//! manifest (`cluster/addons/dns/nodelocaldns/nodelocaldns.yaml` of the k8s.io/kubernetes
//! module the cluster is built from) with its variables filled in as its README says (the
//! link-local 169.254.20.10 and the kube-dns address 10.96.0.10, kube-proxy in iptables
//! mode), its Corefile, its iptables rules, hostNetwork, and `node-cache` built from
//! k8s.io/dns. One change, because this kernel cannot make a dummy interface:
//! `-setupinterface=false`, with the two addresses put on the node's bridge instead.

use std::process::Command;
use std::time::Duration;

use super::Kube;
use crate::{repo_root, wait_until};

pub const LOCAL_IP: &str = "169.254.20.10";
pub const DNS_IP: &str = "10.96.0.10";
/// Where `hack/cluster.sh` puts the node's own address.
const NODE_BRIDGE: &str = "dsc0";

/// The addon's manifest, from the module cache of hack/cluster/go/kubernetes.
fn addon() -> String {
    let out = Command::new("go")
        .args(["list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes"])
        .current_dir(repo_root().join("hack/cluster/go/kubernetes"))
        .output()
        .expect("go list (Go is needed to find the addon's manifest)");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let path = format!("{dir}/cluster/addons/dns/nodelocaldns/nodelocaldns.yaml");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run hack/cluster.sh build)"))
}

/// The manifest as the addon's README has it filled in, with our build's image.
pub fn manifest(image: &str) -> String {
    let m = addon()
        .replace("__PILLAR__DNS__DOMAIN__", "cluster.local")
        .replace("__PILLAR__LOCAL__DNS__", LOCAL_IP)
        .replace("__PILLAR__DNS__SERVER__", DNS_IP);
    let shipped = m
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("image: registry.k8s.io/dns/k8s-dns-node-cache")
        })
        .expect("the addon's node-cache image line")
        .to_string();
    let ours = format!(
        "{}image: {image}\n{}imagePullPolicy: IfNotPresent",
        indent(&shipped),
        indent(&shipped)
    );
    let args = "\"-upstreamsvc\", \"kube-dns-upstream\" ]";
    assert!(m.contains(args), "the addon's args changed");
    m.replace(&shipped, &ours).replace(
        args,
        "\"-upstreamsvc\", \"kube-dns-upstream\", \"-setupinterface=false\" ]",
    )
}

fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

fn ip(args: &[&str]) {
    let _ = Command::new("ip").args(args).status();
}

/// The node-cache image `hack/cluster.sh` builds and loads (named by the commit it pins).
pub fn image() -> String {
    let v = super::cluster_bin("node-cache", "node-cache");
    let dir = v
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    format!("localhost/node-cache:{}", dir.rsplit('-').next().unwrap())
}

impl Kube {
    /// NodeLocal DNSCache installed, Ready, and answering on both its addresses.
    pub fn install_nodelocal(&self) {
        let image = image();
        for a in [LOCAL_IP, DNS_IP] {
            ip(&["addr", "replace", &format!("{a}/32"), "dev", NODE_BRIDGE]);
        }
        self.apply(&manifest(&image));
        self.rollout("kube-system", "daemonset/node-local-dns");
        let dig = crate::require("dig", "bind9-dnsutils");
        wait_until(Duration::from_secs(60), || {
            Command::new(&dig)
                .args([
                    "+short",
                    "+time=1",
                    "+tries=1",
                    &format!("@{LOCAL_IP}"),
                    "kubernetes.default.svc.cluster.local",
                ])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "10.96.0.1")
        })
        .expect("NodeLocal DNSCache does not answer on 169.254.20.10");
        // This node-cache puts its rules in (NOTRACK for the kube-dns address, so it, not
        // kube-proxy, gets the pods' queries) on its first sync, a minute after it starts,
        // unless it is given a pidfile, which the addon does not give it: until then the
        // pods still reach CoreDNS through the VIP.
        wait_until(Duration::from_secs(120), || {
            Command::new("iptables")
                .args(["-t", "raw", "-S", "PREROUTING"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(DNS_IP))
        })
        .expect("NodeLocal DNSCache never put in its NOTRACK rule for the kube-dns address");
    }

    /// NodeLocal DNSCache removed (it takes its iptables rules with it on SIGTERM), and
    /// its addresses off the node's bridge.
    pub fn remove_nodelocal(&self) {
        let _ = self.run(&[
            "-n",
            "kube-system",
            "delete",
            "daemonset/node-local-dns",
            "--ignore-not-found",
            "--wait=true",
        ]);
        let _ = self.run(&[
            "-n",
            "kube-system",
            "delete",
            "service/kube-dns-upstream",
            "service/node-local-dns",
            "configmap/node-local-dns",
            "serviceaccount/node-local-dns",
            "--ignore-not-found",
        ]);
        wait_until(Duration::from_secs(60), || {
            self.pods("kube-system", "k8s-app=node-local-dns")
                .is_empty()
        });
        for a in [LOCAL_IP, DNS_IP] {
            ip(&["addr", "del", &format!("{a}/32"), "dev", NODE_BRIDGE]);
        }
    }
}
