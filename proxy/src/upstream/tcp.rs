//! Queries over TCP (RFC 7766 framing): used for answers truncated over UDP and, with
//! `--upstream-tcp`, for everything. Connections are kept and reused, as NodeLocal
//! DNSCache's `force_tcp` does, so lookups do not create conntrack entries each time.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ExchangeError;
use crate::lock;
use crate::wire;

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 4;
/// Replies with another ID read on one connection before giving up on it.
const MAX_STRAY: usize = 8;

#[derive(Default)]
pub struct TcpConns {
    idle: Mutex<Vec<TcpStream>>,
}

impl TcpConns {
    pub async fn exchange(
        &self,
        addr: SocketAddr,
        query: &[u8],
        id: u16,
        key: &[u8],
    ) -> Result<Vec<u8>, ExchangeError> {
        let mut framed = Vec::with_capacity(query.len() + 2);
        framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
        framed.extend_from_slice(query);
        loop {
            let pooled = lock(&self.idle).pop();
            let reused = pooled.is_some();
            let mut stream = match pooled {
                Some(s) => s,
                None => {
                    let s = TcpStream::connect(addr).await?;
                    s.set_nodelay(true)?;
                    s
                }
            };
            match roundtrip(&mut stream, &framed, id, key).await {
                Ok(resp) => {
                    let mut idle = lock(&self.idle);
                    if idle.len() < MAX_IDLE {
                        idle.push(stream);
                    }
                    return Ok(resp);
                }
                // The server may have closed a connection that sat idle: try a fresh one.
                Err(_) if reused => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

async fn roundtrip(
    stream: &mut TcpStream,
    framed: &[u8],
    id: u16,
    key: &[u8],
) -> Result<Vec<u8>, ExchangeError> {
    stream.write_all(framed).await?;
    for _ in 0..MAX_STRAY {
        let len = stream.read_u16().await? as usize;
        let mut buf = vec![0u8; len];
        stream.read_exact(&mut buf).await?;
        match wire::check_response(&buf, id, key) {
            Ok(()) => return Ok(buf),
            Err(wire::Mismatch::Id) => continue,
            Err(_) => return Err(ExchangeError::Malformed),
        }
    }
    Err(ExchangeError::Malformed)
}
