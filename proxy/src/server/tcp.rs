//! The TCP listener (RFC 7766): pipelined queries answered as they complete, in any order,
//! an idle timeout, and a cap on connections (further ones are closed at once).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::timeout;

use crate::engine::{Engine, Inline};
use crate::metrics::Proto;

/// Answers queued for one connection's writer.
const WRITE_QUEUE: usize = 64;

pub async fn serve(listener: TcpListener, engine: Arc<Engine>, max_conns: usize, idle: Duration) {
    let slots = Arc::new(Semaphore::new(max_conns));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of descriptors or similar: back off a little instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if !engine.allowed(peer.ip()) {
            engine.metrics.refused_clients.fetch_add(1, Relaxed);
            continue;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        engine.metrics.tcp_connections.fetch_add(1, Relaxed);
        let engine = engine.clone();
        tokio::spawn(async move {
            connection(stream, engine, idle).await;
            drop(permit);
        });
    }
}

async fn connection(stream: TcpStream, engine: Arc<Engine>, idle: Duration) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if wr.write_all(&msg).await.is_err() {
                break;
            }
        }
    });
    let mut buf = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(512);
    loop {
        let Ok(Ok(len)) = timeout(idle, rd.read_u16()).await else {
            break;
        };
        buf.resize(len as usize, 0);
        if !matches!(timeout(idle, rd.read_exact(&mut buf)).await, Ok(Ok(_))) {
            break;
        }
        match engine.answer_cached(&buf, Proto::Tcp, &mut out) {
            Inline::Replied => {
                if tx.send(framed(&out)).await.is_err() {
                    break;
                }
            }
            Inline::Dropped => {}
            Inline::Resolve(p) => {
                let (engine, tx) = (engine.clone(), tx.clone());
                tokio::spawn(async move {
                    let mut out = Vec::with_capacity(512);
                    engine.answer_upstream(p, Proto::Tcp, &mut out).await;
                    let _ = tx.send(framed(&out)).await;
                });
            }
        }
    }
    // Answers still being resolved keep the writer alive until they are sent.
    drop(tx);
    let _ = writer.await;
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(msg.len() + 2);
    v.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    v.extend_from_slice(msg);
    v
}
