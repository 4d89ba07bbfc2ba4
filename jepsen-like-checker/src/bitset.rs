//! The set of operations linearized so far, as a bitset that also keeps an incremental
//! (Zobrist) hash: each operation owns a fixed random-looking 64-bit key and the set's
//! hash is the XOR of its members' keys, so setting or clearing a bit updates the hash in
//! O(1) instead of rehashing every word on each memo lookup.

use crate::hash::mix64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
    hash: u64,
}

/// The Zobrist key of operation `i`.
#[inline]
fn key(i: usize) -> u64 {
    mix64((i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15))
}

impl Bitset {
    pub fn new(bits: usize) -> Self {
        Bitset { words: vec![0; bits.div_ceil(64).max(1)], hash: 0 }
    }

    #[inline]
    pub fn set(&mut self, i: usize) {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        assert!(self.words[w] & b == 0, "bit {i} set twice");
        self.words[w] |= b;
        self.hash ^= key(i);
    }

    #[inline]
    pub fn clear(&mut self, i: usize) {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        assert!(self.words[w] & b != 0, "bit {i} cleared while unset");
        self.words[w] &= !b;
        self.hash ^= key(i);
    }

    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1u64 << (i % 64)) != 0
    }

    #[inline]
    pub fn hash(&self) -> u64 {
        self.hash
    }

    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_only_on_members() {
        let mut a = Bitset::new(130);
        let mut b = Bitset::new(130);
        a.set(3);
        a.set(129);
        b.set(129);
        b.set(7);
        b.set(3);
        b.clear(7);
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert!(a.contains(129) && !a.contains(7));
        a.clear(3);
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    #[should_panic(expected = "set twice")]
    fn setting_a_set_bit_is_a_bug() {
        let mut a = Bitset::new(4);
        a.set(1);
        a.set(1);
    }
}
