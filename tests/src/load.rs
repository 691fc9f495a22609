//! A load of client queries at a fixed rate, as dnsperf offers it: each query from a fresh
//! UDP socket (a new flow, as a stub resolver's), sent at its time whether or not earlier
//! ones were answered, with no retry; each outcome kept (its RCODE, or no answer within the
//! client's timeout) with the time it took. Bounded by the list given.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// What one query got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// The answer's RCODE; None when none came within the timeout.
    pub rcode: Option<u16>,
    pub took: Duration,
    /// Nothing listened: the kernel refused at once (ICMP port unreachable).
    pub refused: bool,
}

/// A query for `name` with a random ID, RD set.
pub fn query(name: &str, qtype: RecordType) -> (u16, Vec<u8>) {
    let id = rand_id();
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_str(name).unwrap_or_else(|e| panic!("{name}: {e}")),
        qtype,
    ));
    (id, m.to_vec().unwrap())
}

/// A random 64-bit number (std's per-process random hasher keys, and a counter).
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Relaxed));
    h.finish()
}

fn rand_id() -> u16 {
    random() as u16
}

/// A random number uniform in [0, 1).
pub fn unit() -> f64 {
    (random() >> 11) as f64 / (1u64 << 53) as f64
}

/// Asks `server` one A (or `qtype`) question from a fresh socket; waits `timeout` for the
/// answer with its ID.
pub async fn ask(server: SocketAddr, name: &str, qtype: RecordType, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let (id, q) = query(name, qtype);
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let mut refused = false;
    let rcode = async {
        let sock = tokio::net::UdpSocket::bind(bind).await.ok()?;
        sock.connect(server).await.ok()?;
        sock.send(&q).await.ok()?;
        let mut buf = [0u8; 4096];
        loop {
            let n = match sock.recv(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    refused = e.kind() == std::io::ErrorKind::ConnectionRefused;
                    return None;
                }
            };
            if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id && buf[2] & 0x80 != 0 {
                return Some((buf[3] & 0x0f) as u16);
            }
        }
    };
    let rcode = tokio::time::timeout(timeout, rcode).await.ok().flatten();
    Outcome {
        rcode,
        took: start.elapsed(),
        refused,
    }
}

/// Offers `names` to `server` evenly at `rate` a second (A questions), each answered or
/// timed out within `timeout`; returns every outcome, in the order offered.
pub async fn offer(
    server: SocketAddr,
    names: &[String],
    rate: f64,
    timeout: Duration,
) -> Vec<Outcome> {
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            ask(server, &name, RecordType::A, timeout).await
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("a query task"));
    }
    out
}

/// Counts of outcomes by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub noerror: usize,
    pub nxdomain: usize,
    pub servfail: usize,
    pub other: usize,
    pub unanswered: usize,
}

pub fn tally(outcomes: &[Outcome]) -> Tally {
    let mut t = Tally::default();
    for o in outcomes {
        match o.rcode {
            Some(0) => t.noerror += 1,
            Some(3) => t.nxdomain += 1,
            Some(2) => t.servfail += 1,
            Some(_) => t.other += 1,
            None => t.unanswered += 1,
        }
    }
    t
}
