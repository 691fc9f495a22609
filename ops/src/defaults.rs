//! The proxy's defaults that the webhook must know too (to check annotations against them),
//! written once: the proxy's flags take their defaults from here.

/// `--min-ttl`: the floor of a positive answer's cache life.
pub const MIN_TTL: &str = "5s";
/// `--max-ttl`: the cap of any cached TTL.
pub const MAX_TTL: &str = "1h";
/// `--retry-budget`: extra upstream attempts per first attempt, as a percentage.
pub const RETRY_BUDGET: &str = "10%";
/// `--retry-min-per-second`: extra attempts allowed per second whatever the traffic.
pub const RETRY_MIN_PER_SECOND: &str = "2";
