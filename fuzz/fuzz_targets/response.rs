//! An upstream's datagram: checked against the question it claims to answer, taken as an
//! answer, stored in a small cache (whose byte count must stay exact) and read back.
#![no_main]

use std::num::NonZeroUsize;
use std::time::Duration;

use dns_sidecar_proxy::answer::Answer;
use dns_sidecar_proxy::cache::{Cache, CachePolicy, CacheRead};
use dns_sidecar_proxy::{wire, Instant};
use libfuzzer_sys::fuzz_target;

fn policy() -> CachePolicy {
    CachePolicy {
        capacity: NonZeroUsize::new(4).unwrap(),
        max_bytes: 4096,
        min_ttl: 5,
        max_ttl: 3600,
        negative_ttl: 60,
        soa_less_negative_ttl: 0,
        servfail_ttl: 2,
        stale_window: Some(Duration::from_secs(60)),
        prefetch: true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(answer) = Answer::from_upstream(data) else {
        return;
    };
    // The question it answers, as the key we would have asked with.
    let name_end = match wire::skip_name(data, wire::HEADER_LEN) {
        Ok(e) => e,
        Err(_) => return,
    };
    let name = &data[wire::HEADER_LEN..name_end];
    if name.iter().any(|b| b & 0xC0 == 0xC0) || name.len() + 5 > wire::KEY_MAX {
        return;
    }
    let kb = wire::KeyBuf::plain(name, wire::u16_at(data, name_end).unwrap());
    let key = kb.key().bytes();
    let id = u16::from_be_bytes([data[0], data[1]]);
    assert_eq!(
        wire::check_response(data, id, kb.key()).is_ok(),
        data[2] & 0xF8 == 0x80
            && data[5] == 1
            && data[4] == 0
            && wire::u16_at(data, name_end + 2) == Ok(1)
    );
    let mut cache = Cache::new(policy());
    let t0 = Instant::now();
    let stored = cache.insert(key, answer.clone(), t0);
    let stats = cache.stats();
    assert!(stats.bytes <= 4096);
    assert_eq!(stats.entries, stored.is_some() as usize);
    for later in [0u64, 30, 3000, 100_000] {
        match cache.get(key, t0 + Duration::from_secs(later)) {
            CacheRead::Fresh { answer: a, .. } | CacheRead::Stale(a) => {
                assert!(Answer::ptr_eq(&a, &answer))
            }
            CacheRead::Miss => {}
        }
    }
    assert_eq!(cache.stats().bytes == 0, cache.stats().entries == 0);
});
