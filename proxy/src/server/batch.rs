//! Datagrams in batches: up to `BATCH` queries taken with one recvmmsg and their cache-hit
//! replies sent with one sendmmsg. Under load most of a query's cost is the kernel's UDP
//! path, and a system call per datagram is part of it; an idle socket still costs one call
//! per query, as before.
//!
//! The buffers and headers live in a per-thread slot, used only between two awaits (the
//! headers hold raw pointers, so they may not cross one): every socket a thread serves
//! shares them, and a thread that never answers UDP never allocates them.

use std::cell::RefCell;
use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};

use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrIn, SockaddrIn6, SockaddrLike};
use rustix::net::{sendmmsg, sendto, MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny};

/// Datagrams per system call: past 16 the saving per datagram is small, and every slot is
/// a query buffer of every pod's memory once the pod has been busy.
pub const BATCH: usize = 16;

/// A query's room. A query is one question and at most an OPT record with a few options:
/// hundreds of bytes. A longer datagram is cut (and flagged), and answered FORMERR.
pub const QUERY_ROOM: usize = 1232;

/// A client address as recvmmsg gives it: one type per address family, so every header's
/// address room fits what the kernel writes (a listener gets one family only).
pub trait Peer: SockaddrLike + Copy + Into<SocketAddr> + 'static {
    /// Runs `f` on this thread's batch for this family.
    fn with_batch<R>(f: impl FnOnce(&mut Batch<Self>) -> R) -> R;
}

macro_rules! peer {
    ($t:ty) => {
        impl Peer for $t {
            fn with_batch<R>(f: impl FnOnce(&mut Batch<Self>) -> R) -> R {
                thread_local! {
                    static SLOT: RefCell<Option<Batch<$t>>> = const { RefCell::new(None) };
                }
                SLOT.with_borrow_mut(|b| f(b.get_or_insert_with(Batch::new)))
            }
        }
    };
}
peer!(SockaddrIn);
peer!(SockaddrIn6);

/// One received datagram: its length, its sender, whether it was cut.
#[derive(Clone, Copy)]
struct Received<S> {
    len: usize,
    from: Option<S>,
    cut: bool,
}

pub struct Batch<S> {
    /// `BATCH` rooms of `QUERY_ROOM` bytes, one after another.
    queries: Vec<u8>,
    received: [Received<S>; BATCH],
    count: usize,
    /// Replies, in the order they are to be sent, with their destinations.
    replies: Vec<Vec<u8>>,
    /// The replies' destinations, as sendmmsg takes them (made once per reply).
    to: [SocketAddrAny; BATCH],
    ready: usize,
    headers: MultiHeaders<S>,
}

impl<S: Peer> Batch<S> {
    fn new() -> Batch<S> {
        let none = Received {
            len: 0,
            from: None,
            cut: false,
        };
        Batch {
            queries: vec![0; QUERY_ROOM * BATCH],
            received: [none; BATCH],
            count: 0,
            replies: Vec::new(),
            to: std::array::from_fn(|_| SocketAddr::from(([0, 0, 0, 0], 0)).into()),
            ready: 0,
            headers: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Takes what is waiting, up to `BATCH` datagrams, without blocking; WouldBlock if none.
    pub fn recv(&mut self, fd: RawFd) -> std::io::Result<usize> {
        self.count = 0;
        self.ready = 0;
        let mut rooms = self.queries.chunks_exact_mut(QUERY_ROOM);
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(rooms.next().expect("BATCH rooms"))]);
        let got = recvmmsg(
            fd,
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        for (slot, m) in self.received.iter_mut().zip(got) {
            *slot = Received {
                len: m.bytes,
                from: m.address,
                cut: m.flags.contains(MsgFlags::MSG_TRUNC),
            };
            self.count += 1;
        }
        Ok(self.count)
    }

    /// For each datagram taken, `f(query, sender, room)` may write a reply into `room` and
    /// says whether to send it. A cut datagram is given as its header only, so it is
    /// answered FORMERR (or dropped, as any message without a question).
    pub fn each(&mut self, mut f: impl FnMut(&[u8], S, &mut Vec<u8>) -> bool) {
        let rooms = self.queries.chunks_exact(QUERY_ROOM);
        for (r, room) in self.received[..self.count].iter().zip(rooms) {
            let Some(from) = r.from else { continue };
            let len = if r.cut {
                r.len.min(12)
            } else {
                r.len.min(QUERY_ROOM)
            };
            if self.replies.len() <= self.ready {
                self.replies.push(Vec::new());
            }
            if f(&room[..len], from, &mut self.replies[self.ready]) {
                self.to[self.ready] = Into::<SocketAddr>::into(from).into();
                self.ready += 1;
            }
        }
    }

    /// Sends the kept replies with one call. Returns the ones the socket did not take (its
    /// buffer full), to be sent one by one after awaiting room.
    pub fn send(&mut self, fd: BorrowedFd<'_>) -> Vec<(Vec<u8>, SocketAddr)> {
        let n = self.ready;
        self.ready = 0;
        if n == 0 {
            return Vec::new();
        }
        // One reply (an idle socket's usual batch) goes without the headers.
        let sent = if n == 1 {
            usize::from(sendto(fd, &self.replies[0], SendFlags::DONTWAIT, &self.to[0]).is_ok())
        } else {
            self.send_many(fd, n)
        };
        (sent..n)
            .filter_map(|i| {
                let to = SocketAddr::try_from(self.to[i].clone()).ok()?;
                Some((self.replies[i].clone(), to))
            })
            .collect()
    }

    /// Sends the first `n` kept replies with one sendmmsg; returns how many went. A failure
    /// (the socket's buffer full, a refused destination) leaves the rest to be sent one by
    /// one, where each gets its own outcome.
    fn send_many(&self, fd: BorrowedFd<'_>, n: usize) -> usize {
        let addrs = &self.to;
        let iovs: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
            [IoSlice::new(
                self.replies.get(i).map_or(&[][..], |r| &r[..]),
            )]
        });
        let mut control: [SendAncillaryBuffer<'_, '_, '_>; BATCH] =
            std::array::from_fn(|_| SendAncillaryBuffer::default());
        let mut control = control.iter_mut();
        let mut msgs: [MMsgHdr<'_>; BATCH] = std::array::from_fn(|i| {
            let c = control.next().expect("BATCH buffers");
            MMsgHdr::new_with_addr(&addrs[i], &iovs[i], c)
        });
        sendmmsg(fd, &mut msgs[..n], SendFlags::DONTWAIT).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::os::fd::{AsFd, AsRawFd};
    use std::time::Duration;

    use super::*;

    fn pair(ip: &str) -> (UdpSocket, UdpSocket) {
        let server = UdpSocket::bind(format!("{ip}:0"))
            .unwrap_or_else(|e| panic!("bind {ip}: {e} (the test needs this loopback address)"));
        server.set_nonblocking(true).unwrap();
        let client = UdpSocket::bind(format!("{ip}:0")).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        (server, client)
    }

    /// A "query": 12 bytes of header whose ID is `i`, then `i` filler bytes.
    fn datagram(i: u16) -> Vec<u8> {
        let mut d = vec![0u8; 12 + usize::from(i)];
        d[..2].copy_from_slice(&i.to_be_bytes());
        d
    }

    /// Takes everything waiting, in batches; replies to the even IDs with the ID and "ok".
    fn serve_all<S: Peer>(b: &mut Batch<S>, server: &UdpSocket) -> (Vec<usize>, Vec<u16>) {
        let (mut sizes, mut seen) = (Vec::new(), Vec::new());
        loop {
            match b.recv(server.as_raw_fd()) {
                Ok(n) => sizes.push(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("recvmmsg: {e}"),
            }
            b.each(|q, _, out| {
                let id = u16::from_be_bytes([q[0], q[1]]);
                assert_eq!(q.len(), 12 + usize::from(id), "datagram {id} whole");
                seen.push(id);
                out.clear();
                out.extend_from_slice(&q[..2]);
                out.extend_from_slice(b"ok");
                id % 2 == 0
            });
            assert!(b.send(server.as_fd()).is_empty(), "loopback takes them all");
        }
        (sizes, seen)
    }

    fn exchange<S: Peer>(ip: &str) {
        let (server, client) = pair(ip);
        for i in 0..20 {
            client
                .send_to(&datagram(i), server.local_addr().unwrap())
                .unwrap();
        }
        let mut b = Batch::<S>::new();
        let (sizes, seen) = serve_all(&mut b, &server);
        assert_eq!(sizes, [BATCH, 20 - BATCH], "taken {BATCH} at a time");
        assert_eq!(seen, (0..20).collect::<Vec<u16>>(), "in order, each once");
        let mut buf = [0u8; 64];
        for i in (0..20u16).step_by(2) {
            let (n, from) = client.recv_from(&mut buf).expect("the even replies");
            assert_eq!(from, server.local_addr().unwrap());
            assert_eq!(&buf[..n], [&i.to_be_bytes()[..], b"ok"].concat());
        }
        client.set_nonblocking(true).unwrap();
        assert!(client.recv_from(&mut buf).is_err(), "no odd reply was sent");
    }

    #[test]
    fn batches_of_ipv4_datagrams_answered_to_their_senders() {
        exchange::<SockaddrIn>("127.0.0.1");
    }

    #[test]
    fn batches_of_ipv6_datagrams_answered_to_their_senders() {
        exchange::<SockaddrIn6>("[::1]");
    }

    #[test]
    fn a_lone_reply_is_sent_too() {
        let (server, client) = pair("127.0.0.1");
        client
            .send_to(&datagram(4), server.local_addr().unwrap())
            .unwrap();
        let mut b = Batch::<SockaddrIn>::new();
        let (sizes, seen) = serve_all(&mut b, &server);
        assert_eq!((sizes, seen), (vec![1], vec![4]));
        let mut buf = [0u8; 64];
        let (n, _) = client.recv_from(&mut buf).expect("the reply");
        assert_eq!(&buf[..n], [&4u16.to_be_bytes()[..], b"ok"].concat());
    }

    #[test]
    fn a_datagram_longer_than_its_room_is_given_as_its_header() {
        let (server, client) = pair("127.0.0.1");
        let mut long = vec![7u8; QUERY_ROOM + 500];
        long[..2].copy_from_slice(&[0xAB, 0xCD]);
        client.send_to(&long, server.local_addr().unwrap()).unwrap();
        client
            .send_to(&datagram(3), server.local_addr().unwrap())
            .unwrap();
        let mut b = Batch::<SockaddrIn>::new();
        assert_eq!(b.recv(server.as_raw_fd()).unwrap(), 2);
        let mut lens = Vec::new();
        b.each(|q, from, _| {
            assert_eq!(from.port(), client.local_addr().unwrap().port());
            lens.push(q.len());
            false
        });
        assert_eq!(lens, [12, 15]);
    }

    #[test]
    fn nothing_waiting_is_would_block() {
        let (server, _client) = pair("127.0.0.1");
        let mut b = Batch::<SockaddrIn>::new();
        let e = b.recv(server.as_raw_fd()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }
}
