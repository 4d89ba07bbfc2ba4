//! The payload format's edges: sharing of large values, the CBOR payloads of earlier
//! builds, and the typed errors of damaged bytes. Round trips of arbitrary operations
//! and random bytes are the property tests in `core/tests/proposal_codec.rs`.

use super::*;
use crate::api::{LeaseCheckpoint, PutRequest, RequestOp, TxnRequest};

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

fn cbor(p: &Proposal) -> Bytes {
    let mut buf = Vec::new();
    ciborium::into_writer(p, &mut buf).expect("serializes");
    Bytes::from(buf)
}

fn malformed(data: &[u8]) -> Option<&'static str> {
    match Proposal::decode(data) {
        Err(PayloadError::Malformed(why)) => Some(why),
        _ => None,
    }
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

/// The figure the format exists for: a put of an 8-byte key and a 256-byte value
/// carries 22 bytes besides them here, where CBOR carried 110.
#[test]
fn a_put_payload_is_its_key_and_value_and_a_few_bytes() {
    let mut p = proposal(Op::Put(put(b"key00001", &[1; 256])));
    p.id = Some(ProposalId { origin: u64::MAX, incarnation: 7, seq: 1_000_000 });
    let data = p.encode();
    // Format and flags, origin (10), incarnation (1), seq (3), op tag, two lengths
    // (1 and 2), lease, put flags.
    assert_eq!(data.len(), 8 + 256 + 2 + 10 + 1 + 3 + 1 + 3 + 1 + 1);
    assert_eq!(cbor(&p).len(), 8 + 256 + 110);
}

#[test]
fn payloads_of_earlier_builds_are_read_and_share_their_value() {
    let mut p = proposal(Op::Put(put(b"k", &[5; 300])));
    p.caller = Some(AuthInfo { user: "alice".into(), revision: 4 });
    let old = cbor(&p);
    assert_eq!(Proposal::decode(&old), Ok(p.clone()));
    let shared = Proposal::decode_shared(&old).expect("decodes");
    assert_eq!(shared, p);
    let Op::Put(got) = &shared.op else { panic!("not a put") };
    assert!(within(&old, &got.value));
    let checkpoint = proposal(Op::LeaseCheckpoint(LeaseCheckpointRequest {
        checkpoints: vec![LeaseCheckpoint { id: 3, remaining_ticks: 90 }],
        decided_index: Some(12),
    }));
    assert_eq!(Proposal::decode(&cbor(&checkpoint)), Ok(checkpoint));
    let damaged = &old[..old.len() - 1];
    assert!(matches!(Proposal::decode(damaged), Err(PayloadError::Cbor(_))));
}

#[test]
fn an_unknown_format_or_no_bytes_is_a_typed_error() {
    assert_eq!(Proposal::decode(&[]), Err(PayloadError::Empty));
    assert_eq!(Proposal::decode(&[2, 0, 1]), Err(PayloadError::UnknownFormat(2)));
    let err = Proposal::decode(&[0x7f]).expect_err("not a format");
    assert_eq!(err.to_string(), "unknown payload format 0x7f (this build writes 0x01)");
}

#[test]
fn every_truncation_and_any_trailing_byte_is_refused() {
    let txn = TxnRequest {
        compare: vec![crate::api::Compare::default()],
        success: vec![RequestOp::Put(put(b"a", b"1"))],
        failure: vec![RequestOp::Range(crate::api::RangeRequest::default())],
    };
    let mut p = proposal(Op::Txn(txn));
    p.caller = Some(AuthInfo { user: "u".into(), revision: 1 });
    let data = p.encode();
    for len in 0..data.len() {
        assert!(Proposal::decode(&data[..len]).is_err(), "prefix of {len} bytes decoded");
    }
    let mut longer = data.to_vec();
    longer.push(0);
    assert_eq!(malformed(&longer), Some("unexpected bytes after the operation"));
}

#[test]
fn integers_have_one_encoding_and_fit_64_bits() {
    // Format, flags 0, a lease revoke of id 1 written as 0x81 0x00 (two bytes for 1).
    let revoke = |id: &[u8]| [&[format::FORMAT_BINARY, 0, format::OP_LEASE_REVOKE], id].concat();
    assert!(Proposal::decode(&revoke(&[2])).is_ok());
    assert_eq!(malformed(&revoke(&[0x82, 0x00])), Some("integer is not in its shortest form"));
    let mut too_long = vec![0xff; 9];
    too_long.push(0x02);
    assert_eq!(malformed(&revoke(&too_long)), Some("integer overflows 64 bits"));
    let mut max = vec![0xff; 9];
    max.push(0x01);
    let Ok(p) = Proposal::decode(&revoke(&max)) else { panic!("u64::MAX decodes") };
    assert_eq!(p.op, Op::LeaseRevoke(crate::api::LeaseRevokeRequest { id: i64::MIN }));
}

#[test]
fn a_count_larger_than_the_payload_is_refused_before_allocating() {
    // A lease checkpoint claiming u64::MAX checkpoints in a few bytes.
    let mut data = vec![format::FORMAT_BINARY, 0, format::OP_LEASE_CHECKPOINT];
    data.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert_eq!(malformed(&data), Some("length or count exceeds the payload"));
}

#[test]
fn txn_nesting_is_bounded() {
    let nest = |depth: usize| {
        let mut t = TxnRequest::default();
        for _ in 1..depth {
            t = TxnRequest { success: vec![RequestOp::Txn(t)], ..TxnRequest::default() };
        }
        proposal(Op::Txn(t))
    };
    let deepest = nest(TXN_DEPTH_MAX);
    assert_eq!(Proposal::decode(&deepest.encode()), Ok(deepest));
    assert_eq!(malformed(&nest(TXN_DEPTH_MAX + 1).encode()), Some("txn nested too deep"));
}

#[test]
fn text_must_be_utf8() {
    let p = proposal(Op::Auth(AuthRequest::RoleAdd { name: "ab".into() }));
    let mut data = p.encode().to_vec();
    let at = data.len() - 1;
    data[at] = 0xff;
    assert_eq!(malformed(&data), Some("text is not UTF-8"));
}
