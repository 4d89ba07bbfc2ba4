//! What a leader knows about each member's log: how far it matches, what to send
//! next, and how much is in flight (Raft thesis §10.2.2, batching and pipelining).
//!
//! `Probe`: one append at a time until the follower's position is known.
//! `Replicate`: optimistic pipelining, at most `inflight_appends_max` appends in flight.
//! `Snapshot`: an InstallSnapshot is outstanding; nothing else is sent.

use crate::types::Index;
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ProgressState {
    Probe,
    Replicate,
    Snapshot { index: Index, elapsed_ticks: u32 },
}

#[derive(Clone, Debug)]
pub(super) struct Progress {
    /// Highest index known to match the leader's log.
    pub(super) matched: Index,
    /// Next index to send.
    pub(super) next: Index,
    pub(super) state: ProgressState,
    /// Probe: an append is out and unanswered.
    pub(super) probe_sent: bool,
    /// Replicate: the last index of each append in flight, oldest first.
    pub(super) inflight: VecDeque<Index>,
    /// Heard from since the last CheckQuorum round.
    pub(super) recent_active: bool,
    /// The leader's tick count when it last heard from this member (lease reads).
    pub(super) last_heard_tick: Option<u64>,
    /// `matched` at the previous heartbeat response, to notice a stalled pipeline.
    pub(super) matched_at_heartbeat: Index,
    /// Heartbeat responses in a row that found a lagging follower's `matched` unmoved.
    pub(super) stalled_heartbeats: u32,
}

impl Progress {
    pub(super) fn new(next: Index) -> Progress {
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            recent_active: false,
            last_heard_tick: None,
            matched_at_heartbeat: 0,
            stalled_heartbeats: 0,
        }
    }

    pub(super) fn become_probe(&mut self) {
        self.state = ProgressState::Probe;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflight.clear();
    }

    pub(super) fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.matched_at_heartbeat = self.matched;
        self.stalled_heartbeats = 0;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflight.clear();
    }

    pub(super) fn become_snapshot(&mut self, index: Index) {
        self.state = ProgressState::Snapshot { index, elapsed_ticks: 0 };
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// Whether another append may go out now.
    pub(super) fn can_send(&self, inflight_max: usize) -> bool {
        match self.state {
            ProgressState::Probe => !self.probe_sent,
            ProgressState::Replicate => self.inflight.len() < inflight_max.max(1),
            ProgressState::Snapshot { .. } => false,
        }
    }

    /// Records that an append ending at `last` went out.
    pub(super) fn sent(&mut self, last: Index, had_entries: bool) {
        match self.state {
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Replicate => {
                if had_entries {
                    self.next = last + 1;
                }
                self.inflight.push_back(last);
            }
            ProgressState::Snapshot { .. } => {}
        }
    }

    /// A successful acknowledgement up to `index`. Returns whether `matched` grew.
    pub(super) fn ack(&mut self, index: Index) -> bool {
        while self.inflight.front().is_some_and(|&i| i <= index) {
            self.inflight.pop_front();
        }
        self.probe_sent = false;
        if index > self.matched {
            self.matched = index;
            self.next = self.next.max(index + 1);
            true
        } else {
            false
        }
    }

    /// A rejection of an append whose previous index was `rejected`; `hint` is where
    /// the follower's log may match. Returns false for a stale rejection.
    pub(super) fn reject(&mut self, rejected: Index, hint: Index) -> bool {
        match self.state {
            ProgressState::Replicate => {
                if rejected <= self.matched {
                    return false;
                }
                self.become_probe();
                true
            }
            ProgressState::Probe => {
                if self.next == 0 || rejected != self.next - 1 {
                    return false;
                }
                self.next = rejected.min(hint.saturating_add(1)).max(self.matched + 1);
                self.probe_sent = false;
                true
            }
            ProgressState::Snapshot { .. } => false,
        }
    }
}
