use super::*;
use crate::wire::rcode;

/// `n` healthy upstreams, preferred in index order; hedge 10 ms, retransmission 50 ms
/// doubling per resend; extra attempts allowed until `allow` runs out, each one asked
/// for recorded.
#[derive(Default)]
struct Fixed {
    n: usize,
    /// Extra attempts allowed; None: all.
    allow: Option<usize>,
    deny_as: Option<Denied>,
    asked: Vec<(usize, Extra, Duration)>,
}

fn fixed(n: usize) -> Fixed {
    Fixed {
        n,
        ..Fixed::default()
    }
}

impl Chooser for Fixed {
    fn pick(&mut self, exclude: u64) -> Option<usize> {
        (0..self.n).find(|i| exclude & (1 << i) == 0)
    }
    fn wait(&self, _: usize, others_left: bool, resent: u32) -> Duration {
        if others_left {
            ms(10)
        } else {
            ms(50) * 2u32.pow(resent)
        }
    }
    fn allow_extra(&mut self, i: usize, kind: Extra, waited: Duration) -> Result<(), Denied> {
        self.asked.push((i, kind, waited));
        match &mut self.allow {
            Some(0) => Err(self.deny_as.unwrap_or(Denied::Budget)),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn ask(upstream: usize, resend: bool) -> Action {
    Action::Ask { upstream, resend }
}

fn wait(t: Instant) -> Action {
    Action::Wait { until: Some(t) }
}

#[test]
fn a_silent_only_upstream_is_asked_again_with_backoff_then_given_up() {
    let (t0, c) = (Instant::now(), &mut fixed(1));
    let mut a = Attempts::new();
    assert_eq!(a.step(t0, None, c), ask(0, false));
    assert_eq!(a.step(t0, None, c), wait(t0 + ms(50)));
    let mut t = t0 + ms(50);
    for (k, gap) in [(1, 100), (2, 200), (3, 400)] {
        assert_eq!(
            a.step(t, Some(Event::Deadline), c),
            ask(0, true),
            "resend {k}"
        );
        assert_eq!(a.step(t, None, c), wait(t + ms(gap)));
        t += ms(gap);
    }
    assert_eq!(
        a.step(t, Some(Event::Deadline), c),
        Action::Wait { until: None },
        "three resends, then only waiting"
    );
    for i in 0..3 {
        assert_eq!(
            a.step(t, Some(Event::Failure { upstream: 0 }), c),
            Action::Wait { until: None },
            "attempt {i} timed out, others still out"
        );
    }
    assert_eq!(
        a.step(t, Some(Event::Failure { upstream: 0 }), c),
        Action::GiveUp
    );
}

#[test]
fn a_lost_answer_is_recovered_by_the_resend() {
    let (t0, c) = (Instant::now(), &mut fixed(1));
    let mut a = Attempts::new();
    a.step(t0, None, c);
    a.step(t0, None, c);
    assert_eq!(a.step(t0 + ms(50), Some(Event::Deadline), c), ask(0, true));
    let answer = Event::Answer {
        upstream: 0,
        rcode: rcode::NOERROR,
    };
    assert_eq!(a.step(t0 + ms(51), Some(answer), c), Action::Done);
}

#[test]
fn a_slow_upstream_is_hedged_to_the_next_before_any_resend() {
    let (t0, c) = (Instant::now(), &mut fixed(2));
    let mut a = Attempts::new();
    assert_eq!(a.step(t0, None, c), ask(0, false));
    assert_eq!(a.step(t0, None, c), wait(t0 + ms(10)), "the hedge delay");
    assert_eq!(a.step(t0 + ms(10), Some(Event::Deadline), c), ask(1, false));
    assert_eq!(a.outstanding(), 2, "a hedge");
    assert_eq!(
        a.step(t0 + ms(10), None, c),
        wait(t0 + ms(60)),
        "all asked: the retransmission interval"
    );
    assert_eq!(
        a.step(t0 + ms(60), Some(Event::Deadline), c),
        ask(0, true),
        "the best still silent"
    );
    let answer = Event::Answer {
        upstream: 1,
        rcode: rcode::NXDOMAIN,
    };
    assert_eq!(a.step(t0 + ms(61), Some(answer), c), Action::Done);
}

#[test]
fn servfail_and_failures_move_on_at_once_and_are_last_resorts() {
    let (t0, c) = (Instant::now(), &mut fixed(3));
    let mut a = Attempts::new();
    assert_eq!(a.step(t0, None, c), ask(0, false));
    a.step(t0, None, c);
    let servfail = Event::Answer {
        upstream: 0,
        rcode: rcode::SERVFAIL,
    };
    assert_eq!(
        a.step(t0 + ms(1), Some(servfail), c),
        ask(1, false),
        "no hedge wait"
    );
    a.step(t0 + ms(1), None, c);
    assert_eq!(
        a.step(t0 + ms(2), Some(Event::Failure { upstream: 1 }), c),
        ask(2, false)
    );
    a.step(t0 + ms(2), None, c);
    let refused = Event::Answer {
        upstream: 2,
        rcode: rcode::REFUSED,
    };
    // Everyone has answered or failed: nothing is silent, so nothing is resent.
    assert_eq!(a.step(t0 + ms(3), Some(refused), c), Action::GiveUp);
}

#[test]
fn with_no_upstream_to_ask_it_gives_up_at_once() {
    let (t0, c) = (Instant::now(), &mut fixed(0));
    assert_eq!(Attempts::new().step(t0, None, c), Action::GiveUp);
}

#[test]
fn every_extra_attempt_is_asked_for_with_its_kind_and_the_wait_so_far() {
    let (t0, c) = (Instant::now(), &mut fixed(2));
    let mut a = Attempts::new();
    assert_eq!(a.step(t0, None, c), ask(0, false));
    a.step(t0, None, c);
    assert!(c.asked.is_empty(), "the first attempt needs no permission");
    assert_eq!(a.step(t0 + ms(10), Some(Event::Deadline), c), ask(1, false));
    a.step(t0 + ms(10), None, c);
    assert_eq!(a.step(t0 + ms(60), Some(Event::Deadline), c), ask(0, true));
    assert_eq!(
        c.asked,
        vec![(1, Extra::Hedge, ms(10)), (0, Extra::Resend, ms(60))]
    );
    let (t0, c) = (Instant::now(), &mut fixed(2));
    let mut a = Attempts::new();
    a.step(t0, None, c);
    a.step(t0, None, c);
    let failed = Event::Failure { upstream: 0 };
    assert_eq!(a.step(t0 + ms(3), Some(failed), c), ask(1, false));
    assert_eq!(c.asked, vec![(1, Extra::MoveOn, ms(3))]);
}

#[test]
fn a_refused_hedge_stops_every_later_attempt_and_waits_for_the_first() {
    let (t0, c) = (Instant::now(), &mut fixed(2));
    c.allow = Some(0);
    c.deny_as = Some(Denied::Overloaded);
    let mut a = Attempts::new();
    a.step(t0, None, c);
    a.step(t0, None, c);
    assert_eq!(
        a.step(t0 + ms(10), Some(Event::Deadline), c),
        Action::Wait { until: None },
        "no hedge, no resend timer: only the first attempt is out"
    );
    assert_eq!(a.denied(), Some(Denied::Overloaded));
    assert_eq!(
        a.step(t0 + ms(900), Some(Event::Failure { upstream: 0 }), c),
        Action::GiveUp,
        "its failure ends the question: nothing more is sent"
    );
    assert_eq!(c.asked.len(), 1, "asked once, not again after the failure");
    assert!(a.asked());
}

#[test]
fn a_spent_budget_still_takes_a_late_answer_to_the_first_attempt() {
    let (t0, c) = (Instant::now(), &mut fixed(1));
    c.allow = Some(1);
    let mut a = Attempts::new();
    a.step(t0, None, c);
    a.step(t0, None, c);
    assert_eq!(a.step(t0 + ms(50), Some(Event::Deadline), c), ask(0, true));
    a.step(t0 + ms(50), None, c);
    assert_eq!(
        a.step(t0 + ms(150), Some(Event::Deadline), c),
        Action::Wait { until: None },
        "the second resend is refused"
    );
    let answer = Event::Answer {
        upstream: 0,
        rcode: rcode::NOERROR,
    };
    assert_eq!(a.step(t0 + ms(400), Some(answer), c), Action::Done);
}

#[test]
fn refused_is_the_answer_when_a_dns_policy_gives_it() {
    let refused = Event::Answer {
        upstream: 0,
        rcode: rcode::REFUSED,
    };
    let (t0, c) = (Instant::now(), &mut fixed(2));
    let mut a = Attempts::refused_final(true);
    a.step(t0, None, c);
    a.step(t0, None, c);
    assert_eq!(
        a.step(t0 + ms(1), Some(refused), c),
        Action::Done,
        "passed through"
    );
    assert!(c.asked.is_empty(), "no other replica asked");
    let (t0, c) = (Instant::now(), &mut fixed(2));
    let mut a = Attempts::new();
    a.step(t0, None, c);
    a.step(t0, None, c);
    assert_eq!(
        a.step(t0 + ms(1), Some(refused), c),
        ask(1, false),
        "otherwise a REFUSED replica is moved on from"
    );
}
