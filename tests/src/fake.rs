//! A fake upstream for fault injection: answers every A question with its own marker
//! address (so a test sees which upstream answered), or misbehaves as told: silence,
//! wrong IDs, wrong questions, garbage, delay. Switchable while running. Also a TCP
//! upstream that closes each connection as its second query arrives.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Answer,
    Silent,
    WrongId,
    WrongQuestion,
    Garbage,
    Delay(Duration),
    ServFail,
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<Mode>>,
    marker: Ipv4Addr,
    ttl: u32,
    /// A records served for the discovery name `upstreams.test.`.
    discovery: Arc<Mutex<Vec<Ipv4Addr>>>,
    queries: Arc<AtomicU64>,
    /// Probes (`. NS`) among them.
    probes: Arc<AtomicU64>,
    /// Answers a second at most (None: no limit); past it a query is dropped, as an
    /// overloaded CoreDNS's full socket buffer drops it.
    capacity: Arc<Mutex<Option<Bucket>>>,
    dropped: Arc<AtomicU64>,
}

/// A token bucket refilled at `rate` a second, holding a tenth of a second's worth.
struct Bucket {
    rate: f64,
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = std::time::Instant::now();
        let burst = (self.rate / 10.0).max(1.0);
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub struct FakeUpstream {
    pub addr: SocketAddr,
    shared: Shared,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeUpstream {
    /// Binds `ip:port` (port 0 for any) and serves; A answers carry `marker`.
    pub fn start(bind: &str, marker: Ipv4Addr, ttl: u32) -> FakeUpstream {
        let sock = UdpSocket::bind(bind).expect("bind fake upstream");
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let shared = Shared {
            mode: Arc::new(Mutex::new(Mode::Answer)),
            marker,
            ttl,
            discovery: Arc::new(Mutex::new(Vec::new())),
            queries: Arc::new(AtomicU64::new(0)),
            probes: Arc::new(AtomicU64::new(0)),
            capacity: Arc::new(Mutex::new(None)),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(sock, s, st));
        FakeUpstream {
            addr,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set_mode(&self, m: Mode) {
        *self.shared.mode.lock().unwrap() = m;
    }

    pub fn set_discovery(&self, ips: &[Ipv4Addr]) {
        *self.shared.discovery.lock().unwrap() = ips.to_vec();
    }

    /// Queries received so far (any mode, probes included).
    pub fn queries(&self) -> u64 {
        self.shared.queries.load(SeqCst)
    }

    /// Probes (`. NS`) received so far.
    pub fn probes(&self) -> u64 {
        self.shared.probes.load(SeqCst)
    }

    /// Answers at most `per_second` (None: no limit), dropping the rest.
    pub fn set_capacity(&self, per_second: Option<u32>) {
        *self.shared.capacity.lock().unwrap() = per_second.map(|r| Bucket {
            rate: r as f64,
            tokens: 0.0,
            at: std::time::Instant::now(),
        });
    }

    /// Queries dropped for capacity so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(SeqCst)
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(sock: UdpSocket, s: Shared, stop: Arc<AtomicBool>) {
    let sock = Arc::new(sock);
    let mut buf = [0u8; 4096];
    while !stop.load(SeqCst) {
        let Ok((n, src)) = sock.recv_from(&mut buf) else {
            continue;
        };
        s.queries.fetch_add(1, SeqCst);
        let Ok(q) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if q.queries.first().is_some_and(|q| q.name.is_root()) {
            s.probes.fetch_add(1, SeqCst);
        }
        if let Some(b) = s.capacity.lock().unwrap().as_mut() {
            if !b.take() {
                s.dropped.fetch_add(1, SeqCst);
                continue;
            }
        }
        let mode = s.mode.lock().unwrap().clone();
        let reply = match mode {
            Mode::Silent => continue,
            Mode::Garbage => vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3],
            Mode::WrongId => {
                let mut r = answer(&q, &s, false);
                r[0] ^= 0x55;
                r
            }
            Mode::WrongQuestion => answer(&q, &s, true),
            Mode::ServFail => {
                let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                m.metadata.response_code = ResponseCode::ServFail;
                m.add_queries(q.queries.clone());
                m.to_vec().unwrap()
            }
            Mode::Answer => answer(&q, &s, false),
            Mode::Delay(d) => {
                let (sock, r) = (sock.clone(), answer(&q, &s, false));
                std::thread::spawn(move || {
                    std::thread::sleep(d);
                    let _ = sock.send_to(&r, src);
                });
                continue;
            }
        };
        let _ = sock.send_to(&reply, src);
    }
}

fn answer(q: &Message, s: &Shared, wrong_question: bool) -> Vec<u8> {
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    let Some(question) = q.queries.first() else {
        return m.to_vec().unwrap();
    };
    let mut question = question.clone();
    if wrong_question {
        question.set_name(Name::from_ascii("spoofed.example.").unwrap());
    }
    m.add_query(question.clone());
    let owner = question.name.clone();
    if question.query_type == RecordType::A {
        let ips = if owner.to_ascii().eq_ignore_ascii_case("upstreams.test.") {
            s.discovery.lock().unwrap().clone()
        } else {
            vec![s.marker]
        };
        for ip in ips {
            m.add_answer(Record::from_rdata(owner.clone(), s.ttl, RData::A(A(ip))));
        }
    }
    if let Some(e) = &q.edns {
        let mut e2 = hickory_proto::op::Edns::new();
        e2.set_max_payload(1232);
        e2.set_dnssec_ok(e.flags().dnssec_ok);
        m.set_edns(e2);
    }
    m.to_vec().unwrap()
}

/// A TCP upstream that answers one query per connection, then reads the next one and
/// closes without answering it: the race a kept connection meets when the server closes it
/// (an idle timeout, or a per-connection query limit such as miekg/dns's MaxTCPQueries) just
/// as a query goes out. Answers echo the question with QR set (NOERROR, empty).
pub fn one_answer_per_connection_tcp(conns: usize) -> (SocketAddr, JoinHandle<()>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let read_query = |s: &mut std::net::TcpStream| -> Option<Vec<u8>> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).ok()?;
        let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut q).ok()?;
        (q.len() >= 12).then_some(q)
    };
    let t = std::thread::spawn(move || {
        for _ in 0..conns {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let Some(mut q) = read_query(&mut s) else {
                continue;
            };
            q[2] |= 0x80; // QR
            q[3] &= 0xf0; // RCODE NOERROR
            q[10] = 0; // no OPT echoed back
            q[11] = 0;
            let _ = s
                .write_all(&(q.len() as u16).to_be_bytes())
                .and_then(|_| s.write_all(&q));
            // The next query on this connection is read and dropped with the connection.
            let _ = read_query(&mut s);
        }
    });
    (addr, t)
}
