//! Unbound from Debian's packages as the trusted peer: a plain caching forwarder to the
//! same NSD the proxy asks, so both are asked the same questions about the same data.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{dig, free_port, require, wait_until, Proc, TempDir};

pub struct Unbound {
    pub addr: SocketAddr,
    pub proc: Proc,
    _dir: TempDir,
}

impl Unbound {
    /// Starts unbound on a loopback port, forwarding `zone` to `upstream` with no DNSSEC
    /// validation (the iterator module alone) and no QNAME minimisation; waits until
    /// `probe` resolves through it.
    pub fn forwarding(zone: &str, upstream: SocketAddr, probe: &str) -> Unbound {
        let bin = require("unbound", "unbound");
        let dir = TempDir::new("unbound");
        let port = free_port("127.0.0.1");
        let d = dir.0.display();
        let conf = format!(
            "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  \
             username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  \
             use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  num-threads: 1\n  do-ip6: no\n  \
             do-not-query-localhost: no\n  module-config: \"iterator\"\n  \
             qname-minimisation: no\n  access-control: 127.0.0.0/8 allow\n  \
             local-zone: \"{tld}.\" nodefault\n\
             remote-control:\n  control-enable: no\n\
             forward-zone:\n  name: \"{zone}\"\n  forward-addr: {}@{}\n",
            upstream.ip(),
            upstream.port(),
            // RFC 6761's names (test., invalid., ...) are local NXDOMAIN zones by default.
            tld = zone.rsplit('.').next().unwrap_or(zone),
        );
        let path = dir.0.join("unbound.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start unbound");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let u = Unbound {
            addr,
            proc: Proc {
                child,
                name: "unbound".into(),
            },
            _dir: dir,
        };
        wait_until(Duration::from_secs(10), || {
            dig(addr, &[probe]).status == "NOERROR"
        })
        .unwrap_or_else(|| panic!("unbound on {addr} did not answer {probe} within 10 s"));
        u
    }
}
