//! Wiring: `bind` every socket first (so a bad address fails start-up with its flag named),
//! then `serve` listeners, admin server, prober and discovery until a shutdown future
//! completes (SIGTERM for the binary; tests that run the proxy in-process pass their own),
//! then drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

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
    let pool = Pool::new(
        &cfg.upstreams,
        &cfg.fallback,
        cfg.pool.clone(),
        metrics.clone(),
    );
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
    });
    let admin_listener = TcpListener::bind(cfg.admin)
        .await
        .with_context(|| format!("cannot bind --admin {}", cfg.admin))?;
    let admin_addr = admin_listener.local_addr()?;

    let (mut udp, mut tcp, mut dns) = (Vec::new(), Vec::new(), Vec::new());
    for listen in &cfg.listen {
        let mut addr = *listen;
        let hint = if addr.port() < 1024 && addr.port() != 0 {
            " (ports below 1024 need CAP_NET_BIND_SERVICE or net.ipv4.ip_unprivileged_port_start)"
        } else {
            ""
        };
        for _ in 0..cfg.threads {
            let s = server::udp::bind(addr, cfg.threads > 1)
                .with_context(|| format!("cannot bind --listen {listen} (UDP){hint}"))?;
            addr = s.local_addr()?;
            udp.push(s);
        }
        tcp.push(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot bind --listen {addr} (TCP){hint}"))?,
        );
        dns.push(addr);
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
    if let Some(d) = cfg.discover.clone() {
        tasks.push(tokio::spawn(crate::discover::run(
            pool.clone(),
            d,
            cfg.engine.query_timeout,
        )));
    }
    let admin_task = tokio::spawn(crate::admin::serve(admin_listener, admin.clone()));
    admin.listening.store(true, Relaxed);
    log::info!(
        "listening on {:?}, upstreams {:?}, fallback {:?}, admin on {}",
        dns,
        cfg.upstreams,
        cfg.fallback,
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
