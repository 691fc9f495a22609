//! The most asked names over a recent window (`/debug/top`), in bounded memory whatever the
//! traffic: the Space-Saving summary (Metwally, Agrawal, El Abbadi), a fixed number of
//! counters; a name not tracked takes the counter of the least counted one, inheriting its
//! count as an error bound, so every name asked more than total/capacity times is in it.
//! Two epochs rotate, so the window is the last one to two epochs. A plain value: time is
//! passed in.

use std::time::Duration;

use crate::Instant;

/// Counters per epoch.
pub const CAPACITY: usize = 256;
/// Questions longer than this (in wire form with the key's flag byte) are kept cut: names
/// that share their first `NAME_MAX` bytes share a counter.
const NAME_MAX: usize = 128;
/// How long an epoch lasts.
pub const EPOCH: Duration = Duration::from_secs(60);

/// What happened to one query, for its name's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Note {
    pub miss: bool,
    pub stale: bool,
    pub rcode: u16,
}

/// One name's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// The question in wire form with the key's flag byte (see `wire::key`), or its first
    /// `NAME_MAX` bytes when `cut`.
    pub key: Box<[u8]>,
    pub cut: bool,
    pub queries: u64,
    /// How much of `queries` may belong to names this counter held before.
    pub error: u64,
    pub misses: u64,
    pub nxdomain: u64,
    pub servfail: u64,
    pub stale: u64,
}

#[derive(Debug, Default)]
struct Epoch {
    counts: Vec<Counts>,
    /// A key's hash → its index in `counts`, open addressing (twice the capacity).
    index: Vec<u32>,
    /// Slots of the index freed by a replacement, not yet reused.
    tombs: usize,
}

const EMPTY: u32 = u32::MAX;
/// A slot whose name gave up its counter: searches go on past it.
const TOMB: u32 = u32::MAX - 1;

fn hash(key: &[u8]) -> u64 {
    // FNV-1a: a few nanoseconds for a name, and no state to keep.
    key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Epoch {
    /// Where `key` is in the index (its slot and counter), or the slot to put it in.
    fn find(&self, key: &[u8]) -> Result<(usize, usize), usize> {
        let n = self.index.len();
        let mut i = (hash(key) as usize) % n;
        let mut free = None;
        loop {
            match self.index[i] {
                EMPTY => return Err(free.unwrap_or(i)),
                TOMB => {
                    free.get_or_insert(i);
                }
                c if *self.counts[c as usize].key == *key => return Ok((i, c as usize)),
                _ => {}
            }
            i = (i + 1) % n;
        }
    }

    fn rebuild_index(&mut self) {
        self.index.iter_mut().for_each(|x| *x = EMPTY);
        self.tombs = 0;
        for c in 0..self.counts.len() {
            if let Err(slot) = self.find(&self.counts[c].key.clone()) {
                self.index[slot] = c as u32;
            }
        }
    }

    fn note(&mut self, key: &[u8], n: Note) {
        if self.index.is_empty() {
            self.index = vec![EMPTY; CAPACITY * 2];
            self.counts.reserve_exact(CAPACITY);
        }
        let cut = key.len() > NAME_MAX;
        let key = &key[..key.len().min(NAME_MAX)];
        let c = match self.find(key) {
            Ok((_, c)) => c,
            Err(slot) if self.counts.len() < CAPACITY => {
                self.counts.push(Counts {
                    key: key.into(),
                    cut,
                    ..Counts::default()
                });
                self.index[slot] = (self.counts.len() - 1) as u32;
                self.counts.len() - 1
            }
            Err(_) => {
                // The least counted name gives up its counter, its count kept as the
                // newcomer's error bound.
                let (min, _) = self
                    .counts
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, c)| c.queries)
                    .expect("full");
                if let Ok((old, _)) = self.find(&self.counts[min].key.clone()) {
                    self.index[old] = TOMB;
                    self.tombs += 1;
                }
                let q = self.counts[min].queries;
                self.counts[min] = Counts {
                    key: key.into(),
                    cut,
                    queries: q,
                    error: q,
                    ..Counts::default()
                };
                if self.tombs > CAPACITY / 2 {
                    self.rebuild_index();
                } else if let Err(slot) = self.find(key) {
                    self.index[slot] = min as u32;
                }
                min
            }
        };
        let e = &mut self.counts[c];
        e.queries += 1;
        e.misses += n.miss as u64;
        e.stale += n.stale as u64;
        e.nxdomain += (n.rcode == crate::wire::rcode::NXDOMAIN) as u64;
        e.servfail += (n.rcode == crate::wire::rcode::SERVFAIL) as u64;
    }
}

#[derive(Debug, Default)]
pub struct Top {
    current: Epoch,
    previous: Epoch,
    started: Option<Instant>,
}

impl Top {
    fn rotate(&mut self, now: Instant) {
        let start = *self.started.get_or_insert(now);
        let age = now.saturating_duration_since(start);
        if age >= EPOCH * 2 {
            self.previous = Epoch::default();
            self.current = Epoch::default();
            self.started = Some(now);
        } else if age >= EPOCH {
            self.previous = std::mem::take(&mut self.current);
            self.started = Some(start + EPOCH);
        }
    }

    /// Counts one query of `key` at `now`.
    pub fn note(&mut self, key: &[u8], n: Note, now: Instant) {
        self.rotate(now);
        self.current.note(key, n);
    }

    /// The `n` most asked names over the window (both epochs added up), most first, and
    /// how long the window is.
    pub fn top(&mut self, n: usize, now: Instant) -> (Vec<Counts>, Duration) {
        self.rotate(now);
        let mut all: Vec<Counts> = self.current.counts.clone();
        for p in &self.previous.counts {
            match all.iter_mut().find(|c| c.key == p.key) {
                Some(c) => {
                    c.queries += p.queries;
                    c.error += p.error;
                    c.misses += p.misses;
                    c.nxdomain += p.nxdomain;
                    c.servfail += p.servfail;
                    c.stale += p.stale;
                }
                None => all.push(p.clone()),
            }
        }
        all.sort_by(|a, b| b.queries.cmp(&a.queries).then_with(|| a.key.cmp(&b.key)));
        all.truncate(n);
        let since = self
            .started
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        let window = if self.previous.counts.is_empty() {
            since
        } else {
            since + EPOCH
        };
        (all, window)
    }

    /// Bytes the summary holds (its tables and names), for the flood test.
    pub fn heap_bytes(&self) -> usize {
        [&self.current, &self.previous]
            .iter()
            .map(|e| {
                e.index.capacity() * 4
                    + e.counts.capacity() * std::mem::size_of::<Counts>()
                    + e.counts.iter().map(|c| c.key.len()).sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Vec<u8> {
        let mut k = crate::wire::encode_name(name).unwrap();
        k.extend_from_slice(&[0, 1, 0, 1, 0]);
        k
    }

    #[test]
    fn the_heavy_names_are_found_with_their_counts() {
        let mut t = Top::default();
        let now = Instant::now();
        for i in 0..10_000u32 {
            // Two heavy names among a stream of distinct ones.
            let name = match i % 4 {
                0 => "heavy.example.".to_string(),
                1 => "second.example.".to_string(),
                _ => format!("n{i}.example."),
            };
            let n = Note {
                miss: i % 8 == 0,
                rcode: if name.starts_with('n') { 3 } else { 0 },
                ..Note::default()
            };
            t.note(&key(&name), n, now);
        }
        let (top, _) = t.top(3, now);
        assert_eq!(top[0].key[..], key("heavy.example.")[..]);
        assert_eq!(top[1].key[..], key("second.example.")[..]);
        assert!(top[0].queries >= 2500 && top[0].queries - top[0].error <= 2500);
        assert_eq!(top[0].misses, 1250);
        assert_eq!(top[0].nxdomain, 0);
    }

    #[test]
    fn a_flood_of_distinct_names_does_not_grow_it() {
        let mut t = Top::default();
        let now = Instant::now();
        t.note(&key("first.example."), Note::default(), now);
        let after_one = t.heap_bytes();
        for i in 0..200_000u32 {
            t.note(&key(&format!("flood-{i}.example.")), Note::default(), now);
        }
        let flooded = t.heap_bytes();
        assert!(
            flooded <= after_one + CAPACITY * NAME_MAX,
            "{after_one} bytes, then {flooded} after 200,000 names"
        );
        assert_eq!(t.top(usize::MAX, now).0.len(), CAPACITY);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_forgets_what_is_two_epochs_old() {
        let mut t = Top::default();
        t.note(&key("old.example."), Note::default(), Instant::now());
        tokio::time::advance(EPOCH + Duration::from_secs(1)).await;
        t.note(&key("new.example."), Note::default(), Instant::now());
        let (top, window) = t.top(10, Instant::now());
        assert_eq!(top.len(), 2, "the last epoch still counts");
        assert!(window > EPOCH);
        tokio::time::advance(EPOCH).await;
        let (top, _) = t.top(10, Instant::now());
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].key[..], key("new.example.")[..]);
        tokio::time::advance(EPOCH * 3).await;
        assert!(t.top(10, Instant::now()).0.is_empty());
    }
}
