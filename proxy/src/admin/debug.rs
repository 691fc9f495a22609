//! The debug endpoints' JSON, from the state the proxy keeps: `/debug/upstreams` (every
//! upstream, its tier, source, health and last trouble; the budget; discovery), `/debug/top`
//! (the most asked names) and `/debug/recent` (the last failures). `/debug/cache` is
//! `held.rs`. Each is a function of the state and `now`, so tests read it without sockets.

use std::time::Duration;

use super::json::J;
use super::AdminState;
use crate::discover::RoundResult;
use crate::obj;
use crate::recent::Failure;
use crate::top::Counts;
use crate::upstream::trace::{Attempt, Ended};
use crate::upstream::{overload::Denied, Tier, Upstream};
use crate::wire::{self, Key};
use crate::{lock, Instant};

/// The endpoints' format; the plugin checks it.
pub const FORMAT: u32 = 1;

fn ago(now: Instant, then: Instant) -> J {
    J::secs(now.saturating_duration_since(then))
}

fn until(now: Instant, then: Instant) -> J {
    J::secs(then.saturating_duration_since(now))
}

/// A question's type as its mnemonic where it has one.
pub fn type_name(t: u16) -> String {
    hickory_proto::rr::RecordType::from(t).to_string()
}

fn upstream(u: &Upstream, from: &str, now: Instant) -> J {
    let h = u.health();
    let state = if !h.is_up() {
        "down"
    } else if h.load.is_degraded(now) {
        "degraded"
    } else if h.fails > 0 {
        "suspect"
    } else {
        "up"
    };
    let rtt = h.rtt(now);
    let trouble = *lock(&u.stats.last_trouble);
    obj! {
        "address" => u.addr.to_string(),
        "tier" => u.tier.label(),
        "source" => from,
        "state" => state,
        "srtt_ms" => rtt.map(|(s, _)| J::ms(s)),
        "rttvar_ms" => rtt.map(|(_, v)| J::ms(v)),
        "inflight" => h.inflight,
        "consecutive_failures" => h.fails,
        "loss" => (h.load.loss(now) * 1000.0).round() / 1000.0,
        "failures_total" => u.stats.failures.load(std::sync::atomic::Ordering::Relaxed),
        "down_for_s" => h.down_since.map(|t| ago(now, t)),
        "next_probe_in_s" => h.probe.map(|p| until(now, p.at)),
        "last_trouble" => trouble.map(|(at, t)| obj! {
            "what" => t.to_string(),
            "ago_s" => ago(now, at),
        }),
    }
}

fn discovery(s: &AdminState, now: Instant) -> J {
    let Some((d, status)) = &s.discovery else {
        return J::Null;
    };
    let st = lock(status).clone();
    let last = st.last.map(|(at, r)| {
        let (result, addrs, ttl) = match r {
            RoundResult::Found(a, ttl) => ("found", a, ttl),
            RoundResult::Empty => ("no address listed", Vec::new(), None),
            RoundResult::Failed => ("no answer", Vec::new(), None),
        };
        obj! {
            "ago_s" => ago(now, at),
            "result" => result,
            "addresses" => addrs.iter().map(|a| J::from(a.to_string())).collect::<Vec<_>>(),
            "ttl_s" => ttl,
        }
    });
    obj! {
        "name" => d.name.as_str(),
        "port" => d.port,
        "rounds" => st.rounds,
        "last" => last,
        "failed_in_a_row" => st.failed,
        "next_in_s" => st.next.map(|t| until(now, t)),
    }
}

/// `/debug/upstreams`.
pub fn upstreams(s: &AdminState, now: Instant) -> J {
    let e = &s.engine;
    let view = e.pool.view();
    let cfg = e.pool.config();
    let from = e.pool.replicas_from().label();
    let list = view
        .upstreams
        .iter()
        .map(|u| {
            let src = match u.tier {
                Tier::NodeCache => "--node-cache",
                Tier::Replica => from,
                Tier::Fallback => "--fallback",
            };
            upstream(u, src, now)
        })
        .collect::<Vec<_>>();
    let b = view.budget;
    let cache = e.cache_stats();
    obj! {
        "format" => FORMAT,
        "version" => env!("CARGO_PKG_VERSION"),
        "settings" => obj! {
            "upstream_mode" => if cfg.logical { "logical" } else { "replicas" },
            "ttl_strict" => cfg.refused_final,
            "upstream_tcp" => cfg.tcp,
            "attempt_timeout_ms" => J::ms(cfg.attempt_timeout),
            "debug_names" => e.debug_names(),
        },
        "pool" => obj! {
            "state" => view.state.label(),
            "budget" => obj! {
                "first_attempts" => b.firsts,
                "extra_attempts" => b.extras,
                "allowed" => (b.allowed * 10.0).round() / 10.0,
                "left" => (b.left() * 10.0).round() / 10.0,
            },
        },
        "upstreams" => list,
        "discovery" => discovery(s, now),
        "cache" => obj! {
            "entries" => cache.entries,
            "bytes" => cache.bytes,
            "evictions" => cache.evictions,
        },
        "failures_total" => e.recent().1,
    }
}

/// A question kept as a key, as text: its name, and its type unless the name was cut.
fn question(key: &[u8], cut: bool) -> (String, J) {
    if cut {
        let mut name = wire::name_to_string(key);
        name.push_str("...");
        return (name, J::Null);
    }
    let k = Key::of(key);
    (
        wire::name_to_string(k.name()),
        J::from(type_name(k.qtype())),
    )
}

/// `/debug/top`: the `n` most asked names over the window, and the bytes the summary holds.
pub fn top(counts: &[Counts], window: Duration, bytes: usize) -> J {
    let list = counts
        .iter()
        .map(|c| {
            let (name, qtype) = question(&c.key, c.cut);
            obj! {
                "name" => name,
                "type" => qtype,
                "queries" => c.queries,
                "overcount_at_most" => c.error,
                "misses" => c.misses,
                "nxdomain" => c.nxdomain,
                "servfail" => c.servfail,
                "stale" => c.stale,
            }
        })
        .collect::<Vec<_>>();
    obj! {
        "format" => FORMAT,
        "window_s" => J::secs(window),
        "counters" => crate::top::CAPACITY,
        "summary_bytes" => bytes,
        "names" => list,
    }
}

fn attempt(a: &Attempt) -> J {
    let result = match a.ended {
        Ended::Waiting => "no answer before the query ended".to_string(),
        Ended::Answered { rcode } => format!("answered {}", wire::rcode::name(rcode)),
        Ended::Failed(e) => e.to_string(),
    };
    obj! {
        "address" => a.addr.to_string(),
        "tier" => a.tier.label(),
        "resend" => a.resend,
        "sent_at_ms" => J::ms(a.sent),
        "took_ms" => a.took.map(J::ms),
        "result" => result,
    }
}

/// `/debug/recent`: the failures kept, newest first; names only when `names`.
pub fn recent(failures: &[Failure], total: u64, names: bool, now: Instant) -> J {
    let list = failures
        .iter()
        .map(|f| {
            let name = f.key.as_deref().map(|k| question(k, false).0);
            let denied = Denied::ALL
                .iter()
                .filter(|d| f.trace.denied[**d as usize] > 0)
                .map(|d| (d.label(), J::from(f.trace.denied[*d as usize])))
                .collect::<Vec<_>>();
            obj! {
                "ago_s" => ago(now, f.at),
                "name" => name,
                "type" => type_name(f.qtype),
                "what" => f.what.describe(),
                "client_got" => f.served.describe(),
                "took_ms" => J::ms(f.took),
                "tried" => f.trace.attempts().map(attempt).collect::<Vec<_>>(),
                "more_attempts" => f.trace.more,
                "extra_attempts_denied" => J::Obj(denied),
            }
        })
        .collect::<Vec<_>>();
    obj! {
        "format" => FORMAT,
        "names" => if names { "shown" } else { "hidden: the sidecar runs without --debug-names" },
        "failures_total" => total,
        "kept" => crate::recent::RING,
        "failures" => list,
    }
}
