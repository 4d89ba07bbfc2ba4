//! Snapshots and log compaction (§7): the application's snapshot replaces the log
//! prefix it covers; a follower behind the leader's first index is sent the snapshot
//! and restores from it.

use super::node::RaftNode;
use super::output::RaftOutput;
use super::progress::ProgressState;
use super::{MessageBody, Role};
use crate::types::{Index, NodeId, Snapshot};

impl RaftNode {
    pub(super) fn compact_inner(&mut self, mut snapshot: Snapshot) {
        let index = snapshot.meta.index;
        if index <= self.log.snap_index() {
            return;
        }
        assert!(
            index <= self.log.applied,
            "compact at {index} beyond the applied index {}",
            self.log.applied
        );
        let term = self.log.term(index).expect("an applied entry above the snapshot is in the log");
        snapshot.meta.term = term;
        snapshot.meta.conf = self.conf_at(index);
        self.log.compact(index, term);
        self.conf_base = snapshot.meta.conf.clone();
        self.conf_entries = self.conf_entries.split_off(&(index + 1));
        self.dur.snapshot = Some(snapshot.clone());
        self.snapshot = Some(snapshot);
        self.flush_persist();
    }

    pub(super) fn send_snapshot(&mut self, to: NodeId) {
        let Some(snapshot) = self.snapshot.clone() else {
            panic!("log compacted to {} without a snapshot", self.log.snap_index());
        };
        if let Some(pr) = self.progress.get_mut(&to) {
            pr.become_snapshot(snapshot.meta.index);
        }
        self.send(to, MessageBody::InstallSnapshot { snapshot }, None);
    }

    /// Leader tick: a snapshot unanswered for an election timeout is sent again.
    pub(super) fn tick_snapshot_states(&mut self) {
        let timeout = self.cfg.election_ticks;
        for pr in self.progress.values_mut() {
            if let ProgressState::Snapshot { index, elapsed_ticks } = pr.state {
                if elapsed_ticks + 1 >= timeout {
                    pr.become_probe();
                } else {
                    pr.state = ProgressState::Snapshot { index, elapsed_ticks: elapsed_ticks + 1 };
                }
            }
        }
    }

    pub(super) fn handle_install_snapshot(&mut self, from: NodeId, snapshot: Snapshot) {
        if self.role == Role::Leader {
            return;
        }
        let (index, term) = (snapshot.meta.index, snapshot.meta.term);
        // An index near the end of the number space cannot come from a real log and
        // would leave no room to append after it: treat it as corrupt.
        let valid = index > 0
            && index < Index::MAX / 2
            && term > 0
            && term <= self.term
            && !snapshot.meta.conf.voters.is_empty();
        if valid && index > self.log.commit {
            if self.log.match_term(index, term) {
                // We hold the entry: the log after it stays, everything up to it is committed.
                self.log.commit = index;
            } else {
                self.log.restore(index, term);
                self.dur.clamp(index);
                self.conf_base = snapshot.meta.conf.clone();
                self.conf_entries.clear();
                self.refresh_conf();
                self.app_applied = index;
                self.dur.snapshot = Some(snapshot.clone());
                self.snapshot = Some(snapshot.clone());
                self.out.push(RaftOutput::RestoreSnapshot(snapshot));
            }
        }
        self.ack_up_to_commit(from);
    }
}
