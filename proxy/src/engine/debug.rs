//! What the engine keeps for the debug endpoints (`admin::debug`): each query counted for
//! the most asked names, failed resolutions noted in the ring, and the read side of both and
//! of the cache. Names are kept only with `--debug-names`.

use std::time::Duration;

use super::Engine;
use crate::cache::Held;
use crate::recent::{Failure, Served, What};
use crate::top::{Counts, Note};
use crate::upstream::trace::Trace;
use crate::wire::Key;
use crate::{lock, Instant};

impl Engine {
    /// Whether query names may be kept and shown (`--debug-names`).
    pub fn debug_names(&self) -> bool {
        self.cfg.debug_names
    }

    /// Counts one answered query for `/debug/top` (nothing without `--debug-names`).
    pub(super) fn note(&self, key: Key<'_>, miss: bool, stale: bool, rcode: u16) {
        if let Some(top) = &self.top {
            let n = Note { miss, stale, rcode };
            lock(top).note(key.bytes(), n, Instant::now());
        }
    }

    /// Notes a resolution that failed: what went wrong, what the client got, what was
    /// tried (None: nothing was sent).
    pub(super) fn failed(&self, key: Key<'_>, what: What, served: Served, trace: Option<Trace>) {
        let now = Instant::now();
        let trace = trace.unwrap_or(Trace::new(now));
        let f = Failure {
            at: now,
            key: self.cfg.debug_names.then(|| key.bytes().into()),
            qtype: key.qtype(),
            what,
            served,
            took: trace.age(now),
            trace,
        };
        lock(&self.recent).push(f);
    }

    /// What the cache holds for `key`, its order untouched.
    pub fn peek(&self, key: Key<'_>) -> Option<Held> {
        lock(&self.cache).peek(key.bytes(), Instant::now())
    }

    /// The `n` most asked names and the window they cover; None without `--debug-names`.
    pub fn top(&self, n: usize) -> Option<(Vec<Counts>, Duration)> {
        let top = self.top.as_ref()?;
        Some(lock(top).top(n, Instant::now()))
    }

    /// The bytes the most-asked summary holds (0 without `--debug-names`).
    pub fn top_bytes(&self) -> usize {
        self.top.as_ref().map_or(0, |t| lock(t).heap_bytes())
    }

    /// The failures kept, newest first, and how many there were since start-up.
    pub fn recent(&self) -> (Vec<Failure>, u64) {
        let r = lock(&self.recent);
        (r.newest_first().cloned().collect(), r.total)
    }

    /// The pod's search domains (wire form), for finding a relative name in the cache.
    pub fn search_domains(&self) -> Vec<Vec<u8>> {
        self.autopath.search_domains()
    }
}
