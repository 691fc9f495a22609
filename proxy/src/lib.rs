//! dns-sidecar-proxy: a per-pod caching DNS proxy. The wire format (`wire`), the cache
//! (`cache`, `answer`) and upstream choice (`upstream::health`, `upstream::select`) are pure
//! and unit-tested; `engine`, `server`, `upstream` and `admin` are the I/O around them.

#![forbid(unsafe_code)]

pub mod acl;
pub mod admin;
pub mod answer;
pub mod app;
pub mod autopath;
pub mod cache;
pub mod config;
pub mod discover;
pub mod engine;
pub mod jitter;
pub use dns_sidecar_ops::logger;
pub mod metrics;
pub mod recent;
pub mod resolv_conf;
pub mod search;
pub mod server;
pub mod single_flight;
pub mod top;
pub mod upstream;
pub mod wire;

#[cfg(test)]
mod testutil;

/// The proxy's one clock. Every decision takes its time from here (converted once per step
/// and passed in), so tests can pause and advance it; `clippy.toml` forbids std's.
pub use tokio::time::Instant;

/// Locks a mutex, carrying on if another thread panicked while holding it: every value we
/// guard stays consistent between statements, and a DNS proxy must keep answering.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
