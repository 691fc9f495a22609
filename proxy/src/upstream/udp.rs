//! One query over UDP: a fresh socket (so a random source port chosen by the kernel),
//! connected to the upstream so the kernel drops datagrams from anyone else, and replies
//! that do not match our ID and question ignored rather than trusted.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;

use super::ExchangeError;
use crate::wire::{self, Key};

/// Largest answer we read: what we advertise, with room for servers that ignore it.
const RECV_BUF: usize = 4096;

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
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let n = sock.recv(&mut buf).await?;
        match wire::check_response(&buf[..n], id, key) {
            Ok(()) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(_) => {
                mismatches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}
