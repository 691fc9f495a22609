//! Stand-ins for the DNS parts of meshes and Cilium, for tests/tests/meshes.rs. Each does
//! what its project's source says its DNS proxy does (../shared/research/coexistence.md),
//! logs one line per query it receives (to `--log`), and runs until killed:
//!
//! - `istio-agent --listen ADDR --resolv-conf FILE --log FILE`: Istio's agent on 15053 (run
//!   as uid 1337): a name it does not know is forwarded to the nameservers of the pod's
//!   resolv.conf, in random order (Istio 1.25 and later), moving on only on an error, 5 s
//!   each (`pkg/dns/client/dns.go`).
//! - `ztunnel --listen ADDR --upstream ADDR --log FILE`: ztunnel's DNS proxy (run as root):
//!   every query re-resolved through `--upstream` (the cluster DNS) from a socket marked
//!   0x539, which the in-pod rules exempt, and the answer rebuilt without its authority
//!   section, so a negative answer comes without an SOA (`src/dns/handler.rs`).
//! - `cilium-observer --listen ADDR --log FILE [--refuse SUFFIX]`: Cilium's transparent DNS
//!   proxy (run as root in the node's namespace, behind a TPROXY rule): each query is
//!   forwarded 1:1 to the address it was sent to, never cached; the log line has the
//!   original destination and the lowest TTL of the answer; names under `--refuse` get
//!   REFUSED, as a DNS policy that does not allow them answers.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn need(args: &[String], flag: &str) -> String {
    arg(args, flag).unwrap_or_else(|| {
        eprintln!("mesh_stand_in: {flag} is needed");
        std::process::exit(2)
    })
}

struct Log(Mutex<std::fs::File>);

impl Log {
    fn open(path: &str) -> Log {
        Log(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap_or_else(|e| panic!("{path}: {e}")),
        ))
    }
    fn line(&self, text: &str) {
        use std::io::Write;
        let mut f = self.0.lock().unwrap();
        let _ = writeln!(f, "{text}");
        let _ = f.flush();
    }
}

fn qname(q: &[u8]) -> String {
    Message::from_vec(q)
        .ok()
        .and_then(|m| m.queries.first().map(|q| q.name.to_ascii()))
        .unwrap_or_else(|| "?".into())
}

/// One exchange from a fresh socket (set up by `prepare`), `wait` at most.
fn exchange(
    to: SocketAddr,
    q: &[u8],
    wait: Duration,
    prepare: impl Fn(&socket2::Socket),
) -> Option<Vec<u8>> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .ok()?;
    prepare(&s);
    let local: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    s.bind(&local.into()).ok()?;
    let s: UdpSocket = s.into();
    s.set_read_timeout(Some(wait)).ok()?;
    s.connect(to).ok()?;
    s.send(q).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

fn serve(listen: &str, handle: impl Fn(&UdpSocket, SocketAddr, Vec<u8>) + Send + Sync + 'static) {
    let sock = UdpSocket::bind(listen).unwrap_or_else(|e| panic!("bind {listen}: {e}"));
    let sock = std::sync::Arc::new(sock);
    let handle = std::sync::Arc::new(handle);
    let mut buf = [0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let (q, sock, handle) = (buf[..n].to_vec(), sock.clone(), handle.clone());
        std::thread::spawn(move || handle(&sock, from, q));
    }
}

fn istio_agent(args: &[String]) {
    let log = Log::open(&need(args, "--log"));
    let text = std::fs::read_to_string(need(args, "--resolv-conf")).expect("resolv.conf");
    let servers: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .filter_map(|ip| format!("{}:53", ip.trim()).parse().ok())
        .collect();
    serve(&need(args, "--listen"), move |sock, from, q| {
        log.line(&qname(&q));
        let mut order = servers.clone();
        // Go's rand.Shuffle over the servers, as roundRobinShuffle does.
        if order.len() > 1 && dns_sidecar_tests::load::unit() < 0.5 {
            order.reverse();
        }
        for s in order {
            if let Some(a) = exchange(s, &q, Duration::from_secs(5), |_| {}) {
                let _ = sock.send_to(&a, from);
                return;
            }
        }
    });
}

fn ztunnel(args: &[String]) {
    let log = Log::open(&need(args, "--log"));
    let upstream: SocketAddr = need(args, "--upstream").parse().expect("--upstream");
    serve(&need(args, "--listen"), move |sock, from, q| {
        log.line(&qname(&q));
        let marked = |s: &socket2::Socket| {
            s.set_mark(0x539).expect("SO_MARK (root)");
        };
        let Some(a) = exchange(upstream, &q, Duration::from_secs(5), marked) else {
            return;
        };
        let Ok(mut m) = Message::from_vec(&a) else {
            return;
        };
        // Rebuilt with the answers and additionals only.
        m.authorities.clear();
        if let Ok(bytes) = m.to_vec() {
            let _ = sock.send_to(&bytes, from);
        }
    });
}

fn cilium_observer(args: &[String]) {
    use std::os::fd::AsRawFd;
    let log = Log::open(&need(args, "--log"));
    let refuse = arg(args, "--refuse");
    let listen: SocketAddr = need(args, "--listen").parse().expect("--listen");
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_ip_transparent_v4(true)
        .expect("IP_TRANSPARENT (root)");
    s.bind(&listen.into()).unwrap();
    let sock: UdpSocket = s.into();
    nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::Ipv4OrigDstAddr, &true)
        .expect("IP_RECVORIGDSTADDR");
    let mut buf = [0u8; 4096];
    loop {
        let (n, from, dst) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let mut cmsg = nix::cmsg_space!(nix::libc::sockaddr_in);
            let Ok(msg) = nix::sys::socket::recvmsg::<nix::sys::socket::SockaddrIn>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                nix::sys::socket::MsgFlags::empty(),
            ) else {
                continue;
            };
            let dst = msg
                .cmsgs()
                .ok()
                .into_iter()
                .flatten()
                .find_map(|c| match c {
                    nix::sys::socket::ControlMessageOwned::Ipv4OrigDstAddr(a) => {
                        Some(SocketAddr::from((
                            std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                            u16::from_be(a.sin_port),
                        )))
                    }
                    _ => None,
                });
            let from = msg.address.map(|a| SocketAddr::from((a.ip(), a.port())));
            (msg.bytes, from, dst)
        };
        let (Some(from), Some(dst)) = (from, dst) else {
            continue;
        };
        let q = buf[..n].to_vec();
        let refuse = refuse.clone();
        let log = &log;
        let name = qname(&q);
        let reply = if refuse.as_deref().is_some_and(|r| name.ends_with(r)) {
            Message::from_vec(&q).ok().and_then(|m| {
                let mut r = Message::new(m.metadata.id, MessageType::Response, m.metadata.op_code);
                r.metadata.response_code = ResponseCode::Refused;
                r.metadata.recursion_desired = m.metadata.recursion_desired;
                r.add_queries(m.queries.clone());
                r.to_vec().ok()
            })
        } else {
            exchange(dst, &q, Duration::from_secs(2), |_| {})
        };
        let ttl = reply
            .as_deref()
            .and_then(|r| Message::from_vec(r).ok())
            .and_then(|m| m.answers.iter().map(|r| r.ttl).min());
        log.line(&format!(
            "{dst} {name} {}",
            ttl.map_or("-".to_string(), |t| t.to_string())
        ));
        // The answer goes back from the address the client asked, as the proxy's does.
        if let Some(r) = reply {
            let back = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
                .and_then(|s| {
                    s.set_ip_transparent_v4(true)?;
                    s.bind(&dst.into())?;
                    Ok(s)
                });
            if let Ok(b) = back {
                let _ = b.send_to(&r, &from.into());
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("istio-agent") => istio_agent(&args),
        Some("ztunnel") => ztunnel(&args),
        Some("cilium-observer") => cilium_observer(&args),
        _ => {
            eprintln!("usage: mesh_stand_in istio-agent|ztunnel|cilium-observer ...");
            std::process::exit(2)
        }
    }
}
