//! The serialized form of a store for Raft snapshots: every key's versions plus the
//! events of the compaction revision (which the versions no longer imply). The rest of
//! the event log (its last revisions) is rebuilt from the versions, so a restored store
//! equals the original.

use super::history::{events_between, History};
use super::key::Key;
use super::Store;
use crate::api::Event;
use im::OrdMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Serialize, Deserialize)]
pub(crate) struct StoreImage {
    current_rev: i64,
    compact_rev: i64,
    keys: Vec<(Key, History)>,
    compact_events: Vec<Event>,
}

impl From<Store> for StoreImage {
    fn from(s: Store) -> StoreImage {
        let compact_events = s.log.get(&s.compact_rev).map(|e| e.to_vec()).unwrap_or_default();
        StoreImage {
            current_rev: s.current_rev,
            compact_rev: s.compact_rev,
            keys: s.keys.into_iter().collect(),
            compact_events,
        }
    }
}

impl TryFrom<StoreImage> for Store {
    type Error = String;

    /// Rebuilds a store; a snapshot from a peer or a disk is checked, not trusted.
    fn try_from(img: StoreImage) -> Result<Store, String> {
        if img.current_rev < 1 || img.compact_rev > img.current_rev {
            return Err(format!(
                "store snapshot: bad revisions (current {}, compacted {})",
                img.current_rev, img.compact_rev
            ));
        }
        for pair in img.keys.windows(2) {
            if pair[0].0 >= pair[1].0 {
                return Err(format!("store snapshot: keys out of order at {:?}", pair[1].0));
            }
        }
        for (k, h) in &img.keys {
            let ordered = h.windows(2).all(|w| w[0].mod_rev < w[1].mod_rev);
            let in_range = h.iter().all(|v| v.mod_rev >= 1 && v.mod_rev <= img.current_rev);
            if h.is_empty() || !ordered || !in_range {
                return Err(format!("store snapshot: bad history for key {k:?}"));
            }
        }
        let mut log: OrdMap<i64, Arc<[Event]>> = OrdMap::new();
        if !img.compact_events.is_empty() {
            log.insert(img.compact_rev, img.compact_events.into());
        }
        // The log holds what a store that made these writes holds: the last revisions.
        let logged_from =
            (img.current_rev - super::EVENT_LOG_REVISIONS + 1).max(img.compact_rev + 1);
        let keys = img.keys.iter().map(|(k, h)| (k, h));
        log.extend(events_between(keys, logged_from, img.current_rev));
        Ok(Store {
            keys: img.keys.into_iter().collect(),
            log,
            current_rev: img.current_rev,
            compact_rev: img.compact_rev,
        })
    }
}
