//! The figures of one run of a setup in a scenario, and their table.

use std::time::Duration;

use super::client::PodRun;
use super::relay::Second;
use crate::load::Tally;

/// One row: what the applications saw and what CoreDNS received.
#[derive(Debug, Clone)]
pub struct Row {
    pub setup: String,
    pub seconds: f64,
    /// Questions the applications asked (every step of every walk).
    pub client_queries: usize,
    pub tally: Tally,
    /// Queries CoreDNS received, by kind (client, discovery, probe), and those it dropped.
    pub coredns: [u64; 3],
    pub dropped: u64,
    pub lookups: usize,
    pub failed: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

impl Row {
    /// `seconds` is what CoreDNS received from the load's start until its last answer or
    /// timeout; rates are over the `measured` seconds the load ran.
    pub fn new(setup: &str, runs: &[PodRun], seconds: &[Second], measured: f64) -> Row {
        let mut tally = Tally::default();
        let mut took: Vec<Duration> = Vec::new();
        let mut failed = 0;
        for r in runs {
            let q = &r.queries;
            tally.noerror += q.noerror;
            tally.nxdomain += q.nxdomain;
            tally.servfail += q.servfail;
            tally.other += q.other;
            tally.unanswered += q.unanswered;
            for l in &r.lookups {
                took.push(l.took);
                failed += !l.ok as usize;
            }
        }
        took.sort();
        let mut coredns = [0u64; 3];
        let mut dropped = 0;
        for s in seconds {
            for (acc, n) in coredns.iter_mut().zip(s.by_kind) {
                *acc += n;
            }
            dropped += s.dropped;
        }
        Row {
            setup: setup.to_string(),
            seconds: measured.max(1.0),
            client_queries: tally.noerror
                + tally.nxdomain
                + tally.servfail
                + tally.other
                + tally.unanswered,
            tally,
            coredns,
            dropped,
            lookups: took.len(),
            failed,
            p50: quantile(&took, 0.5),
            p99: quantile(&took, 0.99),
            max: took.last().copied().unwrap_or_default(),
        }
    }

    pub fn coredns_total(&self) -> u64 {
        self.coredns.iter().sum()
    }

    /// CoreDNS queries (of every kind) per application question.
    pub fn per_client_query(&self) -> f64 {
        self.coredns_total() as f64 / self.client_queries.max(1) as f64
    }
}

pub const HEADER: &str = "| setup | client q | CoreDNS q/s | CoreDNS q per client q | of which discovery / probes | dropped by CoreDNS | NOERROR | SERVFAIL | no answer | lookups | failed | p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |";

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "| {} | {} | {:.1} | {:.2} | {} / {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.setup,
            self.client_queries,
            self.coredns_total() as f64 / self.seconds,
            self.per_client_query(),
            self.coredns[1],
            self.coredns[2],
            self.dropped,
            self.tally.noerror,
            self.tally.servfail,
            self.tally.unanswered,
            self.lookups,
            self.failed,
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
        )
    }
}
