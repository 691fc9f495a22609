//! One piece of work per key at a time: the first caller for a key leads and does it; the
//! callers that come while it runs follow and get a copy of its result. Bounded: past
//! `max` keys in flight, a new key is refused rather than queued.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::lock;

/// What a caller is to do for a key.
pub enum Join<V> {
    /// Do the work, then `finish` the key with the result.
    Lead,
    /// Wait here for the leader's result (an error if the leader went away).
    Follow(oneshot::Receiver<V>),
    /// Too many keys in flight: do not start another.
    Full,
}

/// Who waits on each key in flight.
type Followers<V> = HashMap<Box<[u8]>, Vec<oneshot::Sender<V>>>;

pub struct SingleFlight<V> {
    inflight: Mutex<Followers<V>>,
    max: usize,
}

impl<V: Clone> SingleFlight<V> {
    pub fn new(max: usize) -> SingleFlight<V> {
        SingleFlight {
            inflight: Mutex::new(HashMap::new()),
            max,
        }
    }

    pub fn join(&self, key: &[u8]) -> Join<V> {
        let mut m = lock(&self.inflight);
        if let Some(w) = m.get_mut(key) {
            let (tx, rx) = oneshot::channel();
            w.push(tx);
            Join::Follow(rx)
        } else if m.len() >= self.max {
            Join::Full
        } else {
            m.insert(key.into(), Vec::new());
            Join::Lead
        }
    }

    /// The leader's result for `key`: every follower gets a copy, and the key is free again.
    pub fn finish(&self, key: &[u8], v: &V) {
        let waiters = lock(&self.inflight).remove(key).unwrap_or_default();
        for w in waiters {
            let _ = w.send(v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_result_and_the_key_is_freed() {
        let sf = SingleFlight::<u32>::new(8);
        assert!(matches!(sf.join(b"a"), Join::Lead));
        let Join::Follow(f1) = sf.join(b"a") else {
            panic!("second caller follows")
        };
        let Join::Follow(f2) = sf.join(b"a") else {
            panic!("third caller follows")
        };
        assert!(matches!(sf.join(b"b"), Join::Lead), "another key leads");
        sf.finish(b"a", &7);
        assert_eq!((f1.await.unwrap(), f2.await.unwrap()), (7, 7));
        assert!(matches!(sf.join(b"a"), Join::Lead), "free again");
    }

    #[tokio::test]
    async fn full_past_max_keys_and_a_lost_leader_is_an_error() {
        let sf = SingleFlight::<u32>::new(1);
        assert!(matches!(sf.join(b"a"), Join::Lead));
        assert!(matches!(sf.join(b"b"), Join::Full));
        let Join::Follow(f) = sf.join(b"a") else {
            panic!("follows")
        };
        drop(sf);
        assert!(f.await.is_err(), "the leader never finished");
    }
}
