use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A load fed `n` outcomes, a millisecond apart from `now` on, `lost` of each ten lost.
fn fed(now: Instant, n: usize, lost_per_ten: usize) -> Load {
    let mut l = Load::default();
    for i in 0..n {
        let t = now + ms(i as u64);
        if i % 10 < lost_per_ten {
            l.on_loss(t);
        } else {
            l.on_answer(t, true);
        }
    }
    l
}

#[test]
fn loss_marks_degraded_with_hysteresis() {
    let t0 = Instant::now();
    assert!(!fed(t0, 200, 1).is_degraded(t0), "10% loss: a lossy day");
    let mut l = fed(t0, 200, 5);
    assert!(l.is_degraded(t0), "half lost: {}", l.loss(t0));
    // Back to 20% loss: under the entry mark, still over the exit mark.
    let t1 = t0 + ms(200);
    for i in 0..200 {
        if i % 5 == 0 {
            l.on_loss(t1);
        } else {
            l.on_answer(t1, true);
        }
    }
    assert!(l.is_degraded(t0), "hysteresis: {}", l.loss(t0));
    for _ in 0..30 {
        l.on_answer(t1, true);
    }
    // Nothing was held back by its pacing meanwhile (its credit is full).
    assert!(!l.is_degraded(t1), "recovered: {}", l.loss(t1));
    let mut early = Load::default();
    for _ in 0..20 {
        early.on_loss(t0);
    }
    assert!(
        !early.is_degraded(t0),
        "not before a whole window measured its answer rate, to pace it at"
    );
}

#[test]
fn servfail_and_refused_count_as_lost_but_show_the_replica_alive() {
    let t0 = Instant::now();
    let mut l = Load::default();
    for i in 0..200 {
        l.on_answer(t0 + ms(i), false);
    }
    assert!(l.is_degraded(t0));
    assert_eq!(l.answered_at, Some(t0 + ms(199)));
}

#[tokio::test(start_paused = true)]
async fn a_degraded_replica_is_paced_at_a_little_above_its_answer_rate() {
    // 100 good answers a second for 2 s, then half of the attempts lost.
    let mut l = Load::default();
    for _ in 0..200 {
        l.on_answer(Instant::now(), true);
        tokio::time::advance(ms(10)).await;
    }
    assert!(
        (90.0..=110.0).contains(&l.answer_rate()),
        "{}",
        l.answer_rate()
    );
    assert!(l.admissible(Instant::now()), "not degraded: never paced");
    for _ in 0..10 {
        l.on_loss(Instant::now());
    }
    assert!(l.is_degraded(Instant::now()));
    // Over the next second, sending as fast as allowed: 1.25 x 100 + 5 a second, and the
    // burst the credit held.
    let t0 = Instant::now();
    let mut sent = 0;
    for _ in 0..1000 {
        while l.admissible(Instant::now()) {
            l.spend(Instant::now());
            sent += 1;
        }
        tokio::time::advance(ms(1)).await;
    }
    assert!(Instant::now() - t0 >= Duration::from_secs(1));
    assert!((125..=150).contains(&sent), "{sent} sent in a second");
    // A replica that answers nothing for a while is paced at the floor.
    for _ in 0..30 {
        tokio::time::advance(Duration::from_secs(1)).await;
        l.on_loss(Instant::now());
    }
    l.on_answer(Instant::now(), false);
    assert!(l.answer_rate() < 1.0, "{}", l.answer_rate());
    let mut trickle = 0;
    for _ in 0..1000 {
        while l.admissible(Instant::now()) {
            l.spend(Instant::now());
            trickle += 1;
        }
        tokio::time::advance(ms(1)).await;
    }
    assert!(
        (5..=22).contains(&trickle),
        "{trickle}: the floor and the burst"
    );
    // A replica that is not degraded is never paced.
    let mut fine = Load::default();
    for _ in 0..1000 {
        assert!(fine.admissible(Instant::now()));
        fine.spend(Instant::now());
    }
}

#[tokio::test(start_paused = true)]
async fn a_degraded_replica_whose_answers_queue_is_paced_below_its_answer_rate() {
    // 100 good answers a second, each 800 ms late, then half of the attempts lost.
    let mut l = Load::default();
    for _ in 0..200 {
        l.on_rtt(ms(800));
        l.on_answer(Instant::now(), true);
        tokio::time::advance(ms(10)).await;
    }
    for _ in 0..10 {
        l.on_loss(Instant::now());
    }
    assert!(l.is_degraded(Instant::now()));
    let mut sent = 0;
    for _ in 0..1000 {
        while l.admissible(Instant::now()) {
            l.spend(Instant::now());
            sent += 1;
        }
        tokio::time::advance(ms(1)).await;
    }
    // 0.9 x 100 + 5 a second, and the burst the credit held: fewer than it answers and the
    // floor, so its queue drains; with answers in time it was 125 to 150.
    assert!((95..=104).contains(&sent), "{sent} sent in a second");
}

#[test]
fn extra_attempts_go_only_to_a_replica_that_is_well_and_faster() {
    use Extra::*;
    assert_eq!(allow_extra(Hedge, false, Some(ms(2)), ms(20)), Ok(()));
    assert_eq!(
        allow_extra(Hedge, false, None, ms(20)),
        Ok(()),
        "unmeasured"
    );
    assert_eq!(
        allow_extra(Hedge, false, Some(ms(300)), ms(250)),
        Err(Denied::NotFaster),
        "every replica queueing: a hedge only adds to the queue"
    );
    assert_eq!(
        allow_extra(MoveOn, false, Some(ms(300)), ms(5)),
        Ok(()),
        "after a failure speed does not matter"
    );
    for kind in [Hedge, MoveOn, Resend] {
        assert_eq!(
            allow_extra(kind, true, Some(ms(1)), ms(100)),
            Err(Denied::Overloaded),
            "{kind:?}"
        );
    }
}

#[test]
fn the_pool_tells_a_dead_replica_from_an_overload() {
    let t0 = Instant::now();
    let later = t0 + Duration::from_secs(5);
    let recent = Duration::from_secs(2);
    let well = fed(t0, 50, 0);
    let dead = fed(t0, 300, 10);
    let busy = fed(later - ms(300), 300, 5);
    assert_eq!(
        pool_state([(false, dead.clone()), (true, well.clone())], later, recent),
        PoolState::Healthy,
        "one silent while another answers"
    );
    assert_eq!(
        pool_state([(true, busy.clone()), (true, busy.clone())], later, recent),
        PoolState::Overloaded,
        "every replica losing, answers still coming"
    );
    // Answered last 5 s ago; every attempt since timed out.
    let mut silent = fed(t0, 300, 5);
    for i in 0..20 {
        silent.on_loss(later - ms(100) + ms(i));
    }
    assert_eq!(
        pool_state([(true, silent.clone()), (false, dead)], later, recent),
        PoolState::Dark,
        "one losing and silent for 5 s, the other down: gone, not busy"
    );
    assert_eq!(
        pool_state(std::iter::empty(), later, recent),
        PoolState::Dark
    );
}

#[test]
fn only_a_replica_that_stopped_answering_is_marked_down_for_a_timeout() {
    let t0 = Instant::now();
    let w = Duration::from_secs(1);
    assert!(may_mark_down(false, None, t0, w), "never answered");
    assert!(
        may_mark_down(false, Some(t0), t0 + ms(1001), w),
        "silent for as long as the lost query waited: dead"
    );
    assert!(
        !may_mark_down(false, Some(t0 + ms(500)), t0 + ms(1001), w),
        "it answered while the lost query waited: busy, not dead"
    );
    assert!(
        may_mark_down(true, Some(t0), t0, w),
        "a refusal is definitive"
    );
}

#[test]
fn a_degraded_replica_sent_nothing_more_fades_back() {
    // Half lost, then selection sends it nothing: no outcome could clear it.
    let t0 = Instant::now();
    let l = fed(t0, 200, 5);
    let last = t0 + ms(199);
    assert!(l.is_degraded(last + ms(900)), "{}", l.loss(last + ms(900)));
    assert!(
        l.is_degraded(last + ms(2000)),
        "faded to {}, not yet recovered",
        l.loss(last + ms(2000))
    );
    let later = last + ms(4500);
    assert!(!l.is_degraded(later), "faded to {}", l.loss(later));
    // A loss then counts from the faded estimate: one loss does not make it degraded.
    let mut l = l;
    l.on_loss(later);
    assert!(!l.is_degraded(later), "{}", l.loss(later));
}

#[tokio::test(start_paused = true)]
async fn pacing_stays_on_while_it_is_what_keeps_the_loss_low() {
    // The replica answers 100 a second at once and drops the rest, each drop known a
    // timeout (200 ms) later; the pod offers 300 a second. Paced, about a fifth of what
    // goes out is lost, and the noisy estimate wanders under `RECOVERED_BELOW` now and
    // then: each time the pacing lifted, the whole 300 a second would go out until the
    // drops came back. It must hold for the whole run.
    let mut l = Load::default();
    for _ in 0..150 {
        l.on_answer(Instant::now(), true);
        tokio::time::advance(ms(10)).await;
    }
    for _ in 0..10 {
        l.on_loss(Instant::now());
    }
    assert!(l.is_degraded(Instant::now()));
    let (mut sent, mut answered, mut unpaced) = (0u32, 0u32, 0u32);
    let mut tokens = 0.0f64;
    let mut drops = std::collections::VecDeque::new();
    let t0 = Instant::now();
    for tick in 0..10_000u64 {
        let now = Instant::now();
        tokens = (tokens + 0.1).min(2.0);
        while drops.front().is_some_and(|t| *t <= now) {
            drops.pop_front();
            l.on_loss(now);
        }
        if tick % 10 < 3 {
            if !l.is_degraded(now) {
                unpaced += 1;
            }
            if l.admissible(now) {
                l.spend(now);
                sent += 1;
                if tokens >= 1.0 {
                    tokens -= 1.0;
                    l.on_answer(now, true);
                    answered += 1;
                } else {
                    drops.push_back(now + ms(200));
                }
            }
        }
        tokio::time::advance(ms(1)).await;
    }
    assert!(Instant::now() - t0 >= Duration::from_secs(10));
    assert_eq!(unpaced, 0, "questions that found the pacing lifted");
    assert!((950..=1_000).contains(&answered), "{answered} answered");
    assert!(
        (1_100..=1_400).contains(&sent),
        "{sent} sent in 10 s, for {answered} answered"
    );
    // The load passes: 20 a second, well under what it answers. The credit fills, the
    // loss fades, and the replica is well again.
    for _ in 0..100 {
        l.on_answer(Instant::now(), true);
        tokio::time::advance(ms(50)).await;
    }
    assert!(!l.is_degraded(Instant::now()), "{}", l.loss(Instant::now()));
}
