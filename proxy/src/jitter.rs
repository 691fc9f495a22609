//! Jitter for everything many sidecars would otherwise do on one clock (discovery lookups,
//! probes, resends, prefetch): a duration spread by a share either way, from a random
//! number passed in so the rules stay testable.

use std::time::Duration;

/// `d` times a factor uniform in [1 - share, 1 + share) for `r` uniform in [0, 1); `r` 0.5
/// gives `d` itself.
pub fn spread(d: Duration, share: f64, r: f64) -> Duration {
    d.mul_f64(1.0 - share + 2.0 * share * r.clamp(0.0, 1.0))
}

/// `d` shortened by up to `share`: a factor uniform in (1 - share, 1] for `r` in [0, 1).
/// For waits that must not run past a deadline, such as a record's TTL.
pub fn below(d: Duration, share: f64, r: f64) -> Duration {
    d.mul_f64(1.0 - share * r.clamp(0.0, 1.0))
}

/// A random number uniform in [0, 1).
pub fn unit() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_covers_the_share_either_way() {
        let d = Duration::from_secs(4);
        assert_eq!(spread(d, 0.25, 0.0), Duration::from_secs(3));
        assert_eq!(spread(d, 0.25, 0.5), d);
        assert_eq!(spread(d, 0.25, 1.0), Duration::from_secs(5));
        assert_eq!(spread(d, 0.25, 7.0), Duration::from_secs(5), "clamped");
        assert_eq!(below(d, 0.25, 0.0), d);
        assert_eq!(below(d, 0.25, 1.0), Duration::from_secs(3));
    }
}
