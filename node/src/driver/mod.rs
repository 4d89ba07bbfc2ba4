//! The driver: one task that owns the sans-IO [`EtcdNode`], its outbox and its
//! storage, and carries out the core's effects in the order the core contract
//! (`detcd_core::process`) demands.
//!
//! Each turn of the loop waits for one input (a client command, a peer message or a
//! tick), takes every other input already waiting (up to a bound), then drains the
//! node's effects: sends go out through the outbox, persist requests are gathered and
//! written with one fsync (group commit), and only then is the node told they are
//! durable and the sends that waited for them released. Client answers are routed to
//! the waiting handlers.

pub mod handle;
mod memory;

pub use handle::{Command, Handle, Info, Local, WatchSink, COMMANDS_QUEUED_MAX};

use crate::disk::{DiskError, Storage};
use crate::metrics::Metrics;
use crate::peer::Peers;
use detcd_core::outbox::Outbox;
use detcd_core::process::{Effect, Process};
use detcd_core::raft::{Message, Role};
use detcd_core::server::{EtcdNode, Request, Response, StreamId};
use detcd_core::types::{PersistOp, RequestId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

/// Inputs taken in one turn before the effects are carried out: large enough to batch
/// the fsyncs of many concurrent clients, small enough to keep ticks on time.
const INPUTS_PER_TURN_MAX: usize = 1024;
/// Rounds of drain → persist → acknowledge in one turn. Each round only releases
/// what the previous one caused; the core goes quiet after a few.
const ROUNDS_PER_TURN_MAX: usize = 64;
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
}

/// What the rest of the node may observe of the driver without asking it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub leader: Option<u64>,
    pub term: u64,
    pub role_leader: bool,
}

pub struct Driver<S: Storage> {
    node: EtcdNode,
    outbox: Outbox,
    storage: S,
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
    /// A disk failure met while answering a local command; the loop stops on it.
    disk_failed: Option<DiskError>,
}

impl<S: Storage> Driver<S> {
    pub fn new(
        node: EtcdNode,
        storage: S,
        peers: Peers,
        metrics: Arc<Metrics>,
        quota_bytes: u64,
    ) -> (Driver<S>, watch::Receiver<Observed>) {
        let (observed, rx) = watch::channel(Observed::default());
        let driver = Driver {
            node,
            outbox: Outbox::new(),
            storage,
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
            disk_failed: None,
        };
        (driver, rx)
    }

    /// Runs until `shutdown` fires or the disk fails. On shutdown a leader first hands
    /// its leadership to a caught-up follower (bounded wait), so the cluster does not
    /// sit out an election timeout.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut from_peers: mpsc::Receiver<Message>,
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
                _ = ticker.tick() => {
                    self.node.tick();
                    if let Some(left) = stopping.as_mut() {
                        if *left == 0 || self.node.status().role != Role::Leader {
                            return Stopped::Shutdown;
                        }
                        *left -= 1;
                    }
                }
                Some(cmd) = commands.recv() => self.command(cmd),
                Some(msg) = from_peers.recv() => self.node.receive(msg),
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
            if let Err(e) = self.carry_out() {
                return Stopped::Disk(e);
            }
            if let Some(e) = self.disk_failed.take() {
                return Stopped::Disk(e);
            }
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

    fn local(&mut self, local: Local) {
        let store = self.node.store();
        let header = detcd_core::api::ResponseHeader {
            cluster_id: self.node.config().cluster_id,
            member_id: self.node.config().member_id(),
            revision: store.current_revision(),
            raft_term: self.node.status().term,
        };
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
                let done = self.storage.start_segment().and_then(|()| {
                    self.node.snapshot_now();
                    self.carry_out()
                });
                if let Err(e) = done {
                    warn!(error = %e, "defragment: the snapshot could not be made durable");
                    self.disk_failed = Some(e);
                }
                let _ = reply.send(self.info(header));
            }
            Local::Disarm { reply } => {
                // As etcd, the answer names the alarms deactivated; one still over quota
                // stays raised.
                let was = self.nospace;
                self.nospace = self.storage.size_bytes() > self.quota_bytes;
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
        let size = self.storage.size_bytes() as i64;
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

    /// Drains the node's effects until it is quiet: sends, group-committed persists,
    /// answers. An error means the disk failed and the member must stop.
    fn carry_out(&mut self) -> Result<(), DiskError> {
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
            if !self.ops.is_empty() {
                self.persist()?;
            }
        }
        self.observe();
        Ok(())
    }

    /// Writes the gathered persist requests with one fsync, then acknowledges the last
    /// one (acknowledging every earlier one) and releases the sends that waited.
    fn persist(&mut self) -> Result<(), DiskError> {
        let started = Instant::now();
        self.storage.persist(&self.ops)?;
        self.metrics.wal_fsync(started.elapsed());
        let last = self.ops.last().map(|op| op.sync).expect("ops is not empty");
        let snapshotted = self.ops.iter().any(|op| op.snapshot.is_some());
        self.ops.clear();
        if snapshotted {
            // The log entries the snapshot covers are gone from the core now, and the
            // ops held the last references to the old image.
            memory::release_freed();
        }
        self.outbox.persisted(last, &mut self.released);
        for msg in self.released.drain(..) {
            self.peers.send(msg);
        }
        self.node.persisted(last);
        let size = self.storage.size_bytes();
        self.metrics.db_size(size);
        if size > self.quota_bytes && !self.nospace {
            warn!(size, quota = self.quota_bytes, "storage past its quota: NOSPACE alarm raised");
            self.nospace = true;
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
