//! A deterministic lossy link: a UDP relay in front of one upstream that drops the first
//! answer to each question (name, case folded, and type) and passes every later one, as
//! a conntrack race or a full socket buffer loses one datagram on a busy node.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::Message;

pub struct LossyRelay {
    pub addr: SocketAddr,
    pub dropped: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl LossyRelay {
    pub fn start(upstream: SocketAddr) -> LossyRelay {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind relay");
        let back = UdpSocket::bind("127.0.0.1:0").expect("bind relay upstream side");
        back.connect(upstream).unwrap();
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        }
        let addr = front.local_addr().unwrap();
        let clients: Arc<Mutex<HashMap<u16, SocketAddr>>> = Arc::default();
        let (stop, dropped) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let mut threads = Vec::new();
        {
            let (front, back) = (front.try_clone().unwrap(), back.try_clone().unwrap());
            let (clients, stop) = (clients.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(SeqCst) {
                    let Ok((n, from)) = front.recv_from(&mut buf) else {
                        continue;
                    };
                    if n >= 2 {
                        let id = u16::from_be_bytes([buf[0], buf[1]]);
                        clients.lock().unwrap().insert(id, from);
                        let _ = back.send(&buf[..n]);
                    }
                }
            }));
        }
        {
            let (stop, dropped) = (stop.clone(), dropped.clone());
            threads.push(std::thread::spawn(move || {
                let mut seen: HashSet<(String, u16)> = HashSet::new();
                let mut buf = [0u8; 65535];
                while !stop.load(SeqCst) {
                    let Ok(n) = back.recv(&mut buf) else { continue };
                    let Ok(m) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let Some(q) = m.queries.first() else { continue };
                    let question = (
                        q.name().to_ascii().to_lowercase(),
                        u16::from(q.query_type()),
                    );
                    if seen.insert(question) {
                        dropped.fetch_add(1, SeqCst);
                        continue;
                    }
                    let to = clients.lock().unwrap().get(&m.metadata.id).copied();
                    if let Some(to) = to {
                        let _ = front.send_to(&buf[..n], to);
                    }
                }
            }));
        }
        LossyRelay {
            addr,
            dropped,
            stop,
            threads,
        }
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
