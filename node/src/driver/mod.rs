//! The driver: one task that owns the sans-IO [`EtcdNode`], its outbox and its
//! storage, and carries out the core's effects in the order the core contract
//! (`detcd_core::process`) demands.
//!
//! Each turn of the loop waits for one input (a client command, a peer message, a
//! tick, or the WAL writer's report), takes every other input already waiting (up to a
//! bound), then drains the node's effects: sends go out through the outbox, persist
//! requests are gathered, and client answers are routed to the waiting handlers. The
//! gathered requests go to the WAL writer as one batch with one fsync (group commit)
//! whenever it is idle; while it writes, the driver keeps stepping the core and the
//! next batch grows. Only when the writer reports a batch durable is the node told and
//! the sends that waited for it released.
//!
//! An entry the core applies in slices (a DeleteRange over many keys) moves one slice
//! per turn in which no input waits, so heartbeats and votes are answered between
//! slices, whatever the entry costs.

pub mod handle;
mod memory;
mod writer;

pub use handle::{Command, Handle, Info, Local, WatchSink, COMMANDS_QUEUED_MAX};

use crate::disk::{DiskError, Storage};
use crate::metrics::Metrics;
use crate::peer::Peers;
use crate::roster::Roster;
use detcd_core::outbox::Outbox;
use detcd_core::process::{Effect, Process};
use detcd_core::raft::{Message, Role};
use detcd_core::server::{EtcdNode, Member, Request, Response, StreamId};
use detcd_core::types::{PersistOp, RequestId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};
use writer::{Job, Written};

/// Inputs taken in one turn before the effects are carried out: large enough to batch
/// the fsyncs of many concurrent clients, small enough to keep ticks on time.
const INPUTS_PER_TURN_MAX: usize = 1024;
/// Rounds of drain in one turn. Each round only carries out what the previous one
/// caused; the core goes quiet after a few.
const ROUNDS_PER_TURN_MAX: usize = 64;
/// Operator defragments waiting for their snapshot to be durable.
const DEFRAGS_WAITING_MAX: usize = 64;
/// Heartbeats a removed member keeps running (refusing clients) before it stops, so
/// that the commit of its removal reaches the other members.
const REMOVED_GRACE_TICKS: u32 = 3;
/// Messages from peers waiting for the driver.
pub const PEER_INBOX_MAX: usize = 4096;

/// Where a request's answers go.
enum Waiter {
    Once(oneshot::Sender<Response>),
    Stream(StreamId, WatchSink),
    /// Nobody listens (a watch cancel's copy, a close's acknowledgement).
    Discard,
}

/// Why the driver stopped.
#[derive(Debug)]
pub enum Stopped {
    /// Asked to stop.
    Shutdown,
    /// The disk failed: nothing more can be made durable, so nothing more may be
    /// acknowledged.
    Disk(DiskError),
    /// This member applied its own removal from the cluster.
    Removed,
}

/// What the rest of the node may observe of the driver without asking it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub leader: Option<u64>,
    pub term: u64,
    pub role_leader: bool,
}

pub struct Driver<S: Storage + Send + 'static> {
    node: EtcdNode,
    outbox: Outbox,
    /// Until `run` hands it to the WAL writer.
    storage: Option<S>,
    /// The WAL writer's queue; set while `run` runs.
    jobs: Option<mpsc::Sender<Job>>,
    /// A batch is with the writer: the next one waits for its report.
    writing: bool,
    /// Start a new segment before the next batch (a defragment asked for it).
    segment_next: bool,
    /// Defragments answered once the next batch is durable, and those whose batch is
    /// with the writer now.
    defrags_next: Vec<oneshot::Sender<Info>>,
    defrags_writing: Vec<oneshot::Sender<Info>>,
    /// The storage's size at the writer's last report.
    size_bytes: u64,
    peers: Peers,
    metrics: Arc<Metrics>,
    waiting: BTreeMap<RequestId, Waiter>,
    next_id: RequestId,
    effects: Vec<Effect<Response>>,
    ops: Vec<PersistOp>,
    released: Vec<Message>,
    observed: watch::Sender<Observed>,
    quota_bytes: u64,
    nospace: bool,
    /// The member list as last applied here, and the applied index it was read at.
    members_seen: Vec<Member>,
    members_read_at: u64,
    roster: Arc<Roster>,
    /// Whether the applied list ever held this member (a joining member's does not
    /// until it applies its own addition).
    was_member: bool,
    /// Ticks left before a member that applied its own removal stops.
    removed_left: Option<u32>,
}

impl<S: Storage + Send + 'static> Driver<S> {
    pub fn new(
        node: EtcdNode,
        storage: S,
        peers: Peers,
        roster: Arc<Roster>,
        metrics: Arc<Metrics>,
        quota_bytes: u64,
    ) -> (Driver<S>, watch::Receiver<Observed>) {
        let (observed, rx) = watch::channel(Observed::default());
        let members_seen = node.members();
        let me = node.config().member_id();
        let driver = Driver {
            was_member: members_seen.iter().any(|m| m.id == me),
            members_read_at: node.applied_index(),
            members_seen,
            roster,
            removed_left: None,
            node,
            outbox: Outbox::new(),
            size_bytes: storage.size_bytes(),
            storage: Some(storage),
            jobs: None,
            writing: false,
            segment_next: false,
            defrags_next: Vec::new(),
            defrags_writing: Vec::new(),
            peers,
            metrics,
            waiting: BTreeMap::new(),
            next_id: 1,
            effects: Vec::new(),
            ops: Vec::new(),
            released: Vec::new(),
            observed,
            quota_bytes,
            nospace: false,
        };
        (driver, rx)
    }

    /// Runs until `shutdown` fires or the disk fails. On shutdown a leader first hands
    /// its leadership to a caught-up follower (bounded wait), so the cluster does not
    /// sit out an election timeout.
    pub async fn run(
        mut self,
        commands: mpsc::Receiver<Command>,
        from_peers: mpsc::Receiver<Message>,
        tick: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Stopped {
        let storage = self.storage.take().expect("Driver::run runs once");
        // One batch at a time is with the writer, so one slot each way is enough.
        let (jobs_tx, jobs_rx) = mpsc::channel(1);
        let (written_tx, written_rx) = mpsc::channel(1);
        let writer = tokio::spawn(writer::run(storage, jobs_rx, written_tx));
        self.jobs = Some(jobs_tx);
        let stopped = self.turns(commands, from_peers, written_rx, tick, shutdown).await;
        // Closing the queue stops the writer after the batch it holds; waiting for it
        // releases the data directory before the member reports that it stopped.
        self.jobs = None;
        let _ = writer.await;
        stopped
    }

    async fn turns(
        &mut self,
        mut commands: mpsc::Receiver<Command>,
        mut from_peers: mpsc::Receiver<Message>,
        mut written: mpsc::Receiver<Written>,
        tick: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> Stopped {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping: Option<u32> = None;
        loop {
            tokio::select! {
                biased;
                changed = shutdown.changed(), if stopping.is_none() => {
                    if changed.is_err() || *shutdown.borrow() {
                        stopping = Some(self.begin_stop());
                    }
                }
                Some(report) = written.recv() => {
                    if let Err(e) = self.written(report) {
                        return Stopped::Disk(e);
                    }
                }
                _ = ticker.tick() => {
                    self.node.tick();
                    if let Some(left) = self.removed_left.as_mut() {
                        if *left == 0 {
                            return Stopped::Removed;
                        }
                        *left -= 1;
                    }
                    if let Some(left) = stopping.as_mut() {
                        if *left == 0 || self.node.status().role != Role::Leader {
                            return Stopped::Shutdown;
                        }
                        *left -= 1;
                    }
                }
                Some(cmd) = commands.recv() => self.command(cmd),
                Some(msg) = from_peers.recv() => self.node.receive(msg),
                // Last, so any input that waits goes first: one slice of an entry the
                // core applies in slices. Yielding lets the tasks that feed the queues
                // above (peer readers, gRPC handlers) run between slices.
                _ = tokio::task::yield_now(), if self.node.applying_slices() => {
                    self.node.apply_slice();
                }
            }
            for _ in 0..INPUTS_PER_TURN_MAX {
                if let Ok(msg) = from_peers.try_recv() {
                    self.node.receive(msg);
                } else if let Ok(cmd) = commands.try_recv() {
                    self.command(cmd);
                } else {
                    break;
                }
            }
            self.carry_out();
        }
    }

    /// Starts a graceful stop: a leader transfers leadership to the most caught-up
    /// voter. Returns how many ticks to wait for the transfer.
    fn begin_stop(&mut self) -> u32 {
        let status = self.node.status();
        if status.role != Role::Leader {
            return 0;
        }
        let me = status.id;
        let target = self.node.raft().conf().voters.iter().copied().find(|&v| v != me);
        if let Some(to) = target {
            info!(to = format_args!("{to:x}"), "stopping: handing leadership over");
            self.node.transfer_leader(to);
        }
        // An election timeout's worth of ticks, as etcd waits.
        self.node.config().raft.election_ticks
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Call { request, reply } => {
                if let Some(refusal) = self.refuse(&request) {
                    let _ = reply.send(Response::Err(refusal));
                    return;
                }
                let id = self.new_id();
                self.waiting.insert(id, Waiter::Once(reply));
                self.node.request(id, request);
            }
            Command::Watch { request, reply } => {
                let id = self.new_id();
                let stream = stream_of(&request);
                let waiter = reply.map_or(Waiter::Discard, |tx| Waiter::Stream(stream, tx));
                self.waiting.insert(id, waiter);
                self.node.request(id, request);
            }
            Command::Local(local) => self.local(local),
            Command::PeerLost(from) => self.node.leader_unreachable(from),
        }
    }

    fn new_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Requests refused by the node itself rather than the core: writes while the
    /// storage is past its quota (etcd's NOSPACE alarm).
    fn refuse(&self, request: &Request) -> Option<detcd_core::api::EtcdError> {
        if !self.nospace {
            return None;
        }
        let writes = match request {
            Request::As { request, .. } => return self.refuse(request),
            Request::Put(_) | Request::LeaseGrant(_) => true,
            Request::Txn(t) => detcd_core::server::txn_writes(t) && txn_puts(t),
            _ => false,
        };
        writes.then_some(detcd_core::api::EtcdError::NoSpace)
    }

    fn header(&self) -> detcd_core::api::ResponseHeader {
        detcd_core::api::ResponseHeader {
            cluster_id: self.node.config().cluster_id,
            member_id: self.node.config().member_id(),
            revision: self.node.store().current_revision(),
            raft_term: self.node.status().term,
        }
    }

    fn local(&mut self, local: Local) {
        let store = self.node.store();
        let header = self.header();
        match local {
            Local::HashKv { revision, reply } => {
                let answer = store.hash_kv(revision).map(|mut r| {
                    r.header =
                        detcd_core::api::ResponseHeader { revision: r.header.revision, ..header };
                    r
                });
                let _ = reply.send(answer);
            }
            Local::Hash { reply } => {
                let h = self.node.state_hash();
                let _ = reply.send(((h ^ (h >> 32)) as u32, header));
            }
            Local::Snapshot { reply } => {
                let _ = reply.send((self.node.snapshot_data(), header));
            }
            Local::Info { reply } => {
                let _ = reply.send(self.info(header));
            }
            Local::CheckAdmin { credential, reply } => {
                let _ = reply.send(self.node.check_admin(credential.as_ref()));
            }
            Local::Defragment { reply } => {
                if self.defrags_next.len() >= DEFRAGS_WAITING_MAX {
                    // Enough defragments are under way; this one would change nothing.
                    let _ = reply.send(self.info(header));
                    return;
                }
                self.segment_next = true;
                self.node.snapshot_now();
                self.defrags_next.push(reply);
            }
            Local::Disarm { reply } => {
                // As etcd, the answer names the alarms deactivated; one still over quota
                // stays raised.
                let was = self.nospace;
                self.nospace = self.size_bytes > self.quota_bytes;
                let mut info = self.info(header);
                info.alarms = if was && !self.nospace {
                    vec![(self.node.config().member_id(), NOSPACE_ALARM)]
                } else {
                    Vec::new()
                };
                let _ = reply.send(info);
            }
        }
    }

    fn info(&self, header: detcd_core::api::ResponseHeader) -> Info {
        let status = self.node.status();
        let conf = self.node.raft().conf();
        let size = self.size_bytes as i64;
        let me = self.node.config().member_id();
        Info {
            header,
            leader: status.leader.unwrap_or(0),
            raft_index: status.commit,
            raft_term: status.term,
            raft_applied_index: self.node.applied_index(),
            db_size_bytes: size,
            db_size_in_use_bytes: size,
            is_learner: conf.learners.contains(&me),
            voters: conf.voters.iter().copied().collect(),
            learners: conf.learners.iter().copied().collect(),
            alarms: if self.nospace { vec![(me, NOSPACE_ALARM)] } else { Vec::new() },
        }
    }

    /// Drains the node's effects until it is quiet: sends go out (or wait in the
    /// outbox), persists gather for the writer, answers go to their handlers. Then the
    /// gathered persists go to the writer if it is idle.
    fn carry_out(&mut self) {
        for _ in 0..ROUNDS_PER_TURN_MAX {
            self.node.drain(&mut self.effects);
            if self.effects.is_empty() {
                break;
            }
            let effects = std::mem::take(&mut self.effects);
            for effect in effects {
                match effect {
                    Effect::Send { msg, after } => {
                        if let Some(msg) = self.outbox.send(msg, after) {
                            self.peers.send(msg);
                        }
                    }
                    Effect::Persist(op) => self.ops.push(op),
                    Effect::Respond { id, response } => self.route(id, response),
                }
            }
        }
        self.submit();
        self.observe();
        self.follow_members();
    }

    /// Follows the applied member list: the roster and the peer transport take its
    /// changes, and a member that applied its own removal stops serving. A removed
    /// leader first sees the change through (it leads until the configuration that
    /// leaves it out commits, then steps down); a few heartbeats more carry that
    /// commit to the others before it stops.
    fn follow_members(&mut self) {
        let applied = self.node.applied_index();
        if applied != self.members_read_at {
            self.members_read_at = applied;
            let now = self.node.members();
            let changed = now != self.members_seen;
            if changed {
                self.roster.applied(&self.members_seen, &now);
                let ids: Vec<String> = now.iter().map(|m| format!("{:x}", m.id)).collect();
                info!(members = %ids.join(","), "member list changed");
                self.members_seen = now;
            }
            let conf = self.node.raft().conf();
            if self.roster.settle(|id| conf.contains(id)) || changed {
                self.peers.update(&self.roster.peer_urls());
            }
        }
        if self.roster.me_removed() && self.removed_left.is_none() {
            warn!("a peer refused this member: it was permanently removed from the cluster");
            self.removed_left = Some(REMOVED_GRACE_TICKS);
            return;
        }
        let me = self.node.config().member_id();
        if self.members_seen.iter().any(|m| m.id == me) {
            self.was_member = true;
            return;
        }
        if !self.was_member || self.removed_left.is_some() {
            return;
        }
        if let Some((conf, pending)) = self.node.membership() {
            if self.node.status().role == Role::Leader && (pending || conf.contains(me)) {
                return;
            }
        }
        warn!("the member has been permanently removed from the cluster");
        self.roster.set_me_removed();
        self.removed_left = Some(REMOVED_GRACE_TICKS);
    }

    /// Hands the gathered persist requests to the writer as one batch, unless it is
    /// still writing the previous one (they then join the next batch).
    fn submit(&mut self) {
        if self.writing || (self.ops.is_empty() && !self.segment_next) {
            return;
        }
        let job = Job { start_segment: self.segment_next, ops: std::mem::take(&mut self.ops) };
        let jobs = self.jobs.as_ref().expect("the writer runs while the driver does");
        if jobs.try_send(job).is_err() {
            // The queue holds one batch and the writer took the last one before it
            // reported; closed means it stopped, which it only does after reporting a
            // failure the driver stops on.
            panic!("the WAL writer does not take its next batch");
        }
        self.writing = true;
        self.segment_next = false;
        self.defrags_writing.append(&mut self.defrags_next);
    }

    /// The writer's report on a batch: on success the node is told it is durable and
    /// the sends that waited for it go out; a failure stops the member.
    fn written(&mut self, report: Written) -> Result<(), DiskError> {
        self.writing = false;
        if let Err(e) = report.result {
            warn!(error = %e, "the WAL write failed; nothing more can be acknowledged");
            return Err(e);
        }
        self.metrics.wal_written(report.synced);
        if let Some(last) = report.last {
            self.outbox.persisted(last, &mut self.released);
            for msg in self.released.drain(..) {
                self.peers.send(msg);
            }
            self.node.persisted(last);
        }
        self.size_bytes = report.size_bytes;
        self.metrics.db_size(report.size_bytes);
        if report.size_bytes > self.quota_bytes && !self.nospace {
            warn!(
                size = report.size_bytes,
                quota = self.quota_bytes,
                "storage past its quota: NOSPACE alarm raised"
            );
            self.nospace = true;
        }
        if !self.defrags_writing.is_empty() {
            let info = self.info(self.header());
            for reply in self.defrags_writing.drain(..) {
                let _ = reply.send(info.clone());
            }
        }
        Ok(())
    }

    fn route(&mut self, id: RequestId, response: Response) {
        let closes = match &response {
            Response::Watch(w) => w.canceled,
            _ => true,
        };
        let waiter =
            if closes { self.waiting.remove(&id) } else { self.waiting.get(&id).map(Waiter::peek) };
        self.metrics.answered(&response);
        match waiter {
            Some(Waiter::Once(tx)) => {
                let _ = tx.send(response);
            }
            Some(Waiter::Stream(stream, sink)) => {
                // A watch stream whose client reads too slowly fills its buffer. Rather
                // than skip an event or buffer without bound, the whole stream is
                // closed: the handler ends it with an error and the client resumes
                // from the last revision it saw.
                if sink.tx.try_send(response).is_err() {
                    debug!(request = id, stream, "watch stream full or gone; closing it");
                    sink.overflow.notify_one();
                    self.waiting.retain(|_, w| !matches!(w, Waiter::Stream(s, _) if *s == stream));
                    let close = self.new_id();
                    self.waiting.insert(close, Waiter::Discard);
                    self.node.request(close, Request::WatchClose { stream });
                }
            }
            Some(Waiter::Discard) | None => {}
        }
    }

    /// Publishes leadership changes for /health and metrics.
    fn observe(&mut self) {
        let status = self.node.status();
        let now = Observed {
            leader: status.leader,
            term: status.term,
            role_leader: status.role == Role::Leader,
        };
        self.observed.send_if_modified(|seen| {
            if *seen == now {
                return false;
            }
            if seen.leader != now.leader {
                match now.leader {
                    Some(l) => {
                        self.metrics.leader_changed();
                        info!(leader = format_args!("{l:x}"), term = now.term, "leader elected");
                    }
                    None => info!(term = now.term, "lost the leader"),
                }
            }
            *seen = now.clone();
            true
        });
        self.metrics.leadership(status.leader.is_some(), status.role == Role::Leader);
        self.metrics.pending(self.node.pending_requests());
        self.metrics.indexes(status.commit, self.node.applied_index());
    }
}

impl Waiter {
    /// A stream waiter stays registered while it is answered; this clones its sender.
    fn peek(&self) -> Waiter {
        match self {
            Waiter::Stream(stream, tx) => Waiter::Stream(*stream, tx.clone()),
            Waiter::Discard => Waiter::Discard,
            Waiter::Once(_) => unreachable!("a once-answered request is removed on its answer"),
        }
    }
}

/// The watch stream a watch request belongs to.
fn stream_of(request: &Request) -> StreamId {
    match request {
        Request::WatchCreate { stream, .. }
        | Request::WatchCancel { stream, .. }
        | Request::WatchProgress { stream }
        | Request::WatchClose { stream } => *stream,
        Request::As { request, .. } => stream_of(request),
        _ => 0,
    }
}

/// etcd's NOSPACE alarm type number.
pub const NOSPACE_ALARM: i32 = 1;

/// Whether a txn puts anything (a delete-only txn may still run under NOSPACE).
fn txn_puts(t: &detcd_core::api::TxnRequest) -> bool {
    use detcd_core::api::RequestOp;
    t.success.iter().chain(t.failure.iter()).any(|op| match op {
        RequestOp::Put(_) => true,
        RequestOp::Txn(inner) => txn_puts(inner),
        _ => false,
    })
}
