//! The pool: the upstreams in their tiers (a node cache, the current CoreDNS replicas,
//! replaced as discovery finds others keeping the health of those that stay, the fallback)
//! and the forwarding loop that carries out the attempt plan.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, Instant};

use super::attempts::{is_error_reply, Action, Attempts, Event, MAX_RETRANSMITS};
use super::budget::{BudgetPolicy, BudgetState, RetryBudget};
use super::choose::{self, PoolChooser};
use super::health::HealthPolicy;
use super::overload::PoolState;
use super::select::Tier;
use super::trace::{Ended, Trace};
use super::{ExchangeError, ForwardError, Upstream, MAX_UPSTREAMS};
use crate::lock;
use crate::metrics::Metrics;
use crate::wire::{self, Ask};

/// Settings the pool runs with, from the command line.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Asked first (`--node-cache`), then the replicas.
    pub node_cache: Vec<SocketAddr>,
    /// Asked only while every other upstream is down (`--fallback`).
    pub fallback: Vec<SocketAddr>,
    pub health: HealthPolicy,
    pub budget: BudgetPolicy,
    /// The shortest an attempt waits (`--upstream-timeout`), and probes always.
    pub attempt_timeout: Duration,
    /// The longest an attempt waits, however slow the upstream (`--query-timeout`).
    pub attempt_ceiling: Duration,
    pub tcp: bool,
    /// REFUSED is an answer, not a failing upstream (`--ttl-strict`).
    pub refused_final: bool,
    /// Every address reaches one resolver (`--upstream-mode logical`).
    pub logical: bool,
    /// Where the replicas given at start-up came from.
    pub replicas_from: Source,
}

/// Where the replicas in the pool came from, for /debug/upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--upstream` (the replicas the webhook handed over at injection).
    Flag,
    /// The nameservers of `--resolv-conf`.
    ResolvConf,
    /// The last `--discover` lookup that changed the set.
    Discovery,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Flag => "--upstream",
            Source::ResolvConf => "resolv.conf",
            Source::Discovery => "--discover",
        }
    }
}

pub struct Pool {
    /// The upstreams in tier order: node caches, replicas, fallbacks; an address once.
    set: RwLock<Arc<[Arc<Upstream>]>>,
    pub(super) cfg: PoolConfig,
    pub(super) down: Notify,
    /// Told when a replica (not a fallback) is marked down or refuses, so discovery looks
    /// again.
    pub replica_failed: Notify,
    pub(super) budget: Mutex<RetryBudget>,
    pub(super) metrics: Arc<Metrics>,
    /// Where the replicas now in the set came from.
    replicas_from: Mutex<Source>,
    /// When the pool was made: the start-up probes are waited for only so long.
    pub(super) started: tokio::time::Instant,
}

/// How one attempt to one upstream ended.
pub(super) type Attempt = Result<Vec<u8>, ExchangeError>;

/// The pool as /metrics and the debug endpoints show it, taken at one moment.
pub struct PoolView {
    pub upstreams: Arc<[Arc<Upstream>]>,
    pub state: PoolState,
    pub budget: BudgetState,
}

impl Default for PoolView {
    fn default() -> Self {
        PoolView {
            upstreams: Arc::from(Vec::new()),
            state: PoolState::Healthy,
            budget: BudgetState {
                firsts: 0,
                extras: 0,
                allowed: 0.0,
            },
        }
    }
}

impl Pool {
    /// A pool of the replicas `addrs` and the tiers of `cfg` around them.
    pub fn new(addrs: &[SocketAddr], cfg: PoolConfig, metrics: Arc<Metrics>) -> Arc<Pool> {
        let cfg_from = cfg.replicas_from;
        let pool = Arc::new(Pool {
            set: RwLock::new(Arc::from(Vec::new())),
            budget: Mutex::new(RetryBudget::new(cfg.budget)),
            cfg,
            down: Notify::new(),
            replica_failed: Notify::new(),
            metrics,
            replicas_from: Mutex::new(cfg_from),
            started: tokio::time::Instant::now(),
        });
        pool.set_upstreams(addrs);
        pool.probe_at_start();
        pool
    }

    pub fn snapshot(&self) -> Arc<[Arc<Upstream>]> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the replicas, keeping the health of upstreams that stay. Queries in flight
    /// keep the set they started with, so none is lost to a replica leaving it. An address
    /// stands in its first tier only (a node cache that is the VIP is not a fallback too).
    pub fn set_upstreams(&self, addrs: &[SocketAddr]) {
        let old = self.snapshot();
        let c = &self.cfg;
        let mut new: Vec<Arc<Upstream>> =
            Vec::with_capacity(c.node_cache.len() + addrs.len() + c.fallback.len());
        let wanted = c
            .node_cache
            .iter()
            .map(|a| (a, Tier::NodeCache))
            .chain(addrs.iter().map(|a| (a, Tier::Replica)))
            .chain(c.fallback.iter().map(|a| (a, Tier::Fallback)));
        for (a, tier) in wanted {
            if new.len() == MAX_UPSTREAMS || new.iter().any(|u| u.addr == *a) {
                continue;
            }
            let up = old.iter().find(|u| u.addr == *a && u.tier == tier);
            new.push(
                up.cloned()
                    .unwrap_or_else(|| Arc::new(Upstream::new(*a, tier))),
            );
        }
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::from(new);
        self.down.notify_one();
    }

    /// Replaces the replicas with what `--discover` found.
    pub fn discovered(&self, addrs: &[SocketAddr]) {
        *lock(&self.replicas_from) = Source::Discovery;
        self.set_upstreams(addrs);
    }

    /// Where the replicas now in the set came from.
    pub fn replicas_from(&self) -> Source {
        *lock(&self.replicas_from)
    }

    /// The settings the pool runs with.
    pub fn config(&self) -> &PoolConfig {
        &self.cfg
    }

    /// The replicas' addresses (the set without its node caches and fallbacks).
    pub fn replicas(&self) -> Vec<SocketAddr> {
        let set = self.snapshot();
        set.iter()
            .filter(|u| u.tier == Tier::Replica)
            .map(|u| u.addr)
            .collect()
    }

    /// Whether some upstream is up with no recent failure and not losing queries: when
    /// none is (replicas gone, or all overloaded), a stale answer is served at once
    /// instead of waiting on them (RFC 8767).
    pub fn any_healthy(&self) -> bool {
        let now = Instant::now();
        self.snapshot().iter().any(|u| {
            let h = lock(&u.health);
            h.is_up() && h.fails == 0 && !h.load.is_degraded(now)
        })
    }

    /// How long ago an answer still shows a replica alive, for telling overload from death.
    fn recent(&self) -> Duration {
        2 * self.cfg.attempt_timeout
    }

    /// What the replicas as a whole are going through now.
    pub fn state(&self) -> PoolState {
        choose::state(&self.snapshot(), Instant::now(), self.recent())
    }

    /// The retry budget's counts now.
    pub fn budget(&self) -> BudgetState {
        lock(&self.budget).state(Instant::now())
    }

    /// The set, its state and the budget, for /metrics.
    pub fn view(&self) -> PoolView {
        PoolView {
            upstreams: self.snapshot(),
            state: self.state(),
            budget: self.budget(),
        }
    }

    /// Resolves one question, asking upstreams as `attempts::Attempts` decides (hedging,
    /// moving on from failures, resending to a silent one). The first valid answer wins;
    /// SERVFAIL and REFUSED are kept only as a last resort while others may do better.
    /// The caller bounds the whole call with its query budget.
    pub async fn forward(self: &Arc<Self>, ask: &Ask) -> Result<Vec<u8>, ForwardError> {
        self.forward_traced(ask, &mut Trace::new(Instant::now()))
            .await
    }

    /// `forward`, noting every attempt and refusal in `trace` as it goes (so a trace read
    /// after the caller's timeout cut it short holds what happened until then).
    pub async fn forward_traced(
        self: &Arc<Self>,
        ask: &Ask,
        trace: &mut Trace,
    ) -> Result<Vec<u8>, ForwardError> {
        let set = self.snapshot();
        if set.is_empty() {
            return Err(ForwardError::NoUpstreams);
        }
        let (tx, mut rx) = mpsc::channel::<(usize, Attempt)>(set.len() + MAX_RETRANSMITS as usize);
        let mut plan = Attempts::refused_final(self.cfg.refused_final);
        let mut chooser = PoolChooser {
            pool: self,
            set: &set,
            trace,
        };
        let (mut event, mut answer, mut last_resort) = (None, None, None);
        let mut first = true;
        loop {
            match plan.step(Instant::now(), event.take(), &mut chooser) {
                Action::Ask { upstream, resend } => {
                    if first {
                        first = false;
                        lock(&self.budget).on_first(Instant::now());
                    } else if resend {
                        self.metrics.retransmits.fetch_add(1, Relaxed);
                    } else if plan.outstanding() > 1 {
                        self.metrics.hedges.fetch_add(1, Relaxed);
                    }
                    let up = set[upstream].clone();
                    chooser
                        .trace
                        .sent(upstream, up.addr, up.tier, resend, Instant::now());
                    self.spawn_attempt(upstream, up, ask.clone(), tx.clone());
                }
                Action::Wait { until } => {
                    let got = match until {
                        Some(t) => tokio::select! {
                            r = rx.recv() => r,
                            _ = sleep_until(t) => {
                                event = Some(Event::Deadline);
                                continue;
                            }
                        },
                        None => rx.recv().await,
                    };
                    let Some((upstream, got)) = got else {
                        return last_resort.ok_or(ForwardError::AllFailed);
                    };
                    let ended = match &got {
                        Ok(resp) => Ended::Answered {
                            rcode: wire::rcode::of(resp),
                        },
                        Err(e) => Ended::Failed(*e),
                    };
                    chooser.trace.ended(upstream, ended, Instant::now());
                    event = Some(match got {
                        Ok(resp) => {
                            let rcode = wire::rcode::of(&resp);
                            if is_error_reply(rcode, self.cfg.refused_final) {
                                last_resort = Some(resp);
                            } else {
                                answer = Some(resp);
                            }
                            Event::Answer { upstream, rcode }
                        }
                        Err(_) => Event::Failure { upstream },
                    });
                }
                Action::Done => return answer.ok_or(ForwardError::AllFailed),
                Action::GiveUp if !plan.asked() => {
                    self.metrics.shed.fetch_add(1, Relaxed);
                    chooser.trace.shed = true;
                    return Err(ForwardError::Shed);
                }
                Action::GiveUp => return last_resort.ok_or(ForwardError::AllFailed),
            }
        }
    }
}

mod attempt;
mod startup;
#[cfg(test)]
mod tests;
