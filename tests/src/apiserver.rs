//! A local HTTPS stand-in for the parts of the Kubernetes API the binaries use, served with
//! the webhook's own TLS stack on a certificate from hack/gen-certs.sh, with a kubeconfig
//! that points at it (for kube-rs and for the real kubectl): EndpointSlices (list, watch as
//! a stream of events, server-side apply) and pods (get, and the pod proxy subresource,
//! forwarded to a real address). What each client sent is kept for the test to read.
//! Not a reimplementation of the API server: only the requests these clients make, with
//! the responses (and errors, such as a 403 for a missing permission) the real one gives.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::{injected, TempDir};

/// One request a client made, as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: String,
}

#[derive(Default)]
struct Store {
    /// (namespace, name) → EndpointSlice.
    slices: BTreeMap<(String, String), Value>,
    rv: u64,
    watchers: Vec<(String, Option<String>, mpsc::UnboundedSender<Value>)>,
    seen: Vec<Seen>,
    /// (namespace, name) → Pod.
    pods: BTreeMap<(String, String), Value>,
    /// Where `pods/NAME:PORT/proxy` goes: (namespace, name, port) → address.
    proxied: BTreeMap<(String, String, u16), SocketAddr>,
    /// Subresources the client may not use, as RBAC would refuse them: (namespace, what).
    forbidden: Vec<(String, String)>,
    /// Namespace → labels.
    namespaces: BTreeMap<String, Value>,
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

fn labels_match(obj: &Value, selector: &Option<String>) -> bool {
    let Some(sel) = selector else { return true };
    sel.split(',').all(|term| match term.split_once('=') {
        Some((k, v)) => obj["metadata"]["labels"][k].as_str() == Some(v),
        None => true,
    })
}

fn query_param(q: &str, key: &str) -> Option<String> {
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            v.replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/")
                .replace('+', " ")
        })
    })
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

impl Store {
    fn remember(&mut self, method: &Method, path: &str, q: &str, h: &HeaderMap, body: &str) {
        self.seen.push(Seen {
            method: method.to_string(),
            path: path.to_string(),
            query: q.to_string(),
            content_type: h
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            body: body.to_string(),
        });
    }

    fn put_slice(&mut self, ns: &str, mut obj: Value) -> Value {
        self.rv += 1;
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let kind = if self.slices.contains_key(&(ns.to_string(), name.clone())) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        obj["metadata"]["namespace"] = json!(ns);
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        obj["apiVersion"] = json!("discovery.k8s.io/v1");
        obj["kind"] = json!("EndpointSlice");
        self.slices.insert((ns.to_string(), name), obj.clone());
        let ev = json!({"type": kind, "object": obj});
        self.watchers.retain(|(wns, sel, tx)| {
            if wns == ns && labels_match(&ev["object"], sel) {
                tx.send(ev.clone()).is_ok()
            } else {
                !tx.is_closed()
            }
        });
        obj
    }
}

async fn slices(
    State(st): State<Shared>,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let path = format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices");
    let selector = query_param(&q, "labelSelector");
    let mut s = st.lock().unwrap();
    s.remember(&method, &path, &q, &headers, "");
    if query_param(&q, "watch").as_deref() == Some("true")
        || query_param(&q, "watch").as_deref() == Some("1")
    {
        let (tx, rx) = mpsc::unbounded_channel::<Value>();
        s.watchers.push((ns, selector, tx));
        drop(s);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            let v = rx.recv().await?;
            Some((Ok::<_, std::io::Error>(format!("{v}\n")), rx))
        });
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(stream))
            .unwrap();
    }
    let items: Vec<Value> = s
        .slices
        .iter()
        .filter(|((n, _), o)| *n == ns && labels_match(o, &selector))
        .map(|(_, o)| o.clone())
        .collect();
    let list = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList",
        "metadata": {"resourceVersion": s.rv.to_string()}, "items": items
    });
    ([("content-type", "application/json")], list.to_string()).into_response()
}

async fn slice(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: String,
) -> Response {
    let q = q.unwrap_or_default();
    let path = format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}");
    let mut s = st.lock().unwrap();
    s.remember(&method, &path, &q, &headers, &body);
    match method {
        Method::GET => match s.slices.get(&(ns.clone(), name.clone())) {
            Some(o) => ([("content-type", "application/json")], o.to_string()).into_response(),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("endpointslices.discovery.k8s.io \"{name}\" not found"),
            ),
        },
        Method::PATCH => {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if ct != "application/apply-patch+yaml" {
                return status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    format!("the body of the request was in an unknown format ({ct})"),
                );
            }
            let Ok(obj) = serde_json::from_str::<Value>(&body) else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "not JSON".into());
            };
            if obj["metadata"]["name"] != json!(name) {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the name of the object does not match the name on the URL".into(),
                );
            }
            let stored = s.put_slice(&ns, obj);
            ([("content-type", "application/json")], stored.to_string()).into_response()
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            method.to_string(),
        ),
    }
}

/// Namespaces: the list, and a watch that stays open with nothing to say.
async fn namespaces(
    State(st): State<Shared>,
    RawQuery(q): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let mut s = st.lock().unwrap();
    s.remember(&method, "/api/v1/namespaces", &q, &headers, "");
    if matches!(query_param(&q, "watch").as_deref(), Some("true" | "1")) {
        drop(s);
        let stream = futures_util::stream::pending::<Result<String, std::io::Error>>();
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(stream))
            .unwrap();
    }
    let items: Vec<Value> = s
        .namespaces
        .iter()
        .map(|(name, labels)| {
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": name, "labels": labels, "resourceVersion": "1"}})
        })
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "NamespaceList",
                      "metadata": {"resourceVersion": s.rv.to_string()}, "items": items});
    ([("content-type", "application/json")], list.to_string()).into_response()
}

async fn pod(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let mut s = st.lock().unwrap();
    let path = format!("/api/v1/namespaces/{ns}/pods/{name}");
    s.remember(&method, &path, "", &headers, "");
    if s.forbidden.contains(&(ns.clone(), "pods".into())) {
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("pods \"{name}\" is forbidden: User \"tester\" cannot get resource \"pods\" in API group \"\" in the namespace \"{ns}\""),
        );
    }
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
    method: Method,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let path = format!("/api/v1/namespaces/{ns}/pods/{target}/proxy/{rest}");
    let (name, port) = match target.rsplit_once(':') {
        Some((n, p)) => (n.to_string(), p.parse::<u16>().unwrap_or(0)),
        None => (target.clone(), 0),
    };
    let addr = {
        let mut s = st.lock().unwrap();
        s.remember(&method, &path, &q, &headers, "");
        if s.forbidden.contains(&(ns.clone(), "pods/proxy".into())) {
            return status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!("pods \"{name}\" is forbidden: User \"tester\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"{ns}\""),
            );
        }
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
                    .route(
                        "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                        get(slices),
                    )
                    .route(
                        "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}",
                        any(slice),
                    )
                    .route("/api/v1/namespaces", get(namespaces))
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

    /// A namespace and its labels, for a client that lists them.
    pub fn put_namespace(&self, name: &str, labels: Value) {
        self.store
            .lock()
            .unwrap()
            .namespaces
            .insert(name.to_string(), labels);
    }

    /// Stores (or replaces) an EndpointSlice, telling watchers.
    pub fn put_slice(&self, ns: &str, obj: Value) {
        self.store.lock().unwrap().put_slice(ns, obj);
    }

    /// The stored EndpointSlice `ns/name`.
    pub fn slice(&self, ns: &str, name: &str) -> Option<Value> {
        self.store
            .lock()
            .unwrap()
            .slices
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.store.lock().unwrap().seen.clone()
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

    /// Refuses `what` ("pods", "pods/proxy") in `ns` with a 403, as RBAC would.
    pub fn forbid(&self, ns: &str, what: &str) {
        self.store
            .lock()
            .unwrap()
            .forbidden
            .push((ns.to_string(), what.to_string()));
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

/// An EndpointSlice of `service` in `ns` as the EndpointSlice controller writes one:
/// `endpoints` are (address, ready).
pub fn endpoint_slice(ns: &str, name: &str, service: &str, endpoints: &[(&str, bool)]) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {
                "kubernetes.io/service-name": service,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"
            }
        },
        "addressType": "IPv4",
        "endpoints": endpoints.iter().map(|(ip, ready)| json!({
            "addresses": [ip],
            "conditions": {"ready": ready, "serving": ready, "terminating": !ready}
        })).collect::<Vec<_>>(),
        "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]
    })
}
