//! The UDP listener: datagrams are taken in batches (`batch`), cache hits answered inline
//! and sent together; misses go to a task each. With several threads, SO_REUSEPORT sockets
//! share one address.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use nix::sys::socket::{SockaddrIn, SockaddrIn6};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::batch::{Batch, Peer};
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

/// Serves one socket: waits until datagrams are waiting, takes up to a batch of them,
/// answers the cache hits with one send, and hands each miss to a task of its own.
pub async fn serve(sock: UdpSocket, engine: Arc<Engine>) {
    match sock.local_addr() {
        Ok(SocketAddr::V6(_)) => serve_as::<SockaddrIn6>(sock, engine).await,
        _ => serve_as::<SockaddrIn>(sock, engine).await,
    }
}

async fn serve_as<S: Peer>(sock: UdpSocket, engine: Arc<Engine>) {
    let sock = Arc::new(sock);
    loop {
        // Errors here are ICMP reports about earlier sends: nothing to do but go on.
        let taken = sock
            .async_io(Interest::READABLE, || {
                S::with_batch(|b| b.recv(sock.as_raw_fd()))
            })
            .await;
        if taken.is_err() {
            continue;
        }
        let unsent = S::with_batch(|b| answer(b, &sock, &engine));
        for (reply, to) in unsent {
            let _ = sock.send_to(&reply, to).await;
        }
    }
}

/// Answers a batch taken: hits into the batch's replies, sent together; misses to tasks.
/// Returns the replies the socket did not take at once.
fn answer<S: Peer>(
    b: &mut Batch<S>,
    sock: &Arc<UdpSocket>,
    engine: &Arc<Engine>,
) -> Vec<(Vec<u8>, SocketAddr)> {
    b.each(|query, from, out| {
        let open = engine.open_to_all() || engine.allowed(Into::<SocketAddr>::into(from).ip());
        let inline = if open {
            engine.answer_cached(query, Proto::Udp, out)
        } else {
            engine.refuse(query, out)
        };
        match inline {
            Inline::Replied => true,
            Inline::Dropped => false,
            Inline::Resolve(p) => {
                let (sock, engine, src) = (sock.clone(), engine.clone(), from.into());
                tokio::spawn(async move {
                    let mut out = Vec::with_capacity(512);
                    engine.answer_upstream(p, Proto::Udp, &mut out).await;
                    let _ = sock.send_to(&out, src).await;
                });
                false
            }
        }
    });
    b.send(sock.as_fd())
}
