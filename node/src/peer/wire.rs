//! The binary encoding of Raft messages between members: a batch of messages per
//! stream frame, each message fixed-width little-endian integers and length-prefixed
//! byte strings, behind a version byte.
//!
//! Why not CBOR (serde) any more: at 64 clients the leader spent 9 % of its CPU in the
//! CBOR codec, which walks every field through serde's visitor and copies every entry's
//! data into a fresh buffer. Why not prost: the core's types are not protobuf types, so
//! prost would add a conversion and a copy of each entry on both sides. This encoding
//! writes an entry's data once into the batch and copies it once out of the received
//! frame, into a buffer of its own size.
//!
//! Everything is untrusted: every length and count is checked against the bytes that
//! remain before it is used, so a corrupt or hostile frame is a [`WireError`], never a
//! panic or an allocation the frame cannot back. The version byte lets a member refuse
//! a peer speaking another encoding with a clear error instead of misreading it.

use crate::disk::codec::{self, decode_meta, encode_meta, Malformed, Reader};
use bytes::{BufMut, Bytes, BytesMut};
use detcd_core::raft::{Message, MessageBody};
use detcd_core::types::{Entry, EntryKind, Snapshot};

/// The encoding this member speaks; the first byte of every batch.
pub const WIRE_VERSION: u8 = 1;

/// Most messages one batch may hold (the sender stops adding at this count).
pub const BATCH_MESSAGES_MAX: usize = 512;

/// Smallest encoding of one message: from, to, term, kind.
const MESSAGE_BYTES_MIN: usize = 8 + 8 + 8 + 1;

/// Why a batch from a peer did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The first byte names an encoding this member does not speak.
    Version(u8),
    /// The bytes do not form a batch of this encoding.
    Malformed(&'static str),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Version(v) => {
                write!(f, "peer speaks wire version {v}, this member speaks {WIRE_VERSION}")
            }
            WireError::Malformed(why) => write!(f, "malformed peer batch: {why}"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<Malformed> for WireError {
    fn from(m: Malformed) -> WireError {
        WireError::Malformed(m.0)
    }
}

const K_PRE_VOTE: u8 = 1;
const K_PRE_VOTE_RESPONSE: u8 = 2;
const K_VOTE: u8 = 3;
const K_VOTE_RESPONSE: u8 = 4;
const K_APPEND: u8 = 5;
const K_APPEND_RESPONSE: u8 = 6;
const K_HEARTBEAT: u8 = 7;
const K_HEARTBEAT_RESPONSE: u8 = 8;
const K_INSTALL_SNAPSHOT: u8 = 9;
const K_PROPOSE: u8 = 10;
const K_READ_INDEX: u8 = 11;
const K_READ_INDEX_RESPONSE: u8 = 12;
const K_TIMEOUT_NOW: u8 = 13;

/// Builds one batch: [`Batch::push`] messages, then [`Batch::finish`]. The buffer's
/// capacity is kept from batch to batch.
pub struct Batch {
    buf: BytesMut,
    count: u32,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

impl Batch {
    pub fn new() -> Batch {
        let mut b = Batch { buf: BytesMut::new(), count: 0 };
        b.start();
        b
    }

    fn start(&mut self) {
        self.buf.put_u8(WIRE_VERSION);
        self.buf.put_u32_le(0);
        self.count = 0;
    }

    /// Messages pushed since the last `finish`.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes encoded so far.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn push(&mut self, msg: &Message) {
        encode_message(&mut self.buf, msg);
        self.count += 1;
    }

    /// The encoded batch; the builder is empty again.
    pub fn finish(&mut self) -> Bytes {
        self.buf[1..5].copy_from_slice(&self.count.to_le_bytes());
        let out = self.buf.split().freeze();
        self.start();
        out
    }
}

/// One message as a batch of one.
pub fn encode(msg: &Message) -> Bytes {
    let mut b = Batch::new();
    b.push(msg);
    b.finish()
}

/// Decodes a batch. Entry data are copied out of `batch`, each into a buffer of its
/// own size: `batch` is a slice of the transport's read buffer, and a slice of it
/// would keep that whole buffer (other frames, heartbeats) alive for as long as the
/// log keeps the entry. A snapshot's data, most of its batch, stays a slice.
pub fn decode(batch: Bytes) -> Result<Vec<Message>, WireError> {
    let mut r = Reader::new(batch);
    let version = r.u8()?;
    if version != WIRE_VERSION {
        return Err(WireError::Version(version));
    }
    let count = r.len()?;
    if count > r.remaining() / MESSAGE_BYTES_MIN {
        return Err(WireError::Malformed("message count exceeds the batch"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(decode_message(&mut r)?);
    }
    r.finish()?;
    Ok(out)
}

fn encode_message(buf: &mut BytesMut, msg: &Message) {
    buf.put_u64_le(msg.from);
    buf.put_u64_le(msg.to);
    buf.put_u64_le(msg.term);
    match &msg.body {
        MessageBody::PreVote { last_index, last_term } => {
            buf.put_u8(K_PRE_VOTE);
            buf.put_u64_le(*last_index);
            buf.put_u64_le(*last_term);
        }
        MessageBody::PreVoteResponse { reject } => {
            buf.put_u8(K_PRE_VOTE_RESPONSE);
            buf.put_u8(u8::from(*reject));
        }
        MessageBody::Vote { last_index, last_term, transfer } => {
            buf.put_u8(K_VOTE);
            buf.put_u64_le(*last_index);
            buf.put_u64_le(*last_term);
            buf.put_u8(u8::from(*transfer));
        }
        MessageBody::VoteResponse { reject } => {
            buf.put_u8(K_VOTE_RESPONSE);
            buf.put_u8(u8::from(*reject));
        }
        MessageBody::Append { prev_index, prev_term, entries, commit } => {
            buf.put_u8(K_APPEND);
            buf.put_u64_le(*prev_index);
            buf.put_u64_le(*prev_term);
            buf.put_u64_le(*commit);
            encode_entries(buf, entries);
        }
        MessageBody::AppendResponse { index, reject, reject_hint, hint_term } => {
            buf.put_u8(K_APPEND_RESPONSE);
            buf.put_u64_le(*index);
            buf.put_u8(u8::from(*reject));
            buf.put_u64_le(*reject_hint);
            buf.put_u64_le(*hint_term);
        }
        MessageBody::Heartbeat { commit, ctx } => {
            buf.put_u8(K_HEARTBEAT);
            buf.put_u64_le(*commit);
            buf.put_u64_le(*ctx);
        }
        MessageBody::HeartbeatResponse { ctx } => {
            buf.put_u8(K_HEARTBEAT_RESPONSE);
            buf.put_u64_le(*ctx);
        }
        MessageBody::InstallSnapshot { snapshot } => {
            buf.put_u8(K_INSTALL_SNAPSHOT);
            let mut meta = Vec::new();
            encode_meta(&mut meta, &snapshot.meta);
            buf.put_slice(&meta);
            // A u64 length: an image may outgrow the u32 that entries use. An image
            // taken here is encoded now, on the link task, not held encoded.
            let data = snapshot.data.to_bytes();
            buf.put_u64_le(data.len() as u64);
            buf.put_slice(&data);
        }
        MessageBody::Propose { entries } => {
            buf.put_u8(K_PROPOSE);
            encode_entries(buf, entries);
        }
        MessageBody::ReadIndex { ctx } => {
            buf.put_u8(K_READ_INDEX);
            buf.put_u64_le(*ctx);
        }
        MessageBody::ReadIndexResponse { ctx, index } => {
            buf.put_u8(K_READ_INDEX_RESPONSE);
            buf.put_u64_le(*ctx);
            buf.put_u64_le(*index);
        }
        MessageBody::TimeoutNow => buf.put_u8(K_TIMEOUT_NOW),
    }
}

fn encode_entries(buf: &mut BytesMut, entries: &[Entry]) {
    buf.put_u32_le(u32::try_from(entries.len()).expect("fewer than 2^32 entries in a message"));
    for e in entries {
        buf.put_u64_le(e.term);
        buf.put_u64_le(e.index);
        buf.put_u8(match e.kind {
            EntryKind::Normal => 0,
            EntryKind::Noop => 1,
            EntryKind::ConfChange => 2,
        });
        let len = u32::try_from(e.data.len()).expect("an entry smaller than 4 GiB");
        buf.put_u32_le(len);
        buf.put_slice(&e.data);
    }
}

fn decode_message(r: &mut Reader) -> Result<Message, WireError> {
    let from = r.u64()?;
    let to = r.u64()?;
    let term = r.u64()?;
    let body = match r.u8()? {
        K_PRE_VOTE => MessageBody::PreVote { last_index: r.u64()?, last_term: r.u64()? },
        K_PRE_VOTE_RESPONSE => MessageBody::PreVoteResponse { reject: r.bool()? },
        K_VOTE => {
            MessageBody::Vote { last_index: r.u64()?, last_term: r.u64()?, transfer: r.bool()? }
        }
        K_VOTE_RESPONSE => MessageBody::VoteResponse { reject: r.bool()? },
        K_APPEND => {
            let prev_index = r.u64()?;
            let prev_term = r.u64()?;
            let commit = r.u64()?;
            MessageBody::Append { prev_index, prev_term, entries: decode_entries(r)?, commit }
        }
        K_APPEND_RESPONSE => MessageBody::AppendResponse {
            index: r.u64()?,
            reject: r.bool()?,
            reject_hint: r.u64()?,
            hint_term: r.u64()?,
        },
        K_HEARTBEAT => MessageBody::Heartbeat { commit: r.u64()?, ctx: r.u64()? },
        K_HEARTBEAT_RESPONSE => MessageBody::HeartbeatResponse { ctx: r.u64()? },
        K_INSTALL_SNAPSHOT => {
            let meta = decode_meta(r)?;
            let len = usize::try_from(r.u64()?)
                .map_err(|_| WireError::Malformed("snapshot length does not fit in memory"))?;
            let data = r.bytes_exact(len)?;
            MessageBody::InstallSnapshot { snapshot: Snapshot { meta, data: data.into() } }
        }
        K_PROPOSE => MessageBody::Propose { entries: decode_entries(r)? },
        K_READ_INDEX => MessageBody::ReadIndex { ctx: r.u64()? },
        K_READ_INDEX_RESPONSE => MessageBody::ReadIndexResponse { ctx: r.u64()?, index: r.u64()? },
        K_TIMEOUT_NOW => MessageBody::TimeoutNow,
        _ => return Err(WireError::Malformed("unknown message kind")),
    };
    Ok(Message { from, to, term, body })
}

fn decode_entries(r: &mut Reader) -> Result<Vec<Entry>, WireError> {
    Ok(codec::decode_entries(r, "entry count exceeds the batch")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use detcd_core::types::{ConfState, SnapshotMeta};

    fn entry(index: u64, data: &'static [u8]) -> Entry {
        Entry { term: 2, index, kind: EntryKind::Normal, data: Bytes::from_static(data) }
    }

    /// One message of every kind.
    fn every_kind() -> Vec<Message> {
        let bodies = vec![
            MessageBody::PreVote { last_index: 7, last_term: 2 },
            MessageBody::PreVoteResponse { reject: true },
            MessageBody::Vote { last_index: 7, last_term: 2, transfer: true },
            MessageBody::VoteResponse { reject: false },
            MessageBody::Append {
                prev_index: 6,
                prev_term: 2,
                entries: vec![
                    entry(7, b"put a"),
                    Entry { term: 3, index: 8, kind: EntryKind::Noop, data: Bytes::new() },
                    Entry {
                        term: 3,
                        index: 9,
                        kind: EntryKind::ConfChange,
                        data: Bytes::from_static(b"conf"),
                    },
                ],
                commit: 5,
            },
            MessageBody::AppendResponse { index: 9, reject: true, reject_hint: 4, hint_term: 1 },
            MessageBody::Heartbeat { commit: 9, ctx: 12 },
            MessageBody::HeartbeatResponse { ctx: 12 },
            MessageBody::InstallSnapshot {
                snapshot: Snapshot {
                    meta: SnapshotMeta {
                        index: 100,
                        term: 3,
                        conf: ConfState {
                            voters: [1, 2].into(),
                            learners: [3].into(),
                            voters_outgoing: [1, 4].into(),
                        },
                    },
                    data: Bytes::from_static(b"image").into(),
                },
            },
            MessageBody::Propose { entries: vec![entry(0, b"forwarded")] },
            MessageBody::ReadIndex { ctx: u64::MAX },
            MessageBody::ReadIndexResponse { ctx: 5, index: 0 },
            MessageBody::TimeoutNow,
        ];
        bodies.into_iter().map(|body| Message { from: 1, to: 2, term: 3, body }).collect()
    }

    fn batch_of(msgs: &[Message]) -> Bytes {
        let mut b = Batch::new();
        for m in msgs {
            b.push(m);
        }
        b.finish()
    }

    #[test]
    fn every_kind_round_trips_in_one_batch() {
        let msgs = every_kind();
        assert_eq!(decode(batch_of(&msgs)), Ok(msgs));
    }

    #[test]
    fn the_builder_starts_over_after_finish() {
        let msgs = every_kind();
        let mut b = Batch::new();
        b.push(&msgs[0]);
        let first = b.finish();
        assert!(b.is_empty());
        b.push(&msgs[1]);
        b.push(&msgs[2]);
        assert_eq!(decode(first), Ok(vec![msgs[0].clone()]));
        assert_eq!(decode(b.finish()), Ok(msgs[1..3].to_vec()));
    }

    #[test]
    fn entry_data_do_not_keep_the_batch_alive() {
        let msgs = every_kind();
        let bytes = batch_of(&msgs[4..5]);
        let range = bytes.as_ptr_range();
        let decoded = decode(bytes.clone()).expect("decodes");
        let MessageBody::Append { entries, .. } = &decoded[0].body else { panic!("not append") };
        assert!(!range.contains(&entries[0].data.as_ptr()), "entry data share the batch");
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let bytes = batch_of(&every_kind());
        for len in 0..bytes.len() {
            assert!(decode(bytes.slice(..len)).is_err(), "a prefix of {len} bytes decoded");
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut v = batch_of(&every_kind()).to_vec();
        v.push(0);
        assert_eq!(
            decode(Bytes::from(v)),
            Err(WireError::Malformed("unexpected bytes after the record"))
        );
    }

    #[test]
    fn another_version_is_refused_by_name() {
        let mut v = encode(&every_kind()[0]).to_vec();
        v[0] = 0xa5;
        let e = decode(Bytes::from(v)).unwrap_err();
        assert_eq!(e, WireError::Version(0xa5));
        assert!(e.to_string().contains("wire version 165"), "{e}");
    }

    #[test]
    fn huge_counts_are_refused_without_allocating() {
        let mut v = vec![WIRE_VERSION];
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(Bytes::from(v)),
            Err(WireError::Malformed("message count exceeds the batch"))
        );
        // An append claiming 2^32-1 entries in a few bytes.
        let mut v = vec![WIRE_VERSION];
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&[0; 24]);
        v.push(K_APPEND);
        v.extend_from_slice(&[0; 24]);
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(Bytes::from(v)),
            Err(WireError::Malformed("entry count exceeds the batch"))
        );
    }

    #[test]
    fn unknown_kinds_and_flags_are_refused() {
        let mut v = encode(&every_kind()[0]).to_vec();
        v[5 + 24] = 200;
        assert_eq!(decode(Bytes::from(v)), Err(WireError::Malformed("unknown message kind")));
        let mut v = encode(&every_kind()[1]).to_vec();
        v[5 + 25] = 2;
        assert_eq!(decode(Bytes::from(v)), Err(WireError::Malformed("boolean is neither 0 nor 1")));
    }

    /// Every single-byte corruption of a batch either decodes or is refused: none
    /// panics (a cheap exhaustive fuzz over one batch of every kind).
    #[test]
    fn no_byte_flip_panics() {
        let bytes = batch_of(&every_kind()).to_vec();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut v = bytes.clone();
                v[i] ^= flip;
                let _ = decode(Bytes::from(v));
            }
        }
    }
}
