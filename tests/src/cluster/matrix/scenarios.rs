//! What happens to the cluster while an app resolves: nothing; a CoreDNS replica's node
//! dies (its pod's packets dropped at the node); a CoreDNS rolling restart; the node cache
//! OOM-killed (SIGKILL) and then rolled; 5% of the node's DNS packets lost (nft `numgen
//! random`: there is no netem here); the app's pods restarted (cold caches), with a
//! replica's node dead from before, or with CoreDNS CPU-limited and overloaded twice over by
//! a neighbour (`neighbour`). Each starts a few seconds into the run (or before the app's
//! pods do) and is undone before the next.

use std::process::Command;
use std::time::Duration;

use super::super::fault::Dropped;
use super::super::Kube;
use super::neighbour::{self, Neighbour};
use super::setups::{NodeCache, Setup};
use crate::{output_with_stdin, wait_until};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Steady,
    ReplicaDies,
    Rollout,
    NodeCacheKilled,
    Loss5,
    /// The app's pods restarted at once (cold caches), lookups from their start.
    Cold,
    /// A replica's node dead before the app's pods start (nothing seen fail yet).
    DeadAtStart,
    /// CoreDNS CPU-limited and offered twice what it answers by a neighbour, from before
    /// the app's pods start (their first lookups are misses in the overload).
    Overload,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::Steady,
        Scenario::ReplicaDies,
        Scenario::Rollout,
        Scenario::NodeCacheKilled,
        Scenario::Loss5,
        Scenario::Cold,
        Scenario::DeadAtStart,
        Scenario::Overload,
    ];

    /// Made before the app's pods are restarted, its lookups timed from their start.
    pub fn before_start(self) -> bool {
        matches!(
            self,
            Scenario::Cold | Scenario::DeadAtStart | Scenario::Overload
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::ReplicaDies => "replica-dies",
            Scenario::Rollout => "rollout",
            Scenario::NodeCacheKilled => "node-cache-killed",
            Scenario::Loss5 => "loss-5",
            Scenario::Cold => "cold",
            Scenario::DeadAtStart => "dead-at-start",
            Scenario::Overload => "overload-2x",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Scenario::Steady => "Steady: nothing happens",
            Scenario::ReplicaDies => {
                "A CoreDNS replica's node dies (its pod's packets dropped at the node)"
            }
            Scenario::Rollout => "kubectl -n kube-system rollout restart deployment coredns",
            Scenario::NodeCacheKilled => {
                "The node cache SIGKILLed (as the OOM killer does), restarted, then rolled"
            }
            Scenario::Loss5 => "5% of the node's DNS packets lost (nft numgen random)",
            Scenario::Cold => "Every app pod restarted at once: cold caches",
            Scenario::DeadAtStart => {
                "A replica's node dead before the app's pods start (nothing seen fail yet)"
            }
            Scenario::Overload => {
                "CoreDNS limited to 50m a replica and a neighbour offering it twice what it answers, from before the app's pods start (CoreDNS's columns count the neighbour's questions too)"
            }
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }

    /// A setup without a node cache has none to kill; per-replica nameservers name
    /// Services of a StatefulSet's pods, which kubeadm's Deployment rollout does not give.
    pub fn applies_to(self, s: Setup) -> bool {
        match self {
            Scenario::NodeCacheKilled => s.node_cache().is_some(),
            Scenario::Rollout => s != Setup::PerReplica,
            _ => true,
        }
    }
}

/// A fault in force; `end` undoes it and waits for the cluster to settle.
pub enum Fault {
    None,
    Dropped(Dropped),
    Loss(String),
    Overload(Box<Neighbour>),
}

/// Starts `sc` for an app of `setup`; returns what `end` must undo.
pub fn start(k: &Kube, sc: Scenario, setup: Setup) -> Fault {
    match sc {
        Scenario::Steady | Scenario::Cold => Fault::None,
        Scenario::ReplicaDies | Scenario::DeadAtStart => {
            Fault::Dropped(Dropped::pod_ip(&k.coredns_ips()[0]))
        }
        Scenario::Rollout => {
            k.ok(&[
                "-n",
                "kube-system",
                "rollout",
                "restart",
                "deployment/coredns",
            ]);
            Fault::None
        }
        Scenario::NodeCacheKilled => {
            let (ns, selector, container) = match setup.node_cache().expect("a node cache") {
                NodeCache::NodeLocal => ("kube-system", "k8s-app=node-local-dns", "node-cache"),
                NodeCache::Ours => (
                    "dns-sidecar-node",
                    "app.kubernetes.io/name=dns-sidecar-node-cache",
                    "node-cache",
                ),
            };
            let (pod, _) = k.pods(ns, selector)[0].clone();
            let pid = k.container_pid(ns, &pod, container);
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            Fault::None
        }
        Scenario::Overload => {
            let n = neighbour::start(k);
            // The limit rolled CoreDNS: per-replica Services follow its new pods.
            setup.refresh(k);
            Fault::Overload(Box::new(n))
        }
        Scenario::Loss5 => {
            let table = "dsc_test_loss".to_string();
            let rules = format!(
                "table inet {table} {{\n chain forward {{ type filter hook forward priority -200; policy accept;\n  meta l4proto {{ udp, tcp }} th dport 53 numgen random mod 100 < 5 counter drop\n  meta l4proto {{ udp, tcp }} th sport 53 numgen random mod 100 < 5 counter drop\n }}\n \
                 chain output {{ type filter hook output priority -200; policy accept;\n  meta l4proto {{ udp, tcp }} th dport 53 numgen random mod 100 < 5 counter drop\n  meta l4proto {{ udp, tcp }} th sport 53 numgen random mod 100 < 5 counter drop\n }}\n}}\n"
            );
            let out = output_with_stdin(Command::new("nft").args(["-f", "-"]), &rules);
            assert!(
                out.status.success(),
                "nft: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Fault::Loss(table)
        }
    }
}

/// The second half of a scenario, `mid` seconds in: the node cache is rolled after its kill.
pub fn midway(k: &Kube, sc: Scenario, setup: Setup) {
    if sc == Scenario::NodeCacheKilled {
        let (ns, ds) = match setup.node_cache().expect("a node cache") {
            NodeCache::NodeLocal => ("kube-system", "daemonset/node-local-dns"),
            NodeCache::Ours => ("dns-sidecar-node", "daemonset/dns-sidecar-node-cache"),
        };
        k.ok(&["-n", ns, "rollout", "restart", ds]);
    }
}

/// Undoes the fault and waits until CoreDNS and the node caches are whole again.
pub fn end(k: &Kube, f: Fault) {
    match f {
        Fault::None => {}
        Fault::Dropped(d) => drop(d),
        Fault::Overload(n) => {
            let rate = n.rate;
            let got = n.stop(k);
            eprintln!("the neighbour offered {rate:.0} q/s: {got:?}");
        }
        Fault::Loss(table) => {
            let _ = Command::new("nft")
                .args(["delete", "table", "inet", &table])
                .status();
        }
    }
    k.rollout("kube-system", "deployment/coredns");
    wait_until(Duration::from_secs(180), || {
        let v = k.json(&["-n", "kube-system", "get", "deployment", "coredns"]);
        v["status"]["readyReplicas"] == 2 && v["status"]["replicas"] == 2
    })
    .expect("CoreDNS not back to 2 ready replicas");
}
