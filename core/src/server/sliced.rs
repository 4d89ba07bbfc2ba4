//! Applying one large entry in slices: a DeleteRange over more keys than
//! `Config::apply_slice_keys` is applied that many keys at a time, one slice per tick
//! or per `EtcdNode::apply_slice` call, so the member handles Raft messages (heartbeats,
//! votes) between slices whatever one entry costs.
//!
//! The slices write a copy of the store (an O(1) clone of the persistent maps) and the
//! copy replaces the applied store only when the entry is done: reads, watches and
//! snapshots never see a half-applied entry, and the applied index moves only then.
//! Entries committed meanwhile wait behind it, in order. Nothing of this is durable: a
//! member that restarts mid-entry applies the entry again from its log.

use super::proposal::{Op, Proposal};
use crate::mvcc::{DeleteSlices, Store};
use crate::types::Entry;

/// A DeleteRange being applied in slices.
pub(super) struct Sliced {
    /// The entry and its decoded proposal (a DeleteRange).
    pub entry: Entry,
    pub proposal: Proposal,
    /// The store the slices write; it becomes the applied store when the entry is done.
    pub work: Store,
    pub delete: DeleteSlices,
}

impl Sliced {
    /// The delete to apply in slices of `keys_max` keys, if `proposal` is a
    /// DeleteRange over more keys than that in `store`; otherwise the proposal applies
    /// in one step.
    pub fn plan(proposal: &Proposal, store: &Store, keys_max: usize) -> Option<DeleteSlices> {
        let Op::DeleteRange(req) = &proposal.op else { return None };
        if keys_max == 0 || !store.delete_exceeds(req, keys_max) {
            return None;
        }
        store.delete_slices(req).ok()
    }

    /// Starts applying `entry`, whose proposal is `proposal`, by `delete` (from
    /// [`Sliced::plan`]) on an O(1) copy of `store`.
    pub fn start(entry: &Entry, proposal: Proposal, store: &Store, delete: DeleteSlices) -> Sliced {
        Sliced { entry: entry.clone(), proposal, work: store.clone(), delete }
    }

    /// Applies one more slice. True when the entry is done.
    pub fn step(&mut self, keys_max: usize) -> bool {
        self.delete.step(&mut self.work, keys_max.max(1))
    }

    /// Panics unless the member is wholly before this entry: it applied up to the
    /// entry before, and `applied_store` (reads, watches and snapshots use it) is still
    /// at the revision the delete reads, none of its writes there.
    #[cfg(any(debug_assertions, test, feature = "invariants"))]
    pub fn check(&self, applied: crate::types::Index, applied_store: &Store) {
        assert_eq!(self.entry.index, applied + 1, "the sliced entry is the next one");
        assert_eq!(
            applied_store.current_revision(),
            self.delete.read_revision(),
            "the applied store moved during a sliced delete"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DeleteRangeRequest, LeaseId, PutRequest};
    use crate::types::EntryKind;
    use bytes::Bytes;

    const KEYS: usize = 10;
    const SLICE_KEYS: usize = 3;

    fn store() -> Store {
        let mut s = Store::new();
        for i in 0..KEYS {
            let key = Bytes::from(format!("k{i:02}"));
            let req = PutRequest { key, value: Bytes::from_static(b"v"), ..Default::default() };
            s.put(&req, &|_: LeaseId| false).expect("put");
        }
        s
    }

    /// A delete of every key, started at entry 7 on `store`.
    fn started(store: &Store) -> Sliced {
        let req = DeleteRangeRequest {
            key: Bytes::from_static(b"k"),
            range_end: Bytes::from_static(b"l"),
            prev_kv: false,
        };
        let proposal = Proposal { id: None, op: Op::DeleteRange(req), caller: None };
        let delete = Sliced::plan(&proposal, store, SLICE_KEYS).expect("more keys than a slice");
        let entry = Entry { term: 1, index: 7, kind: EntryKind::Normal, data: Bytes::new() };
        Sliced::start(&entry, proposal, store, delete)
    }

    #[test]
    fn a_member_between_slices_is_wholly_before_the_entry() {
        let applied = store();
        let mut s = started(&applied);
        assert!(!s.step(SLICE_KEYS));
        s.check(6, &applied);
        assert_eq!(s.work.current_revision(), applied.current_revision());
    }

    #[test]
    #[should_panic(expected = "the sliced entry is the next one")]
    fn the_applied_index_moved_before_the_last_slice() {
        let applied = store();
        let mut s = started(&applied);
        assert!(!s.step(SLICE_KEYS));
        s.check(7, &applied);
    }

    #[test]
    #[should_panic(expected = "the applied store moved during a sliced delete")]
    fn the_applied_store_shows_part_of_the_delete() {
        let applied = store();
        let mut s = started(&applied);
        assert!(!s.step(SLICE_KEYS));
        // A write reached the store reads are served from while the delete was under
        // way (the delete so far, or an entry behind it applied early).
        let mut moved = applied.clone();
        let req = PutRequest { key: Bytes::from_static(b"z"), ..Default::default() };
        moved.put(&req, &|_: LeaseId| false).expect("put");
        s.check(6, &moved);
    }
}
