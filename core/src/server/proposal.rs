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
    RequestOp, TxnRequest,
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

    /// Like [`Proposal::decode`], but a put's value that makes up most of the payload
    /// becomes a slice of `data` instead of a copy. The store keeps the values it is
    /// handed, and the log entry holds the payload anyway: sharing keeps one buffer per
    /// write instead of two. Only large values are shared, so a value kept after its
    /// entry is gone pins at most as many other bytes as it has itself.
    pub fn decode_shared(data: &Bytes) -> Result<Proposal, String> {
        let mut proposal = Proposal::decode(data)?;
        let mut from = 0;
        match &mut proposal.op {
            Op::Put(put) => share_value(data, put, &mut from),
            Op::Txn(txn) => share_txn_values(data, txn, &mut from),
            _ => {}
        }
        Ok(proposal)
    }
}

/// Points `put.value` into `data` where the encoding holds its bytes, searching from
/// `from` on (the values of one payload are encoded in the order they are visited, so
/// the search over a whole txn stays linear) and moving `from` past it.
fn share_value(data: &Bytes, put: &mut PutRequest, from: &mut usize) {
    let len = put.value.len();
    if len == 0 || len * 2 < data.len() {
        return;
    }
    let Some(tail) = data.get(*from..) else { return };
    if let Some(at) = memchr::memmem::find(tail, &put.value) {
        let start = *from + at;
        put.value = data.slice(start..start + len);
        *from = start + len;
    }
}

fn share_txn_values(data: &Bytes, txn: &mut TxnRequest, from: &mut usize) {
    for op in txn.success.iter_mut().chain(txn.failure.iter_mut()) {
        match op {
            RequestOp::Put(put) => share_value(data, put, from),
            RequestOp::Txn(inner) => share_txn_values(data, inner, from),
            RequestOp::Range(_) | RequestOp::DeleteRange(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &[u8], value: &[u8]) -> PutRequest {
        PutRequest {
            key: Bytes::copy_from_slice(key),
            value: Bytes::copy_from_slice(value),
            ..PutRequest::default()
        }
    }

    fn proposal(op: Op) -> Proposal {
        Proposal { id: Some(ProposalId { origin: 1, incarnation: 2, seq: 3 }), op, caller: None }
    }

    /// Whether `inner` lies within `outer`'s buffer.
    fn within(outer: &Bytes, inner: &Bytes) -> bool {
        let range = outer.as_ptr_range();
        range.contains(&inner.as_ptr()) && inner.as_ptr_range().end <= range.end
    }

    #[test]
    fn a_large_put_value_is_a_slice_of_the_payload() {
        let p = proposal(Op::Put(put(b"k", &[7; 256])));
        let data = p.encode();
        let shared = Proposal::decode_shared(&data).expect("decodes");
        assert_eq!(shared, p);
        let Op::Put(got) = &shared.op else { panic!("not a put") };
        assert!(within(&data, &got.value));
        let Op::Put(copied) = &Proposal::decode(&data).expect("decodes").op else { panic!() };
        assert!(!within(&data, &copied.value), "decode copies");
    }

    #[test]
    fn a_small_value_is_copied_so_it_never_pins_its_entry() {
        let p = proposal(Op::Put(put(b"key", b"v")));
        let data = p.encode();
        let shared = Proposal::decode_shared(&data).expect("decodes");
        assert_eq!(shared, p);
        let Op::Put(got) = &shared.op else { panic!("not a put") };
        assert!(!within(&data, &got.value));
    }

    #[test]
    fn a_txn_shares_its_large_put_value_at_any_depth() {
        let inner = TxnRequest {
            compare: Vec::new(),
            success: vec![RequestOp::Put(put(b"b", &[9; 1000]))],
            failure: Vec::new(),
        };
        let txn = TxnRequest {
            compare: Vec::new(),
            success: vec![RequestOp::Put(put(b"a", b"small")), RequestOp::Txn(inner)],
            failure: vec![RequestOp::Put(put(b"c", b"other"))],
        };
        let p = proposal(Op::Txn(txn));
        let data = p.encode();
        let shared = Proposal::decode_shared(&data).expect("decodes");
        assert_eq!(shared, p);
        let Op::Txn(t) = &shared.op else { panic!("not a txn") };
        let RequestOp::Txn(inner) = &t.success[1] else { panic!("no inner txn") };
        let RequestOp::Put(big) = &inner.success[0] else { panic!("no inner put") };
        assert!(within(&data, &big.value));
        let RequestOp::Put(small) = &t.success[0] else { panic!("no put") };
        assert!(!within(&data, &small.value));
    }
}
