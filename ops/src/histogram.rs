//! A latency histogram kept with relaxed atomics (no lock where it is observed) and written
//! in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the RTT histogram buckets.
pub const RTT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// CoreDNS's `plugin.TimeBuckets`: 0.25 ms doubling to 8.192 s.
pub const COREDNS_BUCKETS: [f64; 16] = [
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    2.048, 4.096, 8.192,
];

/// A histogram over `N` bucket bounds; the default is the RTT histogram.
pub struct Histogram<const N: usize = 12> {
    bounds: &'static [f64; N],
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Default for Histogram<12> {
    fn default() -> Self {
        Histogram::with_bounds(&RTT_BUCKETS)
    }
}

impl<const N: usize> Histogram<N> {
    pub fn with_bounds(bounds: &'static [f64; N]) -> Self {
        Histogram {
            bounds,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| s <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(d.as_micros() as u64, Relaxed);
    }

    /// Writes the series of this histogram; `labels` is `k="v",...` or empty.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let (open, sep) = if labels.is_empty() {
            ("", "")
        } else {
            (labels, ",")
        };
        let mut cum = 0;
        for (b, n) in self.bounds.iter().zip(&self.buckets) {
            cum += n.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{open}{sep}le=\"{b}\"}} {cum}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{open}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{open}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{open}}} {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let mut s = String::new();
        h.render(&mut s, "x", "u=\"a\"");
        assert!(s.contains("x_bucket{u=\"a\",le=\"0.0005\"} 1\n"), "{s}");
        assert!(s.contains("x_bucket{u=\"a\",le=\"0.005\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{u=\"a\",le=\"2.5\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{u=\"a\",le=\"+Inf\"} 3\n"), "{s}");
        assert!(s.contains("x_count{u=\"a\"} 3\n"), "{s}");
        let mut s = String::new();
        h.render(&mut s, "y", "");
        assert!(s.contains("y_bucket{le=\"+Inf\"} 3\n"), "{s}");
        assert!(s.contains("y_count{} 3\n"), "{s}");
    }
}
