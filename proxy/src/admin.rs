//! The admin HTTP server on a loopback port: /metrics (Prometheus text), /healthz (the
//! process is alive) and /readyz (listeners bound, not draining, and an upstream healthy
//! or the cache warm).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::engine::Engine;

pub struct AdminState {
    pub engine: Arc<Engine>,
    pub listening: AtomicBool,
    pub draining: AtomicBool,
}

impl AdminState {
    /// Why the proxy is not ready, or None when it is.
    pub fn not_ready(&self) -> Option<&'static str> {
        if !self.listening.load(Relaxed) {
            return Some("listeners not bound");
        }
        if self.draining.load(Relaxed) {
            return Some("draining");
        }
        if !self.engine.pool.any_up() && self.engine.cache_stats().entries == 0 {
            return Some("no healthy upstream and nothing cached");
        }
        None
    }
}

pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AdminState>,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

async fn metrics(State(s): State<Arc<AdminState>>) -> impl IntoResponse {
    let e = &s.engine;
    let body = e.metrics.render(e.cache_stats(), &e.pool.view());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

async fn readyz(State(s): State<Arc<AdminState>>) -> impl IntoResponse {
    match s.not_ready() {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}
