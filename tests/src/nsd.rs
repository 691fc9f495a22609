//! NSD from Debian's packages: the CoreDNS stand-in, serving zones on a loopback address.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{dig, free_port, repo_root, require, wait_until, Proc, TempDir};

/// NSD serving zones on a loopback address: the stand-in for a CoreDNS replica.
pub struct Nsd {
    pub addr: SocketAddr,
    pub proc: Proc,
    _dir: TempDir,
}

/// The test zone (tests/zones/test.zone) for `origin`.
pub fn test_zone(origin: &str) -> String {
    let path = repo_root().join("tests/zones/test.zone");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("$ORIGIN {origin}.\n{text}")
}

impl Nsd {
    /// Starts NSD on `ip` with the test zone for each origin; waits until it answers.
    pub fn start(ip: &str, origins: &[&str]) -> Nsd {
        let zones: Vec<(String, String)> = origins
            .iter()
            .map(|o| (o.to_string(), test_zone(o)))
            .collect();
        Nsd::start_zones(ip, &zones, &format!("www.{}", origins[0]))
    }

    /// Starts NSD on `ip` with a zone file of `tests/zones/`; waits until `probe` answers.
    pub fn start_zone_file(ip: &str, origin: &str, file: &str, probe: &str) -> Nsd {
        let path = repo_root().join("tests/zones").join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Nsd::start_zones(ip, &[(origin.to_string(), text)], probe)
    }

    /// Starts NSD on `ip` serving (origin, zone text) pairs; waits until `probe` answers.
    pub fn start_zones(ip: &str, zones: &[(String, String)], probe: &str) -> Nsd {
        let nsd = require("nsd", "nsd");
        let dir = TempDir::new("nsd");
        let port = free_port(ip);
        let d = dir.0.display();
        // RRL off: NSD drops UDP answers past 200/s per name by default; CoreDNS does not.
        let mut conf = format!(
            "server:\n  ip-address: {ip}@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
             zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
             zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  verbosity: 0\n  \
             tcp-count: 64\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\nremote-control:\n  control-enable: no\n"
        );
        for (o, text) in zones {
            std::fs::write(dir.0.join(format!("{o}.zone")), text).unwrap();
            conf.push_str(&format!("zone:\n  name: {o}\n  zonefile: {o}.zone\n"));
        }
        let conf_path = dir.0.join("nsd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(nsd)
            .args(["-d", "-c"])
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nsd");
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        let nsd = Nsd {
            addr,
            proc: Proc {
                child,
                name: "nsd".into(),
            },
            _dir: dir,
        };
        wait_until(Duration::from_secs(10), || {
            dig(addr, &[probe]).status == "NOERROR"
        })
        .unwrap_or_else(|| panic!("nsd on {addr} did not answer within 10 s"));
        nsd
    }
}
