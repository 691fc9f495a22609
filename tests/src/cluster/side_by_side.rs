//! Apps resolving side by side while something happens to the cluster: a loop of lookups
//! in each client container of each app, started together and read back together, with a
//! table of what each saw.

use std::process::Child;
use std::time::Duration;

use super::lookups::{self, row, summary};
use super::{App, Kube};
use crate::netns::GetentResult;

/// A lookup that took this long waited out a resolver's timeout (glibc's and Go's 5 s, a
/// dead server's silence), which no healthy answer on one node comes near.
pub const STALL: Duration = Duration::from_millis(4500);

pub struct Loops {
    running: Vec<(String, Child)>,
}

pub struct Seen {
    pub label: String,
    pub results: Vec<GetentResult>,
}

impl Seen {
    pub fn failures(&self) -> usize {
        self.results.iter().filter(|r| !r.ok).count()
    }
    pub fn stalls(&self) -> usize {
        self.results.iter().filter(|r| r.took >= STALL).count()
    }
}

impl Loops {
    /// A loop in `containers` of each pod of each app (labelled `setup/container`, the
    /// pods of an app together): a lookup of `names` in turn every `interval_ms`, for
    /// `secs` seconds.
    pub fn start(
        k: &Kube,
        apps: &[(&str, &App)],
        containers: &[&str],
        interval_ms: u32,
        secs: u32,
        names: &[&str],
    ) -> Loops {
        let count = (secs * 1000 / interval_ms.max(1)).max(1);
        let mut running = Vec::new();
        for (setup, app) in apps {
            for pod in app.pod_names(k) {
                for c in containers {
                    let child = app.start_loop_in(k, &pod, c, interval_ms, count, secs, names);
                    running.push((format!("{setup}/{c}"), child));
                }
            }
        }
        Loops { running }
    }

    pub fn finish(self) -> Vec<Seen> {
        let mut seen: Vec<Seen> = Vec::new();
        for (label, child) in self.running {
            let results = lookups::collect(child, &label);
            match seen.iter_mut().find(|s| s.label == label) {
                Some(s) => s.results.extend(results),
                None => seen.push(Seen { label, results }),
            }
        }
        seen
    }
}

/// The table, printed with the test's output.
pub fn report(title: &str, seen: &[Seen]) {
    eprintln!("\n{title}\n| setup/client | lookups | failed | median | max | stalls (>= 4.5 s) |\n| --- | ---: | ---: | ---: | ---: | ---: |");
    for s in seen {
        eprintln!("{} {} |", row(&s.label, &summary(&s.results)), s.stalls());
    }
}

/// Of the apps labelled `setup`: (lookups, failures, stalls), summed over its clients.
pub fn totals(seen: &[Seen], setup: &str) -> (usize, usize, usize) {
    seen.iter()
        .filter(|s| s.label.split('/').next() == Some(setup))
        .fold((0, 0, 0), |(n, f, st), s| {
            (n + s.results.len(), f + s.failures(), st + s.stalls())
        })
}
