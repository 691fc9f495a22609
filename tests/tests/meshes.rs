//! Beside service meshes and Cilium (root: network namespaces, iptables): each project's own
//! rules loaded as its installer renders them, its DNS proxy played by a stand-in that does
//! what its source says (src/bin/mesh_stand_in.rs), our sidecar as the webhook runs it (uid
//! 65532, in the group the webhook gives it), the app as another user. Asserted in counts:
//! the queries the mesh's proxy saw per app lookup (the loop, shown with the group the
//! webhook gave before, and its absence with the one it gives now), where our upstream
//! queries went, and, for Cilium, what its proxy saw and what TTL the app got.

use std::time::Duration;

use dns_sidecar_tests::netns::meshes::{istio_sidecar_rules, linkerd_rules, logged, AMBIENT_RULES};
use dns_sidecar_tests::netns::{self, Cluster, VIP};
use dns_sidecar_tests::proxy_bin;

const AGENT: &str = "127.0.0.1:15053";
/// The group the webhook gives our container: its own, or Istio's proxy group.
const OWN_GID: u32 = 65532;
const ISTIO_GID: u32 = 1337;

fn lookups(c: &Cluster, from: usize, n: usize) -> usize {
    (from..from + n)
        .filter(|i| {
            c.app_dig(
                "127.0.0.1",
                &format!("svc{i}.default.svc.cluster.local"),
                &[],
            )
            .contains("status: NOERROR")
        })
        .count()
}

/// 20 lookups with every replica up, then 6 with every replica (and so the VIP) silent:
/// (answered, agent saw, sidecar saw) for the first part, and what the agent saw in the
/// second.
fn istio(capture_all: bool, gid: u32) -> ((usize, usize, f64), usize) {
    let mut c = Cluster::new(2, 2);
    c.set_resolv_conf(&netns::sidecar_resolv_conf());
    let servers = ["127.0.0.1", VIP];
    c.load_pod_rules(&istio_sidecar_rules((!capture_all).then_some(&servers[..])));
    let pod = c.pod.clone();
    let resolv = format!("/etc/netns/{pod}/resolv.conf");
    let log = c.start_stand_in(
        &pod,
        1337,
        "istio-agent",
        &[
            "--listen".into(),
            AGENT.into(),
            "--resolv-conf".into(),
            resolv,
        ],
    );
    c.start_proxy_as(&proxy_bin(), gid, &netns::sidecar_args(&c));
    let answered = lookups(&c, 0, 20);
    let agent_saw = logged(&log).len();
    let sidecar_saw = dns_sidecar_tests::metric(
        &c.pod_http("/metrics"),
        "dns_sidecar_requests_total{proto=\"udp\",type=\"A\"}",
    );
    c.blackhole(0, true);
    c.blackhole(1, true);
    let before = logged(&log).len();
    // Six lookups at once, each a 5 s dig: the loop, if there is one, runs meanwhile.
    std::thread::scope(|s| {
        for i in 0..6 {
            let c = &c;
            s.spawn(move || {
                c.app_dig(
                    "127.0.0.1",
                    &format!("svc{}.default.svc.cluster.local", 100 + i),
                    &[],
                )
            });
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    (
        (answered, agent_saw, sidecar_saw),
        logged(&log).len() - before,
    )
}

#[test]
fn istio_init_dns_capture_loops_without_the_proxy_group_and_not_with_it() {
    let ((answered, saw, _), down_old) = istio(false, OWN_GID);
    eprintln!("istio-init, gid 65532: {answered}/20 answered, agent saw {saw}; replicas down: 6 lookups, agent saw {down_old}");
    assert_eq!(answered, 20);
    assert_eq!(saw, 20, "every app lookup goes through the agent");
    assert!(
        down_old > 6,
        "the loop: our fallback to the VIP is captured back to the agent ({down_old} for 6)"
    );
    let ((answered, saw, sidecar), down_new) = istio(false, ISTIO_GID);
    eprintln!("istio-init, gid 1337: {answered}/20 answered, agent saw {saw}, sidecar saw {sidecar}; replicas down: agent saw {down_new}");
    assert_eq!(answered, 20);
    assert_eq!(saw, 20);
    assert!(
        sidecar >= 1.0,
        "the agent hands names it does not know to us (about half)"
    );
    assert_eq!(down_new, 6, "no loop: one agent query per app lookup");
}

#[test]
fn istio_cni_captures_every_miss_without_the_proxy_group_and_none_with_it() {
    let ((answered, saw, _), down_old) = istio(true, OWN_GID);
    eprintln!("istio-cni, gid 65532: {answered}/20 answered, agent saw {saw}; replicas down: agent saw {down_old}");
    assert!(
        saw > 20,
        "our queries to the replicas are captured too: {saw} for 20"
    );
    assert!(down_old > 6);
    let ((answered, saw, _), down_new) = istio(true, ISTIO_GID);
    eprintln!("istio-cni, gid 1337: {answered}/20 answered, agent saw {saw}; replicas down: agent saw {down_new}");
    assert_eq!(answered, 20);
    assert_eq!(saw, 20, "one agent query per app lookup");
    assert_eq!(down_new, 6);
}

#[test]
fn with_the_proxy_group_our_queries_reach_the_replicas_we_chose() {
    for gid in [OWN_GID, ISTIO_GID] {
        let mut c = Cluster::new(2, 2);
        c.set_resolv_conf(&netns::sidecar_resolv_conf());
        c.load_pod_rules(&istio_sidecar_rules(None));
        // Counts what leaves the pod for a replica's own address, after Istio's nat rules.
        c.load_pod_rules(
            "*filter\n-A OUTPUT -d 10.244.0.0/24 -p udp --dport 53 -j ACCEPT\nCOMMIT\n",
        );
        let pod = c.pod.clone();
        c.start_stand_in(
            &pod,
            1337,
            "istio-agent",
            &[
                "--listen".into(),
                AGENT.into(),
                "--resolv-conf".into(),
                format!("/etc/netns/{pod}/resolv.conf"),
            ],
        );
        c.start_proxy_as(&proxy_bin(), gid, &netns::sidecar_args(&c));
        lookups(&c, 200, 10);
        let misses =
            dns_sidecar_tests::metric(&c.pod_http("/metrics"), "dns_sidecar_cache_misses_total");
        let direct = c.rule_packets(&pod, "filter", "OUTPUT", "10.244.0.0/24");
        eprintln!("istio-cni, gid {gid}: {misses} misses of ours, {direct} packets to a replica's address");
        if gid == ISTIO_GID {
            assert!(misses >= 1.0, "the agent handed us some of the app's names");
            assert!(
                direct as f64 >= misses,
                "each miss of ours went to a replica we chose"
            );
        } else {
            assert_eq!(
                direct, 0,
                "every query of ours was captured on its way to a replica"
            );
        }
    }
}

#[test]
fn ambient_capture_answers_for_a_dead_replica_and_one_logical_upstream_is_honest() {
    let mut c = Cluster::new(2, 2);
    c.set_resolv_conf(&netns::sidecar_resolv_conf());
    c.load_pod_rules(AMBIENT_RULES);
    let pod = c.pod.clone();
    let log = c.start_stand_in(
        &pod,
        0,
        "ztunnel",
        &[
            "--listen".into(),
            AGENT.into(),
            "--upstream".into(),
            format!("{VIP}:53"),
        ],
    );
    // As before ambient was recognised: per-replica upstreams.
    let h = c.start_proxy_as(&proxy_bin(), OWN_GID, &netns::sidecar_args(&c));
    assert_eq!(
        lookups(&c, 0, 5),
        5,
        "the app reaches us: loopback is not captured"
    );
    assert!(
        logged(&log).len() >= 5,
        "our queries to the replicas all went to ztunnel"
    );
    c.blackhole(0, true);
    assert_eq!(lookups(&c, 10, 10), 10);
    let up0 = format!(
        "dns_sidecar_upstream_up{{upstream=\"{}:53\"}}",
        netns::replica_ip(0)
    );
    assert_eq!(
        dns_sidecar_tests::metric(&c.pod_http("/metrics"), &up0),
        1.0,
        "health blindness: replica 0's node is dead, yet its address still answers"
    );
    c.blackhole(0, false);
    c.kill_proc(h);
    // What the webhook gives an ambient pod: the VIP as one logical upstream.
    let h = c.start_proxy_as(
        &proxy_bin(),
        OWN_GID,
        &[
            format!("--upstream={VIP}"),
            format!("--fallback={VIP}"),
            "--upstream-mode=logical".into(),
        ],
    );
    let before = logged(&log).len();
    for _ in 0..3 {
        let out = c.app_dig("127.0.0.1", "nothere.default.svc.cluster.local", &[]);
        assert!(out.contains("status: NXDOMAIN"), "{out}");
    }
    assert_eq!(
        logged(&log).len() - before,
        1,
        "ztunnel drops the SOA, and the NXDOMAIN is still cached (5 s), not asked thrice"
    );
    c.kill_proc(h);
}

#[test]
fn linkerds_redirect_breaks_our_tcp_unless_port_53_is_skipped() {
    for (skip, works) in [("4567,4568", false), ("4567,4568,53", true)] {
        let mut c = Cluster::new(2, 2);
        c.set_resolv_conf(&netns::sidecar_resolv_conf_with(false));
        c.load_pod_rules(&linkerd_rules(skip));
        let mut args = netns::sidecar_args(&c);
        args.retain(|a| !a.starts_with("--fallback"));
        let udp = args.clone();
        args.push("--upstream-tcp".into());
        let h = c.start_proxy_as(&proxy_bin(), OWN_GID, &args);
        let ok = (0..5)
            .filter(|i| {
                c.app_dig(
                    "127.0.0.1",
                    &format!("svc{}.default.svc.cluster.local", 300 + i),
                    &[],
                )
                .contains("status: NOERROR")
            })
            .count();
        let redirected = c.rule_packets(&c.pod, "nat", "PROXY_INIT_OUTPUT", "redir ports 4140");
        eprintln!("linkerd skip {skip}: {ok}/5 answered over TCP, {redirected} packets redirected to 4140");
        if works {
            assert_eq!(ok, 5);
            assert_eq!(redirected, 0);
        } else {
            assert_eq!(ok, 0, "no linkerd-proxy on 4140 yet: our TCP goes nowhere");
            assert!(redirected >= 1);
        }
        // UDP is never redirected.
        c.kill_proc(h);
        c.start_proxy_as(&proxy_bin(), OWN_GID, &udp);
        let ok = (0..5)
            .filter(|i| {
                c.app_dig(
                    "127.0.0.1",
                    &format!("svc{}.default.svc.cluster.local", 310 + i),
                    &[],
                )
                .contains("status: NOERROR")
            })
            .count();
        assert_eq!(ok, 5, "over UDP");
        assert_eq!(
            c.rule_packets(&c.pod, "nat", "PROXY_INIT_OUTPUT", "redir ports 4140"),
            redirected,
            "no UDP packet was redirected"
        );
    }
}

/// Cilium's DNS proxy played in the node's namespace, behind the TPROXY rule Cilium's
/// datapath makes for traffic its L7 DNS policy selects (here: the pod's port-53 traffic to
/// the replicas' pod IPs). Returns its log.
fn cilium(c: &mut Cluster) -> std::path::PathBuf {
    let node = c.node.clone();
    c.load_node_rules(
        "*mangle\n-A PREROUTING -i pod0 -p udp -d 10.244.0.0/24 --dport 53 -j TPROXY --on-port 10053 --on-ip 127.0.0.1 --tproxy-mark 0x200/0xffffffff\nCOMMIT\n",
    );
    for cmd in [
        &[
            "ip", "-n", &node, "rule", "add", "fwmark", "0x200", "lookup", "100",
        ][..],
        &[
            "ip",
            "-n",
            &node,
            "route",
            "add",
            "local",
            "0.0.0.0/0",
            "dev",
            "lo",
            "table",
            "100",
        ],
    ] {
        let st = std::process::Command::new(cmd[0])
            .args(&cmd[1..])
            .status()
            .unwrap();
        assert!(st.success(), "{cmd:?}");
    }
    c.start_stand_in(
        &node,
        0,
        "cilium-observer",
        &[
            "--listen".into(),
            "127.0.0.1:10053".into(),
            "--refuse".into(),
            "forbidden.default.svc.cluster.local.".into(),
        ],
    )
}

/// The TTL of the first A record in dig's output.
fn ttl_of(dig: &str) -> Option<u32> {
    dig.lines()
        .filter(|l| !l.starts_with(';'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.len() >= 5 && w[2] == "IN" && w[3] == "A")
        .and_then(|w| w[1].parse().ok())
}

#[test]
fn cilium_sees_our_misses_at_the_replica_we_chose_and_ttl_strict_keeps_to_its_ttl() {
    for strict in [false, true] {
        let mut c = Cluster::new(2, 2);
        c.set_resolv_conf(&netns::sidecar_resolv_conf_with(false));
        let log = cilium(&mut c);
        let mut args = netns::sidecar_args(&c);
        if strict {
            args.push("--ttl-strict".into());
        }
        c.start_proxy_as(&proxy_bin(), OWN_GID, &args);
        let name = "svc42.default.svc.cluster.local";
        assert!(c.app_dig("127.0.0.1", name, &[]).contains("NOERROR"));
        let seen = logged(&log);
        let ours: Vec<_> = seen.iter().filter(|l| l.contains("svc42")).collect();
        assert_eq!(ours.len(), 1, "one upstream query: {seen:?}");
        let dst = ours[0].split_whitespace().next().unwrap();
        assert!(
            dst == format!("{}:53", netns::replica_ip(0))
                || dst == format!("{}:53", netns::replica_ip(1)),
            "the proxy forwarded to the replica we chose: {dst}"
        );
        assert!(c.app_dig("127.0.0.1", name, &[]).contains("NOERROR"));
        assert_eq!(
            logged(&log).iter().filter(|l| l.contains("svc42")).count(),
            1,
            "a cache hit never reaches Cilium"
        );
        // A name the policy refuses.
        let refused = c.app_dig("127.0.0.1", "forbidden.default.svc.cluster.local", &[]);
        let asked = logged(&log)
            .iter()
            .filter(|l| l.contains("forbidden"))
            .count();
        let up = |i: usize| {
            dns_sidecar_tests::metric(
                &c.pod_http("/metrics"),
                &format!(
                    "dns_sidecar_upstream_up{{upstream=\"{}:53\"}}",
                    netns::replica_ip(i)
                ),
            )
        };
        eprintln!(
            "strict {strict}: REFUSED name: client got {:?}, Cilium asked {asked} times",
            refused.lines().find(|l| l.contains("status"))
        );
        if strict {
            assert!(
                refused.contains("status: REFUSED"),
                "passed through: {refused}"
            );
            assert_eq!(asked, 1, "not asked of the other replica");
        }
        assert_eq!(up(0) + up(1), 2.0, "REFUSED never marks a replica down");
        // A record with TTL 1: what the app is told, and what it is served later.
        let short = "short3.default.svc.cluster.local";
        let first = c.app_dig("127.0.0.1", short, &[]);
        let cilium_ttl: u32 = logged(&log)
            .iter()
            .find(|l| l.contains("short3"))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|t| t.parse().ok())
            .expect("Cilium saw the answer's TTL");
        let app_ttl = ttl_of(&first).expect("an A record");
        eprintln!("strict {strict}: Cilium saw TTL {cilium_ttl}, the app was told {app_ttl}");
        std::thread::sleep(Duration::from_millis(2100));
        c.app_dig("127.0.0.1", short, &[]);
        let refetched = logged(&log).iter().filter(|l| l.contains("short3")).count();
        if strict {
            assert!(
                app_ttl <= cilium_ttl,
                "never longer than the TTL Cilium saw"
            );
            assert_eq!(
                refetched, 2,
                "past its TTL it is asked again, so Cilium sees it again"
            );
        } else {
            assert!(
                app_ttl > cilium_ttl,
                "--min-ttl raised it: {app_ttl} over {cilium_ttl}"
            );
            assert_eq!(refetched, 1, "served from cache past what Cilium saw");
        }
        // Every replica down, the record expired: stale (TTL 30) by default, never under
        // --ttl-strict.
        let expiring = "short8.default.svc.cluster.local";
        assert!(c.app_dig("127.0.0.1", expiring, &[]).contains("NOERROR"));
        // CoreDNS itself gone (Cilium's proxy forwards from the node, which a dead node's
        // drop rule for pod traffic would not stop).
        c.stop_server(0);
        c.stop_server(1);
        std::thread::sleep(Duration::from_millis(5200));
        let late = c.app_dig("127.0.0.1", expiring, &[]);
        eprintln!(
            "strict {strict}: replicas down, expired name: {:?}",
            late.lines().find(|l| l.contains("status"))
        );
        if strict {
            assert!(!late.contains("status: NOERROR"), "no stale answer: {late}");
        } else {
            assert!(
                late.contains("status: NOERROR") && ttl_of(&late) == Some(30),
                "stale: {late} ttl {:?}",
                ttl_of(&late)
            );
        }
    }
}
