//! etcd's key-range convention: an empty `range_end` names one key, "\0" names every key
//! from `key` on, anything else the half-open interval `[key, range_end)`.

use bytes::Bytes;
use std::ops::Bound;

/// A set of keys named by `(key, range_end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRange {
    /// Exactly one key.
    Single(Bytes),
    /// `[start, end)`; `end` None = unbounded.
    Span { start: Bytes, end: Option<Bytes> },
}

impl KeyRange {
    pub fn new(key: &Bytes, range_end: &Bytes) -> KeyRange {
        if range_end.is_empty() {
            KeyRange::Single(key.clone())
        } else if range_end.as_ref() == b"\0" {
            KeyRange::Span { start: key.clone(), end: None }
        } else {
            KeyRange::Span { start: key.clone(), end: Some(range_end.clone()) }
        }
    }

    /// Whether `key` falls in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match self {
            KeyRange::Single(k) => k.as_ref() == key,
            KeyRange::Span { start, end } => {
                let below_end = match end {
                    Some(e) => key < e.as_ref(),
                    None => true,
                };
                start.as_ref() <= key && below_end
            }
        }
    }

    /// Whether no key can fall in the range.
    pub fn is_empty(&self) -> bool {
        match self {
            KeyRange::Single(_) => false,
            KeyRange::Span { start, end } => end.as_ref().is_some_and(|e| start >= e),
        }
    }

    /// Bounds for an ordered-map range scan; only valid when `!is_empty()`.
    pub(crate) fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        match self {
            KeyRange::Single(k) => (Bound::Included(k.as_ref()), Bound::Included(k.as_ref())),
            KeyRange::Span { start, end } => (
                Bound::Included(start.as_ref()),
                match end {
                    Some(e) => Bound::Excluded(e.as_ref()),
                    None => Bound::Unbounded,
                },
            ),
        }
    }
}
