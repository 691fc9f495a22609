//! Processes this harness starts (ended by PID on drop), temp dirs, free ports, polling.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
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

/// A loopback port free for both UDP and TCP right now, for a server started next.
///
/// Taken below the kernel's ephemeral range, so no client socket (a `dig`, a proxy's
/// upstream query) can be given it between this check and the server's bind; ports
/// handed out in this process are not handed out again. Where the range leaves no room
/// below it, any kernel-chosen port is used.
/// Runs `cmd` with `input` on its stdin; its output once it exits.
pub fn output_with_stdin(cmd: &mut std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    // Dropped after the write, so the child sees the end of its input.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// A UDP address on loopback where nothing listens: the kernel refuses a datagram at once.
pub fn closed_port() -> std::net::SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub fn free_port(ip: &str) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = ephemeral_low().unwrap_or(0);
    let base = 10_000u32;
    if low > base + 1_000 {
        let span = low - base;
        // Test binaries run one at a time; the PID spreads reruns over the span.
        let start = (u64::from(std::process::id()) * 7919 % u64::from(span)) as u32;
        for _ in 0..span {
            let n = NEXT.fetch_add(1, Relaxed);
            let port = (base + (start + n) % span) as u16;
            if port_free(ip, port) {
                return port;
            }
        }
    }
    for _ in 0..100 {
        let udp = UdpSocket::bind(format!("{ip}:0")).expect("bind udp");
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(format!("{ip}:{port}")).is_ok() {
            return port;
        }
    }
    panic!("no free port on {ip}");
}

fn port_free(ip: &str, port: u16) -> bool {
    UdpSocket::bind(format!("{ip}:{port}")).is_ok()
        && std::net::TcpListener::bind(format!("{ip}:{port}")).is_ok()
}

/// The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range).
fn ephemeral_low() -> Option<u32> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    text.split_whitespace().next()?.parse().ok()
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
