//! Wiring: `bind` every socket first (so a bad address fails start-up with its flag named),
//! then `serve` listeners, admin server, prober and discovery until a shutdown future
//! completes (SIGTERM for the binary; tests that run the proxy in-process pass their own),
//! then drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::admin::AdminState;
use crate::cache::Cache;
use crate::config::Config;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::search::Searches;
use crate::server;
use crate::upstream::Pool;

/// How often the pod's resolv.conf is checked for a changed search list.
const SEARCH_RELOAD: std::time::Duration = std::time::Duration::from_secs(2);

/// Every socket bound, nothing served yet.
pub struct Bound {
    cfg: Config,
    engine: Arc<Engine>,
    searches: Arc<Searches>,
    admin: Arc<AdminState>,
    admin_listener: TcpListener,
    udp: Vec<tokio::net::UdpSocket>,
    tcp: Vec<TcpListener>,
    /// The DNS addresses as bound (a port 0 in --listen replaced by the one the kernel gave).
    pub dns: Vec<SocketAddr>,
    pub admin_addr: SocketAddr,
}

/// The binary's life: bind, then serve until SIGTERM or Ctrl-C, then drain.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    serve(bind(cfg).await?, shutdown_signal()).await
}

/// Binds the admin port and every listen address, UDP and TCP on the same port (a port 0
/// gets one from the kernel, for both). A bad address fails here, with its flag named.
pub async fn bind(cfg: Config) -> anyhow::Result<Bound> {
    let mut metrics = Metrics::default();
    metrics.coredns.on = cfg.coredns_metrics;
    let metrics = Arc::new(metrics);
    let pool = Pool::new(&cfg.upstreams, cfg.pool.clone(), metrics.clone());
    // The pod's search list, for autopath (none when the file cannot be read).
    let text = std::fs::read_to_string(&cfg.resolv_conf).unwrap_or_default();
    let searches = Arc::new(Searches::new(crate::search::parse(&text)));
    let engine = Arc::new(Engine::new(
        Cache::new(cfg.cache.clone()),
        pool,
        metrics,
        cfg.engine.clone(),
        searches.clone(),
    ));
    let admin = Arc::new(AdminState {
        engine: engine.clone(),
        listening: false.into(),
        draining: false.into(),
        discovery: cfg
            .discover
            .clone()
            .map(|d| (d, Arc::new(Mutex::new(Default::default())))),
    });
    let admin_listener = TcpListener::bind(cfg.admin)
        .await
        .with_context(|| format!("cannot bind --admin {}", cfg.admin))?;
    let admin_addr = admin_listener.local_addr()?;

    let (mut udp, mut tcp, mut dns) = (Vec::new(), Vec::new(), Vec::new());
    for listen in &cfg.listen {
        let (socks, listener) = bind_listen(*listen, cfg.threads).await?;
        dns.push(listener.local_addr()?);
        udp.extend(socks);
        tcp.push(listener);
    }
    Ok(Bound {
        cfg,
        engine,
        searches,
        admin,
        admin_listener,
        udp,
        tcp,
        dns,
        admin_addr,
    })
}

/// How many kernel-chosen ports to try for a `--listen` port 0 before giving up.
const PORT0_TRIES: usize = 16;

/// Binds one --listen address: `threads` UDP sockets, then TCP on the same port. A port 0
/// takes the UDP socket's port from the kernel; that port's TCP side may already be taken
/// (by any socket bound to it, a client's among them), so then another port is tried.
async fn bind_listen(
    listen: SocketAddr,
    threads: usize,
) -> anyhow::Result<(Vec<tokio::net::UdpSocket>, TcpListener)> {
    let hint = if listen.port() < 1024 && listen.port() != 0 {
        " (ports below 1024 need CAP_NET_BIND_SERVICE or net.ipv4.ip_unprivileged_port_start)"
    } else {
        ""
    };
    let context = |proto: &str, addr: SocketAddr| {
        format!("cannot bind --listen {listen} ({proto} on {addr}){hint}")
    };
    let tries = if listen.port() == 0 { PORT0_TRIES } else { 1 };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let first =
            server::udp::bind(listen, threads > 1).with_context(|| context("UDP", listen))?;
        let addr = first.local_addr()?;
        let mut socks = vec![first];
        let mut taken = None;
        while socks.len() < threads {
            match server::udp::bind(addr, true) {
                Ok(s) => socks.push(s),
                Err(e) => {
                    taken = Some((e, "UDP"));
                    break;
                }
            }
        }
        if taken.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => return Ok((socks, l)),
                Err(e) => taken = Some((e, "TCP")),
            }
        }
        let (e, proto) = taken.expect("a bind failed");
        if attempt >= tries || e.kind() != std::io::ErrorKind::AddrInUse {
            return Err(anyhow::Error::new(e).context(context(proto, addr)));
        }
        log::debug!("port {} was taken for {proto}; trying another", addr.port());
    }
}

/// Serves listeners, admin server, prober and discovery until `shutdown` completes, then
/// answers for --drain more with /readyz failing.
pub async fn serve(b: Bound, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let Bound {
        cfg,
        engine,
        searches,
        admin,
        admin_listener,
        udp,
        tcp,
        dns,
        admin_addr,
    } = b;
    let pool = engine.pool.clone();
    let mut tasks = Vec::new();
    for s in udp {
        tasks.push(tokio::spawn(server::udp::serve(s, engine.clone())));
    }
    for l in tcp {
        tasks.push(tokio::spawn(server::tcp::serve(
            l,
            engine.clone(),
            cfg.max_tcp_connections,
            cfg.tcp_idle_timeout,
        )));
    }
    tasks.push(tokio::spawn(pool.clone().run_prober()));
    if cfg.engine.autopath != crate::autopath::Level::Off {
        tasks.push(tokio::spawn(crate::search::watch(
            cfg.resolv_conf.clone(),
            searches,
            SEARCH_RELOAD,
        )));
    }
    if let Some((d, status)) = admin.discovery.clone() {
        let e = engine.clone();
        tasks.push(tokio::spawn(crate::discover::run(
            pool.clone(),
            d,
            cfg.engine.query_timeout,
            status,
            move |ask, answer| e.remember(ask, answer),
        )));
    }
    let admin_task = tokio::spawn(crate::admin::serve(admin_listener, admin.clone()));
    admin.listening.store(true, Relaxed);
    log::info!(
        "listening on {:?}, node cache {:?}, upstreams {:?}, fallback {:?}, admin on {}",
        dns,
        cfg.pool.node_cache,
        cfg.upstreams,
        cfg.pool.fallback,
        admin_addr
    );
    tokio::select! {
        _ = shutdown => {}
        r = admin_task => {
            r.context("admin server task")?.context("admin server")?;
        }
    }
    admin.draining.store(true, Relaxed);
    log::info!("terminating: answering for {:?} more", cfg.drain);
    tokio::time::sleep(cfg.drain).await;
    for t in tasks {
        t.abort();
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn port_zero_gives_udp_and_tcp_one_port() {
        let (udp, tcp) = bind_listen("127.0.0.1:0".parse().unwrap(), 3)
            .await
            .unwrap();
        let port = tcp.local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert_eq!(udp.len(), 3);
        for s in &udp {
            assert_eq!(s.local_addr().unwrap().port(), port);
        }
    }

    #[tokio::test]
    async fn a_named_port_taken_for_tcp_fails_naming_the_flag_and_the_protocol() {
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = other.local_addr().unwrap();
        let Err(err) = bind_listen(addr, 1).await else {
            panic!("{addr} is taken, yet it bound");
        };
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("--listen {addr} (TCP")) && text.contains("in use"),
            "{text}"
        );
    }
}
