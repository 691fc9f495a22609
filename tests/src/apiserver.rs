//! A local HTTPS stand-in for the API server, for the one fault the real cluster cannot be
//! made to give (a sidecar older than the debug endpoints: there is no such image to run).
//! Served with the webhook's own TLS stack on a certificate from hack/gen-certs.sh, with a
//! kubeconfig that points at it for the real kubectl: pods (get, and the pod proxy
//! subresource, forwarded to a real address). Everything else is tested against the real
//! API server of `hack/cluster.sh` (tests/src/cluster).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use crate::{injected, TempDir};

#[derive(Default)]
struct Store {
    /// (namespace, name) → Pod.
    pods: BTreeMap<(String, String), Value>,
    /// Where `pods/NAME:PORT/proxy` goes: (namespace, name, port) → address.
    proxied: BTreeMap<(String, String, u16), SocketAddr>,
}

type Shared = Arc<Mutex<Store>>;

pub struct ApiServer {
    pub addr: SocketAddr,
    pub kubeconfig: PathBuf,
    store: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: TempDir,
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()
    });
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn pod(State(st): State<Shared>, Path((ns, name)): Path<(String, String)>) -> Response {
    let s = st.lock().unwrap();
    match s.pods.get(&(ns, name.clone())) {
        Some(p) => ([("content-type", "application/json")], p.to_string()).into_response(),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("pods \"{name}\" not found"),
        ),
    }
}

async fn pod_proxy(
    State(st): State<Shared>,
    Path((ns, target, rest)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    let (name, port) = match target.rsplit_once(':') {
        Some((n, p)) => (n.to_string(), p.parse::<u16>().unwrap_or(0)),
        None => (target.clone(), 0),
    };
    let addr = {
        let s = st.lock().unwrap();
        if !s.pods.contains_key(&(ns.clone(), name.clone())) {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("pods \"{name}\" not found"),
            );
        }
        s.proxied.get(&(ns.clone(), name.clone(), port)).copied()
    };
    let Some(addr) = addr else {
        // The API server dials the pod's port; nothing listens there.
        return status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("error trying to reach service: dial tcp 10.244.1.9:{port}: connect: connection refused"),
        );
    };
    let target_path = if q.is_empty() {
        format!("/{rest}")
    } else {
        format!("/{rest}?{q}")
    };
    let got = tokio::task::spawn_blocking(move || crate::http_get(addr, &target_path))
        .await
        .unwrap_or((0, String::new()));
    match got {
        (0, _) => status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("error trying to reach service: dial tcp {addr}: connect: connection refused"),
        ),
        (code, body) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY),
            body,
        )
            .into_response(),
    }
}

impl ApiServer {
    /// Starts the stand-in on a loopback port, with a kubeconfig naming it (context
    /// `stand-in`, namespace `default`).
    pub fn start() -> ApiServer {
        let dir = TempDir::new("apiserver");
        let certs = injected::certs(&dir.0);
        let store: Shared = Arc::default();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = store.clone();
        let (crt, key) = (certs.join("tls.crt"), certs.join("tls.key"));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let cert = dns_sidecar_webhook::tls::ReloadingCert::new(&crt, &key)
                    .expect("the stand-in's certificate");
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(
                    dns_sidecar_webhook::tls::server_config(cert).expect("TLS config"),
                ));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new()
                    .route("/api/v1/namespaces/{ns}/pods/{name}", get(pod))
                    .route(
                        "/api/v1/namespaces/{ns}/pods/{target}/proxy/{*rest}",
                        any(pod_proxy),
                    )
                    .with_state(st);
                tokio::select! {
                    _ = dns_sidecar_webhook::server::serve(listener, acceptor, app) => {}
                    _ = stopped => {}
                }
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the stand-in bound");
        let ca = std::fs::read(certs.join("ca.crt")).unwrap();
        let kubeconfig = dir.0.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: https://{addr}\n    certificate-authority-data: {ca}\n\
                 users:\n- name: tester\n  user:\n    token: test-token\n\
                 contexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: tester\n    namespace: default\n\
                 current-context: stand-in\n",
                ca = base64::engine::general_purpose::STANDARD.encode(ca)
            ),
        )
        .unwrap();
        ApiServer {
            addr,
            kubeconfig,
            store,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Stores a pod, and where its `pods/NAME:PORT/proxy` requests go.
    pub fn put_pod(&self, ns: &str, pod: Value, proxied: &[(u16, SocketAddr)]) {
        let name = pod["metadata"]["name"].as_str().unwrap().to_string();
        let mut s = self.store.lock().unwrap();
        for (port, to) in proxied {
            s.proxied.insert((ns.to_string(), name.clone(), *port), *to);
        }
        s.pods.insert((ns.to_string(), name), pod);
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
