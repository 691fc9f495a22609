//! The cache's table: entries in one slab (a `Vec` of fixed-size slots, reused through a
//! free list), most-recently-used order as `u32` links through the slots, and a hash index
//! of slot numbers. An entry is found by its question (kept inside its answer) and the key's
//! flag byte, so a cached name is held once. Per entry: the answer's one allocation, a slot
//! and an index bucket; no boxed key, no list node of its own.

use std::hash::{BuildHasher, Hasher};

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::answer::Answer;

const NIL: u32 = u32::MAX;

/// One cached answer and its bookkeeping.
#[derive(Debug)]
pub struct Entry {
    pub answer: Answer,
    /// When it was stored, in milliseconds from the cache's epoch.
    pub stored_ms: u64,
    pub ttl: u32,
    pub prefetching: bool,
    /// The key's last byte (DO, CD): with the answer's question, the whole key.
    flag: u8,
}

impl Entry {
    pub fn new(answer: Answer, stored_ms: u64, ttl: u32, key: &[u8]) -> Entry {
        Entry {
            answer,
            stored_ms,
            ttl,
            prefetching: false,
            flag: key[key.len() - 1],
        }
    }

    fn is(&self, question: &[u8], flag: u8) -> bool {
        self.flag == flag && self.answer.question() == question
    }
}

struct Slot {
    /// None: on the free list.
    entry: Option<Entry>,
    prev: u32,
    next: u32,
}

/// What one entry costs besides its answer: its slot and its index bucket (a slot number
/// and a control byte).
pub const SLOT_BYTES: usize = std::mem::size_of::<Slot>() + std::mem::size_of::<u32>() + 1;

pub struct Lru {
    /// Entries to make room for at the first one.
    capacity: usize,
    slots: Vec<Slot>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Most and least recently used; NIL when empty.
    head: u32,
    tail: u32,
    /// First free slot, chained through `next`.
    free: u32,
}

/// A key is a question and a flag byte (see `wire::key`).
fn split(key: &[u8]) -> (&[u8], u8) {
    (&key[..key.len() - 1], key[key.len() - 1])
}

fn hash(hasher: &DefaultHashBuilder, question: &[u8], flag: u8) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(question);
    h.write_u8(flag);
    h.finish()
}

fn entry_hash(hasher: &DefaultHashBuilder, slots: &[Slot], i: u32) -> u64 {
    let e = slots[i as usize]
        .entry
        .as_ref()
        .expect("indexed slot holds an entry");
    hash(hasher, e.answer.question(), e.flag)
}

impl Lru {
    /// Room for `capacity` entries, made at the first entry and at once (address space only
    /// until used): grown by doubling instead, the slab and the index would leave their
    /// outgrown copies behind in the allocator, about as much memory again as the live ones.
    /// An idle sidecar's cache holds nothing, not even the index's control bytes.
    pub fn with_capacity(capacity: usize) -> Lru {
        Lru {
            capacity,
            slots: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            head: NIL,
            tail: NIL,
            free: NIL,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    fn find(&self, key: &[u8]) -> Option<u32> {
        let (q, f) = split(key);
        let slots = &self.slots;
        let found = self.index.find(hash(&self.hasher, q, f), |&i| {
            slots[i as usize].entry.as_ref().is_some_and(|e| e.is(q, f))
        });
        found.copied()
    }

    /// The entry for `key`, now the most recently used.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let i = self.find(key)?;
        self.unlink(i);
        self.link_front(i);
        self.slots[i as usize].entry.as_mut()
    }

    /// The entry for `key`, its place in the order unchanged.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        let i = self.find(key)?;
        self.slots[i as usize].entry.as_ref()
    }

    /// The entry for `key`, its place in the order unchanged.
    pub fn peek_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let i = self.find(key)?;
        self.slots[i as usize].entry.as_mut()
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let i = self.find(key)?;
        Some(self.take(i))
    }

    /// The least recently used entry, taken out.
    pub fn pop_lru(&mut self) -> Option<Entry> {
        (self.tail != NIL).then(|| self.take(self.tail))
    }

    /// Adds an entry whose key is not in the table, as the most recently used.
    pub fn push(&mut self, entry: Entry) {
        debug_assert!(self.find(&key_of(&entry)).is_none(), "pushed a key twice");
        let h = hash(&self.hasher, entry.answer.question(), entry.flag);
        let slot = Slot {
            entry: Some(entry),
            prev: NIL,
            next: NIL,
        };
        if self.slots.capacity() == 0 {
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.index
                .reserve(self.capacity, |&j| entry_hash(hasher, slots, j));
            self.slots.reserve_exact(self.capacity);
        }
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.slots[i as usize].next;
            self.slots[i as usize] = slot;
            i
        } else {
            self.slots.push(slot);
            (self.slots.len() - 1) as u32
        };
        self.link_front(i);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(h, i, |&j| entry_hash(hasher, slots, j));
    }

    fn take(&mut self, i: u32) -> Entry {
        let h = entry_hash(&self.hasher, &self.slots, i);
        if let Ok(found) = self.index.find_entry(h, |&j| j == i) {
            found.remove();
        }
        self.unlink(i);
        let s = &mut self.slots[i as usize];
        let entry = s.entry.take().expect("linked slot holds an entry");
        s.next = self.free;
        self.free = i;
        entry
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = &self.slots[i as usize];
            (s.prev, s.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
    }

    fn link_front(&mut self, i: u32) {
        let old = self.head;
        {
            let s = &mut self.slots[i as usize];
            s.prev = NIL;
            s.next = old;
        }
        match old {
            NIL => self.tail = i,
            o => self.slots[o as usize].prev = i,
        }
        self.head = i;
    }
}

fn key_of(e: &Entry) -> Vec<u8> {
    let mut k = e.answer.question().to_vec();
    k.push(e.flag);
    k
}

#[cfg(test)]
mod tests;
