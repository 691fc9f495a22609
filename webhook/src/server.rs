//! HTTPS serving: a TLS accept loop (rustls, certificate reloaded per handshake) feeding
//! hyper with the axum router: POST /mutate, /healthz, /readyz, /metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::inject::Settings;
use crate::metrics::Metrics;
use crate::review;
use crate::upstreams::Upstreams;

/// An AdmissionReview holds one object (etcd caps objects at 1.5 MiB) and for updates its
/// old version: 4 MiB is ample, and anything larger is not a review.
pub const MAX_BODY: usize = 4 << 20;
/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct AppState {
    pub settings: Settings,
    pub upstreams: Arc<Upstreams>,
    /// Namespaces' labels, where the webhook follows them.
    pub namespaces: Option<Arc<crate::namespaces::Namespaces>>,
    pub metrics: Metrics,
    /// SIGTERM came: /readyz fails while admissions are still served (`--drain`).
    pub draining: std::sync::atomic::AtomicBool,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn mutate(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = Instant::now();
    let ups = s.upstreams.get();
    let labels = |ns: &str| s.namespaces.as_ref().and_then(|n| n.labels(ns));
    match review::review_in(&body, &s.settings, &ups, s.upstreams.source, &labels) {
        Ok(r) => {
            s.metrics.admission(r.outcome, r.reason, start.elapsed());
            log::info!(
                "{} {}{}{}",
                r.pod,
                r.outcome,
                if r.reason.is_empty() { "" } else { ": " },
                r.reason
            );
            axum::Json(r.body).into_response()
        }
        Err(e) => {
            s.metrics.bad_request();
            log::warn!("400: {e}");
            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
        }
    }
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if s.draining.load(std::sync::atomic::Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: draining\n").into_response()
    } else if s.upstreams.synced() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: upstream Services not listed yet\n",
        )
            .into_response()
    }
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let body = s.metrics.render(s.upstreams.get().len());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Accepts TLS connections until the listener fails; each connection on its own task.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, app: Router) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                log::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => return log::debug!("TLS handshake with {peer}: {e}"),
                Err(_) => return log::debug!("TLS handshake with {peer} timed out"),
            };
            let svc = TowerToHyperService::new(app);
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}
