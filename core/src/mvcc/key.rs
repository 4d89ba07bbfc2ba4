//! The store's own key type: short keys live inline in the map's nodes, so a lookup
//! compares them without chasing a pointer, and they cost no separate allocation.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::sync::Arc;

/// Keys up to this many bytes are stored inline (the type stays 24 bytes).
const INLINE_MAX: usize = 22;

#[derive(Clone)]
pub(crate) enum Key {
    Inline { len: u8, bytes: [u8; INLINE_MAX] },
    Heap(Arc<[u8]>),
}

impl Key {
    pub(crate) fn new(k: &[u8]) -> Key {
        if k.len() <= INLINE_MAX {
            let mut bytes = [0u8; INLINE_MAX];
            bytes[..k.len()].copy_from_slice(k);
            Key::Inline { len: k.len() as u8, bytes }
        } else {
            Key::Heap(Arc::from(k))
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(b) => b,
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
        self.as_slice().cmp(other.as_slice())
    }
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

    #[test]
    fn inline_and_heap_keys_order_as_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        let short = Key::new(b"abc");
        let long = Key::new(&[b'a'; 40]);
        assert!(matches!(short, Key::Inline { .. }));
        assert!(matches!(long, Key::Heap(_)));
        assert_eq!(short.as_slice(), b"abc");
        assert!(long < short);
        assert_eq!(Key::new(b""), Key::new(b""));
        let json = serde_json::to_string(&long).expect("ser");
        assert_eq!(serde_json::from_str::<Key>(&json).expect("de"), long);
    }
}
