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
}
