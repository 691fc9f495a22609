//! The overload and retry-budget series: every choice the pool made about an extra attempt
//! or a first one (refused by reason, shed, a timeout that did not mark a replica down),
//! the pool's state, what is left of the budget, and each replica's recent loss.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use super::Metrics;
use crate::upstream::overload::{Denied, PoolState};
use crate::upstream::PoolView;

impl Metrics {
    pub(super) fn render_overload(&self, o: &mut String, pool: &PoolView) {
        let p = "dns_sidecar";
        let _ = writeln!(o, "# HELP {p}_extra_attempts_denied_total Extra upstream attempts (hedges, moves on, resends) not sent, by reason: the retry budget was spent, the upstream was overloaded, or it answers no faster than the wait so far.\n# TYPE {p}_extra_attempts_denied_total counter");
        for d in Denied::ALL {
            let _ = writeln!(
                o,
                "{p}_extra_attempts_denied_total{{reason=\"{}\"}} {}",
                d.label(),
                self.extra_denied[d as usize].load(Relaxed)
            );
        }
        let counters: [(&str, &str, u64); 3] = [
            (
                "shed_total",
                "Questions answered at once (stale or SERVFAIL) because every replica was overloaded and out of sending credit.",
                self.shed.load(Relaxed),
            ),
            (
                "probes_skipped_total",
                "Health probes not sent because the upstream's client queries were being answered.",
                self.probes_skipped.load(Relaxed),
            ),
            (
                "upstream_kept_up_total",
                "Upstream timeouts that did not mark a replica down because every replica was overloaded.",
                self.kept_up.load(Relaxed),
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                o,
                "# HELP {p}_{name} {help}\n# TYPE {p}_{name} counter\n{p}_{name} {v}"
            );
        }
        let _ = writeln!(o, "# HELP {p}_upstream_pool_state The replicas as a whole: healthy (one answers well), overloaded (all lose queries, some answer), dark (none answers).\n# TYPE {p}_upstream_pool_state gauge");
        for s in [PoolState::Healthy, PoolState::Overloaded, PoolState::Dark] {
            let _ = writeln!(
                o,
                "{p}_upstream_pool_state{{state=\"{}\"}} {}",
                s.label(),
                (pool.state == s) as u8
            );
        }
        let _ = writeln!(o, "# HELP {p}_retry_budget_left Extra upstream attempts the retry budget allows now.\n# TYPE {p}_retry_budget_left gauge\n{p}_retry_budget_left {}", pool.budget.left().floor());
        let _ = writeln!(o, "# HELP {p}_upstream_loss Share of an upstream's recent attempts lost (timeout, SERVFAIL, REFUSED).\n# TYPE {p}_upstream_loss gauge");
        for u in pool.upstreams.iter() {
            let _ = writeln!(
                o,
                "{p}_upstream_loss{{upstream=\"{}\",tier=\"{}\"}} {:.3}",
                u.addr,
                u.tier.label(),
                u.health().load.loss(crate::Instant::now())
            );
        }
    }
}
