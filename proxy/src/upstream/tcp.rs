//! Queries over TCP (RFC 7766): used for answers truncated over UDP and, with
//! `--upstream-tcp`, for everything. A few connections per upstream are kept and shared:
//! queries are pipelined on them, each with an ID unique on its connection, and answers are
//! matched back by ID and question in whatever order they come. So a burst of misses costs
//! a few connections (and conntrack entries), not one each, as NodeLocal DNSCache's
//! `force_tcp` intends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::ExchangeError;
use crate::lock;
use crate::wire::{self, Key};

/// Connections kept per upstream.
const MAX_CONNS: usize = 4;
/// Queries in flight on one connection before another connection is opened (while fewer
/// than `MAX_CONNS` exist). CoreDNS and NSD answer one connection's queries in order, so a
/// slow answer holds up the ones behind it: spread them once a connection is busy.
const BUSY: usize = 16;
/// A connection with nothing in flight for this long is closed (CoreDNS closes idle TCP
/// connections after 10 s itself).
const IDLE: Duration = Duration::from_secs(8);

/// What a query gets when its connection is gone before the answer came.
const CLOSED: ExchangeError = ExchangeError::Io(std::io::ErrorKind::ConnectionReset);

type Reply = oneshot::Sender<Result<Vec<u8>, ExchangeError>>;

/// A query in flight: its question key (to check the answer), where the answer goes, and a
/// token so that a query given up on removes only its own entry, never a later one's that
/// drew the same ID.
struct Waiter {
    key: Box<[u8]>,
    reply: Reply,
    token: u64,
}

/// One kept connection: a writer task fed by a channel, a reader task that hands each
/// answer to the query waiting for its ID.
struct Conn {
    frames: mpsc::UnboundedSender<Vec<u8>>,
    waiting: Mutex<HashMap<u16, Waiter>>,
    tokens: AtomicU64,
    closed: AtomicBool,
    /// Tells the writer to stop, so the socket closes once the reader has ended.
    shut: tokio::sync::Notify,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Arc<Conn>, ExchangeError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = Arc::new(Conn {
            frames: tx,
            waiting: Mutex::new(HashMap::new()),
            tokens: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            shut: tokio::sync::Notify::new(),
        });
        tokio::spawn(write_loop(wr, rx, conn.clone()));
        tokio::spawn(read_loop(rd, conn.clone()));
        Ok(conn)
    }

    fn load(&self) -> usize {
        lock(&self.waiting).len()
    }

    /// Fails every waiting query and refuses new ones; the writer ends with the channel.
    fn close(&self) {
        self.closed.store(true, Relaxed);
        self.shut.notify_one();
        for (_, w) in lock(&self.waiting).drain() {
            let _ = w.reply.send(Err(CLOSED));
        }
    }
}

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    conn: Arc<Conn>,
) {
    loop {
        let frame = tokio::select! {
            f = rx.recv() => f,
            _ = conn.shut.notified() => None,
        };
        let Some(frame) = frame else { return };
        if wr.write_all(&frame).await.is_err() {
            conn.close();
            return;
        }
    }
}

async fn read_loop(mut rd: OwnedReadHalf, conn: Arc<Conn>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    'conn: loop {
        // Hand every complete frame to the query waiting for its ID.
        while let Some(&[hi, lo]) = buf.get(..2) {
            let len = u16::from_be_bytes([hi, lo]) as usize;
            if buf.len() < 2 + len {
                break;
            }
            if len < wire::HEADER_LEN {
                break 'conn;
            }
            let frame = buf[2..2 + len].to_vec();
            buf.drain(..2 + len);
            deliver(&conn, frame);
        }
        buf.reserve(1024);
        // `read_buf` is cancel safe, so the idle timeout never splits a frame.
        let n = if conn.load() == 0 {
            match tokio::time::timeout(IDLE, rd.read_buf(&mut buf)).await {
                Ok(r) => r,
                // Quiet for IDLE with nothing asked: close, unless a query slipped in.
                Err(_) if conn.load() == 0 => break,
                Err(_) => continue,
            }
        } else {
            rd.read_buf(&mut buf).await
        };
        if !matches!(n, Ok(n) if n > 0) {
            break;
        }
    }
    conn.close();
}

/// An answer to an ID nobody waits for (a query already given up on) is dropped.
fn deliver(conn: &Conn, frame: Vec<u8>) {
    let id = u16::from_be_bytes([frame[0], frame[1]]);
    let Some(w) = lock(&conn.waiting).remove(&id) else {
        return;
    };
    let _ = w
        .reply
        .send(match wire::check_response(&frame, id, Key::of(&w.key)) {
            Ok(()) => Ok(frame),
            Err(_) => Err(ExchangeError::Malformed),
        });
}

#[derive(Default)]
pub struct TcpConns {
    conns: Mutex<Vec<Arc<Conn>>>,
    /// Held while a connection is being opened, so a burst of misses waits for that one
    /// instead of each opening its own.
    opening: tokio::sync::Mutex<()>,
}

impl TcpConns {
    /// The least loaded live connection, or None when a new one should be opened.
    fn pick(&self) -> Option<Arc<Conn>> {
        let mut conns = lock(&self.conns);
        conns.retain(|c| !c.closed.load(Relaxed));
        let best = conns.iter().min_by_key(|c| c.load()).cloned();
        match best {
            Some(c) if c.load() < BUSY || conns.len() >= MAX_CONNS => Some(c),
            _ => None,
        }
    }

    async fn conn(
        &self,
        addr: SocketAddr,
        opened: &AtomicU64,
    ) -> Result<(Arc<Conn>, bool), ExchangeError> {
        if let Some(c) = self.pick() {
            return Ok((c, true));
        }
        let _opening = self.opening.lock().await;
        if let Some(c) = self.pick() {
            return Ok((c, true));
        }
        let c = Conn::open(addr).await?;
        opened.fetch_add(1, Relaxed);
        let mut conns = lock(&self.conns);
        if conns.len() < MAX_CONNS {
            conns.push(c.clone());
        }
        Ok((c, false))
    }

    /// Sends `query` (whose ID is replaced by one free on the connection) and waits for its
    /// answer. A kept connection that the server closed under us is retried once, fresh.
    pub async fn exchange(
        &self,
        addr: SocketAddr,
        query: &[u8],
        key: Key<'_>,
        opened: &AtomicU64,
    ) -> Result<Vec<u8>, ExchangeError> {
        let mut frame = Vec::with_capacity(query.len() + 2);
        frame.extend_from_slice(&(query.len() as u16).to_be_bytes());
        frame.extend_from_slice(query);
        let mut retried = false;
        loop {
            let (conn, reused) = self.conn(addr, opened).await?;
            match send(&conn, frame.clone(), key).await {
                Err(ExchangeError::Io(_)) if reused && !retried => retried = true,
                r => return r,
            }
        }
    }
}

async fn send(conn: &Conn, mut frame: Vec<u8>, key: Key<'_>) -> Result<Vec<u8>, ExchangeError> {
    let (tx, rx) = oneshot::channel();
    let token = conn.tokens.fetch_add(1, Relaxed);
    let id = {
        let mut waiting = lock(&conn.waiting);
        if conn.closed.load(Relaxed) {
            return Err(CLOSED);
        }
        let mut id = rand::random::<u16>();
        while waiting.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        let w = Waiter {
            key: key.bytes().into(),
            reply: tx,
            token,
        };
        waiting.insert(id, w);
        id
    };
    frame[2..4].copy_from_slice(&id.to_be_bytes());
    // However this ends (answered, failed, or dropped by the attempt's timeout), the ID is
    // free again.
    let _forget = Forget(conn, id, token);
    if conn.frames.send(frame).is_err() {
        return Err(CLOSED);
    }
    rx.await.unwrap_or(Err(CLOSED))
}

struct Forget<'a>(&'a Conn, u16, u64);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let mut waiting = lock(&self.0.waiting);
        if waiting.get(&self.1).is_some_and(|w| w.token == self.2) {
            waiting.remove(&self.1);
        }
    }
}
