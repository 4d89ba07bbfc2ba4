//! Explicit durability: turning state changes into persist requests, tracking which
//! requests the driver acknowledged, and so which prefix of the log is stable.
//!
//! Every persist request records the last log index it wrote. A truncation or a
//! snapshot install clamps those records (and the stable index) because the entries
//! they wrote above the cut no longer match the log in memory. Acknowledging a request
//! then makes exactly the still-matching prefix stable.

use super::node::RaftNode;
use super::output::RaftOutput;
use super::{MessageBody, Role};
use crate::types::{HardState, Index, NodeId, PersistOp, Snapshot, SyncId};
use std::collections::VecDeque;

#[derive(Debug)]
pub(super) struct Durability {
    /// Highest log index known durable and matching the log in memory.
    pub(super) stable: Index,
    /// The last sync id handed out.
    pub(super) last_sync: SyncId,
    /// The highest sync id acknowledged.
    pub(super) acked_sync: SyncId,
    /// Unacknowledged requests: (sync, last log index they make stable).
    pending: VecDeque<(SyncId, Index)>,
    /// The hard state in the latest persist request (or on disk at start).
    written_hs: HardState,
    /// A snapshot to include in the next persist request.
    pub(super) snapshot: Option<Snapshot>,
}

impl Durability {
    pub(super) fn new(stable: Index, written_hs: HardState) -> Durability {
        Durability {
            stable,
            last_sync: 0,
            acked_sync: 0,
            pending: VecDeque::new(),
            written_hs,
            snapshot: None,
        }
    }

    /// Entries above `index` stopped matching what earlier requests wrote.
    pub(super) fn clamp(&mut self, index: Index) {
        self.stable = self.stable.min(index);
        for (_, last) in self.pending.iter_mut() {
            *last = (*last).min(index);
        }
    }
}

impl RaftNode {
    /// Emits a persist request for everything changed since the last one, if anything.
    pub(super) fn flush_persist(&mut self) {
        let hs = self.hard_state();
        let hs_changed = hs != self.dur.written_hs;
        if !hs_changed && self.dur.snapshot.is_none() && !self.log.has_unpersisted() {
            return;
        }
        let entries = self.log.take_unpersisted();
        let snapshot = self.dur.snapshot.take();
        let writes = entries.last().map(|e| e.index).or(snapshot.as_ref().map(|s| s.meta.index));
        self.dur.last_sync += 1;
        let sync = self.dur.last_sync;
        self.dur.pending.push_back((sync, writes.unwrap_or(0)));
        self.dur.written_hs = hs;
        let hard_state = if hs_changed { Some(hs) } else { None };
        self.out.push(RaftOutput::Persist(PersistOp { sync, hard_state, snapshot, entries }));
    }

    /// Tells the leader `from` that this log matches its own up to our commit index,
    /// once what that claim rests on is durable.
    pub(super) fn ack_up_to_commit(&mut self, from: NodeId) {
        let after = self.persist_barrier();
        let body = MessageBody::AppendResponse {
            index: self.log.commit,
            reject: false,
            reject_hint: 0,
            hint_term: 0,
        };
        self.send(from, body, after);
    }

    /// Flushes pending state and returns the request a dependent message must wait for
    /// (`None` when everything it depends on is already durable).
    pub(super) fn persist_barrier(&mut self) -> Option<SyncId> {
        self.flush_persist();
        (self.dur.last_sync > self.dur.acked_sync).then_some(self.dur.last_sync)
    }

    pub(super) fn persisted_inner(&mut self, sync: SyncId) {
        if sync <= self.dur.acked_sync || sync > self.dur.last_sync {
            // Old or unknown acknowledgement (e.g. from before a restart): nothing to do.
            return;
        }
        self.dur.acked_sync = sync;
        while let Some(&(s, last)) = self.dur.pending.front() {
            if s > sync {
                break;
            }
            self.dur.pending.pop_front();
            self.dur.stable = self.dur.stable.max(last);
        }
        debug_assert!(self.dur.stable <= self.log.last_index());
        match self.role {
            Role::Leader => self.maybe_commit(),
            Role::Candidate if self.self_vote_sync.is_some_and(|s| s <= sync) => {
                self.self_vote_sync = None;
                self.votes.insert(self.cfg.id, true);
                self.tally_votes(false);
            }
            _ => {}
        }
    }
}
