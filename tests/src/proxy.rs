//! The binary under test: built once per test process, started on loopback ports of its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use crate::{free_port, http_get, metric, wait_until, Proc};

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
