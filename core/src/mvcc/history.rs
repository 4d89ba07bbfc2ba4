//! One key's versions, oldest first, and the conversions from a stored version to the
//! API's KeyValue and Event.

use super::key::Key;
use crate::api::{Event, EventType, KeyValue, LeaseId};
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

/// One stored version of a key. `version == 0` marks a tombstone (the key was deleted
/// at `mod_rev`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub mod_rev: i64,
    /// Position of this write within its revision (txns write several keys at once).
    pub sub: u32,
    pub create_rev: i64,
    pub version: i64,
    pub lease: LeaseId,
    pub value: Bytes,
}

impl Version {
    pub fn is_tombstone(&self) -> bool {
        self.version == 0
    }

    pub fn to_kv(&self, key: Bytes) -> KeyValue {
        KeyValue {
            key,
            create_revision: self.create_rev,
            mod_revision: self.mod_rev,
            version: self.version,
            value: self.value.clone(),
            lease: self.lease,
        }
    }
}

/// Versions of one key, oldest first; mod revisions strictly increase; never empty.
/// Behind an `Arc` so that copying a map node shared with a snapshot copies pointers,
/// not histories (the node entry also stays at 32 bytes). Most keys have one version
/// (written once, or compacted down to one), so that version sits inline in the
/// `Arc`'s block: one allocation per key instead of an `Arc` and a vector buffer.
/// Serialized as the sequence of versions.
#[derive(Clone)]
pub struct History(Arc<Versions>);

#[derive(Clone)]
enum Versions {
    One(Version),
    /// Two or more versions (one only transiently, never stored).
    Many(Vec<Version>),
}

impl History {
    pub fn new(first: Version) -> History {
        History(Arc::new(Versions::One(first)))
    }

    /// A history of `versions`; `None` when there are none.
    pub fn from_vec(mut versions: Vec<Version>) -> Option<History> {
        match versions.len() {
            0 => None,
            1 => versions.pop().map(History::new),
            _ => Some(History(Arc::new(Versions::Many(versions)))),
        }
    }

    /// Appends a newer version. When a snapshot shares the versions they are copied
    /// once, into room for the new one, rather than cloned and then grown.
    pub fn push(&mut self, newer: Version) {
        let Some(inner) = Arc::get_mut(&mut self.0) else {
            let mut versions = Vec::with_capacity(self.len() + 1);
            versions.extend_from_slice(self);
            versions.push(newer);
            self.0 = Arc::new(Versions::Many(versions));
            return;
        };
        match inner {
            Versions::Many(vs) => vs.push(newer),
            Versions::One(_) => {
                let Versions::One(old) = std::mem::replace(inner, Versions::Many(Vec::new()))
                else {
                    unreachable!("matched One above")
                };
                *inner = Versions::Many(vec![old, newer]);
            }
        }
    }

    /// The versions from position `from` on, in fresh memory so the dropped ones are
    /// released; `None` when none is left.
    pub fn keep_from(&self, from: usize) -> Option<History> {
        History::from_vec(self.get(from..).unwrap_or_default().to_vec())
    }
}

impl Deref for History {
    type Target = [Version];

    fn deref(&self) -> &[Version] {
        match &*self.0 {
            Versions::One(v) => std::slice::from_ref(v),
            Versions::Many(vs) => vs,
        }
    }
}

impl PartialEq for History {
    fn eq(&self, other: &History) -> bool {
        self[..] == other[..]
    }
}

impl Eq for History {}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for History {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<History, D::Error> {
        let versions = Vec::<Version>::deserialize(d)?;
        History::from_vec(versions)
            .ok_or_else(|| serde::de::Error::custom("a key with no versions"))
    }
}

/// The version of the key visible at `rev`, if the key exists then.
pub fn visible_at(history: &[Version], rev: i64) -> Option<&Version> {
    let last = history.last()?;
    let v = if last.mod_rev <= rev {
        last
    } else {
        let idx = history.partition_point(|v| v.mod_rev <= rev);
        &history[idx.checked_sub(1)?]
    };
    (!v.is_tombstone()).then_some(v)
}

/// The event `version` records, given the version before it (if any).
pub fn make_event(key: Bytes, version: &Version, prev: Option<&Version>) -> Event {
    let prev_kv = prev.filter(|p| !p.is_tombstone()).map(|p| p.to_kv(key.clone()));
    if version.is_tombstone() {
        Event {
            r#type: EventType::Delete,
            kv: KeyValue { key, mod_revision: version.mod_rev, ..KeyValue::default() },
            prev_kv,
        }
    } else {
        Event { r#type: EventType::Put, kv: version.to_kv(key), prev_kv }
    }
}

/// The events of revisions `from..=to` that the versions of `keys` record, by revision
/// and in sub-revision order within one. Every version above the compaction revision
/// is kept with the one before it, so this gives back what the writes produced.
pub fn events_between<'a>(
    keys: impl Iterator<Item = (&'a Key, &'a History)>,
    from: i64,
    to: i64,
) -> Vec<(i64, Arc<[Event]>)> {
    if from > to {
        return Vec::new();
    }
    let mut by_rev: BTreeMap<i64, Vec<(u32, Event)>> = BTreeMap::new();
    for (k, h) in keys {
        let first = h.partition_point(|v| v.mod_rev < from);
        let mut key = None;
        for (i, v) in h.iter().enumerate().skip(first).take_while(|(_, v)| v.mod_rev <= to) {
            let key = key.get_or_insert_with(|| k.to_bytes()).clone();
            let prev = i.checked_sub(1).map(|p| &h[p]);
            by_rev.entry(v.mod_rev).or_default().push((v.sub, make_event(key, v, prev)));
        }
    }
    by_rev
        .into_iter()
        .map(|(rev, mut events)| {
            events.sort_by_key(|(sub, _)| *sub);
            (rev, events.into_iter().map(|(_, e)| e).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(mod_rev: i64) -> Version {
        Version {
            mod_rev,
            sub: 0,
            create_rev: 2,
            version: mod_rev - 1,
            lease: 0,
            value: Bytes::from_static(b"v"),
        }
    }

    #[test]
    fn one_version_lives_inline_in_one_block() {
        // The `Arc` block is its two counts and the versions; with the vector's header
        // folded into the version's niche it is no larger than one version.
        assert_eq!(std::mem::size_of::<Versions>(), std::mem::size_of::<Version>());
        assert_eq!(std::mem::size_of::<History>(), 8);
        let h = History::new(version(2));
        assert!(matches!(&*h.0, Versions::One(_)));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn push_keep_from_and_serde_round_trip() {
        let mut h = History::new(version(2));
        let shared = h.clone();
        h.push(version(3));
        h.push(version(5));
        assert_eq!(h.iter().map(|v| v.mod_rev).collect::<Vec<_>>(), vec![2, 3, 5]);
        assert_eq!(shared.len(), 1, "a clone shared with a snapshot is not changed");
        let tail = h.keep_from(2).expect("one left");
        assert!(matches!(&*tail.0, Versions::One(_)));
        assert_eq!(tail[0], version(5));
        assert!(h.keep_from(3).is_none());
        assert_eq!(History::from_vec(h.to_vec()), Some(h.clone()));
        let json = serde_json::to_string(&h).expect("ser");
        assert_eq!(json, serde_json::to_string(&h.to_vec()).expect("ser vec"));
        assert_eq!(serde_json::from_str::<History>(&json).expect("de"), h);
        assert!(serde_json::from_str::<History>("[]").is_err());
        assert_eq!(format!("{h:?}"), format!("{:?}", h.to_vec()));
    }
}
