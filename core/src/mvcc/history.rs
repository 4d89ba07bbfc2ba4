//! One key's versions, oldest first, and the conversions from a stored version to the
//! API's KeyValue and Event.

use super::key::Key;
use crate::api::{Event, EventType, KeyValue, LeaseId};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// Versions of one key, oldest first; mod revisions strictly increase. Behind an `Arc`
/// so that copying a map node shared with a snapshot copies pointers, not histories
/// (the node entry also shrinks to 32 bytes).
pub type History = std::sync::Arc<Vec<Version>>;

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
) -> Vec<(i64, std::sync::Arc<[Event]>)> {
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
