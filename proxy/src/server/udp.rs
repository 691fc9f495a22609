//! The UDP listener: cache hits are answered inline from one reused buffer; misses go to a
//! task each. With several threads, SO_REUSEPORT sockets share one address.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;

use crate::engine::{Engine, Inline};
use crate::metrics::Proto;

/// Binds a UDP socket; `reuse` lets several sockets share the address.
pub fn bind(addr: SocketAddr, reuse: bool) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse {
        s.set_reuse_port(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

/// Client queries are small: a larger datagram is cut here, fails to parse, and gets
/// FORMERR. Answers are at most the EDNS size we accept (1232) before TC.
const QUERY_BUF: usize = 4096;

pub async fn serve(sock: UdpSocket, engine: Arc<Engine>) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; QUERY_BUF];
    let mut out = Vec::with_capacity(QUERY_BUF);
    loop {
        // Errors here are ICMP reports about earlier sends: nothing to do but go on.
        let Ok((n, src)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        match engine.answer_cached(&buf[..n], Proto::Udp, &mut out) {
            Inline::Replied => {
                let _ = sock.send_to(&out, src).await;
            }
            Inline::Dropped => {}
            Inline::Resolve(p) => {
                let (sock, engine) = (sock.clone(), engine.clone());
                tokio::spawn(async move {
                    let mut out = Vec::with_capacity(512);
                    engine.answer_upstream(p, Proto::Udp, &mut out).await;
                    let _ = sock.send_to(&out, src).await;
                });
            }
        }
    }
}
