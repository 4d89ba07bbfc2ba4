//! Log replication (§5.3): the leader's appends with pipelining and flow control,
//! the follower's consistency check with fast backtracking hints, heartbeats, and the
//! commit rule that counts only entries of the current term (§5.4.2, Figure 8).

use super::conf_change::ConfEntry;
use super::node::RaftNode;
use super::progress::{Progress, ProgressState};
use super::{MessageBody, Role};
use crate::types::{Entry, EntryKind, Index, NodeId, Term};

/// Heartbeat responses without progress before a pipelined follower is probed again.
const STALLED_HEARTBEATS_MAX: u32 = 3;

impl RaftNode {
    /// A leader heard from follower `from` (an answer to an append or a heartbeat):
    /// it is active, for CheckQuorum, as of now. `None` for a node that is not tracked.
    fn heard_from(&mut self, from: NodeId) -> Option<&mut Progress> {
        let now = self.now_ticks;
        let pr = self.progress.get_mut(&from)?;
        pr.recent_active = true;
        pr.last_heard_tick = Some(now);
        Some(pr)
    }

    /// Sends `to` whatever it lacks, as far as flow control allows. With `send_empty`,
    /// sends an empty append (carrying the commit index) when there is nothing new.
    /// Returns whether a message went out.
    pub(super) fn send_append(&mut self, to: NodeId, send_empty: bool) -> bool {
        let inflight_max = self.cfg.inflight_appends_max;
        let Some(pr) = self.progress.get(&to) else { return false };
        if !pr.can_send(inflight_max) {
            return false;
        }
        let next = pr.next;
        let prev_index = next - 1;
        let Some(prev_term) = self.log.term(prev_index) else {
            self.send_snapshot(to);
            return true;
        };
        let entries = self.log.slice(next, self.cfg.append_entries_max, self.cfg.append_bytes_max);
        if entries.is_empty() && !send_empty {
            return false;
        }
        let last = entries.last().map_or(prev_index, |e| e.index);
        let had_entries = !entries.is_empty();
        if let Some(pr) = self.progress.get_mut(&to) {
            pr.sent(last, had_entries);
        }
        let commit = self.log.commit;
        self.send(to, MessageBody::Append { prev_index, prev_term, entries, commit }, None);
        true
    }

    /// Sends every follower what it lacks, or the new commit index.
    pub(super) fn broadcast_append(&mut self) {
        self.broadcast_pending = false;
        let commit_news = self.log.commit > self.broadcast_commit;
        self.broadcast_commit = self.log.commit;
        let peers: Vec<NodeId> = self.progress.keys().copied().collect();
        for p in peers {
            let mut sent = false;
            while self.send_append(p, false) {
                sent = true;
                if !matches!(
                    self.progress.get(&p).map(|pr| pr.state),
                    Some(ProgressState::Replicate)
                ) {
                    break;
                }
            }
            if !sent && commit_news {
                self.send_append(p, true);
            }
        }
    }

    pub(super) fn broadcast_heartbeat(&mut self) {
        // Carries the newest round, so it confirms every read registered so far.
        self.reads.round_open = false;
        let ctx = self.reads.seq;
        let peers: Vec<(NodeId, Index)> =
            self.progress.iter().map(|(&id, pr)| (id, pr.matched.min(self.log.commit))).collect();
        for (p, commit) in peers {
            self.send(p, MessageBody::Heartbeat { commit, ctx }, None);
        }
    }

    /// Leader: advances the commit index to the highest index a quorum of voters holds
    /// durably, if that entry is of the current term (§5.4.2).
    pub(super) fn maybe_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let mut m = std::mem::take(&mut self.scratch);
        let (me, stable) = (self.cfg.id, self.dur.stable);
        let progress = &self.progress;
        let matched = |v| {
            let matched = if v == me { stable } else { progress.get(&v).map_or(0, |p| p.matched) };
            #[cfg(feature = "mutants")]
            let matched = match progress.get(&v) {
                Some(p) if crate::mutants::active(crate::mutants::Mutant::CommitOnSend) => {
                    p.next - 1
                }
                _ => matched,
            };
            matched
        };
        let candidate = self.conf.committed_index(matched, &mut m);
        self.scratch = m;
        let current_term = self.log.term(candidate) == Some(self.term);
        #[cfg(feature = "mutants")]
        let current_term = current_term
            || (crate::mutants::active(crate::mutants::Mutant::Figure8Commit)
                && candidate <= self.log.last_index());
        if candidate > self.log.commit && current_term {
            self.log.commit = candidate;
            self.broadcast_pending = true;
            self.on_commit_in_term();
            self.after_commit_conf();
        }
    }

    pub(super) fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    ) {
        if self.role == Role::Leader {
            return;
        }
        if prev_index < self.log.commit {
            // Everything up to our commit index is settled; say how far we are.
            self.ack_up_to_commit(from);
            return;
        }
        if !self.log.match_term(prev_index, prev_term) {
            let (hint, hint_term) = self.log.find_conflict_by_term(prev_index, prev_term);
            let after = self.persist_barrier();
            let body = MessageBody::AppendResponse {
                index: prev_index,
                reject: true,
                reject_hint: hint,
                hint_term,
            };
            self.send(from, body, after);
            return;
        }
        if !self.well_formed(prev_index, prev_term, &entries) {
            return;
        }
        let last_new = prev_index + entries.len() as u64;
        let has_conf = entries.iter().any(|e| e.kind == EntryKind::ConfChange);
        let conf_entries = if has_conf { entries.clone() } else { Vec::new() };
        let cut = self.log.merge(entries);
        if let Some(cut) = cut {
            let durable_max = cut - 1;
            #[cfg(feature = "mutants")]
            let durable_max =
                if crate::mutants::active(crate::mutants::Mutant::TruncateDurableEarly) {
                    cut
                } else {
                    durable_max
                };
            self.dur.clamp(durable_max);
            self.forget_conf_entries_from(cut);
        }
        if has_conf || cut.is_some() {
            self.note_conf_entries(&conf_entries);
            self.refresh_conf();
        }
        let new_commit = commit.min(last_new);
        if new_commit > self.log.commit {
            self.log.commit = new_commit;
        }
        let after = self.persist_barrier();
        #[cfg(feature = "mutants")]
        let after =
            after.filter(|_| !crate::mutants::active(crate::mutants::Mutant::AckBeforeDurable));
        let body = MessageBody::AppendResponse {
            index: last_new,
            reject: false,
            reject_hint: 0,
            hint_term: 0,
        };
        self.send(from, body, after);
    }

    /// Untrusted appends must be contiguous after `prev_index`, with terms that never
    /// decrease and never pass ours, and must not rewrite a committed entry.
    fn well_formed(&self, prev_index: Index, prev_term: Term, entries: &[Entry]) -> bool {
        let mut term = prev_term;
        for (i, e) in entries.iter().enumerate() {
            let Some(want) = prev_index.checked_add(i as u64 + 1) else { return false };
            if e.index != want || e.term < term || e.term > self.term {
                return false;
            }
            if e.kind == EntryKind::ConfChange && ConfEntry::decode(&e.data).is_none() {
                return false;
            }
            term = e.term;
            if e.index <= self.log.commit && !self.log.match_term(e.index, e.term) {
                return false;
            }
        }
        true
    }

    pub(super) fn handle_append_response(
        &mut self,
        from: NodeId,
        index: Index,
        reject: bool,
        reject_hint: Index,
        hint_term: Term,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let last = self.log.last_index();
        let Some(pr) = self.heard_from(from) else { return };
        if reject {
            let hint = if hint_term > 0 {
                self.log.find_conflict_by_term(reject_hint.min(last), hint_term).0
            } else {
                reject_hint.min(last)
            };
            let Some(pr) = self.progress.get_mut(&from) else { return };
            if pr.reject(index, hint) {
                self.send_append(from, true);
            }
            return;
        }
        if index > last {
            return;
        }
        let grew = pr.ack(index);
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot { index: snap, .. } if pr.matched >= snap => {
                pr.become_replicate()
            }
            _ => {}
        }
        if grew {
            self.maybe_commit();
        }
        while self.send_append(from, false) {
            if !matches!(self.progress.get(&from).map(|p| p.state), Some(ProgressState::Replicate))
            {
                break;
            }
        }
        if grew {
            self.maybe_send_timeout_now(from);
        }
    }

    pub(super) fn handle_heartbeat(&mut self, from: NodeId, commit: Index, ctx: u64) {
        if self.role == Role::Leader {
            return;
        }
        let commit = commit.min(self.log.last_index());
        if commit > self.log.commit {
            self.log.commit = commit;
        }
        self.send(from, MessageBody::HeartbeatResponse { ctx }, None);
    }

    pub(super) fn handle_heartbeat_response(&mut self, from: NodeId, ctx: u64) {
        if self.role != Role::Leader {
            return;
        }
        let last = self.log.last_index();
        let Some(pr) = self.heard_from(from) else { return };
        match pr.state {
            ProgressState::Probe => pr.probe_sent = false,
            ProgressState::Replicate => {
                // The last appends or their answers were lost (a later append would
                // have been rejected and repaired that): nothing moved for several
                // heartbeats although the follower lags. Start over from what matches.
                if pr.matched < last && pr.matched == pr.matched_at_heartbeat {
                    pr.stalled_heartbeats += 1;
                } else {
                    pr.stalled_heartbeats = 0;
                }
                pr.matched_at_heartbeat = pr.matched;
                if pr.stalled_heartbeats >= STALLED_HEARTBEATS_MAX {
                    pr.stalled_heartbeats = 0;
                    pr.become_probe();
                }
            }
            ProgressState::Snapshot { .. } => {}
        }
        if pr.matched < last {
            self.send_append(from, true);
        }
        if self.is_voter(from) {
            self.ack_reads(from, ctx);
        }
    }

    /// Leader: a follower forwarded proposals. Only application data is accepted;
    /// the entries get our term and the next indexes.
    pub(super) fn handle_forwarded_proposal(&mut self, entries: Vec<Entry>) {
        if self.role != Role::Leader || self.transfer.is_some() {
            return;
        }
        for e in entries {
            if e.kind == EntryKind::Normal {
                self.append_new(EntryKind::Normal, e.data);
            }
        }
    }
}
