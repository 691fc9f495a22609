//! The admin HTTP server (`--admin`): /metrics (Prometheus text), /healthz (the process is
//! alive), /readyz (start-up probes done, listeners bound, not draining, and an upstream
//! healthy or the cache warm), and the debug endpoints' JSON (`debug.rs`, `held.rs`), which the kubectl plugin
//! reads through the API server's pod proxy. Query names are shown only with
//! `--debug-names`: /debug/top and /debug/cache answer 403 without it, /debug/recent shows
//! types alone.

pub mod debug;
pub mod held;
pub mod json;
mod params;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::discover::Status;
use crate::engine::Engine;
use crate::obj;
use json::J;

pub struct AdminState {
    pub engine: Arc<Engine>,
    pub listening: AtomicBool,
    pub draining: AtomicBool,
    /// `--discover`'s name and what its lookups found, when it runs.
    pub discovery: Option<(crate::config::Discover, Arc<std::sync::Mutex<Status>>)>,
}

/// Names the annotation that turns `--debug-names` on, for the 403's message.
const NAMES_OFF: &str = "query names are not shown: this sidecar runs without \
    --debug-names (annotation dns-sidecar.io/debug-names: \"true\" on the pod, or the \
    webhook's --debug-names)";

/// The most `/debug/top?n=` shows.
const TOP_MAX: usize = crate::top::CAPACITY;
const TOP_DEFAULT: usize = 20;

impl AdminState {
    /// Why the proxy is not ready, or None when it is.
    pub fn not_ready(&self) -> Option<&'static str> {
        if !self.listening.load(Relaxed) {
            return Some("listeners not bound");
        }
        if self.draining.load(Relaxed) {
            return Some("draining");
        }
        if self.engine.pool.probing_at_start() {
            return Some("probing the upstreams at start-up");
        }
        // Not whether an upstream is healthy: the native sidecar's startup probe reads this,
        // and a DNS outage (or a mesh's redirect that breaks the upstream path) must not keep
        // the app from starting, nor have the kubelet restart the sidecar every 30 s; a
        // sidecar with no upstream answers SERVFAIL at once and the resolver moves on to the
        // fallback nameserver.
        None
    }
}

pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/debug", get(index))
        .route("/debug/upstreams", get(upstreams))
        .route("/debug/cache", get(cache))
        .route("/debug/top", get(top))
        .route("/debug/recent", get(recent))
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

fn json(code: StatusCode, body: J) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.text(),
    )
        .into_response()
}

fn error(code: StatusCode, msg: &str) -> Response {
    json(code, obj! { "error" => msg })
}

async fn index(State(s): State<Arc<AdminState>>) -> Response {
    let names = s.engine.debug_names();
    json(
        StatusCode::OK,
        obj! {
            "format" => debug::FORMAT,
            "version" => env!("CARGO_PKG_VERSION"),
            "debug_names" => names,
            "endpoints" => vec![
                J::from("/debug/upstreams"),
                J::from("/debug/cache?name=NAME&type=TYPE"),
                J::from("/debug/top?n=N"),
                J::from("/debug/recent"),
            ],
        },
    )
}

async fn upstreams(State(s): State<Arc<AdminState>>) -> Response {
    json(StatusCode::OK, debug::upstreams(&s, crate::Instant::now()))
}

async fn cache(State(s): State<Arc<AdminState>>, uri: Uri) -> Response {
    if !s.engine.debug_names() {
        return error(StatusCode::FORBIDDEN, NAMES_OFF);
    }
    let Some(name) = params::param(uri.query(), "name").filter(|n| !n.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "give the name: /debug/cache?name=NAME&type=TYPE",
        );
    };
    let qtype = match params::param(uri.query(), "type").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match held::parse_type(&t) {
            Ok(t) => Some(t),
            Err(e) => return error(StatusCode::BAD_REQUEST, &e),
        },
    };
    match held::cache(&s.engine, &name, qtype) {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => error(StatusCode::BAD_REQUEST, &e),
    }
}

async fn top(State(s): State<Arc<AdminState>>, uri: Uri) -> Response {
    let n = match params::param(uri.query(), "n") {
        None => TOP_DEFAULT,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if (1..=TOP_MAX).contains(&n) => n,
            _ => {
                let msg = format!("n={n:?}: give a count from 1 to {TOP_MAX}");
                return error(StatusCode::BAD_REQUEST, &msg);
            }
        },
    };
    match s.engine.top(n) {
        None => error(StatusCode::FORBIDDEN, NAMES_OFF),
        Some((counts, window)) => {
            let bytes = s.engine.top_bytes();
            json(StatusCode::OK, debug::top(&counts, window, bytes))
        }
    }
}

async fn recent(State(s): State<Arc<AdminState>>) -> Response {
    let (failures, total) = s.engine.recent();
    let names = s.engine.debug_names();
    json(
        StatusCode::OK,
        debug::recent(&failures, total, names, crate::Instant::now()),
    )
}
