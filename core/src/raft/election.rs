//! Leader election (§5.2, §5.4.1): timeouts, PreVote (thesis §9.6), votes, and the
//! role transitions between follower, pre-candidate, candidate and leader.

use super::node::RaftNode;
use super::output::{ProposeError, RaftOutput};
use super::progress::Progress;
use super::quorum::VoteResult;
use super::{MessageBody, Role, RoleReason};
use crate::types::{EntryKind, Index, NodeId, Term};
use bytes::Bytes;

impl RaftNode {
    /// Follower, pre-candidate and candidate tick: start an election on timeout.
    pub(super) fn tick_election(&mut self) {
        self.election_elapsed_ticks = self.election_elapsed_ticks.saturating_add(1);
        if self.election_elapsed_ticks >= self.randomized_timeout_ticks {
            self.election_elapsed_ticks = 0;
            self.hup(RoleReason::ElectionTimeout);
        }
    }

    /// Whether a leader was heard from within the last election timeout (CheckQuorum
    /// on): such a node ignores vote requests that would disrupt that leader.
    pub(super) fn in_leader_lease(&self) -> bool {
        self.cfg.check_quorum
            && self.leader.is_some()
            && self.election_elapsed_ticks < self.cfg.election_ticks
    }

    /// Starts an election: a pre-vote first unless it is a leader transfer or PreVote
    /// is off. Learners and non-members never campaign; leaders need not.
    pub(super) fn hup(&mut self, reason: RoleReason) {
        let transfer = reason == RoleReason::Transfer;
        if self.role == Role::Leader || !self.is_voter(self.cfg.id) {
            return;
        }
        if self.term >= Term::MAX - 1 {
            // A peer pushed us to the last terms (corrupt or hostile): no term is left
            // to campaign in, and wrapping around would break election safety.
            return;
        }
        if self.cfg.pre_vote && !transfer {
            self.become_pre_candidate(reason);
        } else {
            self.become_candidate(transfer, reason);
        }
    }

    pub(super) fn become_follower(
        &mut self,
        term: Term,
        leader: Option<NodeId>,
        reason: RoleReason,
    ) {
        if self.role == Role::Leader {
            self.fail_pending_reads(leader);
        }
        if term > self.term {
            self.term = term;
            self.vote = None;
        }
        self.role = Role::Follower;
        self.role_reason = reason;
        self.leader = leader;
        self.reset_election_state();
    }

    fn reset_election_state(&mut self) {
        self.election_elapsed_ticks = 0;
        self.heartbeat_elapsed_ticks = 0;
        self.reset_randomized_timeout();
        self.votes.clear();
        self.self_vote_sync = None;
        self.transfer = None;
        self.progress.clear();
        self.broadcast_pending = false;
    }

    fn become_pre_candidate(&mut self, reason: RoleReason) {
        self.role = Role::PreCandidate;
        self.role_reason = reason;
        self.leader = None;
        self.reset_election_state();
        // A pre-vote changes no durable state, so our own counts at once.
        self.votes.insert(self.cfg.id, true);
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        let voters: Vec<NodeId> =
            self.conf.members().filter(|&v| v != self.cfg.id && self.is_voter(v)).collect();
        for v in voters {
            self.send(v, MessageBody::PreVote { last_index, last_term }, None);
        }
        self.tally_votes(true);
    }

    fn become_candidate(&mut self, transfer: bool, reason: RoleReason) {
        self.term += 1;
        self.vote = Some(self.cfg.id);
        self.role = Role::Candidate;
        self.role_reason = reason;
        self.leader = None;
        self.reset_election_state();
        // Our own vote counts only once term and vote are durable: a candidate that
        // crashed before that could otherwise vote again in the same term.
        self.self_vote_sync = self.persist_barrier();
        if self.self_vote_sync.is_none() {
            self.votes.insert(self.cfg.id, true);
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        let voters: Vec<NodeId> =
            self.conf.members().filter(|&v| v != self.cfg.id && self.is_voter(v)).collect();
        for v in voters {
            self.send(v, MessageBody::Vote { last_index, last_term, transfer }, None);
        }
        self.tally_votes(false);
    }

    pub(super) fn become_leader(&mut self) {
        debug_assert_eq!(self.vote, Some(self.cfg.id));
        self.role = Role::Leader;
        self.role_reason = RoleReason::ElectionWon;
        self.leader = Some(self.cfg.id);
        self.reset_election_state();
        let next = self.log.last_index() + 1;
        let peers: Vec<NodeId> = self.conf.members().filter(|&m| m != self.cfg.id).collect();
        for p in peers {
            self.progress.insert(p, Progress::new(next));
        }
        self.broadcast_commit = self.log.commit;
        // §5.4.2 / §8: commit entries of earlier terms by committing one of our own.
        self.append_new(EntryKind::Noop, Bytes::new());
    }

    pub(super) fn handle_vote_request(
        &mut self,
        from: NodeId,
        msg_term: Term,
        last_index: Index,
        last_term: Term,
        pre: bool,
    ) {
        let can_vote = if pre {
            // Granted to a term above ours without changing anything (thesis §9.6).
            msg_term > self.term
                || self.vote == Some(from)
                || (self.vote.is_none() && self.leader.is_none())
        } else {
            self.vote == Some(from) || (self.vote.is_none() && self.leader.is_none())
        };
        let grant = can_vote
            && self.is_voter(self.cfg.id)
            && self.role != Role::Leader
            && self.log.is_up_to_date(last_index, last_term);
        if pre {
            let term = if grant { msg_term } else { self.term };
            self.send_with_term(from, term, MessageBody::PreVoteResponse { reject: !grant }, None);
            return;
        }
        if grant {
            self.vote = Some(from);
            self.election_elapsed_ticks = 0;
        }
        // The answer states our term and vote: both must be durable first (Figure 2).
        let after = self.persist_barrier();
        #[cfg(feature = "mutants")]
        let after =
            after.filter(|_| !crate::mutants::active(crate::mutants::Mutant::VoteBeforeDurable));
        self.send(from, MessageBody::VoteResponse { reject: !grant }, after);
    }

    pub(super) fn handle_vote_response(
        &mut self,
        from: NodeId,
        msg_term: Term,
        reject: bool,
        pre: bool,
    ) {
        let expected = match (pre, self.role) {
            (true, Role::PreCandidate) => {
                msg_term == self.term + 1 || (reject && msg_term == self.term)
            }
            (false, Role::Candidate) => msg_term == self.term,
            _ => false,
        };
        if !expected || !self.is_voter(from) {
            return;
        }
        self.votes.entry(from).or_insert(!reject);
        self.tally_votes(pre);
    }

    /// Wins or loses the current (pre-)election once a quorum decided.
    pub(super) fn tally_votes(&mut self, pre: bool) {
        match self.conf.vote_result(&self.votes) {
            VoteResult::Won if pre => self.become_candidate(false, RoleReason::PreVoteWon),
            VoteResult::Won => self.become_leader(),
            VoteResult::Lost => self.become_follower(self.term, None, RoleReason::ElectionLost),
            VoteResult::Pending => {}
        }
    }

    /// Leader tick: heartbeats, CheckQuorum, transfer timeout, snapshot retries.
    pub(super) fn tick_leader(&mut self) {
        self.heartbeat_elapsed_ticks += 1;
        self.election_elapsed_ticks += 1;
        if self.election_elapsed_ticks >= self.cfg.election_ticks {
            self.election_elapsed_ticks = 0;
            if self.cfg.check_quorum && !self.quorum_recently_active() {
                // CheckQuorum (thesis §6.2): we may be cut off; stop acting as leader.
                self.become_follower(self.term, None, RoleReason::CheckQuorumLost);
                return;
            }
            for pr in self.progress.values_mut() {
                pr.recent_active = false;
            }
        }
        if let Some((to, elapsed)) = self.transfer {
            let elapsed = elapsed + 1;
            self.transfer =
                if elapsed >= self.cfg.election_ticks { None } else { Some((to, elapsed)) };
        }
        self.tick_snapshot_states();
        if self.heartbeat_elapsed_ticks >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed_ticks = 0;
            self.broadcast_heartbeat();
        }
    }

    fn quorum_recently_active(&self) -> bool {
        self.conf.has_quorum(|v| {
            v == self.cfg.id || self.progress.get(&v).is_some_and(|p| p.recent_active)
        })
    }

    /// Lease reads: a quorum answered within the last election timeout of our ticks.
    pub(super) fn lease_valid(&self) -> bool {
        let since = self.now_ticks.saturating_sub(u64::from(self.cfg.election_ticks));
        self.conf.has_quorum(|v| {
            v == self.cfg.id
                || self.progress.get(&v).and_then(|p| p.last_heard_tick).is_some_and(|t| t >= since)
        })
    }

    pub(super) fn handle_timeout_now(&mut self, from: NodeId) {
        if self.role == Role::Leader || self.leader != Some(from) {
            return;
        }
        self.hup(RoleReason::Transfer);
    }

    pub(super) fn transfer_inner(&mut self, to: NodeId) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader { leader: self.leader });
        }
        if !self.is_voter(to) {
            return Err(ProposeError::NotVoter { id: to });
        }
        if to == self.cfg.id {
            return Ok(());
        }
        match self.transfer {
            Some((t, _)) if t == to => return Ok(()),
            Some(_) => return Err(ProposeError::TransferInProgress),
            None => {}
        }
        self.transfer = Some((to, 0));
        self.maybe_send_timeout_now(to);
        Ok(())
    }

    /// Sends TimeoutNow once the transfer target's log caught up (thesis §3.10).
    pub(super) fn maybe_send_timeout_now(&mut self, to: NodeId) {
        if self.transfer.map(|(t, _)| t) != Some(to) {
            return;
        }
        let caught_up = self.progress.get(&to).is_some_and(|p| p.matched == self.log.last_index());
        if caught_up {
            self.send(to, MessageBody::TimeoutNow, None);
        } else {
            self.send_append(to, true);
        }
    }

    pub(super) fn announce_read_failure(&mut self, ctx: u64, leader: Option<NodeId>) {
        let error = match leader {
            None => ProposeError::NoLeader,
            Some(l) => ProposeError::NotLeader { leader: Some(l) },
        };
        self.out.push(RaftOutput::ReadFailed { ctx, error });
    }
}
