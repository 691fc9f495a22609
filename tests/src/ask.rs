//! A DNS client for comparing servers record by record: one question over UDP (with or
//! without EDNS, no retry, no TCP fallback) or TCP, the answer parsed by hickory-proto and
//! kept as raw bytes too, for sizes and section offsets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// How a question is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// UDP without EDNS: 512 bytes at most.
    Udp,
    /// UDP with an OPT record advertising this size.
    UdpEdns(u16),
    Tcp,
}

impl Via {
    /// The largest answer this client accepts.
    pub fn limit(self) -> usize {
        match self {
            Via::Udp => 512,
            Via::UdpEdns(n) => n.max(512) as usize,
            Via::Tcp => 65535,
        }
    }
}

pub struct Reply {
    pub msg: Message,
    pub raw: Vec<u8>,
}

/// Asks `server` one question; panics with what went wrong if no answer comes in 3 s.
pub fn ask(server: SocketAddr, name: &str, qtype: RecordType, via: Via) -> Reply {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    if let Via::UdpEdns(size) = via {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    let q = m.to_vec().unwrap();
    let raw = match via {
        Via::Tcp => {
            let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(3))
                .unwrap_or_else(|e| panic!("{server} TCP: {e}"));
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut framed = (q.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&q);
            s.write_all(&framed).unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len)
                .unwrap_or_else(|e| panic!("{server} {name} {qtype} over TCP: {e}"));
            let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut buf).unwrap();
            buf
        }
        _ => {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            s.send_to(&q, server).unwrap();
            let mut buf = vec![0u8; 65535];
            let n = s
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("{server} {name} {qtype} {via:?}: {e}"));
            buf.truncate(n);
            buf
        }
    };
    let msg = Message::from_vec(&raw)
        .unwrap_or_else(|e| panic!("{server} {name} {qtype} {via:?}: unparseable answer: {e}"));
    assert_eq!(
        msg.metadata.id, m.metadata.id,
        "{server}: answer to another query"
    );
    Reply { msg, raw }
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering::Relaxed};
    static N: AtomicU16 = AtomicU16::new(0x1234);
    N.fetch_add(0x9E37, Relaxed)
}

/// Byte offsets where each section of a raw message ends: [question, answer, authority,
/// additional]. Walked here, apart from the proxy's own parser.
pub fn section_ends(raw: &[u8]) -> [usize; 4] {
    let count = |i: usize| u16::from_be_bytes([raw[4 + 2 * i], raw[5 + 2 * i]]) as usize;
    let skip_name = |mut off: usize| loop {
        let b = raw[off];
        if b == 0 {
            return off + 1;
        }
        if b & 0xC0 == 0xC0 {
            return off + 2;
        }
        off += b as usize + 1;
    };
    let mut off = 12;
    for _ in 0..count(0) {
        off = skip_name(off) + 4;
    }
    let mut ends = [off; 4];
    for (s, end) in ends.iter_mut().enumerate().skip(1) {
        for _ in 0..count(s) {
            let f = skip_name(off);
            off = f + 10 + u16::from_be_bytes([raw[f + 8], raw[f + 9]]) as usize;
        }
        *end = off;
    }
    ends
}
