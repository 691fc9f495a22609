//! The binary under test: built once per test process, started on loopback ports of its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use crate::{free_port, http_get, metric, wait_until, Proc, TempDir};

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
                "-p",
                "dns-sidecar-kubectl",
                "--bins",
                "-p",
                "dns-sidecar-tests",
                "--bin",
                "mesh_stand_in",
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

/// A running proxy on loopback ports of its own: in this test process (the default), or
/// the real binary for what only a process has (signals, exit codes).
pub struct Proxy {
    pub dns: SocketAddr,
    pub admin: SocketAddr,
    run: Run,
}

enum Run {
    Binary(Proc),
    InProcess {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl Proxy {
    /// Starts the proxy in this process with `--upstream upstream` and `extra` flags.
    pub fn for_upstream(upstream: SocketAddr, extra: &[&str]) -> Proxy {
        let mut args = vec!["--upstream".to_string(), upstream.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Proxy::start(&args)
    }

    /// A pod's sidecar as the debugging tests find it: `nsd` and `dead` (where nothing
    /// listens) as its replicas, query names kept, a 500 ms query budget, and the resolv.conf
    /// of a pod in namespace `shop` (search `shop.svc.cluster.local example.test`, ndots 5)
    /// written into `dir`.
    pub fn for_debugging(nsd: SocketAddr, dead: SocketAddr, dir: &TempDir) -> Proxy {
        let rc = dir.0.join("resolv.conf");
        std::fs::write(
            &rc,
            "nameserver 127.0.0.1\nsearch shop.svc.cluster.local example.test\noptions ndots:5\n",
        )
        .unwrap();
        Proxy::for_upstream(
            nsd,
            &[
                "--upstream",
                &dead.to_string(),
                "--debug-names=true",
                "--resolv-conf",
                &rc.display().to_string(),
                "--query-timeout",
                "500ms",
            ],
        )
    }

    /// Starts the proxy in this process with `args` after `--listen 127.0.0.1:0 --admin
    /// 127.0.0.1:0 --drain 0s`, as the binary would parse them; it stops when dropped.
    pub fn start(args: &[String]) -> Proxy {
        use clap::Parser;
        use dns_sidecar_proxy::config::{Args, Config};
        let argv = [
            "dns-sidecar-proxy",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--drain",
            "0s",
        ]
        .into_iter()
        .map(String::from)
        .chain(args.iter().cloned());
        let args = Args::try_parse_from(argv).unwrap_or_else(|e| panic!("proxy flags: {e}"));
        let cfg = Config::from_args(args, None).unwrap_or_else(|e| panic!("proxy config: {e}"));
        let (addrs_tx, addrs_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the proxy");
            rt.block_on(async move {
                let bound = dns_sidecar_proxy::app::bind(cfg)
                    .await
                    .expect("proxy binds");
                addrs_tx.send((bound.dns[0], bound.admin_addr)).unwrap();
                let shutdown = async {
                    let _ = stopped.await;
                };
                dns_sidecar_proxy::app::serve(bound, shutdown)
                    .await
                    .expect("proxy serves");
            });
        });
        let (dns, admin) = addrs_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the in-process proxy did not bind within 10 s");
        let p = Proxy {
            dns,
            admin,
            run: Run::InProcess {
                stop: Some(stop),
                thread: Some(thread),
            },
        };
        p.wait_healthy();
        p
    }

    /// Starts the real binary with `args` added to its listen/admin flags.
    pub fn start_binary(args: &[String]) -> Proxy {
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
        let p = Proxy {
            dns,
            admin,
            run: Run::Binary(proc),
        };
        p.wait_healthy();
        p
    }

    /// The process of a proxy started with `start_binary`.
    pub fn proc(&mut self) -> &mut Proc {
        match &mut self.run {
            Run::Binary(p) => p,
            Run::InProcess { .. } => panic!("an in-process proxy has no process: use start_binary"),
        }
    }

    fn wait_healthy(&self) {
        let admin = self.admin;
        wait_until(Duration::from_secs(10), || {
            http_get(admin, "/healthz").0 == 200
        })
        .expect("proxy /healthz did not answer within 10 s");
    }

    pub fn metrics(&self) -> String {
        http_get(self.admin, "/metrics").1
    }

    /// The value of one metric line (name with labels), 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        metric(&self.metrics(), series)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Run::InProcess { stop, thread } = &mut self.run {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}
