//! Summaries of a run of lookups, as the tests and the demo print them.

use super::GetentResult;
use std::time::Duration;

/// Failures, median and maximum of a series of lookups.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub n: usize,
    pub failures: usize,
    pub median: Duration,
    pub max: Duration,
}

pub fn summarize(ls: &[GetentResult]) -> Summary {
    let mut t: Vec<Duration> = ls.iter().map(|l| l.took).collect();
    t.sort();
    Summary {
        n: ls.len(),
        failures: ls.iter().filter(|l| !l.ok).count(),
        median: t.get(t.len() / 2).copied().unwrap_or_default(),
        max: t.last().copied().unwrap_or_default(),
    }
}
