//! The store's own key type: short keys live inline in the map's nodes, so a lookup
//! compares them without chasing a pointer, and they cost no separate allocation. A
//! long key keeps its first bytes inline beside the pointer to the whole key, so most
//! probes of a lookup are decided in the node too.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::sync::Arc;

/// Keys up to this many bytes are stored inline. Point lookups build a `Key` from the
/// request key so probes use the word compare.
pub(crate) const INLINE_MAX: usize = 22;

/// How many leading bytes of a longer key sit inline. Every heap key is longer than
/// this, so its head is always full.
const HEAD: usize = INLINE_MAX;

#[derive(Clone)]
pub(crate) enum Key {
    Inline {
        len: u8,
        bytes: [u8; INLINE_MAX],
    },
    /// `head` is `all[..HEAD]`. Comparing heads first spares the pointer chase (a cache
    /// miss per probe in a large map: with 276-byte keys the apply's lookup took a
    /// tenth of a member's CPU, nearly all of it in `memcmp` on the keys' first bytes).
    Heap {
        head: [u8; HEAD],
        all: Arc<[u8]>,
    },
}

impl Key {
    pub(crate) fn new(k: &[u8]) -> Key {
        if k.len() <= INLINE_MAX {
            let mut bytes = [0u8; INLINE_MAX];
            bytes[..k.len()].copy_from_slice(k);
            Key::Inline { len: k.len() as u8, bytes }
        } else {
            let mut head = [0u8; HEAD];
            head.copy_from_slice(&k[..HEAD]);
            Key::Heap { head, all: Arc::from(k) }
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap { all, .. } => all,
        }
    }

    /// A `Bytes` copy for API values.
    pub(crate) fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_slice())
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            // Zero padding makes (padded bytes, length) order the same as byte-slice
            // order: a proper prefix pads with zeros, so it compares equal up to the
            // other key's end and then loses on length (or on a non-zero byte). Word
            // compares avoid a library call on every probe of a map lookup (the last
            // word overlaps the second; those bytes are already equal then).
            (Key::Inline { len: la, bytes: a }, Key::Inline { len: lb, bytes: b }) => word(a, 0)
                .cmp(&word(b, 0))
                .then_with(|| word(a, 8).cmp(&word(b, 8)))
                .then_with(|| word(a, INLINE_MAX - 8).cmp(&word(b, INLINE_MAX - 8)))
                .then_with(|| la.cmp(lb)),
            // Equal heads leave only the tails to compare.
            (Key::Heap { head: a, all: x }, Key::Heap { head: b, all: y }) => {
                a.cmp(b).then_with(|| x[HEAD..].cmp(&y[HEAD..]))
            }
            // An inline key is no longer than a head: if it differs from the head it
            // differs from the whole key the same way, and if it equals the head it is a
            // proper prefix of the longer key.
            (Key::Inline { len, bytes }, Key::Heap { head, .. }) => {
                bytes[..*len as usize].cmp(&head[..]).then(Ordering::Less)
            }
            (Key::Heap { head, .. }, Key::Inline { len, bytes }) => {
                head[..].cmp(&bytes[..*len as usize]).then(Ordering::Greater)
            }
        }
    }
}

fn word(b: &[u8; INLINE_MAX], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(w)
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_slice()))
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_slice())
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        Bytes::deserialize(d).map(|b| Key::new(&b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 276 bytes as etcdctl's check perf writes them: a shared prefix, then bytes that
    /// differ only after the inline head.
    fn long_tail(last: u8) -> Vec<u8> {
        let mut k = vec![b'/'; 276];
        k[275] = last;
        k
    }

    #[test]
    fn inline_and_heap_keys_order_as_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 40);
        let short = Key::new(b"abc");
        let long = Key::new(&[b'a'; 40]);
        assert!(matches!(short, Key::Inline { .. }));
        assert!(matches!(long, Key::Heap { .. }));
        assert_eq!(short.as_slice(), b"abc");
        assert!(long < short);
        assert_eq!(Key::new(b""), Key::new(b""));
        let (tail_a, tail_b) = (long_tail(b'a'), long_tail(b'b'));
        let samples: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"a\0\0",
            b"ab",
            b"b",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghi",
            b"abcdefghijklmnopqrstuv",
            b"abcdefghijklmnopqrstuw",
            &[b'a'; 23],
            &[0xff; 9],
            &[0; 22],
            &[0; 23],
            &[0xff; 23],
            b"abcdefghijklmnopqrstuv\0",
            b"abcdefghijklmnopqrstuvw",
            b"abcdefghijklmnopqrstuvwx",
            b"abcdefghijklmnopqrstuvx",
            b"abcdefghijklmnopqrstuw\0",
            b"abcdefghijklmnopqrstu",
            &[b'a'; 40],
            &[b'a'; 41],
            &tail_a,
            &tail_b,
        ];
        for x in &samples {
            for y in &samples {
                assert_eq!(Key::new(x).cmp(&Key::new(y)), x.cmp(y), "{x:?} vs {y:?}");
            }
        }
        let json = serde_json::to_string(&long).expect("ser");
        assert_eq!(serde_json::from_str::<Key>(&json).expect("de"), long);
    }
}
