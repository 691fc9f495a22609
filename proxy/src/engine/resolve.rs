//! Resolving upstream: one resolution per question at a time (later askers wait for the
//! first), schema-proven names answered here, the answer settled into the cache; and the
//! background refresh of an entry near expiry.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::{Engine, Resolved};
use crate::answer::{Answer, Kind, Serve};
use crate::recent::{Served, What};
use crate::single_flight::Join;
use crate::upstream::trace::Trace;
use crate::upstream::ForwardError;
use crate::wire::{rcode, Ask};
use crate::{lock, Instant};

impl Engine {
    pub(super) fn spawn_refresh(self: &Arc<Self>, ask: Ask) {
        let engine = self.clone();
        tokio::spawn(async move {
            let r = engine.resolve(&ask).await;
            if r.answer.kind() == Kind::Failure {
                lock(&engine.cache).clear_prefetch(ask.key().bytes());
            }
        });
    }

    /// One upstream resolution per key at a time: later callers wait for the first.
    pub(super) async fn resolve(self: &Arc<Self>, ask: &Ask) -> Resolved {
        let key = ask.key().bytes();
        let servfail = || Resolved {
            answer: Answer::servfail(ask.key()),
            serve: Serve::AsReceived,
        };
        match self.inflight.join(key) {
            Join::Follow(rx) => {
                self.metrics.coalesced.fetch_add(1, Relaxed);
                rx.await.unwrap_or_else(|_| servfail())
            }
            Join::Full => {
                self.metrics.overloaded.fetch_add(1, Relaxed);
                self.failed(
                    ask.key(),
                    What::TooMany,
                    Served::Error(rcode::SERVFAIL),
                    None,
                );
                servfail()
            }
            Join::Lead => {
                self.metrics.inflight.fetch_add(1, Relaxed);
                let r = self.resolve_upstream(ask).await;
                self.metrics.inflight.fetch_sub(1, Relaxed);
                self.inflight.finish(key, &r);
                r
            }
        }
    }

    /// Stores an answer got outside a client's resolution (a `--discover` lookup), unless
    /// it is a failure, so a client asking the same question is answered from the cache.
    pub fn remember(&self, ask: &Ask, bytes: &[u8]) {
        if let Ok(a) = Answer::from_upstream(bytes) {
            if a.kind() != Kind::Failure {
                lock(&self.cache).settle(ask.key().bytes(), Some(a), Instant::now());
            }
        }
    }

    async fn resolve_upstream(&self, ask: &Ask) -> Resolved {
        if let Some(local) = self.answer_locally(ask.key()) {
            let s = lock(&self.cache).settle(ask.key().bytes(), Some(local), Instant::now());
            return Resolved {
                answer: s.answer,
                serve: s.serve,
            };
        }
        let mut trace = Trace::new(Instant::now());
        let got = tokio::time::timeout(
            self.cfg.query_timeout,
            self.pool.forward_traced(ask, &mut trace),
        )
        .await;
        if let Ok(Ok(bytes)) = &got {
            self.learn_from(ask.key(), bytes);
        }
        let (answer, mut trouble) = match got {
            Ok(Ok(bytes)) => match Answer::from_upstream(&bytes) {
                Ok(a) => (Some(a), None),
                Err(e) => {
                    log::debug!("unusable upstream answer: {e}");
                    (None, Some(What::Unusable))
                }
            },
            Ok(Err(e)) => {
                log::debug!("forward failed: {e}");
                let what = match e {
                    ForwardError::NoUpstreams => What::NoUpstream,
                    ForwardError::AllFailed => What::AllFailed,
                    ForwardError::Shed => What::Shed,
                };
                (None, Some(what))
            }
            Err(_) => (None, Some(What::Timeout)),
        };
        // A DNS policy's REFUSED (Cilium's) is the answer: passed through, never cached,
        // never replaced by a stale one.
        if let Some(a) = answer
            .as_ref()
            .filter(|a| a.rcode() == rcode::REFUSED && self.pool.config().refused_final)
        {
            let served = Served::Error(rcode::REFUSED);
            self.failed(ask.key(), What::Refused, served, Some(trace));
            return Resolved {
                answer: a.clone(),
                serve: Serve::AsReceived,
            };
        }
        if let Some(a) = answer.as_ref().filter(|a| a.kind() == Kind::Failure) {
            trouble = Some(What::Answered(a.rcode()));
        }
        let s = lock(&self.cache).settle(ask.key().bytes(), answer, Instant::now());
        if s.stale {
            self.metrics.stale_answers.fetch_add(1, Relaxed);
        }
        if let Some(what) = trouble {
            let served = match (s.stale, s.answer.kind()) {
                (true, _) => Served::Stale,
                (false, Kind::Failure) => Served::Error(s.answer.rcode()),
                (false, _) => Served::Fresh,
            };
            self.failed(ask.key(), what, served, Some(trace));
        }
        Resolved {
            answer: s.answer,
            serve: s.serve,
        }
    }
}
