//! Wiring: bind every socket first (so a bad address fails start-up with its flag named),
//! then run listeners, admin server, prober and discovery until SIGTERM, then drain.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::admin::AdminState;
use crate::cache::Cache;
use crate::config::Config;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::server;
use crate::upstream::Pool;

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let pool = Pool::new(&cfg.upstreams, cfg.pool.clone(), metrics.clone());
    let engine = Arc::new(Engine::new(
        Cache::new(cfg.cache.clone()),
        pool.clone(),
        metrics,
        cfg.engine.clone(),
    ));
    let admin = Arc::new(AdminState {
        engine: engine.clone(),
        listening: false.into(),
        draining: false.into(),
    });
    let admin_listener = TcpListener::bind(cfg.admin)
        .await
        .with_context(|| format!("cannot bind --admin {}", cfg.admin))?;

    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for addr in &cfg.listen {
        let hint = if addr.port() < 1024 {
            " (ports below 1024 need CAP_NET_BIND_SERVICE or net.ipv4.ip_unprivileged_port_start)"
        } else {
            ""
        };
        for _ in 0..cfg.threads {
            udp.push(
                server::udp::bind(*addr, cfg.threads > 1)
                    .with_context(|| format!("cannot bind --listen {addr} (UDP){hint}"))?,
            );
        }
        tcp.push(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot bind --listen {addr} (TCP){hint}"))?,
        );
    }
    for s in udp {
        tokio::spawn(server::udp::serve(s, engine.clone()));
    }
    for l in tcp {
        tokio::spawn(server::tcp::serve(
            l,
            engine.clone(),
            cfg.max_tcp_connections,
            cfg.tcp_idle_timeout,
        ));
    }
    tokio::spawn(pool.clone().run_prober());
    if let Some(d) = cfg.discover.clone() {
        tokio::spawn(crate::discover::run(pool.clone(), d, cfg.upstreams.clone()));
    }
    let admin_task = tokio::spawn(crate::admin::serve(admin_listener, admin.clone()));
    admin.listening.store(true, Relaxed);
    log::info!(
        "listening on {:?}, upstreams {:?}, admin on {}",
        cfg.listen,
        cfg.upstreams,
        cfg.admin
    );

    tokio::select! {
        _ = shutdown_signal() => {}
        r = admin_task => {
            r.context("admin server task")?.context("admin server")?;
        }
    }
    admin.draining.store(true, Relaxed);
    log::info!("terminating: answering for {:?} more", cfg.drain);
    tokio::time::sleep(cfg.drain).await;
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
