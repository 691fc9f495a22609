use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One fixed instant for tests that do not look at decay.
fn t0() -> Instant {
    static T: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T.get_or_init(Instant::now)
}

#[test]
fn rtt_estimate_converges_and_hedge_follows() {
    let p = HealthPolicy::default();
    let mut h = Health::default();
    assert_eq!(h.hedge_delay(t0(), &p), ms(100), "before any sample");
    for _ in 0..50 {
        h.on_success(t0(), ms(4));
    }
    let srtt = h.srtt(t0()).unwrap().as_secs_f64() * 1000.0;
    assert!((srtt - 4.0).abs() < 0.1, "srtt {srtt}");
    assert_eq!(
        h.hedge_delay(t0(), &p),
        p.hedge_min,
        "tight RTTs clamp to the floor"
    );
    for _ in 0..50 {
        h.on_success(t0(), ms(900));
    }
    assert_eq!(
        h.hedge_delay(t0(), &p),
        p.hedge_max,
        "slow upstream clamps to the cap"
    );
}

#[test]
fn retransmission_backs_off_from_the_rtt() {
    let p = HealthPolicy::default();
    let mut h = Health::default();
    for _ in 0..50 {
        h.on_success(t0(), ms(2));
    }
    assert_eq!(
        h.retransmit_interval(t0(), &p, 0),
        ms(50),
        "never below 50 ms"
    );
    assert_eq!(h.retransmit_interval(t0(), &p, 1), ms(100), "doubles");
    assert_eq!(h.retransmit_interval(t0(), &p, 30), ms(800), "capped");
    for _ in 0..50 {
        h.on_success(t0(), ms(120));
    }
    let slow = h.retransmit_interval(t0(), &p, 0);
    assert!(slow >= ms(119), "from the RTT: {slow:?}");
}

#[test]
fn the_attempt_timeout_follows_the_rtt_between_the_floor_and_the_query_budget() {
    let (floor, ceiling) = (ms(1000), ms(1500));
    let mut h = Health::default();
    assert_eq!(
        h.attempt_timeout(t0(), floor, ceiling),
        floor,
        "unmeasured: the floor"
    );
    for _ in 0..50 {
        h.on_success(t0(), ms(3));
    }
    assert_eq!(
        h.attempt_timeout(t0(), floor, ceiling),
        floor,
        "a fast replica keeps the floor"
    );
    // A CoreDNS queueing its answers: they come at 800 to 1,100 ms.
    for i in 0..60 {
        h.on_success(t0(), ms(800 + (i % 4) * 100));
    }
    let queued = h.attempt_timeout(t0(), floor, ceiling);
    assert!(
        queued > ms(1100) && queued <= ceiling,
        "long enough for its answers: {queued:?}"
    );
    for _ in 0..50 {
        h.on_success(t0(), ms(4000));
    }
    assert_eq!(
        h.attempt_timeout(t0(), floor, ceiling),
        ceiling,
        "never past the query budget"
    );
    assert_eq!(
        h.attempt_timeout(t0(), ms(2000), ms(1500)),
        ms(2000),
        "a floor above the ceiling wins"
    );
}

#[test]
fn fixed_hedge_delay_wins() {
    let p = HealthPolicy {
        hedge_fixed: Some(ms(42)),
        ..HealthPolicy::default()
    };
    let mut h = Health::default();
    h.on_success(t0(), ms(1));
    assert_eq!(h.hedge_delay(t0(), &p), ms(42));
}

#[test]
fn down_after_max_fails_and_up_on_success() {
    let p = HealthPolicy::default();
    let now = Instant::now();
    let mut h = Health::default();
    assert!(!h.on_failure(now, false, &p));
    assert!(h.is_up());
    assert!(!h.probe_due(now));
    assert!(h.probe_due(now + p.probe_base), "a suspect is probed too");
    assert!(
        h.on_failure(now, false, &p),
        "second consecutive failure marks it down"
    );
    assert!(!h.is_up());
    assert!(
        !h.on_failure(now, false, &p),
        "already down: not marked again"
    );
    h.on_success(t0(), ms(3));
    assert!(h.is_up());
    assert_eq!(h.fails, 0);
    assert_eq!(h.probe, None);
}

#[test]
fn a_refusal_is_definitive() {
    let p = HealthPolicy::default();
    let mut h = Health::default();
    assert!(h.on_failure(Instant::now(), true, &p));
    assert!(!h.is_up());
}

#[test]
fn a_failed_probe_of_a_suspect_marks_it_down() {
    let p = HealthPolicy::default();
    let now = Instant::now();
    let mut h = Health::default();
    h.on_failure(now, false, &p);
    assert!(h.on_probe_failure(now, false, &p));
    assert!(!h.is_up());
}

#[test]
fn a_success_between_failures_resets_the_count() {
    let p = HealthPolicy::default();
    let now = Instant::now();
    let mut h = Health::default();
    h.on_failure(now, false, &p);
    h.on_success(t0(), ms(2));
    h.on_failure(now, false, &p);
    assert!(h.is_up());
}

#[test]
fn probe_backoff_doubles_to_the_cap() {
    let p = HealthPolicy::default();
    let t0 = Instant::now();
    let mut h = Health::default();
    h.on_failure(t0, false, &p);
    h.on_failure(t0, false, &p);
    let mut backoffs = vec![];
    for _ in 0..8 {
        h.on_probe_failure(t0, false, &p);
        backoffs.push(h.probe.unwrap().backoff);
    }
    assert_eq!(backoffs[0], ms(500));
    assert_eq!(backoffs[1], ms(1000));
    assert_eq!(*backoffs.last().unwrap(), p.probe_max);
    assert_eq!(h.probe.unwrap().at, t0 + p.probe_max);
}

#[test]
fn an_unmeasured_upstream_is_explored_first() {
    let mut known = Health::default();
    known.on_success(t0(), ms(1));
    assert!(Health::default().score(t0()) < known.score(t0()));
    let failed = Health {
        fails: 1,
        ..Health::default()
    };
    assert!(
        failed.score(t0()) > known.score(t0()),
        "but not once it failed"
    );
}

#[test]
fn score_prefers_fast_idle_healthy() {
    let mut fast = Health::default();
    fast.on_success(t0(), ms(2));
    let mut slow = Health::default();
    slow.on_success(t0(), ms(50));
    assert!(fast.score(t0()) < slow.score(t0()));
    let mut busy = fast.clone();
    busy.inflight = 40;
    assert!(busy.score(t0()) > slow.score(t0()), "load spreads queries");
    let mut failing = fast.clone();
    failing.fails = 1;
    assert!(failing.score(t0()) > fast.score(t0()));
}

#[test]
fn an_unused_estimate_decays_so_the_replica_is_explored_again() {
    let t0 = t0();
    let mut slow = Health::default();
    slow.on_success(t0, ms(20));
    let mut fast = Health::default();
    fast.on_success(t0, ms(1));
    // The fast one keeps being used; the slow one gets nothing.
    let later = t0 + Duration::from_secs(12);
    fast.on_success(later, ms(1));
    assert!(slow.score(t0) > 10.0 * fast.score(t0));
    assert!(
        slow.score(later) < 1.5 * fast.score(later),
        "within P2C's margin again: {} vs {}",
        slow.score(later),
        fast.score(later)
    );
    assert_eq!(
        slow.hedge_delay(later, &HealthPolicy::default()),
        HealthPolicy::default().hedge_min,
        "an exploring query waits little before asking another"
    );
    // Explored and still slow: the estimate rises again.
    slow.on_success(later, ms(20));
    assert!(slow.score(later) > 1.5 * fast.score(later));
}

#[test]
fn a_replica_back_from_down_is_unmeasured_whatever_the_probe_took() {
    let p = HealthPolicy::default();
    let t0 = t0();
    let mut h = Health::default();
    h.on_success(t0, ms(1));
    h.on_failure(t0, true, &p);
    assert!(!h.is_up());
    h.on_probe_success(t0, ms(40));
    assert!(h.is_up());
    assert_eq!(h.srtt(t0), None, "a probe on a busy node is no client RTT");
    assert!(
        h.score(t0) < {
            let mut known = Health::default();
            known.on_success(t0, ms(1));
            known.score(t0)
        }
    );
    // A suspect that never went down takes the probe's sample.
    let mut suspect = Health::default();
    suspect.on_failure(t0, false, &p);
    suspect.on_probe_success(t0, ms(4));
    assert!(suspect.srtt(t0).is_some());
    assert_eq!(suspect.fails, 0);
}

#[test]
fn a_probe_is_dropped_while_client_queries_are_answered() {
    let p = HealthPolicy::default();
    let t0 = t0();
    let w = ms(1000);
    let mut busy = Health::default();
    busy.on_success(t0, ms(1));
    busy.on_failure(t0 + ms(10), false, &p);
    assert!(busy.probe_due(t0 + ms(400)));
    assert!(
        !busy.probe_needed(t0 + ms(400), w),
        "it answered 400 ms ago"
    );
    assert!(!busy.probe_due(t0 + ms(500)), "put off by its backoff");
    assert!(
        busy.probe_needed(t0 + ms(1500), w),
        "its failure stands and nothing answered for 1.5 s: probed"
    );
    let mut silent = Health::default();
    silent.on_success(t0, ms(1));
    silent.on_failure(t0 + ms(10), false, &p);
    assert!(
        silent.probe_needed(t0 + ms(1500), w),
        "nothing for 1.5 s: probed"
    );
    let mut down = Health::default();
    down.on_success(t0, ms(1));
    down.on_failure(t0, true, &p);
    assert!(
        down.probe_needed(t0 + ms(10), w),
        "a down replica is always probed"
    );
}

#[test]
fn after_a_queue_drains_the_last_sample_shows_it_fast_again() {
    let mut h = Health::default();
    let t = t0();
    for i in 0..30 {
        h.on_success(t + ms(i * 10), ms(800));
    }
    h.on_success(t + ms(300), ms(1));
    let srtt = h.srtt(t + ms(300)).unwrap();
    assert!(srtt > ms(600), "the smoothed estimate lags: {srtt:?}");
    assert_eq!(h.expected_rtt(t + ms(300)), Some(ms(1)));
    h.on_success(t + ms(310), ms(700));
    assert!(
        h.expected_rtt(t + ms(310)).unwrap() > ms(600),
        "still queueing: a slow sample"
    );
}
