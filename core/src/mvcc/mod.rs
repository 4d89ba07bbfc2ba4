//! The multi-version key-value store: revisions, ranges, puts, deletes, txns, compaction.
//!
//! A new store is at revision 1. Every write that changes something (a put, a delete
//! that removes at least one key, a txn whose executed branch does either) advances the
//! revision by exactly one; the writes of one txn share that revision and are ordered by
//! a sub-revision. Each key keeps its versions (create/mod revision, version, lease,
//! value; a delete leaves a tombstone and resets the version). A revision-ordered event
//! log feeds watches.
//!
//! Both maps are `im` persistent maps, so cloning a `Store` (a state-machine snapshot)
//! is O(1) and later writes copy only the paths they touch. Every result is a pure
//! function of the operations applied, because every replica applies the same Raft log.
//!
//! How the server applies a committed request (the store knows nothing of leases
//! beyond the `lease_exists` check it is handed):
//! - Put / DeleteRange / Txn: call the method with `&|id| lessor.exists(id)`, then
//!   `lessor.apply_events(&written.events)` (lease attachments follow the events), then
//!   `watch_hub.sync(&store)`.
//! - LeaseRevoke: `let keys = lessor.revoke(id)?; let events = store.delete_keys(&keys);`
//!   then `lessor.apply_events(&events)` and `watch_hub.sync(&store)`: one revision.
//! - Compact: `store.compact(rev)`, then `watch_hub.sync(&store)` (cancels watchers that
//!   fell behind).
//! - Snapshot: clone the store (O(1)) and serialize it with serde; deserializing gives
//!   an equal store.

mod compact;
mod delete;
mod hash;
mod history;
mod key;
mod key_range;
mod range;
mod snapshot;
mod txn;

pub use delete::DeleteSlices;
pub use history::Version;
pub use key_range::KeyRange;
pub use txn::MAX_TXN_OPS;

use crate::api::{
    DeleteRangeRequest, DeleteRangeResponse, EtcdError, Event, KeyValue, LeaseId, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use bytes::Bytes;
use history::History;
use im::OrdMap;
use key::Key;
use std::sync::Arc;

/// Revisions whose events stay in the event log (watchers that are up to date read them
/// there); older events are rebuilt from the key versions when a watch starts or falls
/// that far back. Keeping every revision's events would double the memory of the
/// history: each event holds its own key, value and metadata.
pub const EVENT_LOG_REVISIONS: i64 = 1024;

/// The result of a write: the response and the events of the revision it created
/// (empty when nothing changed and the revision did not advance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written<R> {
    pub response: R,
    pub events: Arc<[Event]>,
}

/// The multi-version store. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "snapshot::StoreImage", into = "snapshot::StoreImage")]
pub struct Store {
    keys: OrdMap<Key, History>,
    /// Events by revision: the compaction revision's (which the versions no longer
    /// imply) and the last [`EVENT_LOG_REVISIONS`] revisions'.
    log: OrdMap<i64, Arc<[Event]>>,
    current_rev: i64,
    /// -1 until the first compaction.
    compact_rev: i64,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// An empty store at revision 1 (the first write gets revision 2).
    pub fn new() -> Store {
        Store { keys: OrdMap::new(), log: OrdMap::new(), current_rev: 1, compact_rev: -1 }
    }

    pub fn current_revision(&self) -> i64 {
        self.current_rev
    }

    /// The last compaction revision, -1 if never compacted.
    pub fn compact_revision(&self) -> i64 {
        self.compact_rev
    }

    /// Number of keys that exist at the current revision.
    pub fn len(&self) -> usize {
        self.keys.values().filter(|h| h.last().is_some_and(|v| !v.is_tombstone())).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The current version of `key`, if it exists.
    pub fn get(&self, key: &[u8]) -> Option<KeyValue> {
        let h = self.history(key)?;
        history::visible_at(h, self.current_rev).map(|v| v.to_kv(Bytes::copy_from_slice(key)))
    }

    /// The events of revisions `from..=to` (clamped to what the store holds), in
    /// revision order; each item is one revision's events in sub-revision order. Recent
    /// revisions come from the event log; older ones are rebuilt from the key versions
    /// (one pass over the keys), which hold the same information.
    pub fn events(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, Arc<[Event]>)> + '_ {
        let (from, to) = (from.max(self.compact_rev), to.min(self.current_rev));
        let logged_from = self.logged_from();
        let mut older = Vec::new();
        if from < logged_from && from <= to {
            if from == self.compact_rev {
                older.extend(self.log.get(&from).map(|e| (from, e.clone())));
            }
            let rebuilt_from = from.max(self.compact_rev + 1);
            older.extend(history::events_between(
                self.keys.iter(),
                rebuilt_from,
                to.min(logged_from - 1),
            ));
        }
        let recent = from.max(logged_from);
        let range = if recent <= to { Some(self.log.range(recent..=to)) } else { None };
        older.into_iter().chain(range.into_iter().flatten().map(|(r, e)| (*r, e.clone())))
    }

    /// The oldest revision whose events the log holds besides the compaction revision's:
    /// the last [`EVENT_LOG_REVISIONS`] revisions.
    fn logged_from(&self) -> i64 {
        (self.current_rev - EVENT_LOG_REVISIONS + 1).max(self.compact_rev + 1)
    }

    /// One key's versions. Short keys are looked up as a `Key` so every probe uses the
    /// word compare; long ones by slice, which saves building a heap key per lookup.
    pub(crate) fn history(&self, key: &[u8]) -> Option<&History> {
        if key.len() <= key::INLINE_MAX {
            self.keys.get(&Key::new(key))
        } else {
            self.keys.get(key)
        }
    }

    /// One key's versions, to change. The probe is a `Key` whatever its length, so a
    /// long key's probes compare inline heads; a write that finds no versions inserts
    /// the same `Key`.
    pub(crate) fn history_mut(&mut self, key: &Key) -> Option<&mut History> {
        self.keys.get_mut(key)
    }

    /// Checks a read revision against the compaction and current revisions.
    pub fn check_revision(&self, rev: i64) -> Result<(), EtcdError> {
        if rev > self.current_rev {
            Err(EtcdError::FutureRev)
        } else if rev > 0 && rev < self.compact_rev {
            Err(EtcdError::Compacted)
        } else {
            Ok(())
        }
    }

    /// Range with every etcd option.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, EtcdError> {
        txn::check_range(req)?;
        self.check_revision(req.revision)?;
        Ok(self.range_at(req, self.current_rev))
    }

    /// Put; `lease_exists` says whether a lease id is granted.
    pub fn put(
        &mut self,
        req: &PutRequest,
        lease_exists: &dyn Fn(LeaseId) -> bool,
    ) -> Result<Written<PutResponse>, EtcdError> {
        txn::check_put(req)?;
        self.check_put_state(req, lease_exists)?;
        let mut w = txn::Writer::new(self);
        let response = w.put(req);
        Ok(w.finish(response))
    }

    /// DeleteRange.
    pub fn delete_range(
        &mut self,
        req: &DeleteRangeRequest,
    ) -> Result<Written<DeleteRangeResponse>, EtcdError> {
        txn::check_delete(req)?;
        let mut w = txn::Writer::new(self);
        let response = w.delete(req);
        Ok(w.finish(response))
    }

    /// Txn: compares, then the chosen branch, all in one revision.
    pub fn txn(
        &mut self,
        req: &TxnRequest,
        lease_exists: &dyn Fn(LeaseId) -> bool,
    ) -> Result<Written<TxnResponse>, EtcdError> {
        txn::check_txn(req, MAX_TXN_OPS)?;
        let path = self.txn_path(req);
        self.check_txn_state(req, &path, lease_exists)?;
        let mut w = txn::Writer::new(self);
        let mut path_iter = path.iter().copied();
        let response = w.txn(req, &mut path_iter);
        Ok(w.finish(response))
    }

    /// Deletes `keys` (those that exist) in one revision; used when a lease is revoked.
    pub fn delete_keys(&mut self, keys: &[Bytes]) -> Arc<[Event]> {
        let mut w = txn::Writer::new(self);
        for key in keys {
            w.delete(&DeleteRangeRequest { key: key.clone(), ..DeleteRangeRequest::default() });
        }
        w.finish(()).events
    }
}
