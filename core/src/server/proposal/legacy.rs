//! Reading payloads written by earlier builds, which encoded proposals as CBOR (serde),
//! so a data directory they left replays under this build. Nothing writes CBOR any
//! more; this goes once no such directory needs to start.
//!
//! A CBOR proposal is a map, so its first byte lies in 0xa0..=0xbf and never equals
//! the binary format's byte.

use super::{Op, PayloadError, Proposal};
use crate::api::{PutRequest, RequestOp, TxnRequest};
use bytes::Bytes;

/// Whether `first`, a payload's first byte, starts a CBOR map.
pub(super) fn is_cbor(first: u8) -> bool {
    first >> 5 == 5
}

pub(super) fn decode(data: &[u8]) -> Result<Proposal, PayloadError> {
    ciborium::from_reader(data).map_err(|e| PayloadError::Cbor(e.to_string()))
}

/// Like [`decode`], with a put's value that makes up at least half the payload
/// pointing into `data`. CBOR lays out each value as its bytes after a length header,
/// in the order the values are visited, so each is found by a search that starts
/// after the previous one.
pub(super) fn decode_shared(data: &Bytes) -> Result<Proposal, PayloadError> {
    let mut proposal = decode(data)?;
    let mut from = 0;
    match &mut proposal.op {
        Op::Put(put) => share_value(data, put, &mut from),
        Op::Txn(txn) => share_txn_values(data, txn, &mut from),
        _ => {}
    }
    Ok(proposal)
}

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
