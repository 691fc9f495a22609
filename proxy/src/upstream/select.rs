//! Which upstream to ask next. The upstreams stand in tiers, in order: a node cache, the
//! CoreDNS replicas, the fallback (the cluster DNS VIP). One rule for all: the first tier
//! with a healthy upstream not yet tried for this query gives the pick, by power of two
//! random choices within it, so load spreads while slow or failing replicas are avoided; a
//! last-resort tier (the fallback) counts only while every upstream before it is down. An
//! overloaded replica out of sending credit is passed over like a tried one. When every
//! upstream that counts is down, the least recently failed one is tried anyway.

/// The second choice wins only when it is clearly better. With exact comparison and two
/// replicas, P2C compares both every time and the marginally faster one took every
/// sequential query (98 to 3 in the namespace tests): no balance, and a replica back from
/// a failure was never used again. Within this factor, the random first choice stands.
const CLEARLY_BETTER: f64 = 1.5;

/// Where an upstream stands. Tiers are asked in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// A cache shared by the node (`--node-cache`): asked first, hedged past when slow.
    NodeCache,
    /// The CoreDNS replicas (`--upstream`, `--discover`).
    Replica,
    /// The cluster DNS VIP (`--fallback`): only while every upstream before it is down.
    Fallback,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Tier::NodeCache => "node-cache",
            Tier::Replica => "replica",
            Tier::Fallback => "fallback",
        }
    }

    /// Whether the tier counts only while every upstream before it is down.
    pub fn last_resort(self) -> bool {
        self == Tier::Fallback
    }
}

/// What selection needs to know of one upstream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub up: bool,
    /// False for a degraded replica out of sending credit (`overload::Load`).
    pub admissible: bool,
    pub score: f64,
    /// Consecutive failures, to rank down upstreams.
    pub fails: u32,
}

/// Picks the next upstream of `cands`, which stand in `tiers` (one per candidate, in tier
/// order), by the rule above. `tried` is a bit set of indexes already asked; `r1`, `r2` are
/// random numbers (passed in so the choice is testable).
pub fn pick_tiered(
    cands: &[Candidate],
    tiers: &[Tier],
    tried: u64,
    r1: u64,
    r2: u64,
) -> Option<usize> {
    // The candidates that count: up to the first last-resort tier that something before it
    // keeps out.
    let mut counted = cands.len();
    let mut earlier_up = false;
    for (i, (c, t)) in cands.iter().zip(tiers).enumerate() {
        if t.last_resort() && earlier_up {
            counted = i;
            break;
        }
        earlier_up |= c.up;
    }
    let (cands, tiers) = (&cands[..counted], &tiers[..counted]);
    let mut start = 0;
    while start < cands.len() {
        let end = start
            + tiers[start..]
                .iter()
                .take_while(|t| **t == tiers[start])
                .count();
        if let Some(i) = pick_healthy(&cands[start..end], tried >> start, r1, r2) {
            return Some(start + i);
        }
        start = end;
    }
    pick(cands, tried, r1, r2)
}

/// P2C among the healthy, admissible candidates not in `tried`, if there is one.
fn pick_healthy(cands: &[Candidate], tried: u64, r1: u64, r2: u64) -> Option<usize> {
    let untried = |i: &usize| *i < 64 && tried & (1 << i) == 0;
    let healthy = (0..cands.len()).filter(|i| untried(i) && cands[*i].up && cands[*i].admissible);
    let n = healthy.clone().count();
    if n == 0 {
        return None;
    }
    let a = healthy.clone().nth((r1 % n as u64) as usize)?;
    if n == 1 {
        return Some(a);
    }
    // A second, distinct choice: offset by 1..n-1 from the first.
    let pos_a = (r1 % n as u64) as usize;
    let pos_b = (pos_a + 1 + (r2 % (n as u64 - 1)) as usize) % n;
    let b = healthy.clone().nth(pos_b)?;
    Some(if cands[b].score * CLEARLY_BETTER < cands[a].score {
        b
    } else {
        a
    })
}

/// Picks the next upstream of one tier. `tried` is a bit set of indexes already asked;
/// `r1`, `r2` are random numbers (passed in so the choice is testable).
pub fn pick(cands: &[Candidate], tried: u64, r1: u64, r2: u64) -> Option<usize> {
    if let Some(i) = pick_healthy(cands, tried, r1, r2) {
        return Some(i);
    }
    let untried = |i: &usize| *i < 64 && tried & (1 << i) == 0;
    // Nothing healthy is left untried. If some upstream is up (already asked, or out of
    // credit), a down one is not worth a packet; if all are down, try the least failed.
    if cands.iter().any(|c| c.up) {
        return None;
    }
    (0..cands.len())
        .filter(untried)
        .min_by_key(|i| (cands[*i].fails, *i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(score: f64) -> Candidate {
        Candidate {
            up: true,
            admissible: true,
            score,
            fails: 0,
        }
    }
    fn down(fails: u32) -> Candidate {
        Candidate {
            up: false,
            admissible: true,
            score: 1e9,
            fails,
        }
    }

    #[test]
    fn a_replica_out_of_credit_is_passed_over_and_none_is_not_a_down_one() {
        let paced = Candidate {
            admissible: false,
            ..up(1.0)
        };
        assert_eq!(pick(&[paced, up(50.0)], 0, 0, 0), Some(1));
        assert_eq!(
            pick(&[paced, down(1)], 0, 0, 0),
            None,
            "overloaded and out of credit: shed, rather than ask a down one"
        );
    }

    #[test]
    fn two_choices_take_the_better() {
        let c = [up(10.0), up(1.0)];
        for r in 0..10 {
            assert_eq!(pick(&c, 0, r, r * 7), Some(1));
        }
    }

    #[test]
    fn near_equal_upstreams_share_the_load() {
        let c = [up(1.30), up(1.25)];
        let mut seen = [0; 2];
        for r in 0..100 {
            seen[pick(&c, 0, r, r / 2).unwrap()] += 1;
        }
        assert!(seen[0] >= 30 && seen[1] >= 30, "{seen:?}");
    }

    #[test]
    fn spreads_over_equal_upstreams() {
        let c = [up(1.0), up(1.0), up(1.0)];
        let mut seen = [0; 3];
        for r in 0..30 {
            seen[pick(&c, 0, r, r / 3).unwrap()] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    }

    #[test]
    fn skips_tried_and_down() {
        let c = [up(1.0), down(3), up(5.0)];
        assert_eq!(pick(&c, 0b001, 0, 0), Some(2));
        assert_eq!(
            pick(&c, 0b101, 0, 0),
            None,
            "a down one is not tried while another is up"
        );
    }

    #[test]
    fn the_worst_healthy_still_beats_a_down_one() {
        let c = [down(1), up(1e6)];
        for r in 0..5 {
            assert_eq!(pick(&c, 0, r, r), Some(1));
        }
    }

    #[test]
    fn all_down_tries_least_failed_then_the_rest() {
        let c = [down(9), down(2), down(5)];
        assert_eq!(pick(&c, 0, 0, 0), Some(1));
        assert_eq!(pick(&c, 0b010, 0, 0), Some(2));
        assert_eq!(pick(&c, 0b110, 0, 0), Some(0));
        assert_eq!(pick(&c, 0b111, 0, 0), None);
    }

    #[test]
    fn tiers_are_asked_in_order_and_the_fallback_only_when_all_before_are_down() {
        use Tier::*;
        let tiers = [NodeCache, Replica, Replica, Fallback];
        let c = [up(1.0), up(1.0), up(1.0), up(1.0)];
        for r in 0..10 {
            assert_eq!(
                pick_tiered(&c, &tiers, 0, r, r * 3),
                Some(0),
                "the node cache first"
            );
            let next = pick_tiered(&c, &tiers, 0b0001, r, r * 3);
            assert!(matches!(next, Some(1 | 2)), "then a replica: {next:?}");
        }
        assert_eq!(
            pick_tiered(&c, &tiers, 0b0111, 0, 0),
            None,
            "every replica asked: not the fallback while they are up"
        );
        let cache_down = [down(2), up(1.0), up(1.0), up(1.0)];
        assert!(matches!(
            pick_tiered(&cache_down, &tiers, 0, 0, 1),
            Some(1 | 2)
        ));
        let all_down = [down(2), down(3), down(1), up(1.0)];
        assert_eq!(
            pick_tiered(&all_down, &tiers, 0, 0, 0),
            Some(3),
            "the fallback"
        );
        let no_fallback_up = [down(2), down(3), down(1), down(5)];
        assert_eq!(
            pick_tiered(&no_fallback_up, &tiers, 0, 0, 0),
            Some(2),
            "all down: the least failed of all"
        );
        // A replica-only pool behaves as before.
        let plain = [up(1.0), up(10.0)];
        assert_eq!(
            pick_tiered(&plain, &[Replica, Replica], 0, 0, 0),
            pick(&plain, 0, 0, 0)
        );
    }

    #[test]
    fn empty_pool() {
        assert_eq!(pick(&[], 0, 1, 2), None);
    }
}
