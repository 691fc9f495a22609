//! Harness for the whole-system tests: the real `dns-sidecar-proxy` binary, a real NSD from
//! Debian's packages as the CoreDNS stand-in, `dig` as the client, and in-process fake
//! upstreams for the faults a real server cannot produce. Every process started here is
//! ended by its PID when its handle drops. A missing tool fails the test with what to install.

pub mod ask;
pub mod fake;
pub mod lossy;
pub mod netns;
pub mod unbound;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Fails with a clear message when a tool the test needs is not installed.
pub fn require(tool: &str, package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"]);
    for dir in dirs.filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("`{tool}` is not installed: run hack/test.sh, or `apt-get install {package}`");
}

/// A loopback port free for both UDP and TCP right now.
pub fn free_port(ip: &str) -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind(format!("{ip}:0")).expect("bind udp");
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(format!("{ip}:{port}")).is_ok() {
            return port;
        }
    }
    panic!("no free port on {ip}");
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("dns-sidecar-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process ended (SIGKILL, by PID) when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Sends a signal to this process only.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status();
    }
    /// Waits for exit up to `limit`; returns the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// NSD serving zones on a loopback address: the stand-in for a CoreDNS replica.
pub struct Nsd {
    pub addr: SocketAddr,
    pub proc: Proc,
    _dir: TempDir,
}

/// The test zone: Service-like names, a CNAME chain, a big TXT set that needs TCP.
pub fn test_zone(origin: &str) -> String {
    let mut z = format!(
        "$ORIGIN {origin}.\n$TTL 300\n\
         @ IN SOA ns1 hostmaster 1 3600 600 86400 30\n\
         @ IN NS ns1\nns1 IN A 127.0.0.1\n\
         www IN A 192.0.2.1\nwww IN AAAA 2001:db8::1\n\
         alias IN CNAME www\n\
         short 1 IN A 192.0.2.9\n\
         mail IN MX 10 www\n\
         multi IN A 192.0.2.11\nmulti IN A 192.0.2.12\nmulti IN A 192.0.2.13\n\
         text IN TXT \"hello world\"\n"
    );
    for i in 0..30 {
        z.push_str(&format!("big IN TXT \"{i:02}-{}\"\n", "x".repeat(120)));
    }
    for i in 0..200 {
        z.push_str(&format!("n{i} IN A 198.51.100.{}\n", i % 250));
    }
    z
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
        let mut conf = format!(
            "server:\n  ip-address: {ip}@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
             zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
             zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  verbosity: 0\n  \
             tcp-count: 64\nremote-control:\n  control-enable: no\n"
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

/// Polls `f` every 20 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<()> {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return Some(());
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A workspace binary, built (debug) once per test process with the cargo running the tests.
pub fn built_bin(package: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    BUILD.call_once(|| {
        let st = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "dns-sidecar-proxy",
                "-p",
                "dns-sidecar-webhook",
                "--bins",
            ])
            .current_dir(&root)
            .status()
            .expect("run cargo build");
        assert!(st.success(), "building the binaries failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("debug").join(package)
}

/// The proxy binary.
pub fn proxy_bin() -> PathBuf {
    built_bin("dns-sidecar-proxy")
}

/// The repository root (for hack/ scripts and ../shared fixtures).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A running proxy on loopback ports of its own.
pub struct Proxy {
    pub dns: SocketAddr,
    pub admin: SocketAddr,
    pub proc: Proc,
}

impl Proxy {
    /// Starts the proxy with `args` added to its listen/admin flags; waits for /healthz.
    pub fn start(args: &[String]) -> Proxy {
        let dns: SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
            .parse()
            .unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
            .parse()
            .unwrap();
        let child = Command::new(proxy_bin())
            .arg("--listen")
            .arg(dns.to_string())
            .arg("--admin")
            .arg(admin.to_string())
            .args(args)
            .env("DNS_SIDECAR_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dns-sidecar-proxy");
        let proc = Proc {
            child,
            name: "dns-sidecar-proxy".into(),
        };
        let p = Proxy { dns, admin, proc };
        wait_until(Duration::from_secs(10), || {
            http_get(admin, "/healthz").0 == 200
        })
        .expect("proxy /healthz did not answer within 10 s");
        p
    }

    pub fn metrics(&self) -> String {
        http_get(self.admin, "/metrics").1
    }

    /// The value of one metric line (name with labels), 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        metric(&self.metrics(), series)
    }
}

pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// Minimal HTTP/1.0 GET; returns (status, body), (0, "") if nothing answers.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// What `dig` printed, parsed.
#[derive(Debug, Clone, Default)]
pub struct Dig {
    pub status: String,
    pub flags: Vec<String>,
    /// (name, ttl, type, data) of the answer section.
    pub answers: Vec<(String, u32, String, String)>,
    pub authority: Vec<(String, u32, String, String)>,
    pub took: Duration,
    pub raw: String,
}

impl Dig {
    /// Answer records' (type, data), sorted, for comparing two servers.
    pub fn rrset(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self
            .answers
            .iter()
            .map(|a| (a.2.clone(), a.3.clone()))
            .collect();
        v.sort();
        v
    }
}

/// Runs `dig @server -p port ARGS` with one try and a 3 s timeout.
pub fn dig(server: SocketAddr, args: &[&str]) -> Dig {
    let dig = require("dig", "bind9-dnsutils");
    let start = Instant::now();
    let out = Command::new(dig)
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args([
            "+tries=1",
            "+time=3",
            "+nocookie",
            "+noall",
            "+comments",
            "+answer",
            "+authority",
        ])
        .args(args)
        .output()
        .expect("run dig");
    let took = start.elapsed();
    let raw = String::from_utf8_lossy(&out.stdout).to_string();
    let mut d = Dig {
        took,
        raw: raw.clone(),
        ..Dig::default()
    };
    let mut section = "";
    for line in raw.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap_or("").to_string();
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            d.flags = rest
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect();
        } else if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";;") || line.trim().is_empty() {
            if line.trim().is_empty() {
                section = "";
            }
        } else if !line.starts_with(';') {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 5 {
                let rr = (
                    f[0].to_string(),
                    f[1].parse().unwrap_or(0),
                    f[3].to_string(),
                    f[4..].join(" "),
                );
                match section {
                    "answer" => d.answers.push(rr),
                    "authority" => d.authority.push(rr),
                    _ => {}
                }
            }
        }
    }
    if d.status.is_empty() {
        d.status = if raw.contains("timed out") || raw.contains("no servers") {
            "TIMEOUT".into()
        } else {
            "NONE".into()
        };
    }
    d
}
