//! The query path shared by the UDP and TCP listeners. `answer_cached` runs inline in the
//! listener and serves hits without allocating; a miss becomes a `Pending` that a task
//! resolves upstream, sharing one upstream query among identical client queries
//! (`engine/resolve.rs`); autopath's part is `engine/autopath.rs`.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod autopath;
mod debug;
mod resolve;

pub use autopath::Autopath;

use crate::answer::{Answer, Serve};
use crate::cache::{on_stale, Cache, CacheRead, OnStale};
use crate::metrics::{Metrics, Proto};
use crate::recent::{Recent, Served, What};
use crate::single_flight::SingleFlight;
use crate::top::Top;
use crate::upstream::Pool;
use crate::wire::{self, Ask, Query, Reject};
use crate::{lock, Instant};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Who may ask (`--allow-from`; empty: everyone).
    pub allow_from: Vec<crate::acl::Cidr>,
    /// Total time a client query may wait for upstreams before stale or SERVFAIL.
    pub query_timeout: Duration,
    /// Distinct questions resolving upstream at once; client queries waiting on them are
    /// bounded at eight times this.
    pub max_inflight: usize,
    pub log_queries: bool,
    pub autopath: crate::autopath::Level,
    /// Query names may be kept for and shown by /debug (`--debug-names`).
    pub debug_names: bool,
}

/// An answer ready to render, with how to set its TTLs.
#[derive(Clone)]
struct Resolved {
    answer: Answer,
    serve: Serve,
}

/// What the inline step (in the listener, no I/O) did with a datagram or TCP message.
pub enum Inline {
    /// Answered: `out` holds the reply (a hit, stale, or an error the proxy made).
    Replied,
    /// Nothing to say (not a query, or no header).
    Dropped,
    /// Not answerable from the cache: resolve upstream (in a task), then reply.
    Resolve(Pending),
}

pub struct Pending {
    query: Box<[u8]>,
    q: Query,
    ask: Ask,
    started: Instant,
    /// The expired answer the cache still holds, if any.
    stale: Option<Answer>,
    /// For autopath's `cname`: the rest of the search-list walk this query starts.
    walk: Option<Vec<Vec<u8>>>,
}

/// How long a client with a stale answer available waits for a fresh one (RFC 8767 §5
/// suggests 1.8 s for recursive resolvers; a sidecar in front of glibc's 5 s timeout and a
/// 1.5 s query budget answers sooner).
const STALE_CLIENT_TIMER: Duration = Duration::from_millis(500);

pub struct Engine {
    cache: Mutex<Cache>,
    inflight: SingleFlight<Resolved>,
    pending: AtomicUsize,
    pub pool: Arc<Pool>,
    pub metrics: Arc<Metrics>,
    cfg: EngineConfig,
    autopath: Autopath,
    /// The most asked names (`--debug-names` only: nothing is counted otherwise).
    top: Option<Mutex<Top>>,
    /// The last failed resolutions.
    recent: Mutex<Recent>,
}

/// Releases a pending slot however the task ends.
struct PendingSlot<'a>(&'a AtomicUsize);
impl Drop for PendingSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Engine {
    pub fn new(
        cache: Cache,
        pool: Arc<Pool>,
        metrics: Arc<Metrics>,
        cfg: EngineConfig,
        searches: Arc<crate::search::Searches>,
    ) -> Engine {
        Engine {
            cache: Mutex::new(cache),
            inflight: SingleFlight::new(cfg.max_inflight),
            pending: AtomicUsize::new(0),
            pool,
            metrics,
            autopath: Autopath::new(cfg.autopath, searches),
            top: cfg.debug_names.then(|| Mutex::new(Top::default())),
            recent: Mutex::new(Recent::default()),
            cfg,
        }
    }

    pub fn cache_stats(&self) -> crate::cache::CacheStats {
        lock(&self.cache).stats()
    }

    /// Whether every client may ask (no `--allow-from`): the hot path skips the check.
    pub fn open_to_all(&self) -> bool {
        self.cfg.allow_from.is_empty()
    }

    /// Whether a client at `ip` may ask (`--allow-from`).
    pub fn allowed(&self, ip: std::net::IpAddr) -> bool {
        crate::acl::allowed(&self.cfg.allow_from, ip)
    }

    /// Answers a client `--allow-from` leaves out: REFUSED with its question, or nothing
    /// when the message is not a query.
    pub fn refuse(&self, buf: &[u8], out: &mut Vec<u8>) -> Inline {
        self.metrics.refused_clients.fetch_add(1, Relaxed);
        match wire::parse_query(buf) {
            Ok(q) => {
                wire::write_error(buf, Some(&q), wire::rcode::REFUSED, out);
                self.metrics.response(wire::rcode::REFUSED);
                Inline::Replied
            }
            Err(_) => Inline::Dropped,
        }
    }

    /// Answers from cache, or says why not. Never blocks on I/O.
    pub fn answer_cached(self: &Arc<Self>, buf: &[u8], proto: Proto, out: &mut Vec<u8>) -> Inline {
        // The clock is read only for CoreDNS's request-duration histogram: what is answered
        // here takes microseconds, inside the first bucket of our own.
        let t0 = self.metrics.coredns.on.then(Instant::now);
        let r = self.inline(buf, proto, out);
        if let Inline::Replied = &r {
            self.metrics.answer_time.observe(Duration::ZERO);
            if let Some(t0) = t0 {
                self.metrics.coredns.duration.observe(t0.elapsed());
            }
        }
        r
    }

    fn inline(self: &Arc<Self>, buf: &[u8], proto: Proto, out: &mut Vec<u8>) -> Inline {
        let q = match wire::parse_query(buf) {
            Ok(q) => q,
            Err(r) => {
                self.metrics.malformed.fetch_add(1, Relaxed);
                return match r {
                    Reject::Drop => Inline::Dropped,
                    Reject::Respond(code) => {
                        wire::write_error(buf, None, code, out);
                        self.metrics.response(code);
                        Inline::Replied
                    }
                };
            }
        };
        self.metrics.request(proto, q.qtype);
        let kb = wire::cache_key(buf, &q);
        let key = kb.key();
        // The first name of a walk, under `cname`: answered from the whole walk, never
        // from its own cache entry alone.
        let walk = self.cname_walk(key);
        let lookup = match walk {
            None => lock(&self.cache).get(key.bytes(), Instant::now()),
            Some(_) => CacheRead::Miss,
        };
        let mut stale = None;
        match lookup {
            CacheRead::Fresh {
                answer,
                serve,
                prefetch,
            } => {
                self.metrics.cache_hits.fetch_add(1, Relaxed);
                self.note(key, false, false, answer.rcode());
                self.render(&answer, buf, &q, serve, proto, out);
                if prefetch {
                    self.metrics.prefetches.fetch_add(1, Relaxed);
                    self.spawn_refresh(Ask::new(key, q.recursion_desired()));
                }
                self.log(buf, &q, proto, answer.rcode(), "hit", Duration::ZERO);
                return Inline::Replied;
            }
            CacheRead::Stale(answer)
                if on_stale(self.pool.any_healthy()) == OnStale::ServeAndRefresh =>
            {
                self.metrics.stale_answers.fetch_add(1, Relaxed);
                self.note(key, false, true, answer.rcode());
                self.render(&answer, buf, &q, Serve::Stale, proto, out);
                self.spawn_refresh(Ask::new(key, q.recursion_desired()));
                self.log(buf, &q, proto, answer.rcode(), "stale", Duration::ZERO);
                return Inline::Replied;
            }
            CacheRead::Stale(answer) => stale = Some(answer),
            CacheRead::Miss if walk.is_none() => self.prefetch_walk(key, q.recursion_desired()),
            CacheRead::Miss => {}
        }
        self.metrics.cache_misses.fetch_add(1, Relaxed);
        if self.pending.fetch_add(1, Relaxed) >= self.cfg.max_inflight * 8 {
            self.pending.fetch_sub(1, Relaxed);
            self.metrics.overloaded.fetch_add(1, Relaxed);
            self.note(key, true, false, wire::rcode::SERVFAIL);
            self.failed(
                key,
                What::TooMany,
                Served::Error(wire::rcode::SERVFAIL),
                None,
            );
            wire::write_error(buf, Some(&q), wire::rcode::SERVFAIL, out);
            self.metrics.response(wire::rcode::SERVFAIL);
            return Inline::Replied;
        }
        Inline::Resolve(Pending {
            query: buf.into(),
            ask: Ask::new(key, q.recursion_desired()),
            q,
            started: Instant::now(),
            stale,
            walk,
        })
    }

    /// Resolves a miss and writes the answer into `out`.
    pub async fn answer_upstream(
        self: &Arc<Self>,
        mut p: Pending,
        proto: Proto,
        out: &mut Vec<u8>,
    ) {
        let _slot = PendingSlot(&self.pending);
        if let Some(rest) = p.walk.take() {
            let rcode = self.answer_walk(&p, rest, proto, out).await;
            self.answered(&p, proto, rcode, "walk", false);
            return;
        }
        let r = match p.stale.take() {
            None => self.resolve(&p.ask).await,
            // RFC 8767's client response timer: with an expired answer in hand, wait only a
            // little for a fresh one. The resolution is its own task, so it still completes
            // and refreshes the cache (dropping it would strand its coalesced waiters).
            Some(stale) => {
                let (engine, ask) = (self.clone(), p.ask.clone());
                let task = tokio::spawn(async move { engine.resolve(&ask).await });
                match tokio::time::timeout(STALE_CLIENT_TIMER, task).await {
                    Ok(Ok(r)) => r,
                    _ => {
                        self.metrics.stale_answers.fetch_add(1, Relaxed);
                        Resolved {
                            answer: stale,
                            serve: Serve::Stale,
                        }
                    }
                }
            }
        };
        self.render(&r.answer, &p.query, &p.q, r.serve, proto, out);
        let stale = r.serve == Serve::Stale;
        self.answered(&p, proto, r.answer.rcode(), "miss", stale);
    }

    fn answered(&self, p: &Pending, proto: Proto, rcode: u16, how: &str, stale: bool) {
        let took = p.started.elapsed();
        self.metrics.answer_time.observe(took);
        self.note(p.ask.key(), true, stale, rcode);
        if self.metrics.coredns.on {
            self.metrics.coredns.duration.observe(took);
        }
        self.log(&p.query, &p.q, proto, rcode, how, took);
    }

    fn render(&self, a: &Answer, buf: &[u8], q: &Query, s: Serve, proto: Proto, out: &mut Vec<u8>) {
        let limit = match proto {
            Proto::Udp => q.udp_limit(),
            Proto::Tcp => u16::MAX as usize,
        };
        a.render(buf, q, s, limit, out);
        if out[2] & (wire::FLAG_TC >> 8) as u8 != 0 {
            self.metrics.truncated.fetch_add(1, Relaxed);
        }
        self.metrics.response(a.rcode());
    }

    fn log(&self, buf: &[u8], q: &Query, proto: Proto, rcode: u16, how: &str, took: Duration) {
        if self.cfg.log_queries {
            let name = crate::wire::name_to_string(&buf[q.qname.clone()]);
            log::info!(
                "query {proto:?} {name} type={} rcode={rcode} {how} {:.1}ms",
                q.qtype,
                took.as_secs_f64() * 1000.0
            );
        }
    }
}
