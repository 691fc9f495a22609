//! The engine's side of autopath (decisions in `crate::autopath`): spotting the first
//! name of a walk, prefetching the rest, answering names the schema rules out, learning
//! the cluster zone's SOA, and building the `cname` answer from the walk's outcomes.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::task::JoinSet;

use super::{Engine, Pending, Resolved};
use crate::answer::{Answer, Kind, Serve};
use crate::autopath::cname::{self, Outcome};
use crate::autopath::{cluster_domain, schema, walk, Level};
use crate::cache::CacheRead;
use crate::metrics::Proto;
use crate::search::Searches;
use crate::wire::{self, Ask, Key, KeyBuf, CLASS_IN, TYPE_A, TYPE_AAAA};
use crate::{lock, Instant};

/// The cluster zone's SOA, as the last real NXDOMAIN under the cluster domain carried it.
#[derive(Debug, Clone)]
struct ClusterSoa {
    domain: Vec<u8>,
    ttl: u32,
    rdata: Vec<u8>,
}

pub struct Autopath {
    pub level: Level,
    searches: Arc<Searches>,
    soa: std::sync::Mutex<Option<ClusterSoa>>,
}

impl Autopath {
    pub fn new(level: Level, searches: Arc<Searches>) -> Autopath {
        Autopath {
            level,
            searches,
            soa: Default::default(),
        }
    }

    /// The search domains now in the pod's resolv.conf.
    pub(super) fn search_domains(&self) -> Vec<Vec<u8>> {
        self.searches.get().domains.clone()
    }

    /// The rest of the walk when `name` is its first name (cheap when it is not).
    fn walk(&self, name: &[u8]) -> Option<Vec<Vec<u8>>> {
        if self.level == Level::Off {
            return None;
        }
        let s = self.searches.get();
        let first = s.domains.first()?;
        if name.len() <= first.len() || !name.ends_with(first) {
            return None;
        }
        walk(name, &s)
    }

    /// NXDOMAIN made here for a name the schema rules out, once the zone's SOA is known.
    fn local_nxdomain(&self, key: Key<'_>) -> Option<Answer> {
        if self.level < Level::Nxdomain || key.qclass() != CLASS_IN {
            return None;
        }
        let s = self.searches.get();
        let d = cluster_domain(&s)?;
        if !schema::impossible(key.name(), d) {
            return None;
        }
        let soa = lock(&self.soa).clone().filter(|soa| soa.domain == d)?;
        let mut m = Vec::with_capacity(64 + key.name().len() + soa.rdata.len());
        m.extend_from_slice(&[0, 0]);
        let flags = wire::FLAG_QR | wire::FLAG_RD | wire::FLAG_RA | wire::rcode::NXDOMAIN;
        for v in [flags, 1, 0, 1, 0] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m.extend_from_slice(key.name());
        m.extend_from_slice(&key.qtype().to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&soa.domain);
        m.extend_from_slice(&wire::TYPE_SOA.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&soa.ttl.to_be_bytes());
        m.extend_from_slice(&(soa.rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&soa.rdata);
        Answer::from_upstream(&m).ok()
    }

    /// Keeps the SOA of a real NXDOMAIN for a name under the cluster domain.
    fn learn(&self, key: Key<'_>, resp: &[u8]) {
        if self.level < Level::Nxdomain
            || resp.len() < wire::HEADER_LEN
            || wire::rcode::of(resp) != wire::rcode::NXDOMAIN
        {
            return;
        }
        let s = self.searches.get();
        let Some(d) = cluster_domain(&s) else {
            return;
        };
        if !key.name().ends_with(d) {
            return;
        }
        if let Some((owner, ttl, rdata)) = cname::authority_soa(resp) {
            if owner.eq_ignore_ascii_case(d) {
                *lock(&self.soa) = Some(ClusterSoa {
                    domain: d.to_vec(),
                    ttl,
                    rdata,
                });
            }
        }
    }
}

/// How a resolution counts in a walk.
fn outcome(r: &Resolved) -> Outcome {
    match (r.answer.kind(), r.serve) {
        (_, Serve::Stale) | (Kind::Failure, _) => Outcome::Failed,
        (Kind::Positive, _) => Outcome::Records,
        (Kind::Negative, _) if r.answer.rcode() == wire::rcode::NXDOMAIN => Outcome::NxDomain,
        (Kind::Negative, _) => Outcome::NoData,
    }
}

/// What is left of an answer's life as it would be served now.
fn remaining(r: &Resolved) -> u32 {
    match r.serve {
        Serve::Cached { age, entry_ttl, .. } => entry_ttl.saturating_sub(age),
        Serve::AsReceived => r.answer.upstream_ttl().unwrap_or(0),
        Serve::Stale => 0,
    }
}

impl Engine {
    /// For `cname`: the rest of the walk when this query is its first name, an A or AAAA
    /// question without DO or CD (those get the real answer).
    pub(super) fn cname_walk(&self, key: Key<'_>) -> Option<Vec<Vec<u8>>> {
        if self.autopath.level != Level::Cname
            || !matches!(key.qtype(), TYPE_A | TYPE_AAAA)
            || key.qclass() != CLASS_IN
            || key.dnssec_ok()
            || key.checking_disabled()
        {
            return None;
        }
        self.autopath.walk(key.name())
    }

    /// On a miss of a walk's first name, asks the rest of the walk now (names already fresh
    /// in the cache are not asked again); the client's later queries join these.
    pub(super) fn prefetch_walk(self: &Arc<Self>, key: Key<'_>, rd: bool) {
        let Some(rest) = self.autopath.walk(key.name()) else {
            return;
        };
        for name in rest {
            let kb = KeyBuf::new(
                &name,
                key.qtype(),
                key.qclass(),
                key.dnssec_ok(),
                key.checking_disabled(),
            );
            let ask = Ask::new(kb.key(), rd);
            if matches!(
                lock(&self.cache).get(ask.key().bytes(), Instant::now()),
                CacheRead::Fresh { .. }
            ) {
                continue;
            }
            self.metrics.autopath_prefetches.fetch_add(1, Relaxed);
            let engine = self.clone();
            tokio::spawn(async move { engine.resolve(&ask).await });
        }
    }

    /// Before asking upstream: a name the schema rules out, answered here.
    pub(super) fn answer_locally(&self, key: Key<'_>) -> Option<Answer> {
        let a = self.autopath.local_nxdomain(key)?;
        self.metrics.autopath_local_nxdomain.fetch_add(1, Relaxed);
        Some(a)
    }

    pub(super) fn learn_from(&self, key: Key<'_>, resp: &[u8]) {
        self.autopath.learn(key, resp);
    }

    /// A fresh cached answer, or one resolved now.
    async fn fetch(self: &Arc<Self>, ask: &Ask) -> Resolved {
        let read = lock(&self.cache).get(ask.key().bytes(), Instant::now());
        match read {
            CacheRead::Fresh { answer, serve, .. } => Resolved { answer, serve },
            _ => self.resolve(ask).await,
        }
    }

    /// Fetches each ask at once; the results in the same order.
    async fn fetch_all(self: &Arc<Self>, asks: &[Ask]) -> Vec<Resolved> {
        let mut set = JoinSet::new();
        for (i, ask) in asks.iter().enumerate() {
            let (engine, ask) = (self.clone(), ask.clone());
            set.spawn(async move { (i, engine.fetch(&ask).await) });
        }
        let mut got: Vec<Option<Resolved>> = vec![None; asks.len()];
        while let Some(Ok((i, r))) = set.join_next().await {
            got[i] = Some(r);
        }
        // A task that did not finish (it cannot, short of a panic) counts as a failure.
        got.into_iter()
            .zip(asks)
            .map(|(r, ask)| {
                r.unwrap_or_else(|| Resolved {
                    answer: Answer::servfail(ask.key()),
                    serve: Serve::AsReceived,
                })
            })
            .collect()
    }

    /// The `cname` answer to the walk's first name, or its real answer when the walk does
    /// not qualify. Every name of the walk is asked for A at once, whatever the question's
    /// type, so the client's A and AAAA queries share those lookups; an NXDOMAIN is the
    /// name's, whatever the type (RFC 2308 §5), so AAAA is asked only of the name found.
    /// Answers come from the cache when fresh.
    pub(super) async fn answer_walk(
        self: &Arc<Self>,
        p: &Pending,
        rest: Vec<Vec<u8>>,
        proto: Proto,
        out: &mut Vec<u8>,
    ) -> u16 {
        let key = p.ask.key();
        let qtype = key.qtype();
        let mut names = Vec::with_capacity(rest.len() + 1);
        names.push(key.name().to_vec());
        names.extend(rest);
        let ask = |name: &[u8], t: u16| Ask::new(KeyBuf::plain(name, t).key(), p.ask.rd);
        let a_asks: Vec<Ask> = names.iter().map(|n| ask(n, TYPE_A)).collect();
        let by_a = self.fetch_all(&a_asks).await;
        let found = by_a
            .iter()
            .position(|r| outcome(r) != Outcome::NxDomain)
            .filter(|&k| k > 0);
        let built = match found {
            Some(k) => {
                let aaaa = self.fetch(&ask(&names[k], TYPE_AAAA)).await;
                let (queried, the_other) = if qtype == TYPE_A {
                    (&by_a[k], &aaaa)
                } else {
                    (&aaaa, &by_a[k])
                };
                let mut outcomes = vec![[Outcome::NxDomain; 2]; k];
                outcomes.push([outcome(queried), outcome(the_other)]);
                cname::target(&outcomes).and_then(|k| {
                    let skipped = by_a[..k].iter().map(remaining).min().unwrap_or(0);
                    let target_key = KeyBuf::plain(&names[k], qtype);
                    let served = served_as(queried, target_key.key())?;
                    let bytes = cname::synthesize(key.name(), qtype, &names[k], &served, skipped)?;
                    Answer::from_upstream(&bytes).ok()
                })
            }
            None => None,
        };
        let (answer, serve) = match built {
            Some(a) => {
                self.metrics.autopath_cname.fetch_add(1, Relaxed);
                (a, Serve::AsReceived)
            }
            None => {
                let real = if qtype == TYPE_A {
                    by_a[0].clone()
                } else {
                    self.fetch(&p.ask).await
                };
                (real.answer, real.serve)
            }
        };
        self.render(&answer, &p.query, &p.q, serve, proto, out);
        answer.rcode()
    }
}

/// An answer as it would be served now to a plain query for `key` (TTLs counted down).
fn served_as(r: &Resolved, key: Key<'_>) -> Option<Vec<u8>> {
    let mut query = Vec::with_capacity(key.bytes().len() + wire::HEADER_LEN + wire::OPT_LEN);
    wire::build_upstream_query(key, 0, true, &mut query);
    let q = wire::parse_query(&query).ok()?;
    let mut out = Vec::new();
    r.answer
        .render(&query, &q, r.serve, u16::MAX as usize, &mut out);
    Some(out)
}

#[cfg(test)]
mod tests;
