//! Deletes: the tombstone one deleted key gets, and a DeleteRange applied in slices.
//!
//! A DeleteRange over many keys (etcdctl's `del "" --from-key`, the cleanup of
//! `etcdctl check perf`) costs time in proportion to its keys. Applied in one go it
//! holds the member's only task long enough to miss heartbeats. [`DeleteSlices`]
//! deletes a bounded number of keys per step instead, on a store the caller keeps apart
//! from the one it serves reads from, and gives exactly the result of the one-step
//! delete (same tombstones, sub-revisions, events and response).

use super::history::{make_event, visible_at, Version};
use super::key::Key;
use super::{KeyRange, Store, Written};
use crate::api::ResponseHeader;
use crate::api::{DeleteRangeRequest, DeleteRangeResponse, EtcdError, Event, KeyValue};
use bytes::Bytes;
use std::ops::Bound;

/// Writes the tombstone of `key`, which is live (its last version is not a
/// tombstone), at `rev` with the next sub-revision of `events`, and records its event
/// (and the version it ends in `prev_kvs`). Per key: one lookup, the key copied once
/// for the event, and no copy of the version beyond the event's.
pub(super) fn bury(
    store: &mut Store,
    key: &Key,
    rev: i64,
    events: &mut Vec<Event>,
    prev_kvs: Option<&mut Vec<KeyValue>>,
) {
    let sub = u32::try_from(events.len()).expect("more than u32::MAX writes in one revision");
    let tomb =
        Version { mod_rev: rev, sub, create_rev: 0, version: 0, lease: 0, value: Bytes::new() };
    let h = store.keys.get_mut(key).expect("a deleted key vanished");
    let prev = h.last().expect("a live key has a version");
    assert!(!prev.is_tombstone() && prev.mod_rev < rev, "only a live key is deleted");
    let key_bytes = key.to_bytes();
    if let Some(prev_kvs) = prev_kvs {
        prev_kvs.push(prev.to_kv(key_bytes.clone()));
    }
    events.push(make_event(key_bytes, &tomb, Some(prev)));
    h.push(tomb);
}

/// A DeleteRange under way. Start it with [`Store::delete_slices`], call
/// [`DeleteSlices::step`] until it returns true, then [`DeleteSlices::finish`], all on
/// the same store, with no other write in between.
#[derive(Clone, Debug)]
pub struct DeleteSlices {
    start: Bytes,
    end: Option<Bytes>,
    prev_kv: bool,
    /// The revision the delete reads at (the store's before it) and the one it writes.
    read_rev: i64,
    rev: i64,
    /// The last key a step looked at; the next step starts after it.
    after: Option<Key>,
    done: bool,
    events: Vec<Event>,
    prev_kvs: Vec<KeyValue>,
}

impl Store {
    /// Whether `req` would delete more than `keys_max` keys; looks at most at that many
    /// keys (plus one).
    pub fn delete_exceeds(&self, req: &DeleteRangeRequest, keys_max: usize) -> bool {
        let kr = KeyRange::new(&req.key, &req.range_end);
        if matches!(kr, KeyRange::Single(_)) || kr.is_empty() {
            return false;
        }
        let rev = self.current_rev;
        let live =
            self.keys.range::<_, [u8]>(kr.bounds()).filter(|(_, h)| visible_at(h, rev).is_some());
        live.take(keys_max.saturating_add(1)).count() > keys_max
    }

    /// Starts deleting `req` in slices (see [`DeleteSlices`]).
    pub fn delete_slices(&self, req: &DeleteRangeRequest) -> Result<DeleteSlices, EtcdError> {
        super::txn::check_delete(req)?;
        let (start, end, done) = match KeyRange::new(&req.key, &req.range_end) {
            KeyRange::Single(k) => {
                let mut end = k.to_vec();
                end.push(0);
                (k, Some(Bytes::from(end)), false)
            }
            kr @ KeyRange::Span { .. } if kr.is_empty() => (req.key.clone(), None, true),
            KeyRange::Span { start, end } => (start, end, false),
        };
        Ok(DeleteSlices {
            start,
            end,
            prev_kv: req.prev_kv,
            read_rev: self.current_rev,
            rev: self.current_rev + 1,
            after: None,
            done,
            events: Vec::new(),
            prev_kvs: Vec::new(),
        })
    }
}

impl DeleteSlices {
    /// Looks at up to `keys_max` more keys of the range (live or not) and deletes the
    /// live ones. True once the whole range is done.
    pub fn step(&mut self, store: &mut Store, keys_max: usize) -> bool {
        assert!(keys_max > 0, "a delete step must make progress");
        assert_eq!(store.current_rev, self.read_rev, "the store was written during a delete");
        if self.done {
            return true;
        }
        let lo = match &self.after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Included(self.start.as_ref()),
        };
        let hi = match &self.end {
            Some(e) => Bound::Excluded(e.as_ref()),
            None => Bound::Unbounded,
        };
        let mut doomed: Vec<Key> = Vec::new();
        let mut looked = 0;
        let mut last = None;
        for (k, h) in store.keys.range::<_, [u8]>((lo, hi)) {
            if looked == keys_max {
                break;
            }
            looked += 1;
            last = Some(k);
            if visible_at(h, self.read_rev).is_some() {
                doomed.push(k.clone());
            }
        }
        self.done = looked < keys_max;
        #[cfg(feature = "mutants")]
        if !self.done
            && crate::mutants::active(crate::mutants::Mutant::SliceSkipsBoundary)
            && doomed.last() == last
        {
            doomed.pop();
        }
        self.after = last.cloned();
        self.events.reserve(doomed.len());
        for key in &doomed {
            let prev_kvs = if self.prev_kv { Some(&mut self.prev_kvs) } else { None };
            bury(store, key, self.rev, &mut self.events, prev_kvs);
        }
        self.done
    }

    /// Keys deleted so far.
    pub fn deleted(&self) -> usize {
        self.events.len()
    }

    /// The revision the delete reads at: the store's until the delete finishes.
    pub fn read_revision(&self) -> i64 {
        self.read_rev
    }

    /// The mutant `SlicePartialVisible`: ends the delete as if the range stopped after
    /// the keys deleted so far.
    #[cfg(feature = "mutants")]
    pub fn finish_so_far(mut self, store: &mut Store) -> Written<DeleteRangeResponse> {
        self.done = true;
        self.finish(store)
    }

    /// Ends the delete: the revision advances if a key was deleted.
    pub fn finish(self, store: &mut Store) -> Written<DeleteRangeResponse> {
        assert!(self.done, "a delete finished before its last step");
        let deleted = self.events.len() as i64;
        let header_rev = if deleted > 0 { self.rev } else { self.read_rev };
        let response = DeleteRangeResponse {
            header: ResponseHeader::at(header_rev),
            deleted,
            prev_kvs: self.prev_kvs,
        };
        let mut w = super::txn::Writer::new(store);
        w.adopt(self.events);
        w.finish(response)
    }
}
