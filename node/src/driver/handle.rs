//! [`Handle`]: how gRPC handlers talk to the driver task. Every call is a message on
//! one bounded channel; a full channel is answered at once with etcd's
//! `etcdserver: too many requests` instead of queueing without bound.

use crate::convert;
use crate::roster::Roster;
use detcd_core::api::{EtcdError, HashKvResponse};
use detcd_core::server::{Credential, Request, Response, StreamId};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

/// Most commands waiting for the driver before callers are refused.
pub const COMMANDS_QUEUED_MAX: usize = 8192;

/// What a handler asks the driver.
pub enum Command {
    /// A request answered once.
    Call { request: Request, reply: oneshot::Sender<Response> },
    /// A watch stream request (create, cancel, progress, close); every response the core
    /// routes to it goes to `reply`, or nowhere when `reply` is `None`.
    Watch { request: Request, reply: Option<WatchSink> },
    /// A read of this member's local state that Raft does not order.
    Local(Local),
    /// The stream from this peer broke: if it leads us, stop waiting for it.
    PeerLost(u64),
}

/// Where a watch stream's responses go, and how the driver tells the stream it fell
/// too far behind (its buffer filled) and was closed.
#[derive(Clone)]
pub struct WatchSink {
    pub tx: mpsc::Sender<Response>,
    pub overflow: Arc<tokio::sync::Notify>,
}

/// Local questions the driver answers from the state it applied.
pub enum Local {
    HashKv {
        revision: i64,
        reply: oneshot::Sender<Result<HashKvResponse, EtcdError>>,
    },
    /// A hash of the whole applied state (Maintenance.Hash).
    Hash {
        reply: oneshot::Sender<(u32, detcd_core::api::ResponseHeader)>,
    },
    /// The applied state as a snapshot image, with the header at that point.
    Snapshot {
        reply: oneshot::Sender<(bytes::Bytes, detcd_core::api::ResponseHeader)>,
    },
    /// The member's view for Status, MemberList and /health.
    Info {
        reply: oneshot::Sender<Info>,
    },
    /// Defragment: snapshot now so the storage can drop the log behind it (and the
    /// history a compaction removed); answers with the member's view afterwards.
    Defragment {
        reply: oneshot::Sender<Info>,
    },
    /// Whether `credential` may make the Maintenance calls etcd keeps for the root
    /// role (Defragment, Snapshot, Hash, HashKV, MoveLeader).
    CheckAdmin {
        credential: Option<Credential>,
        reply: oneshot::Sender<Result<(), EtcdError>>,
    },
    /// Alarm DEACTIVATE: clears NOSPACE if the storage is back under its quota (after
    /// compaction and defragment, as etcd's operators do); answers with the alarms it
    /// deactivated.
    Disarm {
        reply: oneshot::Sender<Info>,
    },
}

/// What Status and the HTTP endpoints need to know about this member.
#[derive(Clone, Debug, Default)]
pub struct Info {
    pub header: detcd_core::api::ResponseHeader,
    pub leader: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub raft_applied_index: u64,
    pub db_size_bytes: i64,
    pub db_size_in_use_bytes: i64,
    pub is_learner: bool,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Alarms raised on this member (NOSPACE).
    pub alarms: Vec<(u64, i32)>,
}

/// etcd's words for a member that applied its own removal.
pub const REMOVED_MESSAGE: &str =
    "etcdserver: the member has been permanently removed from the cluster";

/// A cheap, cloneable way to reach the driver.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    next_stream: Arc<AtomicU64>,
    /// Whether this member was removed: then every request is refused.
    roster: Arc<Roster>,
}

impl Handle {
    pub fn new(tx: mpsc::Sender<Command>, roster: Arc<Roster>) -> Handle {
        Handle { tx, next_stream: Arc::new(AtomicU64::new(1)), roster }
    }

    fn submit(&self, cmd: Command) -> Result<(), Status> {
        if self.roster.me_removed() {
            return Err(Status::unavailable(REMOVED_MESSAGE));
        }
        self.tx.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => convert::status(EtcdError::TooManyRequests),
            mpsc::error::TrySendError::Closed(_) => {
                Status::unavailable("etcdserver: server stopped")
            }
        })
    }

    /// Sends `request` and waits for its answer; an etcd error becomes its gRPC status.
    pub async fn call(&self, request: Request) -> Result<Response, Status> {
        let (reply, rx) = oneshot::channel();
        self.submit(Command::Call { request, reply })?;
        match rx.await {
            Ok(Response::Err(e)) => Err(convert::status(e)),
            Ok(r) => Ok(r),
            Err(_) => Err(Status::unavailable("etcdserver: server stopped")),
        }
    }

    /// Sends `request` and waits for its answer, an etcd error included (a member
    /// request refused with `not leader` is then forwarded to the leader).
    pub async fn ask(&self, request: Request) -> Result<Response, Status> {
        let (reply, rx) = oneshot::channel();
        self.submit(Command::Call { request, reply })?;
        rx.await.map_err(|_| Status::unavailable("etcdserver: server stopped"))
    }

    /// A new watch stream id.
    pub fn new_stream(&self) -> StreamId {
        self.next_stream.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a watch request whose responses go to `reply`.
    pub fn watch(&self, request: Request, reply: Option<WatchSink>) -> Result<(), Status> {
        self.submit(Command::Watch { request, reply })
    }

    /// A watch close must reach the driver even when the queue is full, or the
    /// stream's watchers would live on: it waits for room.
    pub async fn close_stream(&self, stream: StreamId) {
        let cmd = Command::Watch { request: Request::WatchClose { stream }, reply: None };
        let _ = self.tx.send(cmd).await;
    }

    /// Tells the driver that the stream from peer `from` ended. Dropped when the
    /// queue is full: the election timeout still notices a dead leader, later.
    pub fn peer_lost(&self, from: u64) {
        let _ = self.tx.try_send(Command::PeerLost(from));
    }

    /// Asks the driver a local question.
    pub async fn local<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Local,
    ) -> Result<T, Status> {
        let (reply, rx) = oneshot::channel();
        self.submit(Command::Local(make(reply)))?;
        rx.await.map_err(|_| Status::unavailable("etcdserver: server stopped"))
    }

    /// Refuses, with etcd's error, a caller without the root role once auth is on.
    pub async fn check_admin(&self, credential: Option<Credential>) -> Result<(), Status> {
        self.local(|reply| Local::CheckAdmin { credential, reply }).await?.map_err(convert::status)
    }

    pub async fn info(&self) -> Result<Info, Status> {
        self.local(|reply| Local::Info { reply }).await
    }
}
