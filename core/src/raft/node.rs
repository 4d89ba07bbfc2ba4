//! The Raft node: its state, the public driver API and the one `step` entry point that
//! normalises terms before dispatching by message kind. Behaviour lives in sibling
//! files by concern: `election`, `replication`, `read_index`, `snapshot`, `transfer`,
//! `durability`, `invariants`.
//!
//! # Driver contract
//!
//! Inputs: `tick`, `step`, `propose`, `read_index`, `transfer_leader`, `campaign`,
//! `persisted`, `advance_applied`, `compact`. After any input the driver calls `drain`
//! and carries out the [`RaftOutput`]s in order, as that type documents. Appends to
//! followers and the persist request of new entries are batched until `drain`, so
//! many proposals between two drains travel together.
//!
//! Sync ids count from 1 in each incarnation: after a crash the driver drops its
//! unacknowledged persist requests and held messages, rebuilds the node with `new` from
//! what is durable, and from then on acknowledges only the new node's requests. An
//! acknowledgement for a sync id the node never issued is ignored.
//!
//! Everything a peer sends is untrusted: stale or future terms, bogus indexes, messages
//! from non-members or addressed to someone else are ignored or answered, never a panic.
//! Calls that only a buggy driver makes (acknowledging applies that were never handed
//! out, compacting beyond the applied index) panic with a message.

use super::conf_change::{enter_joint, leave_joint, ConfChangeOp, ConfEntry};
use super::durability::Durability;
use super::log::RaftLog;
use super::output::{ProposeError, RaftOutput};
use super::progress::Progress;
use super::read_index::ReadQueue;
use super::{Config, Message, MessageBody, Role, RoleReason, Status};
use crate::types::{
    ConfState, DurableState, Entry, EntryKind, HardState, Index, NodeId, Snapshot, SyncId, Term,
};
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// A sans-IO Raft node. See the module documentation for the driver contract.
pub struct RaftNode {
    pub(super) cfg: Config,
    pub(super) term: Term,
    pub(super) vote: Option<NodeId>,
    pub(super) role: Role,
    /// Why it took `role`.
    pub(super) role_reason: RoleReason,
    pub(super) leader: Option<NodeId>,
    /// The configuration in force: the last entry of `conf_entries`, else `conf_base`.
    pub(super) conf: ConfState,
    /// The configuration at the snapshot (or the initial one without a snapshot).
    pub(super) conf_base: ConfState,
    /// Configuration entries in the log above the snapshot, by index. Truncating the
    /// log truncates this too, which undoes a configuration that did not survive.
    pub(super) conf_entries: BTreeMap<Index, ConfState>,
    pub(super) log: RaftLog,
    /// The latest snapshot (taken here or installed from a leader), sent to followers
    /// that fell behind the log's first index.
    pub(super) snapshot: Option<Snapshot>,
    pub(super) dur: Durability,
    pub(super) out: Vec<RaftOutput>,
    rng: ChaCha8Rng,
    /// Ticks since the last election reset (followers: since the leader was last heard;
    /// leaders: since the last CheckQuorum round).
    pub(super) election_elapsed_ticks: u32,
    pub(super) heartbeat_elapsed_ticks: u32,
    pub(super) randomized_timeout_ticks: u32,
    /// Ticks since construction: the node's own clock, for lease reads.
    pub(super) now_ticks: u64,
    /// Votes (or pre-votes) received in the current campaign: voter -> granted.
    pub(super) votes: BTreeMap<NodeId, bool>,
    /// A candidate counts its own vote once this persist request is durable.
    pub(super) self_vote_sync: Option<SyncId>,
    /// Leader: progress of every member but itself.
    pub(super) progress: BTreeMap<NodeId, Progress>,
    /// Leader: new entries or a new commit index await sending at the next `drain`.
    pub(super) broadcast_pending: bool,
    /// Leader: the commit index last sent to followers in a broadcast.
    pub(super) broadcast_commit: Index,
    /// Leader: the transfer target and the ticks since the transfer began.
    pub(super) transfer: Option<(NodeId, u32)>,
    pub(super) reads: ReadQueue,
    /// What the application reported applied (`advance_applied`).
    pub(super) app_applied: Index,
    /// The (role, term, leader) last announced with `RoleChanged`.
    reported: (Role, Term, Option<NodeId>),
    /// Scratch space for quorum computations, kept to avoid allocating per ack.
    pub(super) scratch: Vec<Index>,
}

impl RaftNode {
    /// Builds a node from its configuration and everything it made durable. An empty
    /// `durable` makes a brand-new member whose configuration is `config.initial_voters`;
    /// otherwise the configuration comes from the snapshot (or `initial_voters` if the
    /// node never had one) and committed entries are re-applied after the snapshot.
    pub fn new(config: Config, durable: DurableState) -> RaftNode {
        assert!(config.id != 0, "node id 0 is reserved");
        assert!(config.election_ticks >= 1, "election_ticks must be at least 1");
        assert!(
            config.heartbeat_ticks >= 1 && config.heartbeat_ticks < config.election_ticks.max(2),
            "heartbeat_ticks must be in [1, election_ticks)"
        );
        let (snap_index, snap_term) =
            durable.snapshot.as_ref().map_or((0, 0), |s| (s.meta.index, s.meta.term));
        let conf_base = match &durable.snapshot {
            Some(s) => s.meta.conf.clone(),
            None => ConfState::with_voters(config.initial_voters.iter().copied()),
        };
        let conf_entries: BTreeMap<Index, ConfState> = durable
            .entries
            .iter()
            .filter(|e| e.index > snap_index && e.kind == EntryKind::ConfChange)
            .filter_map(|e| ConfEntry::decode(&e.data).map(|c| (e.index, c.conf)))
            .collect();
        let conf = conf_entries.values().next_back().unwrap_or(&conf_base).clone();
        let mut log = RaftLog::new(snap_index, snap_term, durable.entries);
        let hs = durable.hard_state;
        log.commit = hs.commit.clamp(snap_index, log.last_index());
        let last = log.last_index();
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        let term = hs.term.max(log.last_term());
        let mut node = RaftNode {
            term,
            vote: if term == hs.term { hs.vote } else { None },
            role: Role::Follower,
            role_reason: RoleReason::Started,
            leader: None,
            conf,
            conf_base,
            conf_entries,
            log,
            snapshot: durable.snapshot.clone(),
            dur: Durability::new(last, hs),
            out: Vec::new(),
            rng,
            election_elapsed_ticks: 0,
            heartbeat_elapsed_ticks: 0,
            randomized_timeout_ticks: config.election_ticks,
            now_ticks: 0,
            votes: BTreeMap::new(),
            self_vote_sync: None,
            progress: BTreeMap::new(),
            broadcast_pending: false,
            broadcast_commit: 0,
            transfer: None,
            reads: ReadQueue::default(),
            app_applied: snap_index,
            reported: (Role::Follower, term, None),
            scratch: Vec::new(),
            cfg: config,
        };
        node.reset_randomized_timeout();
        if let Some(s) = durable.snapshot {
            node.out.push(RaftOutput::RestoreSnapshot(s));
        }
        node.finish();
        node
    }

    /// One logical clock tick.
    pub fn tick(&mut self) {
        self.now_ticks += 1;
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => self.tick_election(),
        }
        self.finish();
    }

    /// A message from a peer. Any content is handled without panicking; messages not
    /// addressed to this node, from non-members or from itself are ignored.
    pub fn step(&mut self, msg: Message) {
        self.step_inner(msg);
        self.finish();
    }

    /// Proposes `data` for the log. A leader appends it; a follower forwards it to its
    /// leader when `forward_proposals` is set. Acceptance is no promise of commit.
    pub fn propose(&mut self, data: Bytes) -> Result<(), ProposeError> {
        let r = match self.role {
            Role::Leader => {
                if self.transfer.is_some() {
                    Err(ProposeError::TransferInProgress)
                } else {
                    self.append_new(EntryKind::Normal, data);
                    Ok(())
                }
            }
            _ => match self.leader {
                None => Err(ProposeError::NoLeader),
                Some(leader) if self.cfg.forward_proposals => {
                    let entry = Entry { term: 0, index: 0, kind: EntryKind::Normal, data };
                    self.send(leader, MessageBody::Propose { entries: vec![entry] }, None);
                    Ok(())
                }
                Some(leader) => Err(ProposeError::NotLeader { leader: Some(leader) }),
            },
        };
        self.finish();
        r
    }

    /// Leader: proposes a membership change, `ops` applied together in one joint phase
    /// (see `conf_change`). `context` travels with the entry for the application. The
    /// leader leaves the joint configuration by itself once the entry commits. Refused
    /// while another change is under way (its entries uncommitted or the configuration
    /// still joint) and before an entry of this leader's term committed.
    pub fn propose_conf_change(
        &mut self,
        ops: &[ConfChangeOp],
        context: Bytes,
    ) -> Result<(), ProposeError> {
        let r = self.propose_conf_change_inner(ops, context);
        self.finish();
        r
    }

    fn propose_conf_change_inner(
        &mut self,
        ops: &[ConfChangeOp],
        context: Bytes,
    ) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(match self.leader {
                None => ProposeError::NoLeader,
                Some(l) => ProposeError::NotLeader { leader: Some(l) },
            });
        }
        if self.transfer.is_some() {
            return Err(ProposeError::TransferInProgress);
        }
        if self.conf_change_pending() || self.log.term(self.log.commit) != Some(self.term) {
            return Err(ProposeError::ConfChangePending);
        }
        let mut conf = enter_joint(&self.conf, ops).map_err(ProposeError::ConfChangeInvalid)?;
        if self.cfg.unsafe_single_step_conf_change {
            conf = leave_joint(&conf);
        }
        self.append_new(EntryKind::ConfChange, ConfEntry { conf, context }.encode());
        Ok(())
    }

    /// Whether a membership change is under way: a configuration entry is not yet
    /// committed, or the configuration is still joint.
    pub fn conf_change_pending(&self) -> bool {
        self.conf.is_joint() || self.last_conf_index() > self.log.commit
    }

    /// Index of the last configuration entry in the log (0 if there is none above the
    /// snapshot).
    pub(super) fn last_conf_index(&self) -> Index {
        self.conf_entries.keys().next_back().copied().unwrap_or(0)
    }

    /// Asks for a linearizable read index for request `ctx`. The answer comes later as
    /// `ReadReady { ctx, index }` or `ReadFailed { ctx, .. }`.
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ProposeError> {
        let r = self.read_index_inner(ctx);
        self.finish();
        r
    }

    /// Hands leadership to voter `to` (thesis §3.10).
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), ProposeError> {
        let r = self.transfer_inner(to);
        self.finish();
        r
    }

    /// Starts an election now (through a pre-vote when `pre_vote` is set).
    pub fn campaign(&mut self) {
        self.hup(RoleReason::Campaign);
        self.finish();
    }

    /// The host lost its connection to peer `from` (a stream that broke, as when the
    /// peer's process died). When `from` is this follower's leader, the leader is
    /// forgotten and its lease on us ends now instead of an election timeout after its
    /// last heartbeat: proposals here fail with no leader instead of being forwarded
    /// into the void, pre-votes are granted, and we campaign after only the random
    /// part of our timeout, `[0, election_ticks)` more ticks, which keeps two followers
    /// that both lost the leader from campaigning in the same tick most of the time.
    ///
    /// Timeouts decide liveness, never safety. A follower whose own link broke while
    /// the leader lives does not disrupt it: its pre-vote is refused by the leader and
    /// by every follower that still hears it (their lease holds), and the next
    /// heartbeat makes it follow again. Ignored with `lease_reads` on: such a leader
    /// counts on every follower keeping its lease for a full election timeout.
    pub fn leader_unreachable(&mut self, from: NodeId) {
        if self.role == Role::Follower && self.leader == Some(from) && !self.cfg.lease_reads {
            self.become_follower(self.term, None, RoleReason::LeaderUnreachable);
            self.election_elapsed_ticks = self.cfg.election_ticks;
        }
        self.finish();
    }

    /// Every persist request up to and including `sync` is durable.
    pub fn persisted(&mut self, sync: SyncId) {
        self.persisted_inner(sync);
        self.finish();
    }

    /// The application applied everything up to `index` (at most what was handed out).
    pub fn advance_applied(&mut self, index: Index) {
        assert!(
            index <= self.log.applied,
            "advance_applied({index}) beyond the {} entries handed out",
            self.log.applied
        );
        self.app_applied = self.app_applied.max(index);
        self.finish();
    }

    /// The application took `snapshot` at an index it has applied: the log up to there
    /// is dropped and a persist request carries the snapshot. The snapshot's term and
    /// configuration are filled in from the log.
    pub fn compact(&mut self, snapshot: Snapshot) {
        self.compact_inner(snapshot);
        self.finish();
    }

    /// Moves pending outputs into `out`, in the order they must be carried out. Sends
    /// what the reads since the last drain need first (`flush_reads`).
    pub fn drain(&mut self, out: &mut Vec<RaftOutput>) {
        self.flush_reads_inner();
        self.drain_holding_reads(out);
    }

    /// Sends what the linearizable reads asked since the last flush need: one
    /// heartbeat round for all of them on a leader, one request to the leader for all
    /// of them on a follower (see `read_index`). `drain` does this itself; a driver
    /// that batches reads over several inputs drains with `drain_holding_reads` and
    /// calls this once per batch.
    pub fn flush_reads(&mut self) {
        self.flush_reads_inner();
        self.finish();
    }

    /// `drain`, leaving the reads asked since the last flush unsent.
    pub fn drain_holding_reads(&mut self, out: &mut Vec<RaftOutput>) {
        if self.role == Role::Leader && self.broadcast_pending {
            self.broadcast_append();
        }
        self.flush_persist();
        self.emit_apply();
        self.report_role();
        #[cfg(any(debug_assertions, feature = "invariants"))]
        self.check_invariants();
        out.append(&mut self.out);
    }

    pub fn status(&self) -> Status {
        Status {
            id: self.cfg.id,
            role: self.role,
            role_reason: self.role_reason,
            term: self.term,
            vote: self.vote,
            leader: self.leader,
            commit: self.log.commit,
            applied: self.log.applied,
            last_index: self.log.last_index(),
            snapshot_index: self.log.snap_index(),
        }
    }

    /// The entry at `index`, if it is in memory (not compacted, not beyond the end).
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        self.log.entry(index)
    }

    /// The configuration in force: the newest in the log, committed or not.
    pub fn conf(&self) -> &ConfState {
        &self.conf
    }

    /// The configuration in force at `index` (at or above the snapshot's index).
    pub(super) fn conf_at(&self, index: Index) -> ConfState {
        self.conf_entries.range(..=index).next_back().map_or(&self.conf_base, |(_, c)| c).clone()
    }

    /// Records the configuration entries among `entries` (now in the log).
    pub(super) fn note_conf_entries(&mut self, entries: &[Entry]) {
        for e in entries.iter().filter(|e| e.kind == EntryKind::ConfChange) {
            if let Some(c) = ConfEntry::decode(&e.data) {
                self.conf_entries.insert(e.index, c.conf);
            }
        }
    }

    /// The log was cut at `from`: its configuration entries there and above are gone.
    pub(super) fn forget_conf_entries_from(&mut self, from: Index) {
        self.conf_entries.split_off(&from);
    }

    /// Puts the configuration derived from the log in force, announcing a change. A
    /// leader starts tracking new members and stops tracking removed ones.
    pub(super) fn refresh_conf(&mut self) {
        let now = self.conf_entries.values().next_back().unwrap_or(&self.conf_base);
        if *now == self.conf {
            return;
        }
        self.conf = now.clone();
        if self.role == Role::Leader {
            let me = self.cfg.id;
            let conf = &self.conf;
            self.progress.retain(|&id, _| conf.contains(id));
            let next = self.log.last_index() + 1;
            let added: Vec<NodeId> =
                conf.members().filter(|&m| m != me && !self.progress.contains_key(&m)).collect();
            for id in added {
                self.progress.insert(id, Progress::new(next));
            }
            self.broadcast_pending = true;
        }
        let index = self.last_conf_index().max(self.log.snap_index());
        self.out.push(RaftOutput::ConfChanged { conf: self.conf.clone(), index });
    }

    /// Leader, after the commit index moved: a committed enter entry is followed by
    /// the leave entry, and a leader the committed configuration removed steps down
    /// (thesis §4.2.2: it managed the cluster until C_new committed, not counting itself).
    pub(super) fn after_commit_conf(&mut self) {
        if self.role != Role::Leader || self.log.commit < self.last_conf_index() {
            return;
        }
        if self.conf.is_joint() {
            let conf = leave_joint(&self.conf);
            self.append_new(
                EntryKind::ConfChange,
                ConfEntry { conf, context: Bytes::new() }.encode(),
            );
        } else if !self.conf.is_voter(self.cfg.id) {
            self.become_follower(self.term, None, RoleReason::Removed);
        }
    }

    pub fn id(&self) -> NodeId {
        self.cfg.id
    }

    /// The configuration this node runs with.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Leader: whether member `id` answered within the last election timeout (the
    /// leader counts itself). False on other roles.
    pub fn recently_active(&self, id: NodeId) -> bool {
        if self.role != Role::Leader {
            return false;
        }
        if id == self.cfg.id {
            return true;
        }
        let since = self.now_ticks.saturating_sub(u64::from(self.cfg.election_ticks));
        self.progress.get(&id).and_then(|p| p.last_heard_tick).is_some_and(|t| t >= since)
    }

    /// Leader: the highest index known to match member `id`'s log.
    pub fn matched(&self, id: NodeId) -> Option<Index> {
        if self.role != Role::Leader {
            return None;
        }
        if id == self.cfg.id {
            return Some(self.dur.stable);
        }
        self.progress.get(&id).map(|p| p.matched)
    }

    fn step_inner(&mut self, msg: Message) {
        // A node that knows no configuration yet (one joining a running cluster)
        // hears anyone: its configuration arrives with the leader's log or snapshot.
        let joining = self.conf.voters.is_empty();
        if msg.to != self.cfg.id
            || msg.from == self.cfg.id
            || !(joining || self.is_member(msg.from))
        {
            return;
        }
        #[cfg(feature = "mutants")]
        if msg.term < self.term && crate::mutants::active(crate::mutants::Mutant::StaleTermAccepted)
        {
            if let MessageBody::Append { prev_index, prev_term, entries, commit } = msg.body {
                // Handled as if it came from the leader of our term.
                self.follow(msg.from);
                self.handle_append(msg.from, prev_index, prev_term, entries, commit);
                return;
            }
        }
        if msg.term > self.term {
            let (is_vote, transfer) = match msg.body {
                MessageBody::PreVote { .. } => (true, false),
                MessageBody::Vote { transfer, .. } => (true, transfer),
                _ => (false, false),
            };
            if is_vote && !transfer && self.in_leader_lease() {
                // §6 / thesis §4.2.3: a node that hears from a live leader ignores
                // candidates that would disrupt it. This is also what makes a lease
                // read safe when clocks agree.
                return;
            }
            match msg.body {
                MessageBody::PreVote { .. } => {}
                MessageBody::PreVoteResponse { reject: false } => {}
                MessageBody::Append { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::InstallSnapshot { .. } => {
                    self.become_follower(msg.term, Some(msg.from), RoleReason::HigherTerm)
                }
                _ => self.become_follower(msg.term, None, RoleReason::HigherTerm),
            }
        } else if msg.term < self.term {
            match msg.body {
                MessageBody::Append { .. } | MessageBody::Heartbeat { .. }
                    if self.cfg.check_quorum || self.cfg.pre_vote =>
                {
                    // A stale leader cut off for a while: tell it the newer term so it
                    // steps down, instead of leaving it unable to learn it (thesis §9.6).
                    let body = MessageBody::AppendResponse {
                        index: 0,
                        reject: true,
                        reject_hint: 0,
                        hint_term: 0,
                    };
                    self.send(msg.from, body, None);
                }
                MessageBody::PreVote { .. } => {
                    self.send(msg.from, MessageBody::PreVoteResponse { reject: true }, None);
                }
                _ => {}
            }
            return;
        }
        let from = msg.from;
        let term = msg.term;
        match msg.body {
            MessageBody::PreVote { last_index, last_term } => {
                self.handle_vote_request(from, term, last_index, last_term, true)
            }
            MessageBody::Vote { last_index, last_term, .. } => {
                self.handle_vote_request(from, term, last_index, last_term, false)
            }
            MessageBody::PreVoteResponse { reject } => {
                self.handle_vote_response(from, term, reject, true)
            }
            MessageBody::VoteResponse { reject } => {
                self.handle_vote_response(from, term, reject, false)
            }
            MessageBody::Append { prev_index, prev_term, entries, commit } => {
                self.follow(from);
                self.handle_append(from, prev_index, prev_term, entries, commit);
            }
            MessageBody::AppendResponse { index, reject, reject_hint, hint_term } => {
                self.handle_append_response(from, index, reject, reject_hint, hint_term)
            }
            MessageBody::Heartbeat { commit, ctx } => {
                self.follow(from);
                self.handle_heartbeat(from, commit, ctx);
            }
            MessageBody::HeartbeatResponse { ctx } => self.handle_heartbeat_response(from, ctx),
            MessageBody::InstallSnapshot { snapshot } => {
                self.follow(from);
                self.handle_install_snapshot(from, snapshot);
            }
            MessageBody::Propose { entries } => self.handle_forwarded_proposal(entries),
            MessageBody::ReadIndex { ctx } => self.handle_read_request(from, ctx),
            MessageBody::ReadIndexResponse { ctx, index } => self.handle_read_response(ctx, index),
            MessageBody::TimeoutNow => self.handle_timeout_now(from),
        }
    }

    /// A message only a leader of the current term sends arrived from `from`.
    fn follow(&mut self, from: NodeId) {
        if self.role == Role::Leader {
            // Two leaders in one term cannot exist; a peer claiming so is lying or
            // broken. Ignore the claim but do not crash.
            return;
        }
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(self.term, Some(from), RoleReason::LeaderHeard);
        }
        self.election_elapsed_ticks = 0;
    }

    pub(super) fn is_member(&self, id: NodeId) -> bool {
        self.conf.contains(id)
    }

    /// Whether `id` votes in the configuration in force (either half while joint).
    pub(super) fn is_voter(&self, id: NodeId) -> bool {
        self.conf.is_voter(id)
    }

    pub(super) fn hard_state(&self) -> HardState {
        HardState { term: self.term, vote: self.vote, commit: self.log.commit }
    }

    pub(super) fn send(&mut self, to: NodeId, body: MessageBody, after: Option<SyncId>) {
        let term = match body {
            MessageBody::PreVote { .. } => self.term.saturating_add(1),
            _ => self.term,
        };
        self.send_with_term(to, term, body, after);
    }

    pub(super) fn send_with_term(
        &mut self,
        to: NodeId,
        term: Term,
        body: MessageBody,
        after: Option<SyncId>,
    ) {
        let msg = Message { from: self.cfg.id, to, term, body };
        self.out.push(RaftOutput::Send { msg, after });
    }

    pub(super) fn reset_randomized_timeout(&mut self) {
        let e = self.cfg.election_ticks;
        self.randomized_timeout_ticks = self.rng.gen_range(e..2 * e);
    }

    /// Leader: appends a new entry of the current term.
    pub(super) fn append_new(&mut self, kind: EntryKind, data: Bytes) {
        let entry = Entry { term: self.term, index: self.log.last_index() + 1, kind, data };
        if kind == EntryKind::ConfChange {
            self.note_conf_entries(std::slice::from_ref(&entry));
        }
        self.log.push(entry);
        self.refresh_conf();
        self.broadcast_pending = true;
        if self.conf.is_sole_voter(self.cfg.id) {
            // Alone: nothing to wait for but our own disk.
            self.maybe_commit();
        }
    }

    /// Hands out committed, locally durable entries not yet applied.
    fn emit_apply(&mut self) {
        let hi = self.log.commit.min(self.dur.stable);
        if hi > self.log.applied {
            let entries = self.log.range(self.log.applied + 1, hi);
            self.log.applied = hi;
            self.out.push(RaftOutput::Apply(entries));
        }
    }

    fn report_role(&mut self) {
        let now = (self.role, self.term, self.leader);
        if now != self.reported {
            if (now.1, now.2) != (self.reported.1, self.reported.2) {
                self.fail_forwarded_reads();
            }
            self.reported = now;
            self.out.push(RaftOutput::RoleChanged { role: now.0, term: now.1, leader: now.2 });
        }
    }

    /// Runs after every input: announces role changes and checks invariants.
    fn finish(&mut self) {
        self.report_role();
        #[cfg(any(debug_assertions, feature = "invariants"))]
        self.check_invariants();
    }
}

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode").field("status", &self.status()).finish()
    }
}
