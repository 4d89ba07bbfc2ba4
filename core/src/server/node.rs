//! [`EtcdNode`]: one etcd member as a sans-IO state machine, and its [`Process`] impl.
//!
//! # Driver contract
//!
//! Inputs are the [`Process`] methods: `tick`, `receive` (a peer's Raft message),
//! `request` (a client request with the driver's id for it), `persisted`. After each
//! input the driver calls `drain` and carries out the effects in order (see
//! [`crate::process`]): persist, send (after its persist is durable), respond.
//!
//! What happens to a request:
//! - It is validated first; a refused request is answered at once with etcd's error.
//! - Writes (put, delete, txn with writes, compact, lease grant/revoke) are proposed
//!   through Raft, tagged with this member's proposal id. Every member applies the
//!   committed entry to its store and lease table in log order; the member that
//!   proposed it answers when it applies it. A follower's proposal is forwarded to the
//!   leader by Raft.
//! - Linearizable reads (range, read-only txn, lease time-to-live and list) ask Raft for
//!   a read index (a follower asks the leader) and are served from local state once
//!   this member applied that index. Serializable reads are served at once.
//! - A request that would wait (a proposal, a linearizable read, a leader transfer) is
//!   refused at once with `too many requests` when `pending_requests_max` requests
//!   already wait here, and a proposal also while the commit index runs more than
//!   `apply_gap_entries_max` entries ahead of the applied index.
//! - Without a known leader, writes and linearizable reads fail with `no leader`.
//!   When the term changes, requests whose fate depended on the old leader (proposals,
//!   reads without a read index yet) fail with `leader changed`; any request still
//!   unanswered after `request_timeout_ticks` fails with `request timed out`. Both are
//!   unknown outcomes: the write may still commit. No request is answered twice.
//! - Watches are served from this member's applied state; see [`super::watches`].
//!
//! Leases: only the leader expires them, from its own ticks, by proposing a revoke;
//! it proposes checkpoints of remaining TTLs every `lease_checkpoint_ticks`. A new
//! leader promotes leases once it applied an entry of its own term (so it knows every
//! grant, renewal and checkpoint before it), and counts each lease's remaining TTL from
//! when this member learned it (the grant, renewal or checkpoint applied here), never
//! from its own promotion: leader changes cannot keep a lease alive, and it leaves
//! clients `lease_promote_grace_ticks` to find it (see [`crate::lease`]).
//!
//! Keep-alives, on any member, go through the log and are answered when they apply.
//! etcd refreshes the leader's memory and replicates only periodic checkpoints, which
//! leaves a window where a renewal the client was told about is unknown to the next
//! leader, who may then expire the lease early. Here applying a keep-alive refreshes
//! the leader's in-memory expiry and records the renewal on every replica as a
//! checkpoint of the full TTL, before the client hears of it; the cost is one log entry
//! per keep-alive, about the heartbeat round a ReadIndex would cost anyway.

use super::auth::{Credential, TokenClock};
use super::config::Config;
use super::members::{
    check as check_member_op, derive_member_id, ClusterView, Member, MemberOp, MembersResponse,
};
use super::pending::{Pending, Read};
use super::proposal::{Op, Proposal, ProposalId};
use super::request::{MoveLeaderResponse, Request, Response, StatusResponse};
use super::sliced::Sliced;
use super::state::{AppState, ApplyAt};
use super::validate::{txn_writes, validate};
use super::watches::Watches;
use crate::api::{AuthBody, AuthResponse, EtcdError, RequestOp, TxnRequest, WatchResponse};
use crate::lease::{Lessor, LessorConfig};
use crate::mvcc::Store;
use crate::process::{Effect, Process, RestoreError};
use crate::raft::{
    ConfChangeOp, ConfEntry, Message, ProposeError, RaftNode, RaftOutput, Role, Status,
};
use crate::types::{
    DurableState, Entry, EntryKind, Index, NodeId, RequestId, Snapshot, SnapshotMeta, SyncId, Term,
};
use bytes::Bytes;
use std::collections::VecDeque;

/// Most leases the leader proposes to revoke per tick.
const LEASE_EXPIRIES_PER_TICK_MAX: usize = 64;
/// Rounds one `pump` may take. A round's outputs cause at most proposals and read
/// answers, whose own outputs the next round drains, so honest chains are a few rounds
/// long; this bound is far above them.
const PUMP_ROUNDS_MAX: u32 = 256;

/// One etcd member. See the module documentation for the driver contract.
pub struct EtcdNode {
    cfg: Config,
    raft: RaftNode,
    app: AppState,
    watches: Watches,
    pending: Pending,
    out: Vec<Effect<Response>>,
    watch_out: Vec<(RequestId, WatchResponse)>,
    now_ticks: u64,
    /// When each simple token was last used here (token expiry, local as in etcd).
    tokens: TokenClock,
    /// Index of the last entry applied to `app` (or of the snapshot it was restored from).
    applied: Index,
    /// Index of the last snapshot taken or restored.
    snapshot_index: Index,
    /// The entry being applied in slices, if any (see [`super::sliced`]), and the
    /// entries Raft handed out after it, waiting in log order. Bounded by Raft: it
    /// hands out only committed entries, and proposals are refused while the commit
    /// index runs `apply_gap_entries_max` ahead of `applied`.
    slicing: Option<Sliced>,
    behind: VecDeque<Entry>,
    role: Role,
    term: Term,
    leader: Option<NodeId>,
    /// Names this run of the member in proposal ids and read contexts: the configured
    /// incarnation mixed with the durable state it started from.
    incarnation: u64,
    next_seq: u64,
    next_ctx: u64,
    /// Leader: leases are promoted once an entry of this term applied, i.e. after every
    /// entry of earlier terms (grants, renewals, checkpoints) is known here.
    promote_pending: bool,
    /// The durable snapshot's state (its index and the decoded image), decoded once to
    /// check it in `new` and taken by Raft's first `RestoreSnapshot`.
    restored: Option<(Index, AppState)>,
}

impl EtcdNode {
    /// Builds a member from its configuration and everything it made durable: the
    /// state is rebuilt from the durable snapshot and the committed log after it.
    /// Durable state comes from a disk, so it is checked rather than trusted: a log that
    /// is not contiguous, a commit index past it, a snapshot image or an entry payload
    /// that does not decode is refused with a [`RestoreError`].
    pub fn new(cfg: Config, durable: DurableState) -> Result<EtcdNode, RestoreError> {
        assert!(cfg.ticks_per_second > 0, "ticks_per_second must be positive");
        assert!(cfg.request_timeout_ticks > 0, "request_timeout_ticks must be positive");
        assert!(cfg.snapshot_entries > 0, "snapshot_entries must be positive");
        let restored = check_durable(&cfg, &durable)?;
        let incarnation = incarnation_of(&cfg, &durable);
        let raft = RaftNode::new(cfg.raft.clone(), durable);
        let status = raft.status();
        let mut node = EtcdNode {
            app: AppState::new(lessor_config(&cfg)).with_initial_members(cfg.initial_member_list()),
            watches: Watches::default(),
            pending: Pending::default(),
            out: Vec::new(),
            watch_out: Vec::new(),
            now_ticks: 0,
            tokens: TokenClock::default(),
            applied: 0,
            snapshot_index: 0,
            slicing: None,
            behind: VecDeque::new(),
            role: status.role,
            term: status.term,
            leader: status.leader,
            incarnation,
            next_seq: 0,
            next_ctx: 0,
            promote_pending: false,
            restored,
            raft,
            cfg,
        };
        node.pump();
        Ok(node)
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The Raft node inside, for inspection.
    pub fn raft(&self) -> &RaftNode {
        &self.raft
    }

    /// Asks this member, if it leads, to hand leadership to `to` (an operator's or a
    /// simulator's nudge, with no client waiting). False when it cannot start.
    pub fn transfer_leader(&mut self, to: NodeId) -> bool {
        let started = self.role == Role::Leader && self.raft.transfer_leader(to).is_ok();
        self.pump();
        started
    }

    /// The host lost its connection to member `from`; when it leads us, we stop
    /// waiting for it (see [`RaftNode::leader_unreachable`]).
    pub fn leader_unreachable(&mut self, from: NodeId) {
        self.raft.leader_unreachable(from);
        self.pump();
    }

    /// The local MVCC store (as applied here).
    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// The local lease manager.
    pub fn lessor(&self) -> &Lessor {
        &self.app.lessor
    }

    /// Index of the last entry applied to the store and lease table.
    pub fn applied_index(&self) -> Index {
        self.applied
    }

    /// Requests accepted and not yet answered (open watch streams excluded).
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// A linearizable read held for a read index that Raft no longer waits for: its
    /// `ReadReady` or `ReadFailed` came and went without reaching it, so nothing but
    /// its deadline answers it. None on a correct member.
    pub fn stranded_read(&self) -> Option<RequestId> {
        let mut reads = self.pending.reads_waiting();
        reads.find(|&(ctx, _)| !self.raft.read_waiting(ctx)).map(|(_, id)| id)
    }

    /// Live watchers of this member's clients.
    pub fn watchers(&self) -> usize {
        self.watches.len()
    }

    /// Progress notices sent to watch streams that had no progress request waiting
    /// (see `Watches::unasked_notices`): 0 unless the watch hub is wrong.
    pub fn unasked_progress_notices(&self) -> u64 {
        self.watches.unasked_notices()
    }

    /// The replicated state as a snapshot image (what `Snapshot::data` carries).
    pub fn snapshot_data(&self) -> bytes::Bytes {
        self.app.snapshot()
    }

    fn deadline(&self) -> u64 {
        self.now_ticks + self.cfg.request_timeout_ticks
    }

    fn respond(&mut self, id: RequestId, mut response: Response) {
        response.stamp(
            self.cfg.cluster_id,
            self.cfg.member_id(),
            self.term,
            self.app.store.current_revision(),
        );
        self.out.push(Effect::Respond { id, response });
    }

    fn flush_watch(&mut self) {
        let responses = std::mem::take(&mut self.watch_out);
        for (id, resp) in responses {
            self.respond(id, Response::Watch(resp));
        }
    }

    fn is_learner(&self) -> bool {
        self.raft.conf().learners.contains(&self.cfg.member_id())
    }

    // ---- requests ----

    fn handle_request(&mut self, id: RequestId, request: Request) {
        assert!(!self.pending.contains(id), "request id {id} is already pending");
        let (credential, request) = match request {
            Request::As { credential, request } => (Some(credential), *request),
            request => (None, request),
        };
        if matches!(request, Request::As { .. }) {
            self.respond(id, Response::Err(EtcdError::InvalidAuthMgmt));
            return;
        }
        // What a learner serves, as etcd 3.4's interceptors allow: Status and
        // serializable ranges. Its stream interceptor refuses every streaming call but
        // Snapshot, so watches too; closing a stream is bookkeeping, never refused.
        // The interceptors run before the handlers, so a learner refuses before it
        // validates the request or looks at its credential.
        let local = matches!(
            &request,
            Request::Status
                | Request::Range(crate::api::RangeRequest { serializable: true, .. })
                | Request::WatchClose { .. }
        );
        if !local && self.is_learner() {
            self.respond(id, Response::Err(EtcdError::NotSupportedForLearner));
            return;
        }
        if let Err(e) = validate(&request, &self.cfg) {
            self.respond(id, Response::Err(e));
            return;
        }
        // Who sends it, as the auth state says now; checked again where it is served
        // or applied, so a change in between refuses it.
        let caller = match self.resolve(credential.as_ref()) {
            Ok(caller) => caller,
            Err(e) => {
                self.respond(id, Response::Err(e));
                return;
            }
        };
        let checked = self.app.auth.enabled();
        if checked && self.cfg.unsafe_auth_check_reads_on_receipt {
            if let Some(r) = self.precheck(&request, caller.as_ref()) {
                match r {
                    Ok(read) => self.linearizable(id, read),
                    Err(e) => self.respond(id, Response::Err(e)),
                }
                return;
            }
        }
        let read = |r: Read| if checked { Read::Checked(caller.clone(), Box::new(r)) } else { r };
        let c = caller.clone();
        match request {
            Request::Range(r) if r.serializable => self.serve(id, read(Read::Range(r))),
            Request::Range(r) => self.linearizable(id, read(Read::Range(r))),
            Request::Put(p) => self.propose(id, Op::Put(p), c),
            Request::DeleteRange(d) => self.propose(id, Op::DeleteRange(d), c),
            Request::Txn(t) if txn_writes(&t) => self.propose(id, Op::Txn(t), c),
            Request::Txn(t) if txn_serializable(&t) => self.serve(id, read(Read::Txn(t))),
            Request::Txn(t) => self.linearizable(id, read(Read::Txn(t))),
            Request::Compact(req) => self.propose(id, Op::Compact(req), c),
            Request::LeaseGrant(g) => self.propose(id, Op::LeaseGrant(g), c),
            Request::LeaseRevoke(r) => self.propose(id, Op::LeaseRevoke(r), c),
            Request::LeaseKeepAlive(k) => self.propose(id, Op::LeaseKeepAlive(k), c),
            Request::LeaseTimeToLive(t) => self.linearizable(id, read(Read::LeaseTimeToLive(t))),
            Request::LeaseLeases(_) => self.linearizable(id, read(Read::LeaseLeases)),
            Request::Auth(a) => self.propose(id, Op::Auth(a), c),
            Request::As { .. } => unreachable!("refused above"),
            Request::WatchCreate { stream, create } if checked => {
                let allowed = self.app.auth.check_range(
                    caller.as_ref(),
                    &create.key,
                    &create.range_end,
                    false,
                );
                match allowed {
                    Ok(()) => {
                        self.watches.create(
                            id,
                            stream,
                            &create,
                            &self.app.store,
                            &mut self.watch_out,
                        );
                        self.flush_watch();
                    }
                    Err(e) => self.respond(id, Response::Err(e)),
                }
            }
            Request::WatchCreate { stream, create } => {
                self.watches.create(id, stream, &create, &self.app.store, &mut self.watch_out);
                self.flush_watch();
            }
            Request::WatchCancel { stream, watch_id } => {
                self.watches.cancel(id, stream, watch_id, &self.app.store, &mut self.watch_out);
                self.flush_watch();
            }
            Request::WatchProgress { stream } => {
                self.watches.progress(id, stream, &self.app.store, &mut self.watch_out);
                self.flush_watch();
            }
            Request::WatchClose { stream } => {
                self.watches.close(id, stream, &self.app.store, &mut self.watch_out);
                self.flush_watch();
            }
            Request::Status => {
                let s = self.raft.status();
                let status = StatusResponse {
                    leader: s.leader.unwrap_or(0),
                    raft_index: s.commit,
                    raft_term: s.term,
                    raft_applied_index: self.applied,
                    is_learner: self.is_learner(),
                    ..StatusResponse::default()
                };
                self.respond(id, Response::Status(status));
            }
            Request::MoveLeader { target } => self.move_leader(id, target),
            Request::MemberList => {
                let members = self.app.member_list();
                let r = MembersResponse { members, ..MembersResponse::default() };
                self.respond(id, Response::Members(r));
            }
            Request::MemberAdd { peer_urls, is_learner, id: member_id } => {
                let unique = (self.incarnation << 32) ^ (self.next_seq + 1);
                let new_id = member_id
                    .unwrap_or_else(|| derive_member_id(&peer_urls, self.cfg.cluster_id, unique));
                let member = Member { id: new_id, peer_urls, is_learner, ..Member::default() };
                let step = if is_learner {
                    ConfChangeOp::AddLearner(new_id)
                } else {
                    ConfChangeOp::AddVoter(new_id)
                };
                self.change_members(id, MemberOp::Add(member), Some(step), c);
            }
            Request::MemberRemove { id: m } => {
                self.change_members(id, MemberOp::Remove(m), Some(ConfChangeOp::Remove(m)), c)
            }
            Request::MemberPromote { id: m } => {
                self.change_members(id, MemberOp::Promote(m), Some(ConfChangeOp::Promote(m)), c)
            }
            Request::MemberUpdate { id: m, peer_urls } => {
                self.change_members(id, MemberOp::Update { id: m, peer_urls }, None, c)
            }
        }
    }

    /// A membership request: checked as etcd does against the list and the leader's
    /// view of the cluster, then proposed; a change of Raft's configuration (`step`)
    /// goes as a configuration entry carrying the operation, an update as a normal
    /// entry. Only the leader knows who is started and caught up, so others refuse
    /// with `not leader` (the client retries at the leader).
    fn change_members(
        &mut self,
        id: RequestId,
        op: MemberOp,
        step: Option<ConfChangeOp>,
        caller: Option<crate::api::AuthInfo>,
    ) {
        if self.pending.len() >= self.cfg.pending_requests_max {
            self.respond(id, Response::Err(EtcdError::TooManyRequests));
            return;
        }
        if let Err(e) = self.check_membership(&op, step.is_some()) {
            self.respond(id, Response::Err(e));
            return;
        }
        let Some(step) = step else {
            self.propose(id, Op::Member(op), caller);
            return;
        };
        let pid = self.next_proposal_id();
        let context = Proposal { id: Some(pid), op: Op::Member(op.clone()), caller }.encode();
        match self.raft.propose_conf_change(&[step], context) {
            Ok(()) => {
                let deadline = self.deadline();
                self.pending.add_proposal(id, pid, Op::Member(op), deadline);
            }
            Err(e) => self.respond(id, Response::Err(propose_error(e))),
        }
    }

    /// etcd's refusals of a membership request on this member, as of now.
    fn check_membership(&self, op: &MemberOp, reconfigures: bool) -> Result<(), EtcdError> {
        if self.role != Role::Leader {
            return Err(if self.leader.is_some() {
                EtcdError::NotLeader
            } else {
                EtcdError::NoLeader
            });
        }
        if reconfigures && self.raft.conf_change_pending() {
            return Err(EtcdError::Unhealthy);
        }
        let members = self.app.member_list();
        let raft = &self.raft;
        let view = ClusterView {
            active: &|m| raft.recently_active(m),
            leader_last: raft.status().last_index,
            matched: &|m| raft.matched(m),
        };
        check_member_op(op, &members, &view)
    }

    /// An operator's membership change with no client waiting (the simulator's
    /// membership nemesis): checked like a request, then `steps` go to Raft as one
    /// joint change carrying `op` (several steps, e.g. a replace, are allowed here).
    /// The member list changes when it applies.
    pub fn change_membership(
        &mut self,
        op: MemberOp,
        steps: &[ConfChangeOp],
    ) -> Result<(), EtcdError> {
        let r = self.check_membership(&op, true).and_then(|()| {
            let context = Proposal { id: None, op: Op::Member(op), caller: None }.encode();
            self.raft.propose_conf_change(steps, context).map_err(propose_error)
        });
        self.pump();
        r
    }

    /// The member list as applied here.
    pub fn members(&self) -> Vec<Member> {
        self.app.member_list()
    }

    /// Who `credential` names now; a token must also still be alive on this member.
    fn resolve(
        &mut self,
        credential: Option<&Credential>,
    ) -> Result<Option<crate::api::AuthInfo>, EtcdError> {
        let caller = self.app.auth.resolve(credential)?;
        if let (Some(Credential::Token(token)), Some(_)) = (credential, &caller) {
            let ttl_ticks = self.token_ttl_ticks();
            self.tokens.touch(token, self.now_ticks, ttl_ticks, &self.app.auth)?;
        }
        Ok(caller)
    }

    fn token_ttl_ticks(&self) -> u64 {
        self.cfg.auth_token_ttl_secs.saturating_mul(self.cfg.ticks_per_second)
    }

    /// Whether `credential` may make administrator calls (etcd's Maintenance calls
    /// Defragment, Snapshot, Hash, HashKV and MoveLeader), as the auth state of this
    /// member says now. Always with auth off.
    pub fn check_admin(&mut self, credential: Option<&Credential>) -> Result<(), EtcdError> {
        let caller = self.resolve(credential)?;
        self.app.auth.check_admin(caller.as_ref())
    }

    /// The UNSAFE negative control of `Config::unsafe_auth_check_reads_on_receipt`:
    /// a linearizable range checked now, against this member's auth state as it is
    /// before the read index is known. None for any other request.
    fn precheck(
        &self,
        request: &Request,
        caller: Option<&crate::api::AuthInfo>,
    ) -> Option<Result<Read, EtcdError>> {
        let Request::Range(r) = request else { return None };
        if r.serializable {
            return None;
        }
        let allowed = self.app.auth.check_range(caller, &r.key, &r.range_end, false);
        Some(allowed.map(|()| Read::Prechecked(Box::new(Read::Range(r.clone())))))
    }

    fn next_proposal_id(&mut self) -> ProposalId {
        self.next_seq += 1;
        ProposalId {
            origin: self.cfg.member_id(),
            incarnation: self.incarnation,
            seq: self.next_seq,
        }
    }

    /// Refuses request `id` with `too many requests` when this member already holds
    /// `pending_requests_max` waiting requests; true if it did.
    fn refuse_when_full(&mut self, id: RequestId) -> bool {
        if self.pending.len() < self.cfg.pending_requests_max {
            return false;
        }
        self.respond(id, Response::Err(EtcdError::TooManyRequests));
        true
    }

    /// Proposes `op` for client request `id` sent by `caller`, answered when it
    /// applies here.
    fn propose(&mut self, id: RequestId, op: Op, caller: Option<crate::api::AuthInfo>) {
        if self.refuse_when_full(id) {
            return;
        }
        // As etcd: while applying lags far behind the commit index, more proposals
        // would only lengthen the queue every one of them waits behind.
        if self.raft.status().commit > self.applied.saturating_add(self.cfg.apply_gap_entries_max) {
            self.respond(id, Response::Err(EtcdError::TooManyRequests));
            return;
        }
        let pid = self.next_proposal_id();
        let data = Proposal { id: Some(pid), op: op.clone(), caller }.encode();
        match self.raft.propose(data) {
            Ok(()) => {
                let deadline = self.deadline();
                self.pending.add_proposal(id, pid, op, deadline);
            }
            Err(e) => self.respond(id, Response::Err(propose_error(e))),
        }
    }

    /// Proposes `op` on the leader's own behalf (lease expiry, checkpoints). Nobody
    /// waits: a lost proposal is made again later.
    fn propose_internal(&mut self, op: Op) {
        let data = Proposal { id: None, op, caller: None }.encode();
        let _ = self.raft.propose(data);
    }

    fn linearizable(&mut self, id: RequestId, read: Read) {
        if self.refuse_when_full(id) {
            return;
        }
        self.next_ctx += 1;
        // The incarnation in the high bits keeps a read index answered to the process
        // before a restart from being taken for one of the new process.
        let ctx = (self.incarnation << 32) ^ self.next_ctx;
        match self.raft.read_index(ctx) {
            Ok(()) => {
                let deadline = self.deadline();
                self.pending.add_read(id, ctx, read, deadline);
            }
            Err(e) => self.respond(id, Response::Err(propose_error(e))),
        }
    }

    /// Serves a read from local state now.
    fn serve(&mut self, id: RequestId, read: Read) {
        let response = self.app.serve(&read, self.now_ticks);
        self.respond(id, response);
    }

    fn serve_ready(&mut self) {
        for (id, read) in self.pending.take_ready(self.applied) {
            self.serve(id, read);
        }
    }

    fn move_leader(&mut self, id: RequestId, target: NodeId) {
        if self.role != Role::Leader {
            self.respond(id, Response::Err(EtcdError::NotLeader));
            return;
        }
        if target == self.cfg.member_id() {
            self.respond(id, Response::MoveLeader(MoveLeaderResponse::default()));
            return;
        }
        if self.refuse_when_full(id) {
            return;
        }
        match self.raft.transfer_leader(target) {
            Ok(()) => {
                let deadline = self.deadline();
                self.pending.add_transfer(id, target, deadline);
            }
            Err(ProposeError::NotVoter { .. }) => {
                self.respond(id, Response::Err(EtcdError::BadLeaderTransferee))
            }
            Err(e) => self.respond(id, Response::Err(propose_error(e))),
        }
    }

    // ---- Raft outputs ----

    /// Carries out Raft's outputs until it has nothing more to say. Applying entries and
    /// serving reads may propose (lease keep-alives re-routed), so this loops; every
    /// round drains what the previous one caused, and Raft produces nothing new once
    /// no input arrives. A chain of rounds longer than `PUMP_ROUNDS_MAX` means outputs
    /// keep causing outputs: a bug, stopped by the assert rather than a hung member.
    fn pump(&mut self) {
        let mut outputs = Vec::new();
        let mut rounds = 0;
        loop {
            self.raft.drain_holding_reads(&mut outputs);
            if outputs.is_empty() {
                break;
            }
            rounds += 1;
            assert!(
                rounds <= PUMP_ROUNDS_MAX,
                "Raft outputs keep causing outputs: {rounds} rounds"
            );
            for output in outputs.drain(..) {
                self.handle_output(output);
            }
        }
        self.flush_watch();
        #[cfg(any(debug_assertions, feature = "invariants"))]
        self.check_invariants();
    }

    fn handle_output(&mut self, output: RaftOutput) {
        match output {
            RaftOutput::Send { msg, after } => self.out.push(Effect::Send { msg, after }),
            RaftOutput::Persist(op) => self.out.push(Effect::Persist(op)),
            RaftOutput::Apply(entries) => self.apply_entries(entries),
            RaftOutput::RestoreSnapshot(snapshot) => self.restore_snapshot(snapshot),
            RaftOutput::ReadReady { ctx, index } => {
                self.pending.read_ready(ctx, index);
                self.serve_ready();
            }
            RaftOutput::ReadFailed { ctx, error } => {
                if let Some(id) = self.pending.read_failed(ctx) {
                    // The member asked for the read index no longer leads.
                    let e = match error {
                        ProposeError::NoLeader => EtcdError::NoLeader,
                        _ => EtcdError::LeaderChanged,
                    };
                    self.respond(id, Response::Err(e));
                }
            }
            RaftOutput::RoleChanged { role, term, leader } => self.role_changed(role, term, leader),
            RaftOutput::ConfChanged { .. } => {}
        }
    }

    fn apply_entries(&mut self, entries: Vec<Entry>) {
        self.behind.extend(entries);
        self.apply_behind();
    }

    /// Applies the entries handed out, in log order, until one starts to apply in
    /// slices; then tells Raft, the watches and the waiting reads.
    fn apply_behind(&mut self) {
        while self.slicing.is_none() {
            let Some(entry) = self.behind.pop_front() else { break };
            assert_eq!(entry.index, self.applied + 1, "entries must apply in order without gaps");
            match entry.kind {
                EntryKind::Normal => {
                    if !self.apply_entry(&entry) {
                        break;
                    }
                }
                EntryKind::ConfChange => self.apply_conf_entry(&entry),
                EntryKind::Noop => {}
            }
            self.entry_applied(&entry);
        }
        self.raft.advance_applied(self.applied);
        self.watches.sync(&self.app.store, &mut self.watch_out);
        self.serve_ready();
        self.maybe_snapshot();
    }

    fn entry_applied(&mut self, entry: &Entry) {
        self.applied = entry.index;
        if self.promote_pending && entry.term == self.term && self.role == Role::Leader {
            self.promote_pending = false;
            self.app.lessor.promote(self.now_ticks);
        }
    }

    /// Whether an entry is being applied in slices (the driver then calls
    /// [`EtcdNode::apply_slice`] whenever no input waits).
    pub fn applying_slices(&self) -> bool {
        self.slicing.is_some()
    }

    /// Applies one more slice of the entry being applied in slices, if any; when it is
    /// done, the entries behind it apply too.
    pub fn apply_slice(&mut self) {
        self.slice();
        self.pump();
    }

    fn slice(&mut self) {
        let Some(sliced) = self.slicing.as_mut() else { return };
        if !sliced.step(self.cfg.apply_slice_keys) {
            #[cfg(feature = "mutants")]
            if crate::mutants::active(crate::mutants::Mutant::SlicePartialVisible) {
                let mut shown = sliced.work.clone();
                let _ = sliced.delete.clone().finish_so_far(&mut shown);
                self.app.store = shown;
            }
            return;
        }
        let Sliced { entry, proposal, mut work, delete } =
            self.slicing.take().expect("the entry being sliced is there");
        let written = delete.finish(&mut work);
        // Checked not to be a repeat when it started; recorded only now, with the
        // store, so the state at `applied` is whole.
        let _ = proposal.id.map(|pid| self.app.first_application(pid));
        let response = self.app.adopt_delete(work, written);
        self.answer(&proposal, Some(response));
        self.entry_applied(&entry);
        self.apply_behind();
    }

    /// A configuration entry: Raft already runs with its configuration; the member
    /// list changes now, by the operation in its context. The entry that leaves a
    /// joint configuration has no context.
    fn apply_conf_entry(&mut self, entry: &Entry) {
        let Some(conf) = ConfEntry::decode(&entry.data) else { return };
        if conf.context.is_empty() {
            return;
        }
        self.apply_payload(entry.index, &conf.context);
    }

    /// Applies a normal entry now, or starts applying it in slices (false).
    fn apply_entry(&mut self, entry: &Entry) -> bool {
        // Every replica skips a payload it cannot read, alike.
        let Ok(proposal) = Proposal::decode_shared(&entry.data) else { return true };
        if self.may_slice(&proposal) {
            let keys = self.cfg.apply_slice_keys;
            if let Some(delete) = Sliced::plan(&proposal, &self.app.store, keys) {
                self.slicing = Some(Sliced::start(entry, proposal, &self.app.store, delete));
                #[cfg(feature = "mutants")]
                if crate::mutants::active(crate::mutants::Mutant::SliceAppliedEarly) {
                    self.applied = entry.index;
                }
                return false;
            }
        }
        self.apply_proposal(entry.index, proposal);
        true
    }

    /// Whether a proposal may apply in slices: a DeleteRange that applies (not a
    /// repeat, permitted), so that only its writes are left to do.
    fn may_slice(&self, proposal: &Proposal) -> bool {
        if self.cfg.apply_slice_keys == 0 || !matches!(proposal.op, Op::DeleteRange(_)) {
            return false;
        }
        let repeat = proposal.id.is_some_and(|pid| self.app.applied_before(pid));
        #[cfg(feature = "mutants")]
        let repeat = repeat && !crate::mutants::active(crate::mutants::Mutant::ApplyTwice);
        !repeat && self.app.permits(&proposal.op, proposal.caller.as_ref())
    }

    fn apply_payload(&mut self, index: Index, data: &Bytes) {
        // Every replica skips a payload it cannot read, alike.
        let Ok(proposal) = Proposal::decode_shared(data) else { return };
        self.apply_proposal(index, proposal);
    }

    fn apply_proposal(&mut self, index: Index, proposal: Proposal) {
        let repeat = proposal.id.is_some_and(|pid| !self.app.first_application(pid));
        #[cfg(feature = "mutants")]
        let repeat = repeat && !crate::mutants::active(crate::mutants::Mutant::ApplyTwice);
        if repeat {
            return;
        }
        let at = ApplyAt { now_ticks: self.now_ticks, index };
        let response = self.app.apply(&proposal.op, at, proposal.caller.as_ref());
        self.answer(&proposal, response);
    }

    /// After `proposal` applied with `response`: the token clock, and the answer to
    /// the client if it waits here.
    fn answer(&mut self, proposal: &Proposal, response: Option<Response>) {
        // A token's clock starts on every member when it is issued, as etcd's.
        if let Some(Response::Auth(AuthResponse { body: AuthBody::Token(token), .. })) = &response {
            let ttl_ticks = self.token_ttl_ticks();
            let _ = self.tokens.touch(token, self.now_ticks, ttl_ticks, &self.app.auth);
        }
        let (Some(pid), Some(response)) = (proposal.id, response) else { return };
        if pid.origin != self.cfg.member_id() || pid.incarnation != self.incarnation {
            return;
        }
        if let Some(id) = self.pending.take_proposal(pid, &proposal.op) {
            self.respond(id, response);
        }
    }

    fn maybe_snapshot(&mut self) {
        if self.applied < self.snapshot_index + self.cfg.snapshot_entries {
            return;
        }
        self.take_snapshot();
    }

    /// Snapshots the applied state now and compacts the log behind it (an operator's
    /// defragment: the driver's storage can then drop the log and the history a
    /// compaction removed). False when nothing was applied since the last snapshot.
    pub fn snapshot_now(&mut self) -> bool {
        if self.applied <= self.snapshot_index {
            return false;
        }
        self.take_snapshot();
        self.pump();
        true
    }

    fn take_snapshot(&mut self) {
        let snapshot = Snapshot {
            meta: SnapshotMeta { index: self.applied, ..SnapshotMeta::default() },
            data: self.app.image(),
        };
        self.snapshot_index = self.applied;
        self.raft.compact(snapshot);
    }

    fn restore_snapshot(&mut self, snapshot: Snapshot) {
        let index = snapshot.meta.index;
        self.app = match self.restored.take() {
            Some((at, app)) if at == index => app,
            _ => AppState::from_snapshot(&snapshot.data, lessor_config(&self.cfg), self.now_ticks)
                // Only a peer running this code made it: a bug, not a disk's damage.
                .unwrap_or_else(|e| panic!("snapshot image at index {index} does not decode: {e}")),
        }
        .with_initial_members(self.cfg.initial_member_list());
        // Raft restores only past its commit index, so every entry handed out before
        // is covered by the snapshot: a slice under way and the entries behind it go.
        assert!(
            self.behind.iter().all(|e| e.index <= index),
            "a snapshot at {index} behind entries already handed out"
        );
        self.slicing = None;
        self.behind.clear();
        self.applied = snapshot.meta.index;
        self.snapshot_index = snapshot.meta.index;
        self.watches.sync(&self.app.store, &mut self.watch_out);
        self.serve_ready();
    }

    fn role_changed(&mut self, role: Role, term: Term, leader: Option<NodeId>) {
        let was_leader = self.role == Role::Leader;
        let term_changed = term != self.term;
        self.role = role;
        self.term = term;
        self.leader = leader;
        if term_changed {
            for id in self.pending.take_leader_dependent() {
                self.respond(id, Response::Err(EtcdError::LeaderChanged));
            }
        }
        if role == Role::Leader && !was_leader {
            self.promote_pending = true;
        } else if role != Role::Leader {
            self.promote_pending = false;
            if was_leader {
                self.app.lessor.demote();
            }
        }
        if let Some(l) = leader {
            for id in self.pending.take_transfers_to(l) {
                self.respond(id, Response::MoveLeader(MoveLeaderResponse::default()));
            }
        }
    }

    // ---- time ----

    fn on_tick(&mut self) {
        self.now_ticks += 1;
        self.raft.tick();
        for id in self.pending.take_expired(self.now_ticks) {
            self.respond(id, Response::Err(EtcdError::Timeout));
        }
        let decides = self.app.lessor.is_primary();
        #[cfg(feature = "mutants")]
        let decides =
            decides || crate::mutants::active(crate::mutants::Mutant::LeaseExpiryOnFollower);
        if decides {
            for lease in self.app.lessor.expired(self.now_ticks, LEASE_EXPIRIES_PER_TICK_MAX) {
                self.propose_internal(Op::LeaseExpire(crate::api::LeaseExpireRequest {
                    id: lease,
                    decided_index: Some(self.applied),
                }));
            }
            if let Some(cp) = self.app.lessor.checkpoints(self.now_ticks, self.applied) {
                self.propose_internal(Op::LeaseCheckpoint(cp));
            }
        }
        let every = self.cfg.watch_progress_ticks;
        if every > 0 && self.now_ticks.is_multiple_of(every) {
            self.watches.notify_progress(&self.app.store, &mut self.watch_out);
        }
        // A driver that steps the core only on inputs still finishes a sliced entry.
        self.slice();
        self.pump();
    }

    #[cfg(any(debug_assertions, feature = "invariants"))]
    fn check_invariants(&self) {
        if !self.cfg.raft.check_invariants {
            return;
        }
        let status = self.raft.status();
        let waiting = self.behind.len() as u64 + u64::from(self.slicing.is_some());
        assert_eq!(
            self.applied + waiting,
            status.applied,
            "the store applied what Raft handed out"
        );
        if let Some(sliced) = &self.slicing {
            sliced.check(self.applied, &self.app.store);
        }
        assert!(self.applied <= status.commit, "applied beyond the commit index");
        assert!(self.snapshot_index <= self.applied, "snapshot beyond the applied index");
    }
}

/// Checks durable state before Raft sees it: its structure (`DurableState::check`),
/// then what only this node type can read: the snapshot image and every normal entry's
/// payload after it decode. Returns the decoded snapshot state so it is decoded once.
fn check_durable(
    cfg: &Config,
    durable: &DurableState,
) -> Result<Option<(Index, AppState)>, RestoreError> {
    durable.check()?;
    let snap_index = durable.snapshot.as_ref().map_or(0, |s| s.meta.index);
    let payloads = durable.entries.iter().filter(|e| e.index > snap_index);
    for e in payloads.filter(|e| e.kind == EntryKind::Normal) {
        Proposal::decode(&e.data).map_err(|why| RestoreError::EntryPayload {
            index: e.index,
            reason: why.to_string(),
        })?;
    }
    let Some(snapshot) = &durable.snapshot else { return Ok(None) };
    // Decoded at tick 0, the tick `new` restores it at.
    let app = AppState::from_snapshot(&snapshot.data, lessor_config(cfg), 0)
        .map_err(|reason| RestoreError::SnapshotImage { index: snap_index, reason })?;
    Ok(Some((snap_index, app)))
}

/// A name for this run of the member. The configured incarnation is what makes runs
/// differ; the durable state is mixed in so that a driver that forgets to bump it is
/// still protected whenever anything became durable between the two runs.
fn incarnation_of(cfg: &Config, durable: &DurableState) -> u64 {
    let hs = durable.hard_state;
    let parts = [
        cfg.incarnation,
        hs.term,
        hs.commit,
        hs.vote.unwrap_or(0),
        durable.last_index(),
        durable.snapshot.as_ref().map_or(0, |s| s.meta.index),
    ];
    // splitmix64 over the parts.
    parts.iter().fold(0x9e37_79b9_7f4a_7c15u64, |acc, &p| {
        let mut z = (acc ^ p).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// The lease manager's settings from the node's.
fn lessor_config(cfg: &Config) -> LessorConfig {
    LessorConfig {
        min_ttl_secs: cfg.lease_ttl_min_secs(),
        ticks_per_second: cfg.ticks_per_second,
        checkpoint_interval_ticks: cfg.lease_checkpoint_ticks,
        promote_grace_ticks: cfg.lease_promote_grace_ticks,
        expired_retry_ticks: cfg.request_timeout_ticks,
    }
}

/// A txn etcd serves locally: every operation is a serializable range (as etcd, a
/// nested txn or a write makes it linearizable; an empty txn is local).
fn txn_serializable(t: &TxnRequest) -> bool {
    t.success
        .iter()
        .chain(t.failure.iter())
        .all(|op| matches!(op, RequestOp::Range(r) if r.serializable))
}

/// How Raft's refusals reach a client. None of them means the request was proposed.
fn propose_error(e: ProposeError) -> EtcdError {
    match e {
        ProposeError::NoLeader | ProposeError::TransferInProgress => EtcdError::NoLeader,
        ProposeError::NotLeader { .. } => EtcdError::NotLeader,
        ProposeError::NotVoter { .. } => EtcdError::BadLeaderTransferee,
        ProposeError::ConfChangePending => EtcdError::Unhealthy,
        ProposeError::ConfChangeInvalid(_) => EtcdError::MemberNotFound,
    }
}

impl Process for EtcdNode {
    type Config = Config;
    type Request = Request;
    type Response = Response;

    fn restore(config: Config, durable: DurableState) -> Result<Self, RestoreError> {
        EtcdNode::new(config, durable)
    }

    fn tick(&mut self) {
        self.on_tick();
    }

    fn receive(&mut self, msg: Message) {
        // A snapshot image that does not decode (a peer's bug or a hostile peer) is
        // dropped before Raft adopts it: this member keeps its state and the leader
        // retries. One that decodes is kept for the restore that follows.
        if let crate::raft::MessageBody::InstallSnapshot { snapshot } = &msg.body {
            let now = self.now_ticks;
            match AppState::from_snapshot(&snapshot.data, lessor_config(&self.cfg), now) {
                Ok(app) => self.restored = Some((snapshot.meta.index, app)),
                Err(_) => return,
            }
        }
        self.raft.step(msg);
        self.pump();
        // A snapshot Raft did not adopt (stale) must not pin its image in memory.
        self.restored = None;
    }

    fn request(&mut self, id: RequestId, request: Request) {
        self.handle_request(id, request);
        self.pump();
    }

    fn persisted(&mut self, sync: SyncId) {
        self.raft.persisted(sync);
        self.pump();
    }

    /// Linearizable reads asked since the last drain share one ReadIndex round (one
    /// heartbeat to each peer, or one request to the leader): the driver drains once
    /// per turn, after every input of the turn went in.
    fn drain(&mut self, out: &mut Vec<Effect<Response>>) {
        self.raft.flush_reads();
        self.pump();
        out.append(&mut self.out);
    }

    /// Raft's status with the index this member's state has applied (Raft's own
    /// counts entries handed out, which may wait behind an entry applied in slices).
    fn status(&self) -> Status {
        Status { applied: self.applied, ..self.raft.status() }
    }

    fn entry(&self, index: Index) -> Option<&Entry> {
        self.raft.entry(index)
    }

    fn membership(&self) -> Option<(&crate::types::ConfState, bool)> {
        Some((self.raft.conf(), self.raft.conf_change_pending()))
    }

    fn stranded_request(&self) -> Option<(RequestId, &'static str)> {
        let why = "a linearizable read waiting for a read index its Raft no longer tracks";
        self.stranded_read().map(|id| (id, why))
    }

    fn state_hash(&self) -> u64 {
        self.app.hash()
    }
}

impl std::fmt::Debug for EtcdNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdNode")
            .field("status", &self.raft.status())
            .field("applied", &self.applied)
            .field("revision", &self.app.store.current_revision())
            .field("pending", &self.pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RangeRequest;
    use crate::raft::MessageBody;

    /// Member 1 of three, following member 2 in term 1.
    fn follower() -> EtcdNode {
        let cfg = Config::new(crate::raft::Config::new(1, vec![1, 2, 3], 1), 1);
        let mut node = EtcdNode::new(cfg, DurableState::default()).expect("a new member");
        let body = MessageBody::Heartbeat { commit: 0, ctx: 0 };
        node.receive(Message { from: 2, to: 1, term: 1, body });
        node
    }

    /// A read's request for a read index fails (the member asked no longer leads): the
    /// read is refused at once, and while it waited Raft tracked it. A read Raft does
    /// not wait for is stranded.
    #[test]
    fn a_read_is_tracked_until_refused_and_a_lost_one_is_stranded() {
        let mut node = follower();
        node.request(5, Request::Range(RangeRequest { key: "k".into(), ..Default::default() }));
        let mut out = Vec::new();
        node.drain(&mut out);
        let ctx = out
            .iter()
            .find_map(|e| match e {
                Effect::Send {
                    msg: Message { body: MessageBody::ReadIndex { ctx }, .. }, ..
                } => Some(*ctx),
                _ => None,
            })
            .expect("the read index is asked of the leader");
        assert_eq!(node.stranded_read(), None);
        let body = MessageBody::ReadIndexResponse { ctx, index: 0 };
        node.receive(Message { from: 2, to: 1, term: 1, body });
        out.clear();
        node.drain(&mut out);
        let refused = out.iter().any(|e| {
            matches!(
                e,
                Effect::Respond { id: 5, response: Response::Err(EtcdError::LeaderChanged) }
            )
        });
        assert!(refused, "{out:?}");
        assert_eq!(node.stranded_read(), None);

        node.pending.add_read(6, ctx + 1, Read::LeaseLeases, u64::MAX);
        assert_eq!(node.stranded_read(), Some(6));
    }
}
