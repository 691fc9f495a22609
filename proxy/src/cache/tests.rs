use super::*;
use crate::testutil;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

fn policy() -> CachePolicy {
    CachePolicy {
        capacity: NonZeroUsize::new(100).unwrap(),
        max_bytes: 1 << 20,
        min_ttl: 5,
        max_ttl: 3600,
        negative_ttl: 60,
        soa_less_negative_ttl: 0,
        servfail_ttl: 2,
        stale_window: Some(Duration::from_secs(600)),
        prefetch: true,
    }
}

fn positive(name: &str, ttl: u32) -> Answer {
    let buf = testutil::response(
        1,
        name,
        RecordType::A,
        ResponseCode::NoError,
        vec![testutil::a(name, ttl, [192, 0, 2, 1])],
        vec![],
        false,
    );
    Answer::from_upstream(&buf).unwrap()
}

fn nxdomain(soa_ttl: u32, minimum: u32) -> Answer {
    let buf = testutil::response(
        1,
        "nx.example.",
        RecordType::A,
        ResponseCode::NXDomain,
        vec![],
        vec![testutil::soa("example.", soa_ttl, minimum)],
        false,
    );
    Answer::from_upstream(&buf).unwrap()
}

fn key(name: &str) -> Vec<u8> {
    let name = crate::wire::encode_name(name).unwrap();
    crate::wire::KeyBuf::plain(&name, 1).key().bytes().to_vec()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn an_answer_is_stored_only_under_its_own_question() {
    let mut c = Cache::new(policy());
    let t0 = Instant::now();
    assert_eq!(
        c.insert(&key("b.example"), positive("a.example.", 100), t0),
        None
    );
    assert_eq!(c.stats(), CacheStats::default());
    assert!(c
        .insert(&key("A.Example"), positive("a.example.", 100), t0)
        .is_some());
    assert!(
        matches!(c.get(&key("a.example"), t0), CacheRead::Fresh { .. }),
        "keys and questions are both lowercased"
    );
}

#[test]
fn ttl_clamps() {
    let p = policy();
    assert_eq!(p.ttl_for(&positive("a.", 1)), Some(5), "raised to min-ttl");
    assert_eq!(p.ttl_for(&positive("a.", 300)), Some(300));
    assert_eq!(
        p.ttl_for(&positive("a.", 86400)),
        Some(3600),
        "cut to max-ttl"
    );
    assert_eq!(p.ttl_for(&nxdomain(300, 30)), Some(30), "SOA rule");
    assert_eq!(
        p.ttl_for(&nxdomain(3600, 3600)),
        Some(60),
        "negative-ttl cap"
    );
    let no_soa = testutil::response(
        1,
        "nx.",
        RecordType::A,
        ResponseCode::NXDomain,
        vec![],
        vec![],
        false,
    );
    assert_eq!(
        p.ttl_for(&Answer::from_upstream(&no_soa).unwrap()),
        None,
        "no SOA, no negative caching"
    );
    let ambient = CachePolicy {
        soa_less_negative_ttl: 5,
        ..policy()
    };
    assert_eq!(
        ambient.ttl_for(&Answer::from_upstream(&no_soa).unwrap()),
        Some(5),
        "a resolver in between dropped the SOA: the operator's TTL"
    );
    assert_eq!(
        ambient.ttl_for(&nxdomain(300, 2)),
        Some(2),
        "an SOA that came still rules"
    );
    assert_eq!(
        p.ttl_for(&Answer::servfail(crate::wire::Key::of(&key("x")))),
        Some(2)
    );
    let refused = testutil::response(
        1,
        "r.",
        RecordType::A,
        ResponseCode::Refused,
        vec![],
        vec![],
        false,
    );
    assert_eq!(p.ttl_for(&Answer::from_upstream(&refused).unwrap()), None);
    let zero = CachePolicy {
        min_ttl: 0,
        ..policy()
    };
    assert_eq!(
        zero.ttl_for(&positive("a.", 0)),
        None,
        "TTL 0 with no floor is not cached"
    );
}

#[test]
fn ttl_counts_down_then_goes_stale_then_away() {
    let mut c = Cache::new(policy());
    let t0 = Instant::now();
    let k = key("www.example");
    assert!(matches!(c.get(&k, t0), CacheRead::Miss));
    assert!(matches!(
        c.insert(&k, positive("www.example.", 100), t0),
        Some(Serve::Cached {
            age: 0,
            entry_ttl: 100,
            ..
        })
    ));
    match c.get(&k, t0 + secs(40)) {
        CacheRead::Fresh {
            serve: Serve::Cached { age, entry_ttl, .. },
            prefetch,
            ..
        } => assert_eq!((age, entry_ttl, prefetch), (40, 100, false)),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(c.get(&k, t0 + secs(100)), CacheRead::Stale(_)),
        "expired: stale only"
    );
    assert!(
        matches!(c.get(&k, t0 + secs(700)), CacheRead::Stale(_)),
        "end of the window"
    );
    assert!(
        matches!(c.get(&k, t0 + secs(701)), CacheRead::Miss),
        "past the window"
    );
    assert_eq!(c.stats().entries, 0, "and removed");
    assert_eq!(c.stats().bytes, 0);
}

#[test]
fn no_stale_when_disabled() {
    let mut c = Cache::new(CachePolicy {
        stale_window: None,
        ..policy()
    });
    let t0 = Instant::now();
    let k = key("www.example");
    c.insert(&k, positive("www.example.", 10), t0);
    assert!(matches!(c.get(&k, t0 + secs(10)), CacheRead::Miss));
}

#[test]
fn failures_are_never_served_stale() {
    let mut c = Cache::new(policy());
    let t0 = Instant::now();
    let k = key("x");
    c.insert(&k, Answer::servfail(crate::wire::Key::of(&k)), t0);
    assert!(matches!(c.get(&k, t0 + secs(1)), CacheRead::Fresh { .. }));
    assert!(matches!(c.get(&k, t0 + secs(3)), CacheRead::Miss));
}

/// The second of a 100 s entry's life at which a hit first asks for a prefetch.
fn prefetch_second(c: &mut Cache, k: &[u8], t0: Instant) -> Option<u64> {
    (0..100).find(|s| match c.get(k, t0 + secs(*s)) {
        CacheRead::Fresh { prefetch, .. } => prefetch,
        other => panic!("{other:?}"),
    })
}

#[test]
fn prefetch_once_near_the_end_at_a_point_spread_per_entry() {
    let mut c = Cache::new(policy());
    let t0 = Instant::now();
    let k = key("hot.example");
    c.insert(&k, positive("hot.example.", 100), t0);
    let at = prefetch_second(&mut c, &k, t0).expect("prefetched");
    assert!(
        (85..=95).contains(&at),
        "between 85% and 95% of its life: {at}"
    );
    let pf = |l: CacheRead| match l {
        CacheRead::Fresh { prefetch, .. } => prefetch,
        other => panic!("{other:?}"),
    };
    assert!(
        !pf(c.get(&k, t0 + secs(at + 1))),
        "only one refresh in flight"
    );
    c.clear_prefetch(&k);
    assert!(
        pf(c.get(&k, t0 + secs(at + 2))),
        "a failed refresh may be retried"
    );
    // The same name stored a few milliseconds apart, as by pods of one rollout.
    let mut seen = std::collections::BTreeSet::new();
    for ms in 0..40u64 {
        let mut c = Cache::new(policy());
        c.insert(&key("warm"), positive("warm.", 1), t0);
        let t = t0 + Duration::from_millis(ms * 7 + 1);
        c.insert(&k, positive("hot.example.", 100), t);
        seen.insert(prefetch_second(&mut c, &k, t).expect("prefetched"));
    }
    assert!(seen.len() >= 6, "prefetch points spread: {seen:?}");
    assert!(seen.iter().all(|s| (85..=95).contains(s)), "{seen:?}");
    let mut off = Cache::new(CachePolicy {
        prefetch: false,
        ..policy()
    });
    off.insert(&k, positive("hot.example.", 100), t0);
    assert!(!pf(off.get(&k, t0 + secs(95))));
}

#[test]
fn lru_eviction_by_count() {
    let mut c = Cache::new(CachePolicy {
        capacity: NonZeroUsize::new(2).unwrap(),
        ..policy()
    });
    let t0 = Instant::now();
    c.insert(&key("a"), positive("a.", 60), t0);
    c.insert(&key("b"), positive("b.", 60), t0);
    let _ = c.get(&key("a"), t0); // a is now most recently used
    c.insert(&key("c"), positive("c.", 60), t0);
    assert!(
        matches!(c.get(&key("b"), t0), CacheRead::Miss),
        "least recently used went"
    );
    assert!(matches!(c.get(&key("a"), t0), CacheRead::Fresh { .. }));
    assert_eq!(c.stats().evictions, 1);
    assert_eq!(c.stats().entries, 2);
}

#[test]
fn byte_bound_holds_and_accounting_returns_to_zero() {
    let one = entry_bytes(&positive("n0000.", 60));
    let mut c = Cache::new(CachePolicy {
        max_bytes: one * 10,
        ..policy()
    });
    let t0 = Instant::now();
    for i in 0..100 {
        let n = format!("n{i:04}");
        c.insert(&key(&n), positive(&format!("{n}."), 60), t0);
        assert!(c.stats().bytes <= one * 10);
    }
    assert_eq!(c.stats().entries, 10);
    assert_eq!(c.stats().evictions, 90);
    // Replacing an entry does not leak bytes.
    for _ in 0..5 {
        c.insert(&key("n0099"), positive("n0099.", 60), t0);
    }
    assert_eq!(c.stats().bytes, one * 10);
    let tiny = CachePolicy {
        max_bytes: 10,
        ..policy()
    };
    assert_eq!(
        Cache::new(tiny).insert(&key("a"), positive("a.", 60), t0),
        None,
        "larger than the whole cache"
    );
}

#[test]
fn a_resolution_settles_on_fresh_then_stale_then_servfail() {
    let mut c = Cache::new(policy());
    let t0 = Instant::now();
    let k = key("www.example");
    let s = c.settle(&k, Some(positive("www.example.", 100)), t0);
    assert_eq!(
        (s.answer.kind(), s.stale),
        (Kind::Positive, false),
        "stored and served"
    );
    // Expired, and upstream gives nothing: the expired answer, marked stale.
    let s = c.settle(&k, None, t0 + secs(150));
    assert!(s.stale);
    assert_eq!((s.answer.kind(), s.serve), (Kind::Positive, Serve::Stale));
    // Past the window: a SERVFAIL, itself cached for --servfail-ttl.
    let s = c.settle(&k, None, t0 + secs(800));
    assert_eq!(
        (s.answer.rcode(), s.stale),
        (crate::wire::rcode::SERVFAIL, false)
    );
    assert!(matches!(c.get(&k, t0 + secs(801)), CacheRead::Fresh { .. }));
    // Meanwhile fresh (another resolution stored it): served fresh, not stale.
    let k2 = key("other.example");
    c.insert(&k2, positive("other.example.", 100), t0);
    let s = c.settle(&k2, None, t0 + secs(10));
    assert!(!s.stale && s.answer.kind() == Kind::Positive);
}

#[test]
fn stale_is_served_at_once_only_when_no_upstream_is_healthy() {
    assert_eq!(on_stale(false), OnStale::ServeAndRefresh);
    assert_eq!(on_stale(true), OnStale::Resolve);
}
