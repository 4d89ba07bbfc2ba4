//! One key's versions, oldest first, and the conversions from a stored version to the
//! API's KeyValue and Event.

use crate::api::{Event, EventType, KeyValue, LeaseId};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

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
