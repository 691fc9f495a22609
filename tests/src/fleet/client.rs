//! Each pod's application load: names looked up as the application writes them, through the
//! pod's resolver, the way a stub resolver walks them (ndots 5 and the ClusterFirst search
//! list, A questions, each from a fresh socket, glibc's 5 s timeout, no retry: a lookup fails
//! at its first SERVFAIL or unanswered question). Where the pod lists a second nameserver
//! (the VIP after an injected sidecar), a question refused at once (nothing listens) goes
//! there, as glibc moves on. Bounded by the run's duration.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use super::procs::Resolver;
use super::{Fleet, SEARCH};
use crate::load::{ask, Tally};

/// glibc's default timeout; the client does not retry.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
const NDOTS: usize = 5;

/// What the application of every pod asks.
#[derive(Debug, Clone)]
pub enum Load {
    /// Each name looked up every `every`, each at a random phase.
    Periodic { names: Vec<String>, every: Duration },
    /// Names never asked before (`<tag>-u<n>-p<pod>.load.example.org.`), `rate` a second
    /// per pod; `tag` keeps runs apart, so no run finds another's names in a cache.
    Distinct { rate: f64, tag: &'static str },
}

/// One lookup: when it started (from the run's start), how long it took, how it ended.
#[derive(Debug, Clone, Copy)]
pub struct Lookup {
    pub at: Duration,
    pub took: Duration,
    pub ok: bool,
}

/// What one pod's application saw.
#[derive(Debug, Clone, Default)]
pub struct PodRun {
    pub lookups: Vec<Lookup>,
    /// Its questions by outcome (each step of a walk is a question).
    pub queries: Tally,
}

/// The names a stub resolver tries for `name`, in order (glibc with ndots 5).
pub fn walk(name: &str) -> Vec<String> {
    if let Some(abs) = name.strip_suffix('.') {
        return vec![format!("{abs}.")];
    }
    let searched = SEARCH.iter().map(|d| format!("{name}.{d}."));
    if name.matches('.').count() >= NDOTS {
        std::iter::once(format!("{name}."))
            .chain(searched)
            .collect()
    } else {
        searched
            .chain(std::iter::once(format!("{name}.")))
            .collect()
    }
}

async fn lookup(t: &Target, name: &str, start: Instant, tally: &mut Tally) -> Lookup {
    let t0 = Instant::now();
    let mut ok = false;
    for candidate in walk(name) {
        let mut o = ask(t.server, &candidate, RecordType::A, CLIENT_TIMEOUT).await;
        if let (true, Some(next)) = (o.refused, t.fallback) {
            o = ask(next, &candidate, RecordType::A, CLIENT_TIMEOUT).await;
        }
        match o.rcode {
            Some(0) => {
                tally.noerror += 1;
                ok = true;
                break;
            }
            Some(3) => tally.nxdomain += 1,
            Some(2) => {
                tally.servfail += 1;
                break;
            }
            Some(_) => {
                tally.other += 1;
                break;
            }
            None => {
                tally.unanswered += 1;
                break;
            }
        }
    }
    Lookup {
        at: t0.duration_since(start),
        took: t0.elapsed(),
        ok,
    }
}

fn add(a: &mut Tally, b: &Tally) {
    a.noerror += b.noerror;
    a.nxdomain += b.nxdomain;
    a.servfail += b.servfail;
    a.other += b.other;
    a.unanswered += b.unanswered;
}

/// One pod's load for `duration` from `start`, against `server`.
async fn run_pod(t: Target, load: Load, pod: usize, start: Instant, duration: Duration) -> PodRun {
    let t = std::sync::Arc::new(t);
    let end = start + duration;
    let mut tasks = Vec::new();
    match load {
        Load::Periodic { names, every } => {
            for name in names {
                let phase = every.mul_f64(crate::load::unit());
                let t = t.clone();
                tasks.push(tokio::spawn(async move {
                    let mut run = PodRun::default();
                    let mut next = start + phase;
                    while next < end {
                        tokio::time::sleep_until(next.into()).await;
                        let l = lookup(&t, &name, start, &mut run.queries).await;
                        run.lookups.push(l);
                        next += every;
                        // An application waiting on a stalled lookup asks again only after it.
                        next = next.max(Instant::now());
                    }
                    run
                }));
            }
        }
        Load::Distinct { rate, tag } => {
            let n = (rate * duration.as_secs_f64()) as usize;
            for i in 0..n {
                let at = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(at.into()).await;
                let name = format!("{tag}-u{i}-p{pod}.load.example.org.");
                let t = t.clone();
                tasks.push(tokio::spawn(async move {
                    let mut run = PodRun::default();
                    let l = lookup(&t, &name, start, &mut run.queries).await;
                    run.lookups.push(l);
                    run
                }));
            }
        }
    }
    let mut all = PodRun::default();
    for t in tasks {
        let r = t.await.expect("a lookup task");
        all.lookups.extend(r.lookups);
        add(&mut all.queries, &r.queries);
    }
    all
}

/// A pod's namespace and where its application sends queries.
#[derive(Debug, Clone)]
pub struct Target {
    pub ns: String,
    pub server: SocketAddr,
    /// The next nameserver, asked when `server` refuses.
    pub fallback: Option<SocketAddr>,
}

/// Every target runs `load` for `duration`, all starting together; returns what each saw.
/// Ends by `duration` plus the client timeout.
pub fn run_load(targets: &[Target], load: &Load, duration: Duration) -> Vec<PodRun> {
    let start = Instant::now() + Duration::from_millis(200);
    let threads: Vec<_> = targets
        .iter()
        .enumerate()
        .map(|(p, t)| {
            let (t, load) = (t.clone(), load.clone());
            crate::netns::in_netns(&t.ns.clone(), move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(run_pod(t, load, p, start, duration))
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a pod's load thread"))
        .collect()
}

impl Fleet {
    /// Every pod's namespace with its resolver `r`.
    pub fn targets(&self, r: Resolver) -> Vec<Target> {
        (0..self.pods.len())
            .map(|p| Target {
                ns: self.pods[p].ns.clone(),
                server: self.resolver(p, r),
                // The webhook's resolv.conf lists the cluster DNS after the sidecar.
                fallback: (r == Resolver::Sidecar).then_some(SocketAddr::from((super::VIP, 53))),
            })
            .collect()
    }

    /// Every pod runs `load` through its resolver `r` for `duration` (see `run_load`).
    pub fn run_load(&self, load: &Load, r: Resolver, duration: Duration) -> Vec<PodRun> {
        run_load(&self.targets(r), load, duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_is_glibcs_with_ndots_5() {
        assert_eq!(
            walk("svc3"),
            [
                "svc3.default.svc.cluster.local.",
                "svc3.svc.cluster.local.",
                "svc3.cluster.local.",
                "svc3."
            ]
        );
        assert_eq!(walk("ext1.example.org").len(), 4);
        assert_eq!(walk("ext1.example.org.")[0], "ext1.example.org.");
        assert_eq!(
            walk("a.b.c.d.e.f")[0],
            "a.b.c.d.e.f.",
            "as is first at ndots"
        );
    }
}
