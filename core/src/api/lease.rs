//! Lease service values, plus the internal checkpoint request the leader proposes.

use super::{LeaseId, ResponseHeader};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseGrantRequest {
    /// Seconds (etcd's `TTL`).
    pub ttl: i64,
    /// 0 = the server picks (etcd's `ID`).
    pub id: LeaseId,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseGrantResponse {
    pub header: ResponseHeader,
    pub id: LeaseId,
    pub ttl: i64,
    pub error: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseRevokeRequest {
    pub id: LeaseId,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseRevokeResponse {
    pub header: ResponseHeader,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseKeepAliveRequest {
    pub id: LeaseId,
}

/// `ttl` 0 means the lease does not exist (the stream stays open).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseKeepAliveResponse {
    pub header: ResponseHeader,
    pub id: LeaseId,
    pub ttl: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseTimeToLiveRequest {
    pub id: LeaseId,
    pub keys: bool,
}

/// `ttl` -1 means the lease does not exist (not an error).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseTimeToLiveResponse {
    pub header: ResponseHeader,
    pub id: LeaseId,
    pub ttl: i64,
    pub granted_ttl: i64,
    pub keys: Vec<Bytes>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseLeasesRequest {}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseStatus {
    pub id: LeaseId,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseLeasesResponse {
    pub header: ResponseHeader,
    pub leases: Vec<LeaseStatus>,
}

/// The leader's record of how long a lease has left, replicated so that a new leader
/// does not restart the lease's full TTL. Internal (no RPC carries it), so unlike
/// etcd's `remaining_TTL` it counts ticks: whole seconds would round on every
/// checkpoint and the error would add up across leader changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseCheckpoint {
    pub id: LeaseId,
    pub remaining_ticks: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseCheckpointRequest {
    pub checkpoints: Vec<LeaseCheckpoint>,
    /// The proposing leader's applied index when it computed the checkpoints: a lease
    /// granted or kept alive at a later index has a newer remaining TTL than this one,
    /// so its checkpoint is skipped. Absent in entries written before it existed (they
    /// apply unconditionally, as they did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_index: Option<u64>,
}

/// The leader's finding that a lease's TTL ran out, proposed through Raft (etcd's
/// lessor revokes an expired lease the same way). Internal: no RPC carries it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseExpireRequest {
    pub id: LeaseId,
    /// The proposing leader's applied index when it found the lease expired: a grant or
    /// keep-alive applied at a later index renewed the lease after that finding (and its
    /// client was told so), and the expiry is skipped. Absent in entries written before
    /// it existed (they expire unconditionally, as they did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_index: Option<u64>,
}
