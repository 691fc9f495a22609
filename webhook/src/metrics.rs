//! Admission counters by outcome and reason, and a latency histogram, in Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use dns_sidecar_ops::histogram::Histogram;

#[derive(Default)]
pub struct Metrics {
    admissions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    bad_requests: std::sync::atomic::AtomicU64,
    latency: Histogram,
}

impl Metrics {
    pub fn admission(&self, outcome: &'static str, reason: &'static str, took: Duration) {
        *self
            .admissions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((outcome, reason))
            .or_default() += 1;
        self.latency.observe(took);
    }

    pub fn bad_request(&self) {
        self.bad_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn render(&self, upstreams: usize) -> String {
        let mut o = String::new();
        let p = "dns_sidecar_webhook";
        let _ = writeln!(o, "# HELP {p}_admissions_total Pod admissions by outcome (injected, skipped, error) and reason.\n# TYPE {p}_admissions_total counter");
        for ((outcome, reason), n) in self
            .admissions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                o,
                "{p}_admissions_total{{outcome=\"{outcome}\",reason=\"{reason}\"}} {n}"
            );
        }
        let bad = self.bad_requests.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(o, "# HELP {p}_bad_requests_total Bodies that were not a valid AdmissionReview (HTTP 400).\n# TYPE {p}_bad_requests_total counter\n{p}_bad_requests_total {bad}");
        let _ = writeln!(o, "# HELP {p}_upstreams CoreDNS upstreams currently handed to sidecars.\n# TYPE {p}_upstreams gauge\n{p}_upstreams {upstreams}");
        let _ = writeln!(o, "# HELP {p}_admission_duration_seconds Time to answer an AdmissionReview.\n# TYPE {p}_admission_duration_seconds histogram");
        self.latency
            .render(&mut o, &format!("{p}_admission_duration_seconds"), "");
        o
    }
}
