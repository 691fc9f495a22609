//! `--discover`: follow CoreDNS scaling and rollouts by re-resolving a headless Service name
//! (its A/AAAA records are the replicas' pod IPs; the family the replicas have is asked)
//! through the current upstreams. Looked up
//! again at the answer's TTL, bounded, and early when a replica is marked down; every wait
//! jittered, so the sidecars of one rollout do not look up in step. The set never
//! empties: an answer with no address, or no answer, keeps the set it has (its health
//! too), and while all of it is down the pool's fallbacks (the cluster DNS VIP) are asked,
//! through which the next lookup finds the replicas' new addresses.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RData;
use tokio::time::{sleep_until, timeout, Instant};

use crate::config::Discover;
use crate::upstream::Pool;
use crate::wire;

/// What discovery did last, for /debug/upstreams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    pub rounds: u64,
    /// When the last round ended, and what it found.
    pub last: Option<(Instant, RoundResult)>,
    /// Rounds in a row that got no answer at all.
    pub failed: u32,
    /// When the next round is due (sooner if a replica fails meanwhile).
    pub next: Option<Instant>,
}

/// What one lookup (A or AAAA) learned: addresses and their shortest TTL.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub addrs: Vec<SocketAddr>,
    pub ttl: Option<u32>,
}

/// What one round of lookups (A and AAAA) learned.
#[derive(Debug, Clone, PartialEq)]
pub enum RoundResult {
    /// Some addresses, sorted and without duplicates, and the shortest TTL among them.
    Found(Vec<SocketAddr>, Option<u32>),
    /// Every lookup was answered (NOERROR or NXDOMAIN) with no address: no ready replica.
    Empty,
    /// Nothing found, and some lookup got no usable answer (timeout, SERVFAIL, garbage).
    Failed,
}

/// The A and AAAA records in an answer, with `port`, or None when the answer is not a
/// usable one (unparsable, or an RCODE other than NOERROR and NXDOMAIN).
pub fn addresses(answer: &[u8], port: u16) -> Option<Found> {
    let msg = Message::from_vec(answer).ok()?;
    let rc = u16::from(msg.metadata.response_code);
    if rc != wire::rcode::NOERROR && rc != wire::rcode::NXDOMAIN {
        return None;
    }
    let mut found = Found {
        addrs: Vec::new(),
        ttl: None,
    };
    for r in &msg.answers {
        let ip = match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            _ => continue,
        };
        found.addrs.push(SocketAddr::new(ip, port));
        found.ttl = Some(found.ttl.map_or(r.ttl, |t| t.min(r.ttl)));
    }
    Some(found)
}

/// Folds the per-type results (None for a failed lookup) into one round's outcome.
pub fn combine(results: &[Option<Found>]) -> RoundResult {
    let mut addrs: Vec<SocketAddr> = results
        .iter()
        .flatten()
        .flat_map(|f| f.addrs.iter().copied())
        .collect();
    addrs.sort();
    addrs.dedup();
    let ttl = results.iter().flatten().filter_map(|f| f.ttl).min();
    if !addrs.is_empty() {
        RoundResult::Found(addrs, ttl)
    } else if results.iter().all(Option::is_some) {
        RoundResult::Empty
    } else {
        RoundResult::Failed
    }
}

/// The replicas after a round: what was found, or else the set there is (never empty).
pub fn next_set(outcome: &RoundResult, current: &[SocketAddr]) -> Vec<SocketAddr> {
    match outcome {
        RoundResult::Found(v, _) => v.clone(),
        RoundResult::Empty | RoundResult::Failed => current.to_vec(),
    }
}

/// Waits are shortened by up to this share (never lengthened: a record is not used past
/// its TTL) or, after a failure, lengthened by it.
const JITTER: f64 = 0.2;

/// When to look next, `r` uniform in [0, 1): `next_interval` shortened by up to a fifth,
/// never under the shortest bound.
pub fn next_wait(outcome: &RoundResult, d: &Discover, failed: u32, r: f64) -> Duration {
    crate::jitter::below(next_interval(outcome, d, failed), JITTER, r).max(d.min_interval)
}

/// How long after a lookup a replica marked down may start the next one: the shortest
/// bound, lengthened by up to a fifth.
pub fn early_wait(d: &Discover, r: f64) -> Duration {
    d.min_interval.mul_f64(1.0 + JITTER * r.clamp(0.0, 1.0))
}

/// When to look next: at the records' TTL within the bounds; with no address listed, at
/// the shortest bound, as replicas may be on their way; after `failed` rounds in a row got
/// no answer at all, the shortest bound doubled per round after the first, up to the
/// longest (the replicas are then likely overloaded, and every sidecar asking again every
/// 2 s would add to it).
pub fn next_interval(outcome: &RoundResult, d: &Discover, failed: u32) -> Duration {
    match outcome {
        RoundResult::Found(_, Some(ttl)) => {
            Duration::from_secs(u64::from(*ttl)).clamp(d.min_interval, d.max_interval)
        }
        RoundResult::Found(_, None) => d.max_interval,
        RoundResult::Empty => d.min_interval,
        RoundResult::Failed => (d.min_interval
            * 2u32.saturating_pow(failed.saturating_sub(1).min(16)))
        .min(d.max_interval),
    }
}

/// The record types a round asks: the address families the replicas have now (A for IPv4,
/// AAAA for IPv6), both while none is known or both are. In a single-stack cluster the
/// other family's lookup always comes back empty: at CoreDNS's TTL of 5 s it was half of
/// every sidecar's and node tier's discovery load, for nothing.
pub fn qtypes(current: &[SocketAddr]) -> &'static [u16] {
    let v4 = current.iter().any(SocketAddr::is_ipv4);
    let v6 = current.iter().any(SocketAddr::is_ipv6);
    match (v4, v6) {
        (true, false) => &[1],
        (false, true) => &[28],
        _ => &[1, 28],
    }
}

/// One round: the `qtypes` of the replicas there are, each within `budget`; each answer is
/// also handed to `remember`.
async fn round(
    pool: &Arc<Pool>,
    d: &Discover,
    budget: Duration,
    remember: &impl Fn(&wire::Ask, &[u8]),
) -> RoundResult {
    let qtypes = qtypes(&pool.replicas());
    let mut results = [None, None];
    let results = &mut results[..qtypes.len()];
    for (slot, &qtype) in results.iter_mut().zip(qtypes) {
        let ask = wire::Ask::new(wire::KeyBuf::plain(&d.name_wire, qtype).key(), true);
        if let Ok(Ok(resp)) = timeout(budget, pool.forward(&ask)).await {
            *slot = addresses(&resp, d.port);
            remember(&ask, &resp);
        }
    }
    combine(results)
}

/// Looks the Service up for the life of the process. Every answer is handed to `remember`
/// (the cache), so a node tier's own lookups answer its sidecars' lookups of the same name.
pub async fn run(
    pool: Arc<Pool>,
    d: Discover,
    budget: Duration,
    status: Arc<std::sync::Mutex<Status>>,
    remember: impl Fn(&wire::Ask, &[u8]),
) {
    // The injected replicas are current when the pod starts: the first lookup comes within
    // the shortest bound, at a random point, so a Job's thousand pods do not ask at once.
    tokio::time::sleep(d.min_interval.mul_f64(crate::jitter::unit())).await;
    let mut failed = 0u32;
    loop {
        let started = Instant::now();
        let outcome = round(&pool, &d, budget, &remember).await;
        failed = if outcome == RoundResult::Failed {
            failed.saturating_add(1)
        } else {
            0
        };
        match &outcome {
            RoundResult::Failed => log::warn!("--discover {}: lookup failed", d.name),
            RoundResult::Empty => log::warn!("--discover {}: no ready replica listed", d.name),
            RoundResult::Found(..) => {}
        }
        let current = pool.replicas();
        let next = next_set(&outcome, &current);
        if next != current {
            log::info!("--discover {}: upstreams now {:?}", d.name, next);
            pool.discovered(&next);
        }
        let next_at = started + next_wait(&outcome, &d, failed, crate::jitter::unit());
        {
            let mut s = crate::lock(&status);
            s.rounds += 1;
            s.failed = failed;
            s.next = Some(next_at);
            s.last = Some((Instant::now(), outcome));
        }
        // A failure seen during the round itself does not start another at once.
        let _ = timeout(Duration::ZERO, pool.replica_failed.notified()).await;
        tokio::select! {
            _ = sleep_until(next_at) => {}
            _ = pool.replica_failed.notified() => {
                sleep_until(started + early_wait(&d, crate::jitter::unit())).await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
