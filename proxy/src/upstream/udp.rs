//! One query over UDP: a fresh socket (so a random source port chosen by the kernel),
//! connected to the upstream so the kernel drops datagrams from anyone else, and replies
//! that do not match our ID and question ignored rather than trusted.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use std::io::Read;

use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::ExchangeError;
use crate::wire::{self, Key};

/// Largest answer we read: what we advertise, with room for servers that ignore it.
const RECV_BUF: usize = 4096;

thread_local! {
    /// Where replies land to be checked: one per thread, never held across an await, so a
    /// query in flight holds no receive buffer and a reply is kept at its own size (4 KiB
    /// per query in flight was a third of the proxy's memory after a burst of misses).
    static RECV: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; RECV_BUF]);
}

pub async fn exchange(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    key: Key<'_>,
    mismatches: &std::sync::atomic::AtomicU64,
) -> Result<Vec<u8>, ExchangeError> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(addr).await?;
    sock.send(query).await?;
    loop {
        // Read as tokio's `recv` does, woken by an error too (a refusal reported by ICMP),
        // into the thread's buffer.
        let got = sock
            .async_io(Interest::READABLE | Interest::ERROR, || {
                RECV.with_borrow_mut(|buf| {
                    let n = (&*SockRef::from(&sock)).read(buf)?;
                    Ok(match wire::check_response(&buf[..n], id, key) {
                        Ok(()) => Some(buf[..n].to_vec()),
                        Err(_) => {
                            mismatches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            None
                        }
                    })
                })
            })
            .await?;
        if let Some(reply) = got {
            return Ok(reply);
        }
    }
}
