//! Harness for the whole-system tests: the real `dns-sidecar-proxy` binary, a real NSD from
//! Debian's packages as the CoreDNS stand-in, unbound as the peer, `dig` as the client, and
//! in-process fakes for the faults a real server cannot produce. Every process started here
//! is ended by its PID when its handle drops. A missing tool fails the test with what to
//! install. One file per fixture kind: `process` (processes, temp dirs, ports, waiting),
//! `nsd`, `proxy` (the binary under test), `dig`, `http`, `ask` (a record-by-record client),
//! `unbound`, `fake` and `lossy` (fault injection), `netns` (the cluster in namespaces),
//! `clients` (resolvers other than glibc's, built here: musl's and Go's), `podman` (the
//! images under a real container runtime), `injected` (a pod as the webhook changes it),
//! `prom` (promtool and a real Prometheus), `cluster` (the real one-node cluster of
//! `hack/cluster.sh`: kubectl, the install, apps of test clients, faults, counters).

pub mod apiserver;
pub mod ask;
pub mod clients;
pub mod cluster;
pub mod crds;
mod dig;
pub mod fake;
pub mod fleet;
mod http;
pub mod injected;
pub mod load;
pub mod lossy;
pub mod netns;
mod nsd;
pub mod podman;
mod process;
pub mod prom;
mod proxy;
pub mod unbound;

pub use dig::{dig, Dig};
pub use http::{http_get, metric};
pub use nsd::{test_zone, Nsd};
pub use process::{closed_port, free_port, output_with_stdin, require, wait_until, Proc, TempDir};
pub use proxy::{built_bin, proxy_bin, repo_root, Proxy};
