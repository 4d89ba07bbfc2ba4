//! The search's two hash tables, hand-rolled with open addressing and linear probing so
//! that nothing depends on a randomly keyed hasher and nothing is ever iterated in hash
//! order: the state interner (each distinct model state stored once, named by a `u32`)
//! and Lowe's memo of visited (linearized set, state) pairs.

use crate::bitset::Bitset;
use crate::hash::{mix64, stable_hash};
use std::hash::Hash;

const EMPTY: u32 = u32::MAX;

/// Slots for `entries` entries at a load factor of at most 1/2.
fn slots_for(entries: usize) -> usize {
    (entries * 2).next_power_of_two().max(16)
}

/// Each distinct state once; `intern` returns the id of an equal state if there is one.
#[derive(Debug)]
pub struct Interner<S> {
    states: Vec<S>,
    hashes: Vec<u64>,
    /// (hash, id); the hash is kept in the slot so most probes touch one cache line.
    slots: Vec<(u64, u32)>,
}

impl<S: Hash + Eq> Interner<S> {
    pub fn new() -> Self {
        Interner { states: Vec::new(), hashes: Vec::new(), slots: vec![(0, EMPTY); slots_for(8)] }
    }

    pub fn intern(&mut self, state: S) -> u32 {
        let hash = stable_hash(&state);
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let (slot_hash, id) = self.slots[i];
            if id == EMPTY {
                break;
            }
            if slot_hash == hash && self.states[id as usize] == state {
                return id;
            }
            i = (i + 1) & mask;
        }
        let id = u32::try_from(self.states.len()).expect("more than 2^32 distinct states");
        assert!(id != EMPTY, "state id space exhausted");
        self.slots[i] = (hash, id);
        self.states.push(state);
        self.hashes.push(hash);
        if self.states.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let mut slots = vec![(0, EMPTY); slots_for(self.states.len() * 2)];
        let mask = slots.len() - 1;
        for (id, hash) in self.hashes.iter().enumerate() {
            let mut i = *hash as usize & mask;
            while slots[i].1 != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = (*hash, id as u32);
        }
        self.slots = slots;
    }

    #[inline]
    pub fn get(&self, id: u32) -> &S {
        &self.states[id as usize]
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

impl<S: Hash + Eq> Default for Interner<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// What `Memo::insert` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The pair was new and is now remembered.
    New,
    /// The pair was visited before: everything reachable from it has been explored.
    Seen,
    /// The table reached its entry limit; the pair was not remembered.
    Full,
}

/// Visited (linearized set, state id) pairs. Bitsets are stored back to back in one
/// vector so an entry costs its words plus 16 bytes and no allocation of its own.
#[derive(Debug)]
pub struct Memo {
    words_per_entry: usize,
    entries_max: usize,
    hashes: Vec<u64>,
    states: Vec<u32>,
    bits: Vec<u64>,
    /// (hash, entry), as in the interner.
    slots: Vec<(u64, u32)>,
}

impl Memo {
    /// A memo for bitsets of `bits` bits holding at most `entries_max` entries.
    pub fn new(bits: usize, entries_max: usize) -> Self {
        Memo {
            words_per_entry: bits.div_ceil(64).max(1),
            entries_max: entries_max.min(EMPTY as usize - 1),
            hashes: Vec::new(),
            states: Vec::new(),
            bits: Vec::new(),
            slots: vec![(0, EMPTY); slots_for(64)],
        }
    }

    /// Bytes used by one entry (its share of the slot array included).
    pub fn entry_bytes(bits: usize) -> usize {
        bits.div_ceil(64).max(1) * 8 + 8 + 4 + 2 * 16
    }

    #[inline]
    fn key(set: &Bitset, state: u32) -> u64 {
        set.hash() ^ mix64(u64::from(state).wrapping_add(0x2545_f491_4f6c_dd1d))
    }

    pub fn insert(&mut self, set: &Bitset, state: u32) -> Inserted {
        debug_assert_eq!(set.words().len(), self.words_per_entry);
        let hash = Self::key(set, state);
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let (slot_hash, e) = self.slots[i];
            if e == EMPTY {
                break;
            }
            let e = e as usize;
            if slot_hash == hash && self.states[e] == state && self.entry_bits(e) == set.words() {
                return Inserted::Seen;
            }
            i = (i + 1) & mask;
        }
        if self.hashes.len() >= self.entries_max {
            return Inserted::Full;
        }
        self.slots[i] = (hash, self.hashes.len() as u32);
        self.hashes.push(hash);
        self.states.push(state);
        self.bits.extend_from_slice(set.words());
        if self.hashes.len() * 2 > self.slots.len() {
            self.grow();
        }
        Inserted::New
    }

    #[inline]
    fn entry_bits(&self, e: usize) -> &[u64] {
        &self.bits[e * self.words_per_entry..(e + 1) * self.words_per_entry]
    }

    fn grow(&mut self) {
        let mut slots = vec![(0, EMPTY); slots_for(self.hashes.len() * 2)];
        let mask = slots.len() - 1;
        for (e, hash) in self.hashes.iter().enumerate() {
            let mut i = *hash as usize & mask;
            while slots[i].1 != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = (*hash, e as u32);
        }
        self.slots = slots;
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_names_equal_states_once() {
        let mut t = Interner::new();
        let ids: Vec<u32> = (0..1000).map(|i| t.intern(format!("s{}", i % 300))).collect();
        assert_eq!(t.len(), 300);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(t.get(*id), &format!("s{}", i % 300));
        }
        assert_eq!(t.intern("s5".to_string()), ids[5]);
    }

    #[test]
    fn memo_remembers_pairs_and_respects_its_limit() {
        let mut m = Memo::new(100, 500);
        let mut set = Bitset::new(100);
        for i in 0..100 {
            set.set(i);
            assert_eq!(m.insert(&set, 1), Inserted::New);
            assert_eq!(m.insert(&set, 2), Inserted::New);
        }
        let mut again = Bitset::new(100);
        for i in 0..100 {
            again.set(i);
            assert_eq!(m.insert(&again, 1), Inserted::Seen);
        }
        assert_eq!(m.insert(&again, 3), Inserted::New);
        for s in 4..400 {
            m.insert(&again, s);
        }
        assert_eq!(m.len(), 500);
        assert_eq!(m.insert(&again, 1000), Inserted::Full);
        assert_eq!(m.insert(&again, 1), Inserted::Seen);
    }
}
