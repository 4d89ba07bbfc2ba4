//! What goes into the Raft log: a replicated operation tagged with who proposed it, so
//! that the proposing member (and only it) answers the client when the entry applies.
//!
//! Payloads are a compact binary format behind a format byte (layout in `format`,
//! writing in `encode`, bounds-checked reading in `decode`). Why not CBOR any more: it
//! carried ~110 bytes of field names and tags beside every put's value, for as long as
//! the log (and, with a shared value, the store) kept it, and its serde walk was 4.6 %
//! of the leader's CPU at 64 clients. Why not prost: the core's types are not protobuf
//! types, so it would add a mirror type and a conversion on both sides, and the core
//! knows nothing of the gRPC layer. Payloads written as CBOR by earlier builds are
//! still read (`legacy`), so their data directories replay.
//!
//! The tag is (origin member, incarnation, sequence number). The incarnation differs at
//! every restart (see `Config::incarnation`), so an entry proposed before a crash and
//! applied after it never matches a request of the new process; the applying member
//! also compares the operation itself before answering.

mod decode;
mod encode;
mod format;
mod legacy;

pub use format::TXN_DEPTH_MAX;

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
    /// The bytes that go into the log, in one buffer of exactly their size: the entry
    /// lives in the Raft log until a snapshot covers it, and spare capacity would stay
    /// allocated all that time.
    pub fn encode(&self) -> Bytes {
        let mut counter = encode::Counter::default();
        encode::proposal(&mut counter, self);
        let mut buf = Vec::with_capacity(counter.0);
        encode::proposal(&mut buf, self);
        debug_assert_eq!(buf.len(), counter.0, "counting and writing walk the same fields");
        Bytes::from(buf)
    }

    /// Reads an entry's payload, or says why it is not a proposal (a corrupted or
    /// foreign entry). Every byte string is copied out of `data`.
    pub fn decode(data: &[u8]) -> Result<Proposal, PayloadError> {
        Self::decode_from(data, None)
    }

    /// Like [`Proposal::decode`], but a put's value that makes up at least half of the
    /// payload becomes a slice of `data` instead of a copy. The store keeps the values
    /// it is handed, and the log entry holds the payload anyway: sharing keeps one
    /// buffer per write instead of two. Only large values are shared, so a value kept
    /// after its entry is gone pins at most as many other bytes as it has itself.
    pub fn decode_shared(data: &Bytes) -> Result<Proposal, PayloadError> {
        Self::decode_from(data, Some(data))
    }

    fn decode_from(data: &[u8], shared: Option<&Bytes>) -> Result<Proposal, PayloadError> {
        match data.first() {
            None => Err(PayloadError::Empty),
            Some(&format::FORMAT_BINARY) => {
                decode::proposal(&mut decode::Reader::new(data, shared))
            }
            Some(&b) if legacy::is_cbor(b) => match shared {
                Some(shared) => legacy::decode_shared(shared),
                None => legacy::decode(data),
            },
            Some(&b) => Err(PayloadError::UnknownFormat(b)),
        }
    }
}

/// Why an entry's payload is not a proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// The entry carries no bytes (Raft's own empty entries never reach a decoder).
    Empty,
    /// The first byte names no payload format this build reads (a newer build's
    /// entry, or damage).
    UnknownFormat(u8),
    /// The bytes do not form a proposal of the binary format.
    Malformed(&'static str),
    /// A CBOR payload of an earlier build that does not decode.
    Cbor(String),
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadError::Empty => write!(f, "empty payload"),
            PayloadError::UnknownFormat(b) => {
                write!(
                    f,
                    "unknown payload format {b:#04x} (this build writes {:#04x})",
                    format::FORMAT_BINARY
                )
            }
            PayloadError::Malformed(why) => write!(f, "malformed payload: {why}"),
            PayloadError::Cbor(why) => {
                write!(f, "malformed CBOR payload of an earlier build: {why}")
            }
        }
    }
}

impl std::error::Error for PayloadError {}

#[cfg(test)]
mod tests;
