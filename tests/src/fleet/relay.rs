//! What stands in front of each CoreDNS stand-in (NSD on the replica's loopback): a relay on
//! the replica's address that passes queries to NSD and answers back, and does to them what
//! an overloaded or dead CoreDNS does, which NSD cannot be told to: drop what exceeds a
//! capacity (a full socket buffer), answer late from a queue of bounded wait (a busy
//! process), or drop everything (a dead node). It counts what it receives, per second and by
//! kind (client questions, discovery lookups, health probes), and, while asked to, per
//! source address and name.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::DISCOVERY_NAME;

/// What the replica does to the queries it gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Answers everything.
    None,
    /// Answers at most this many a second (a token bucket holding a tenth of a second's
    /// worth); the rest is dropped.
    Capacity(u32),
    /// Answers this many a second in arrival order, each after the wait its place in the
    /// queue gives it; a query that would wait longer than `max_wait` is dropped.
    Queue { rate: u32, max_wait: Duration },
    /// Its node died: nothing is answered.
    Dead,
}

/// Kinds of query, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client = 0,
    Discovery = 1,
    Probe = 2,
}

/// Per second since the relay started: queries by kind, and those dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    pub by_kind: [u64; 3],
    pub dropped: u64,
}

impl Second {
    pub fn total(&self) -> u64 {
        self.by_kind.iter().sum()
    }
}

#[derive(Default)]
struct Counts {
    seconds: Vec<Second>,
    /// (source, lowercased name) → queries, while `track` is on.
    by_source: HashMap<(Ipv4Addr, String), u32>,
    track: bool,
}

struct Shared {
    fault: Mutex<Fault>,
    counts: Mutex<Counts>,
    started: Instant,
    /// Token bucket (Capacity) or the queue's next free slot (Queue).
    tokens: Mutex<(f64, Instant)>,
    next_free: Mutex<Instant>,
}

pub struct Relay {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The question's name, lowercased, with its trailing dot, and whether it is the root.
fn qname(q: &[u8]) -> Option<String> {
    let mut i = 12;
    let mut name = String::new();
    loop {
        let len = *q.get(i)? as usize;
        if len == 0 {
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        let label = q.get(i + 1..i + 1 + len)?;
        name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
        name.push('.');
        i += 1 + len;
    }
    if name.is_empty() {
        name.push('.');
    }
    Some(name)
}

fn kind(name: &str) -> Kind {
    if name == "." {
        Kind::Probe
    } else if name == DISCOVERY_NAME {
        Kind::Discovery
    } else {
        Kind::Client
    }
}

impl Shared {
    fn count(&self, src: SocketAddr, name: &str, dropped: bool) {
        let s = self.started.elapsed().as_secs() as usize;
        let mut c = self.counts.lock().unwrap();
        if c.seconds.len() <= s {
            c.seconds.resize(s + 1, Second::default());
        }
        c.seconds[s].by_kind[kind(name) as usize] += 1;
        c.seconds[s].dropped += dropped as u64;
        if c.track {
            if let SocketAddr::V4(a) = src {
                *c.by_source.entry((*a.ip(), name.to_string())).or_default() += 1;
            }
        }
    }

    /// When to answer a query arriving now, or None to drop it.
    fn release(&self, now: Instant) -> Option<Instant> {
        match *self.fault.lock().unwrap() {
            Fault::None => Some(now),
            Fault::Dead => None,
            Fault::Capacity(rate) => {
                let mut t = self.tokens.lock().unwrap();
                let burst = (rate as f64 / 10.0).max(1.0);
                t.0 = (t.0 + now.duration_since(t.1).as_secs_f64() * rate as f64).min(burst);
                t.1 = now;
                (t.0 >= 1.0).then(|| {
                    t.0 -= 1.0;
                    now
                })
            }
            Fault::Queue { rate, max_wait } => {
                let mut next = self.next_free.lock().unwrap();
                let at = (*next).max(now) + Duration::from_secs_f64(1.0 / rate.max(1) as f64);
                (at.duration_since(now) <= max_wait).then(|| {
                    *next = at;
                    at
                })
            }
        }
    }
}

impl Relay {
    /// Starts the relay in namespace `ns` on `listen`, passing queries to `nsd`.
    pub fn start(ns: &str, listen: SocketAddr, nsd: SocketAddr) -> Relay {
        let now = Instant::now();
        let shared = Arc::new(Shared {
            fault: Mutex::new(Fault::None),
            counts: Mutex::new(Counts::default()),
            started: now,
            tokens: Mutex::new((0.0, now)),
            next_free: Mutex::new(now),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (sh, st) = (shared.clone(), stop.clone());
        let thread = crate::netns::in_netns(ns, move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(listen, nsd, sh, st, ready_tx));
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("relay bound");
        Relay {
            shared,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set_fault(&self, f: Fault) {
        let now = Instant::now();
        *self.shared.tokens.lock().unwrap() = (0.0, now);
        *self.shared.next_free.lock().unwrap() = now;
        *self.shared.fault.lock().unwrap() = f;
    }

    /// Seconds since the relay started.
    pub fn now_second(&self) -> usize {
        self.shared.started.elapsed().as_secs() as usize
    }

    /// The per-second counts of seconds `from..to` (missing seconds as zero).
    pub fn seconds(&self, from: usize, to: usize) -> Vec<Second> {
        let c = self.shared.counts.lock().unwrap();
        (from..to)
            .map(|s| c.seconds.get(s).copied().unwrap_or_default())
            .collect()
    }

    /// Starts (clearing) or stops counting per source and name.
    pub fn track_sources(&self, on: bool) {
        let mut c = self.shared.counts.lock().unwrap();
        c.track = on;
        if on {
            c.by_source.clear();
        }
    }

    /// Queries per (source, name) counted while tracking.
    pub fn by_source(&self) -> HashMap<(Ipv4Addr, String), u32> {
        self.shared.counts.lock().unwrap().by_source.clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listen: SocketAddr,
    nsd: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<()>,
) {
    let front = Arc::new(
        tokio::net::UdpSocket::bind(listen)
            .await
            .unwrap_or_else(|e| panic!("relay bind {listen}: {e}")),
    );
    let _ = ready.send(());
    let mut buf = vec![0u8; 4096];
    while !stop.load(Relaxed) {
        let got = tokio::time::timeout(Duration::from_millis(50), front.recv_from(&mut buf)).await;
        let Ok(Ok((n, src))) = got else { continue };
        let q = buf[..n].to_vec();
        let Some(name) = qname(&q) else { continue };
        let release = shared.release(Instant::now());
        shared.count(src, &name, release.is_none());
        let Some(at) = release else { continue };
        let front = front.clone();
        tokio::spawn(async move {
            let Ok(sock) = tokio::net::UdpSocket::bind("127.0.0.1:0").await else {
                return;
            };
            if sock.connect(nsd).await.is_err() || sock.send(&q).await.is_err() {
                return;
            }
            let mut ans = vec![0u8; 4096];
            let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut ans)).await
            else {
                return;
            };
            tokio::time::sleep_until(at.into()).await;
            let _ = front.send_to(&ans[..m], src).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds() {
        let (_, q) = crate::load::query(
            "Svc1.Default.svc.cluster.local.",
            hickory_proto::rr::RecordType::A,
        );
        assert_eq!(
            qname(&q).as_deref(),
            Some("svc1.default.svc.cluster.local.")
        );
        let (_, root) = crate::load::query(".", hickory_proto::rr::RecordType::NS);
        assert_eq!(kind(&qname(&root).unwrap()), Kind::Probe);
        assert_eq!(kind(DISCOVERY_NAME), Kind::Discovery);
    }
}
