//! What goes into the Raft log: a replicated operation tagged with who proposed it, so
//! that the proposing member (and only it) answers the client when the entry applies.
//!
//! Payloads are CBOR (compact, byte strings stay bytes, self-describing so a decoder
//! never misreads a foreign payload as a proposal).
//!
//! The tag is (origin member, incarnation, sequence number). The incarnation differs at
//! every restart (see `Config::incarnation`), so an entry proposed before a crash and
//! applied after it never matches a request of the new process; the applying member
//! also compares the operation itself before answering.

use super::members::MemberOp;
use crate::api::{
    AuthInfo, AuthRequest, CompactionRequest, DeleteRangeRequest, LeaseCheckpointRequest,
    LeaseExpireRequest, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, PutRequest,
    TxnRequest,
};
use crate::types::NodeId;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Identifies one proposal across the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProposalId {
    pub origin: NodeId,
    pub incarnation: u64,
    pub seq: u64,
}

/// An operation every replica applies, in log order, to its store and lease table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(CompactionRequest),
    /// `id` is never 0 here: the proposer picks one when the client did not.
    LeaseGrant(LeaseGrantRequest),
    LeaseRevoke(LeaseRevokeRequest),
    /// Proposed by the leader for leases whose TTL ran out; deletes their keys unless
    /// the lease was renewed after the leader's finding.
    LeaseExpire(LeaseExpireRequest),
    /// The leader's periodic record of remaining TTLs.
    LeaseCheckpoint(LeaseCheckpointRequest),
    /// A keep-alive: applying it refreshes the leader's expiry and records the renewal
    /// (a checkpoint of the full TTL, and its index) on every replica.
    LeaseKeepAlive(LeaseKeepAliveRequest),
    /// An Auth RPC (user, role and permission changes, enabling, tokens).
    Auth(AuthRequest),
    /// A change of the member list. Add, remove and promote ride in the context of a
    /// Raft configuration entry; an update is a normal entry.
    Member(MemberOp),
}

/// One log entry's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// `None` for proposals no client waits for (lease expiry, checkpoints).
    pub id: Option<ProposalId>,
    pub op: Op,
    /// Who proposed it, as resolved when auth was enabled; checked again when it
    /// applies. Absent (and not encoded) otherwise, so the log of a cluster without
    /// auth is as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<AuthInfo>,
}

impl Proposal {
    /// The bytes that go into the log.
    pub fn encode(&self) -> Bytes {
        let mut buf = Vec::new();
        // Serializing plain data into a Vec cannot fail.
        ciborium::into_writer(self, &mut buf).expect("a proposal always serializes");
        // The entry lives in the Raft log until a snapshot covers it; the Vec's doubling
        // growth would otherwise keep up to twice its length allocated all that time.
        buf.shrink_to_fit();
        Bytes::from(buf)
    }

    /// Reads an entry's payload, or says why it is not a proposal (a corrupted or
    /// foreign entry).
    pub fn decode(data: &[u8]) -> Result<Proposal, String> {
        ciborium::from_reader(data).map_err(|e| e.to_string())
    }
}
