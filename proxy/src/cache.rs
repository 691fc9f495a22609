//! The answer cache: LRU by entries and by bytes, an entry's life clamped by policy, each
//! record's TTL counted down from its own (see `answer::Serve`), serve-stale (RFC 8767)
//! within a window, and a prefetch hint near expiry.
//! Time is passed in, so every rule here is tested without sleeping.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::Instant;

mod lru;
use lru::{Entry, Lru, SLOT_BYTES};

pub use crate::answer::STALE_TTL;
use crate::answer::{Answer, Kind, Serve};
/// Entries younger than this are never prefetched: refreshing them gains nothing.
const MIN_PREFETCH_TTL: u32 = 10;

/// The share of an entry's life left when a hit starts its prefetch: between 5% and 15%,
/// at a point spread per entry by its store time (counted from each pod's own first
/// insert, so it differs per pod and per name), so that the sidecars of one rollout, which
/// fetched a name together, do not refresh it together.
fn prefetch_share(stored_ms: u64) -> f64 {
    let bits = stored_ms.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54;
    0.05 + 0.10 * bits as f64 / 1024.0
}

/// The TTL left (whole seconds) at which a hit starts an entry's prefetch, None when it is
/// never prefetched: 15% of its life at most, at the entry's spread point (`prefetch_share`).
fn prefetch_point(p: &CachePolicy, ttl: u32, stored_ms: u64) -> Option<u32> {
    let at = (ttl as u64 * 3 / 20).min((ttl as f64 * prefetch_share(stored_ms)) as u64);
    (p.prefetch && ttl >= MIN_PREFETCH_TTL).then_some(at as u32)
}

/// What the cache holds for a question, as /debug/cache shows it.
#[derive(Debug, Clone)]
pub struct Held {
    pub answer: Answer,
    /// How long ago it was stored, and for how long.
    pub age: Duration,
    pub ttl: u32,
    /// How a lookup now would serve it: `Serve::Cached` while fresh, `Serve::Stale` when
    /// expired within the stale window (served only if upstreams fail), None when a lookup
    /// would drop it.
    pub serve: Option<Serve>,
    /// The TTL left at which a hit starts its refresh; None: never refreshed ahead.
    pub prefetch_at: Option<u32>,
    /// A refresh is on its way.
    pub prefetching: bool,
    /// How long past expiry it may still be served, while upstreams fail.
    pub stale_window: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct CachePolicy {
    pub capacity: NonZeroUsize,
    pub max_bytes: usize,
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub negative_ttl: u32,
    /// How long a negative answer without an SOA is kept (0: not at all, RFC 2308 §5);
    /// set where a resolver in between drops the authority section (Istio ambient).
    pub soa_less_negative_ttl: u32,
    pub servfail_ttl: u32,
    /// How long past expiry an entry may still be served when upstreams fail; None: never.
    pub stale_window: Option<Duration>,
    pub prefetch: bool,
}

impl CachePolicy {
    /// The most any record is served with from the cache.
    fn cap(&self) -> u32 {
        self.max_ttl.max(self.min_ttl)
    }

    /// How long an answer may be cached, in seconds; None when it must not be. A positive
    /// answer lives as long as its shortest-lived record, within --min-ttl..--max-ttl; a
    /// negative one by the RFC 2308 rule, capped by --negative-ttl.
    pub fn ttl_for(&self, answer: &Answer) -> Option<u32> {
        let ttl = match answer.kind() {
            Kind::Positive => answer.upstream_ttl()?.clamp(self.min_ttl, self.cap()),
            // RFC 2308 §5: without an SOA there is no negative TTL to go by, unless the
            // operator gives one (a resolver in between dropped the SOA).
            Kind::Negative => match answer.upstream_ttl() {
                Some(t) => t.min(self.negative_ttl),
                None => self.soa_less_negative_ttl.min(self.negative_ttl),
            },
            Kind::Failure if answer.rcode() == crate::wire::rcode::SERVFAIL => self.servfail_ttl,
            Kind::Failure => return None,
        };
        (ttl > 0).then_some(ttl)
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum CacheRead {
    /// Serve it so; `prefetch` asks the caller to refresh in the background.
    Fresh {
        answer: Answer,
        serve: Serve,
        prefetch: bool,
    },
    /// Expired but inside the stale window: serve only if upstreams fail.
    Stale(Answer),
    Miss,
}

/// What to do with an expired entry a lookup found (RFC 8767).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStale {
    /// No upstream is free of recent failures: serve it now and refresh behind.
    ServeAndRefresh,
    /// Ask upstream; serve it if no fresh answer comes within the client response timer.
    Resolve,
}

/// The serve-stale choice after a lookup.
pub fn on_stale(any_upstream_healthy: bool) -> OnStale {
    if any_upstream_healthy {
        OnStale::Resolve
    } else {
        OnStale::ServeAndRefresh
    }
}

/// What a resolution ends with, once the cache has had its say.
#[derive(Debug)]
pub struct Settled {
    pub answer: Answer,
    pub serve: Serve,
    /// Whether this is an expired answer served because upstreams failed.
    pub stale: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub evictions: u64,
}

pub struct Cache {
    lru: Lru,
    /// What entries' store times count from: the first insert (8 bytes an entry, not 16).
    epoch: Option<Instant>,
    policy: CachePolicy,
    bytes: usize,
    evictions: u64,
}

/// What an entry costs, counted exactly: its answer's allocation (counters included), its
/// slot and its index bucket. Not counted: the allocator's rounding up to its size class,
/// and the spare room of the slab and the index, which grow by doubling.
/// No answer is smaller than this (counters, META, a root question): for sizing the table.
const MIN_ANSWER_BYTES: usize = 40;

fn entry_bytes(answer: &Answer) -> usize {
    answer.heap_bytes() + SLOT_BYTES
}

impl Cache {
    pub fn new(policy: CachePolicy) -> Cache {
        Cache {
            // At most what the byte bound can hold, so a huge --cache-size with a small
            // --cache-bytes does not reserve address space for nothing.
            epoch: None,
            lru: Lru::with_capacity(
                policy
                    .capacity
                    .get()
                    .min(policy.max_bytes / (SLOT_BYTES + MIN_ANSWER_BYTES)),
            ),
            policy,
            bytes: 0,
            evictions: 0,
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.lru.len(),
            bytes: self.bytes,
            evictions: self.evictions,
        }
    }

    pub fn get(&mut self, key: &[u8], now: Instant) -> CacheRead {
        let Some(e) = self.lru.get_mut(key) else {
            return CacheRead::Miss;
        };
        let stored = self
            .epoch
            .map_or(now, |t| t + Duration::from_millis(e.stored_ms));
        let age = now.saturating_duration_since(stored);
        let age_s = age.as_secs().min(u32::MAX as u64) as u32;
        if age_s < e.ttl {
            let ttl = e.ttl - age_s;
            let prefetch =
                !e.prefetching && prefetch_point(&self.policy, e.ttl, e.stored_ms) >= Some(ttl);
            e.prefetching |= prefetch;
            return CacheRead::Fresh {
                answer: e.answer.clone(),
                serve: Serve::Cached {
                    age: age_s,
                    entry_ttl: e.ttl,
                    cap: self.policy.cap(),
                },
                prefetch,
            };
        }
        let expired_for = age - Duration::from_secs(e.ttl as u64);
        match self.policy.stale_window {
            Some(w) if expired_for <= w && e.answer.kind() != Kind::Failure => {
                CacheRead::Stale(e.answer.clone())
            }
            _ => {
                self.remove(key);
                CacheRead::Miss
            }
        }
    }

    /// What is held for `key` at `now`, leaving the LRU order and the entry as they are.
    pub fn peek(&self, key: &[u8], now: Instant) -> Option<Held> {
        let e = self.lru.peek(key)?;
        let stored = self
            .epoch
            .map_or(now, |t| t + Duration::from_millis(e.stored_ms));
        let age = now.saturating_duration_since(stored);
        let age_s = age.as_secs().min(u32::MAX as u64) as u32;
        let expired_for = age.saturating_sub(Duration::from_secs(e.ttl as u64));
        let serve = if age_s < e.ttl {
            Some(Serve::Cached {
                age: age_s,
                entry_ttl: e.ttl,
                cap: self.policy.cap(),
            })
        } else {
            self.policy
                .stale_window
                .filter(|w| expired_for <= *w && e.answer.kind() != Kind::Failure)
                .map(|_| Serve::Stale)
        };
        Some(Held {
            answer: e.answer.clone(),
            age,
            ttl: e.ttl,
            serve,
            prefetch_at: prefetch_point(&self.policy, e.ttl, e.stored_ms),
            prefetching: e.prefetching,
            stale_window: self.policy.stale_window,
        })
    }

    /// Stores an answer for the policy's TTL; returns how to serve it now, None if it is
    /// not cacheable (then serve it as received).
    pub fn insert(&mut self, key: &[u8], answer: Answer, now: Instant) -> Option<Serve> {
        let ttl = self.policy.ttl_for(&answer)?;
        // An entry is found by its answer's question: one filed under another key could
        // never be found, so it is not stored (the engine files answers under their own).
        if answer.question() != &key[..key.len() - 1] {
            return None;
        }
        let size = entry_bytes(&answer);
        if size > self.policy.max_bytes {
            return None;
        }
        self.remove(key);
        while self.lru.len() >= self.policy.capacity.get()
            || self.bytes + size > self.policy.max_bytes
        {
            let Some(old) = self.lru.pop_lru() else {
                break;
            };
            self.bytes -= entry_bytes(&old.answer);
            self.evictions += 1;
        }
        let epoch = *self.epoch.get_or_insert(now);
        // Rounded down to the millisecond: a TTL counts down at most 1 ms early, never late.
        let stored_ms = now.saturating_duration_since(epoch).as_millis() as u64;
        self.lru.push(Entry::new(answer, stored_ms, ttl, key));
        self.bytes += size;
        Some(Serve::Cached {
            age: 0,
            entry_ttl: ttl,
            cap: self.policy.cap(),
        })
    }

    /// Ends a resolution of `key` with what upstream gave (None: nothing usable in time).
    /// An answer that is not a failure is stored and served. Otherwise stale beats an
    /// error (RFC 8767): the expired entry if it is within the window, a fresh one if
    /// another resolution stored it meanwhile, else a SERVFAIL, cached for --servfail-ttl.
    pub fn settle(&mut self, key: &[u8], got: Option<Answer>, now: Instant) -> Settled {
        if let Some(a) = got.filter(|a| a.kind() != Kind::Failure) {
            let serve = self.insert(key, a.clone(), now);
            return Settled {
                answer: a,
                serve: serve.unwrap_or(Serve::AsReceived),
                stale: false,
            };
        }
        let (answer, serve, stale) = match self.get(key, now) {
            CacheRead::Stale(a) => (a, Serve::Stale, true),
            CacheRead::Fresh { answer, serve, .. } => (answer, serve, false),
            CacheRead::Miss => {
                let a = Answer::servfail(crate::wire::Key::of(key));
                self.insert(key, a.clone(), now);
                (a, Serve::AsReceived, false)
            }
        };
        Settled {
            answer,
            serve,
            stale,
        }
    }

    /// Lets a failed prefetch be tried again on a later hit.
    pub fn clear_prefetch(&mut self, key: &[u8]) {
        if let Some(e) = self.lru.peek_mut(key) {
            e.prefetching = false;
        }
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.lru.remove(key) {
            self.bytes -= entry_bytes(&old.answer);
        }
    }
}

#[cfg(test)]
mod tests;
