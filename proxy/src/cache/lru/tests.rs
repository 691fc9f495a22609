use super::*;
use crate::wire::{encode_name, Key, KeyBuf};

fn key(name: &str, flag: u8) -> Vec<u8> {
    let name = encode_name(name).unwrap();
    let mut k = KeyBuf::plain(&name, 1).key().bytes().to_vec();
    *k.last_mut().unwrap() = flag;
    k
}

fn entry(k: &[u8]) -> Entry {
    Entry::new(Answer::servfail(Key::of(k)), 0, 60, k)
}

/// The keys from most to least recently used, walking the links both ways.
fn order(l: &Lru) -> Vec<Vec<u8>> {
    let mut fwd = Vec::new();
    let mut i = l.head;
    while i != NIL {
        fwd.push(key_of(l.slots[i as usize].entry.as_ref().unwrap()));
        i = l.slots[i as usize].next;
    }
    let mut back = Vec::new();
    let mut i = l.tail;
    while i != NIL {
        back.push(key_of(l.slots[i as usize].entry.as_ref().unwrap()));
        i = l.slots[i as usize].prev;
    }
    back.reverse();
    assert_eq!(fwd, back, "links disagree");
    assert_eq!(fwd.len(), l.len());
    assert_eq!(l.index.len(), l.len());
    fwd
}

#[test]
fn an_entry_costs_a_slot_of_40_bytes() {
    // The answer (a fat Arc), the store time, TTL, two flags and two links.
    assert_eq!(std::mem::size_of::<Slot>(), 40);
}

#[test]
fn a_key_is_its_question_and_flag_byte() {
    let mut l = Lru::with_capacity(64);
    l.push(entry(&key("a.example", 0)));
    l.push(entry(&key("a.example", 2)));
    assert_eq!(l.len(), 2, "DO makes another key");
    assert_eq!(l.peek_mut(&key("a.example", 2)).unwrap().flag, 2);
    assert!(l.peek_mut(&key("b.example", 0)).is_none());
    let mut aaaa = key("a.example", 0);
    let n = aaaa.len();
    aaaa[n - 4] = 28; // AAAA
    assert!(l.peek_mut(&aaaa).is_none(), "another type is another key");
}

#[test]
fn get_moves_to_front_and_peek_does_not() {
    let mut l = Lru::with_capacity(64);
    for n in ["a", "b", "c"] {
        l.push(entry(&key(n, 0)));
    }
    assert_eq!(order(&l), [key("c", 0), key("b", 0), key("a", 0)]);
    l.peek_mut(&key("a", 0)).unwrap();
    assert_eq!(order(&l)[2], key("a", 0));
    l.get_mut(&key("a", 0)).unwrap();
    assert_eq!(order(&l), [key("a", 0), key("c", 0), key("b", 0)]);
    assert_eq!(key_of(&l.pop_lru().unwrap()), key("b", 0));
    assert_eq!(order(&l), [key("a", 0), key("c", 0)]);
}

#[test]
fn removed_slots_are_reused() {
    let mut l = Lru::with_capacity(64);
    for i in 0..10 {
        l.push(entry(&key(&format!("n{i}"), 0)));
    }
    for i in 0..10 {
        assert!(l.remove(&key(&format!("n{i}"), 0)).is_some());
    }
    assert!(l.remove(&key("n0", 0)).is_none());
    assert_eq!((l.len(), l.head, l.tail), (0, NIL, NIL));
    for i in 10..20 {
        l.push(entry(&key(&format!("n{i}"), 0)));
    }
    assert_eq!(l.slots.len(), 10, "the slab did not grow");
    assert_eq!(order(&l).len(), 10);
}

/// Against a plain model (a Vec in recency order), under a long mixed sequence of
/// operations, with the index resized many times on the way.
#[test]
fn agrees_with_a_model() {
    let mut l = Lru::with_capacity(64);
    let mut model: Vec<Vec<u8>> = Vec::new(); // most recent first
    let mut x: u32 = 7;
    for step in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let k = key(&format!("k{}", (x >> 8) % 300), ((x >> 4) & 1) as u8);
        let pos = model.iter().position(|m| *m == k);
        match x % 5 {
            0 | 1 => {
                if pos.is_none() {
                    l.push(entry(&k));
                    model.insert(0, k);
                }
            }
            2 => {
                assert_eq!(l.get_mut(&k).is_some(), pos.is_some());
                if let Some(p) = pos {
                    let m = model.remove(p);
                    model.insert(0, m);
                }
            }
            3 => {
                assert_eq!(l.remove(&k).is_some(), pos.is_some());
                if let Some(p) = pos {
                    model.remove(p);
                }
            }
            _ => {
                let got = l.pop_lru().map(|e| key_of(&e));
                assert_eq!(got, model.pop());
            }
        }
        if step % 1000 == 0 {
            assert_eq!(order(&l), model);
        }
    }
    assert_eq!(order(&l), model);
}
