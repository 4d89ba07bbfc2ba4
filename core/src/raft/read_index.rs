//! Linearizable reads (thesis §6.4): ReadIndex confirmed by a heartbeat round, reads
//! forwarded from followers, and optional lease reads.
//!
//! A read is registered with the current commit index and a round number (`seq`).
//! Heartbeats carry the newest round number; an answer for round `c` from a voter
//! proves we were still leader after every read of round `<= c` arrived, so it counts
//! for all of them. Reads are released in order once a quorum confirmed them.
//!
//! Reads are batched: every read that arrives before the next [`RaftNode::flush_reads`]
//! joins one round, confirmed by one heartbeat to each peer, and a follower forwards
//! the reads it holds as one `ReadIndex` message whose answer serves them all. Both
//! are safe because the heartbeat (or the forwarded request) leaves after every read
//! of the batch arrived: the leadership it confirms, and the commit index the leader
//! answers with, are at least as new as each read. `drain` flushes, so a driver that
//! drains after every input gets a round per read; the etcd server flushes once per
//! driver turn, when the driver takes its effects.
//! A leader serves reads only after an entry of its own term committed, so its commit
//! index is at least that of any earlier leader; reads arriving earlier wait.
//!
//! Lease reads (`Config::lease_reads`) skip the heartbeat round when a quorum answered
//! within the last election timeout of this node's own ticks. This is UNSAFE under
//! clock skew: if this leader's clock runs slow, or a follower's runs fast, the
//! followers may elect a new leader while this one still believes in its lease, and
//! a read served from the lease can miss newer writes (a stale read). It relies on
//! CheckQuorum making followers ignore candidates while they hear from a leader.

use super::node::RaftNode;
use super::output::{ProposeError, RaftOutput};
use super::{MessageBody, Role};
use crate::types::{Index, NodeId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Debug)]
struct PendingRead {
    seq: u64,
    ctx: u64,
    /// Who asked: this node or a follower.
    from: NodeId,
    index: Index,
    acks: BTreeSet<NodeId>,
}

#[derive(Debug, Default)]
pub(crate) struct ReadQueue {
    /// The newest round number handed out.
    pub(super) seq: u64,
    pending: VecDeque<PendingRead>,
    /// Leader: reads joined round `seq` since its heartbeat went out; the next flush
    /// sends it.
    pub(super) round_open: bool,
    /// Reads that arrived before an entry of the leader's term committed.
    waiting: Vec<(NodeId, u64)>,
    /// Follower: reads not yet forwarded; the next flush asks the leader for all of
    /// them at once.
    unsent: Vec<u64>,
    /// Follower: batches asked of the leader and not yet answered, by the ctx the
    /// request carried (its first read's). An answer for a ctx not here (duplicated or
    /// late) is ignored; when the leader or term changes these fail, since their answer
    /// may never come.
    forwarded: BTreeMap<u64, Vec<u64>>,
}

impl ReadQueue {
    /// Reads only a leader holds: those waiting for its term's first commit, those in
    /// a round, and whether a round is open. The invariants hold them empty off the
    /// leader, since a leader that steps down must fail every one of them.
    #[cfg(any(debug_assertions, feature = "invariants"))]
    pub(super) fn leader_held(&self) -> (usize, usize, bool) {
        (self.waiting.len(), self.pending.len(), self.round_open)
    }
}

impl RaftNode {
    pub(super) fn read_index_inner(&mut self, ctx: u64) -> Result<(), ProposeError> {
        if self.role == Role::Leader {
            self.leader_read(self.cfg.id, ctx);
            return Ok(());
        }
        match self.leader {
            None => Err(ProposeError::NoLeader),
            Some(_) => {
                self.reads.unsent.push(ctx);
                Ok(())
            }
        }
    }

    /// Sends what the reads since the last flush need: the follower's batch to the
    /// leader, the leader's heartbeat round.
    pub(super) fn flush_reads_inner(&mut self) {
        if !self.reads.unsent.is_empty() {
            let ctxs = std::mem::take(&mut self.reads.unsent);
            if self.role == Role::Leader {
                for ctx in ctxs {
                    self.leader_read(self.cfg.id, ctx);
                }
            } else if let Some(leader) = self.leader {
                // Sent to the leader known now, which may be newer than the one known
                // when the reads arrived: any leader's answer to a request sent after
                // they arrived is fresh enough for them.
                let ctx = ctxs[0];
                self.reads.forwarded.insert(ctx, ctxs);
                self.send(leader, MessageBody::ReadIndex { ctx }, None);
            } else {
                for ctx in ctxs {
                    self.announce_read_failure(ctx, None);
                }
            }
        }
        if self.reads.round_open && self.role == Role::Leader {
            self.broadcast_heartbeat();
        }
        self.reads.round_open = false;
    }

    pub(super) fn handle_read_request(&mut self, from: NodeId, ctx: u64) {
        if self.role == Role::Leader {
            self.leader_read(from, ctx);
        } else {
            self.send(from, MessageBody::ReadIndexResponse { ctx, index: 0 }, None);
        }
    }

    pub(super) fn handle_read_response(&mut self, ctx: u64, index: Index) {
        let Some(ctxs) = self.reads.forwarded.remove(&ctx) else {
            return;
        };
        for ctx in ctxs {
            if index == 0 {
                self.announce_read_failure(ctx, self.leader);
            } else {
                self.out.push(RaftOutput::ReadReady { ctx, index });
            }
        }
    }

    fn committed_in_term(&self) -> bool {
        self.log.term(self.log.commit) == Some(self.term)
    }

    fn leader_read(&mut self, from: NodeId, ctx: u64) {
        if !self.committed_in_term() {
            self.reads.waiting.push((from, ctx));
            return;
        }
        let index = self.log.commit;
        #[cfg(not(feature = "mutants"))]
        let unconfirmed = false;
        #[cfg(feature = "mutants")]
        let unconfirmed = crate::mutants::active(crate::mutants::Mutant::ReadWithoutLeadership);
        if self.conf.is_sole_voter(self.cfg.id)
            || unconfirmed
            || (self.cfg.lease_reads && self.lease_valid())
        {
            self.release_read(from, ctx, index);
            return;
        }
        if !self.reads.round_open {
            self.reads.seq += 1;
            self.reads.round_open = true;
        }
        let mut acks = BTreeSet::new();
        acks.insert(self.cfg.id);
        self.reads.pending.push_back(PendingRead { seq: self.reads.seq, ctx, from, index, acks });
    }

    fn release_read(&mut self, from: NodeId, ctx: u64, index: Index) {
        if from == self.cfg.id {
            self.out.push(RaftOutput::ReadReady { ctx, index });
        } else {
            self.send(from, MessageBody::ReadIndexResponse { ctx, index }, None);
        }
    }

    /// The first entry of our term committed: serve the reads that waited for it.
    pub(super) fn on_commit_in_term(&mut self) {
        if self.reads.waiting.is_empty() || !self.committed_in_term() {
            return;
        }
        for (from, ctx) in std::mem::take(&mut self.reads.waiting) {
            self.leader_read(from, ctx);
        }
    }

    pub(super) fn ack_reads(&mut self, from: NodeId, ctx: u64) {
        for r in self.reads.pending.iter_mut() {
            if r.seq > ctx {
                break;
            }
            r.acks.insert(from);
        }
        while let Some(front) = self.reads.pending.front() {
            if !self.conf.has_quorum(|v| front.acks.contains(&v)) {
                break;
            }
            let Some(r) = self.reads.pending.pop_front() else { break };
            self.release_read(r.from, r.ctx, r.index);
        }
    }

    /// The leader or term changed: reads forwarded to the old leader fail.
    pub(super) fn fail_forwarded_reads(&mut self) {
        for (_, ctxs) in std::mem::take(&mut self.reads.forwarded) {
            for ctx in ctxs {
                self.announce_read_failure(ctx, self.leader);
            }
        }
    }

    /// Whether this node's own read `ctx` still waits here for its index: not yet
    /// forwarded, forwarded to the leader, or (leading) waiting for an entry of its term
    /// or for a heartbeat round. Every such read ends in `ReadReady` or `ReadFailed`;
    /// a driver holding a read no longer waiting here has lost track of it.
    pub fn read_waiting(&self, ctx: u64) -> bool {
        let me = self.cfg.id;
        self.reads.unsent.contains(&ctx)
            || self.reads.forwarded.values().any(|ctxs| ctxs.contains(&ctx))
            || self.reads.waiting.contains(&(me, ctx))
            || self.reads.pending.iter().any(|r| r.from == me && r.ctx == ctx)
    }

    /// We stopped leading: every read still waiting fails.
    pub(super) fn fail_pending_reads(&mut self, new_leader: Option<NodeId>) {
        let waiting = std::mem::take(&mut self.reads.waiting);
        let pending = std::mem::take(&mut self.reads.pending);
        self.reads.round_open = false;
        let all = waiting.into_iter().chain(pending.into_iter().map(|r| (r.from, r.ctx)));
        for (from, ctx) in all {
            if from == self.cfg.id {
                self.announce_read_failure(ctx, new_leader);
            } else {
                self.send(from, MessageBody::ReadIndexResponse { ctx, index: 0 }, None);
            }
        }
    }
}
