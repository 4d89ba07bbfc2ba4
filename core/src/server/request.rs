//! What a client asks an etcd server node and what it gets back: one enum each over
//! the etcd v3 API values in `crate::api`.
//!
//! Every request is answered with exactly one `Effect::Respond`, except a watch create:
//! its request id stays open as the watch's stream and receives `Response::Watch` again
//! and again (first `created`, then events, progress notices) until a response with
//! `canceled == true` closes it.

use super::auth::Credential;
use super::members::MembersResponse;
use crate::api::{
    AuthRequest, AuthResponse, CompactionRequest, CompactionResponse, DeleteRangeRequest,
    DeleteRangeResponse, EtcdError, LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest,
    LeaseKeepAliveResponse, LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest,
    LeaseRevokeResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, PutRequest, PutResponse,
    RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse, WatchCreateRequest,
    WatchId, WatchResponse,
};
use crate::types::{Index, NodeId};
use serde::{Deserialize, Serialize};

/// Names a client's watch stream (one gRPC `Watch` call). Watch ids are unique within
/// a stream; a progress request answers for every watcher of its stream.
pub type StreamId = u64;

/// An etcd API request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Range(RangeRequest),
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(CompactionRequest),
    LeaseGrant(LeaseGrantRequest),
    LeaseRevoke(LeaseRevokeRequest),
    /// One keep-alive of a `LeaseKeepAlive` stream (the stream itself is the adapter's).
    LeaseKeepAlive(LeaseKeepAliveRequest),
    LeaseTimeToLive(LeaseTimeToLiveRequest),
    LeaseLeases(LeaseLeasesRequest),
    /// Starts a watcher on `stream`. This request id receives the watcher's responses
    /// until one has `canceled` set.
    WatchCreate {
        stream: StreamId,
        create: WatchCreateRequest,
    },
    /// Cancels watcher `watch_id` of `stream`. Answered on this request id, and the
    /// watcher's own stream gets a final `canceled` response.
    WatchCancel {
        stream: StreamId,
        watch_id: WatchId,
    },
    /// Asks for a progress notice: answered on this request id with `watch_id == -1`
    /// and the revision every watcher of the stream has been brought up to.
    WatchProgress {
        stream: StreamId,
    },
    /// The client's stream ended: cancels every watcher of `stream` (each create id gets
    /// its final `canceled` response). Answered once, `canceled` with `watch_id == -1`.
    WatchClose {
        stream: StreamId,
    },
    /// Maintenance.Status of this member.
    Status,
    /// Maintenance.MoveLeader: hand leadership to `target` (only the leader may).
    MoveLeader {
        target: NodeId,
    },
    /// An Auth RPC; replicated through the log.
    Auth(AuthRequest),
    /// Cluster.MemberAdd. `id` is the new member's id when the caller chose one;
    /// otherwise it is derived from the URLs, the cluster and the proposal.
    MemberAdd {
        peer_urls: Vec<String>,
        is_learner: bool,
        id: Option<NodeId>,
    },
    /// Cluster.MemberRemove.
    MemberRemove {
        id: NodeId,
    },
    /// Cluster.MemberUpdate: new peer URLs.
    MemberUpdate {
        id: NodeId,
        peer_urls: Vec<String>,
    },
    /// Cluster.MemberPromote: a learner that caught up becomes a voter.
    MemberPromote {
        id: NodeId,
    },
    /// Cluster.MemberList, from this member's applied state.
    MemberList,
    /// `request` sent with a token or a certificate user. With auth enabled, a request
    /// without one is checked as from nobody (`user name is empty`).
    As {
        credential: Credential,
        request: Box<Request>,
    },
}

impl Request {
    /// A short name of the request kind, for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Range(_) => "range",
            Request::Put(_) => "put",
            Request::DeleteRange(_) => "delete_range",
            Request::Txn(_) => "txn",
            Request::Compact(_) => "compact",
            Request::LeaseGrant(_) => "lease_grant",
            Request::LeaseRevoke(_) => "lease_revoke",
            Request::LeaseKeepAlive(_) => "lease_keep_alive",
            Request::LeaseTimeToLive(_) => "lease_time_to_live",
            Request::LeaseLeases(_) => "lease_leases",
            Request::WatchCreate { .. } => "watch_create",
            Request::WatchCancel { .. } => "watch_cancel",
            Request::WatchProgress { .. } => "watch_progress",
            Request::WatchClose { .. } => "watch_close",
            Request::Status => "status",
            Request::MoveLeader { .. } => "move_leader",
            Request::Auth(_) => "auth",
            Request::MemberAdd { .. } => "member_add",
            Request::MemberRemove { .. } => "member_remove",
            Request::MemberUpdate { .. } => "member_update",
            Request::MemberPromote { .. } => "member_promote",
            Request::MemberList => "member_list",
            Request::As { request, .. } => request.kind(),
        }
    }

    /// Whether the request opens a stream answered many times (see the module docs).
    pub fn is_stream(&self) -> bool {
        match self {
            Request::As { request, .. } => request.is_stream(),
            r => matches!(r, Request::WatchCreate { .. }),
        }
    }
}

/// Maintenance.Status of one member (the fields a sans-IO node knows).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub header: ResponseHeader,
    pub leader: NodeId,
    pub raft_index: Index,
    pub raft_term: u64,
    pub raft_applied_index: Index,
    pub is_learner: bool,
}

/// Maintenance.MoveLeader's answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveLeaderResponse {
    pub header: ResponseHeader,
}

/// The answer to a [`Request`].
///
/// `Err` with `LeaderChanged` or `Timeout` is an unknown outcome: the request may or may
/// not have taken effect (it may even still take effect later), so a client must not
/// read either as "did not happen". `NoLeader` from a write was never proposed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Range(RangeResponse),
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact(CompactionResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
    LeaseKeepAlive(LeaseKeepAliveResponse),
    LeaseTimeToLive(LeaseTimeToLiveResponse),
    LeaseLeases(LeaseLeasesResponse),
    Watch(WatchResponse),
    Status(StatusResponse),
    MoveLeader(MoveLeaderResponse),
    Auth(AuthResponse),
    Members(MembersResponse),
    Err(EtcdError),
}

impl Response {
    /// The error, if this is one.
    pub fn err(&self) -> Option<EtcdError> {
        match self {
            Response::Err(e) => Some(*e),
            _ => None,
        }
    }

    /// Whether a client cannot tell if the request took effect: `leader changed` and
    /// `request timed out` (a write may still commit later). Every other error means
    /// the request had no effect.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Response::Err(EtcdError::LeaderChanged | EtcdError::Timeout))
    }

    /// Fills the header's cluster, member and term, and the revision if the store left
    /// it unset.
    pub fn stamp(&mut self, cluster_id: u64, member_id: u64, raft_term: u64, revision: i64) {
        let header = match self {
            Response::Range(r) => &mut r.header,
            Response::Put(r) => &mut r.header,
            Response::DeleteRange(r) => &mut r.header,
            Response::Txn(r) => &mut r.header,
            Response::Compact(r) => &mut r.header,
            Response::LeaseGrant(r) => &mut r.header,
            Response::LeaseRevoke(r) => &mut r.header,
            Response::LeaseKeepAlive(r) => &mut r.header,
            Response::LeaseTimeToLive(r) => &mut r.header,
            Response::LeaseLeases(r) => &mut r.header,
            Response::Watch(r) => &mut r.header,
            Response::Status(r) => &mut r.header,
            Response::MoveLeader(r) => &mut r.header,
            Response::Auth(r) => &mut r.header,
            Response::Members(r) => &mut r.header,
            Response::Err(_) => return,
        };
        header.cluster_id = cluster_id;
        header.member_id = member_id;
        header.raft_term = raft_term;
        if header.revision == 0 {
            header.revision = revision;
        }
    }
}
