//! The compact binary encoding of WAL record payloads and snapshot metadata:
//! fixed-width little-endian integers, byte strings as a u32 length then the bytes.
//! Decoding checks every length against the bytes that remain before using it, so a
//! corrupt length can neither panic nor make us allocate what the disk claims.

use bytes::Bytes;
use detcd_core::types::{ConfState, Entry, EntryKind, HardState, PersistOp, SnapshotMeta};

/// Why a payload did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed(pub &'static str);

const KIND_CRC: u8 = 1;
const KIND_HARD_STATE: u8 = 2;
const KIND_OP: u8 = 3;

const OP_HAS_HARD_STATE: u8 = 1;
const OP_HAS_SNAPSHOT: u8 = 2;
const FLAG_VOTE: u8 = 1;

/// Smallest encoding of one entry: term, index, kind, data length.
const ENTRY_BYTES_MIN: usize = 8 + 8 + 1 + 4;

/// A snapshot marker: the snapshot's metadata (its data lives in the snap file) and
/// whether the log entries above it were kept when it was installed. Recording that
/// outcome lets replay reproduce it after the segments holding the entry it was
/// decided on have been removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Marker {
    pub meta: SnapshotMeta,
    pub kept_log: bool,
}

/// One persist op as it sits in the WAL. A whole op is one record so a torn tail loses
/// all of it or none: a hard state without its entries, or entries of a term whose hard
/// state never reached the disk, are states no acknowledged history can leave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OpRecord {
    pub hard_state: Option<HardState>,
    pub snapshot: Option<Marker>,
    pub entries: Vec<Entry>,
}

/// A decoded WAL record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// First record of every segment: the running CRC the previous segment ended with.
    Crc(u32),
    /// Second record of every segment: the hard state at the cut, so removing older
    /// segments never loses it.
    HardState(HardState),
    Op(OpRecord),
}

pub(crate) fn encode_crc(buf: &mut Vec<u8>, crc: u32) {
    buf.push(KIND_CRC);
    buf.extend_from_slice(&crc.to_le_bytes());
}

pub(crate) fn encode_hard_state_record(buf: &mut Vec<u8>, hs: &HardState) {
    buf.push(KIND_HARD_STATE);
    encode_hard_state(buf, hs);
}

/// Encodes `op`, with `kept_log` the outcome of its snapshot (ignored without one).
pub(crate) fn encode_op(buf: &mut Vec<u8>, op: &PersistOp, kept_log: bool) {
    buf.push(KIND_OP);
    let mut flags = 0;
    if op.hard_state.is_some() {
        flags |= OP_HAS_HARD_STATE;
    }
    if op.snapshot.is_some() {
        flags |= OP_HAS_SNAPSHOT;
    }
    buf.push(flags);
    if let Some(hs) = &op.hard_state {
        encode_hard_state(buf, hs);
    }
    if let Some(snap) = &op.snapshot {
        encode_meta(buf, &snap.meta);
        buf.push(u8::from(kept_log));
    }
    put_len(buf, op.entries.len());
    for e in &op.entries {
        buf.extend_from_slice(&e.term.to_le_bytes());
        buf.extend_from_slice(&e.index.to_le_bytes());
        buf.push(match e.kind {
            EntryKind::Normal => 0,
            EntryKind::Noop => 1,
            EntryKind::ConfChange => 2,
        });
        put_len(buf, e.data.len());
        buf.extend_from_slice(&e.data);
    }
}

/// Decodes one record payload. `payload` is a slice of the segment's buffer; entry data
/// is copied out of it, because the store keeps slices of applied payloads (large put
/// values, `Proposal::decode_shared`) long after the log drops the entry, and a slice
/// of the segment would keep the whole segment's buffer alive with it.
pub(crate) fn decode_record(payload: Bytes) -> Result<Record, Malformed> {
    let mut r = Reader::new(payload);
    let record = match r.u8()? {
        KIND_CRC => Record::Crc(r.u32()?),
        KIND_HARD_STATE => Record::HardState(decode_hard_state(&mut r)?),
        KIND_OP => Record::Op(decode_op(&mut r)?),
        _ => return Err(Malformed("unknown record kind")),
    };
    r.finish()?;
    Ok(record)
}

fn decode_op(r: &mut Reader) -> Result<OpRecord, Malformed> {
    let flags = r.u8()?;
    if flags & !(OP_HAS_HARD_STATE | OP_HAS_SNAPSHOT) != 0 {
        return Err(Malformed("unknown op flags"));
    }
    let hard_state =
        if flags & OP_HAS_HARD_STATE != 0 { Some(decode_hard_state(r)?) } else { None };
    let snapshot = if flags & OP_HAS_SNAPSHOT != 0 {
        let meta = decode_meta(r)?;
        let kept_log = r.bool()?;
        Some(Marker { meta, kept_log })
    } else {
        None
    };
    let entries = decode_entries(r, "entry count exceeds the record")?;
    Ok(OpRecord { hard_state, snapshot, entries })
}

/// Log entries as the WAL and the peer wire both lay them out: a count, then each
/// entry's term, index, kind and length-prefixed data. The data is copied out, so a
/// kept entry never pins the segment or frame it was read from. `too_many` names the
/// container a count larger than its remaining bytes could hold overruns.
pub(crate) fn decode_entries(
    r: &mut Reader,
    too_many: &'static str,
) -> Result<Vec<Entry>, Malformed> {
    let count = r.len()?;
    if count > r.remaining() / ENTRY_BYTES_MIN {
        return Err(Malformed(too_many));
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let term = r.u64()?;
        let index = r.u64()?;
        let kind = match r.u8()? {
            0 => EntryKind::Normal,
            1 => EntryKind::Noop,
            2 => EntryKind::ConfChange,
            _ => return Err(Malformed("unknown entry kind")),
        };
        let data = Bytes::copy_from_slice(&r.bytes()?);
        entries.push(Entry { term, index, kind, data });
    }
    Ok(entries)
}

fn encode_hard_state(buf: &mut Vec<u8>, hs: &HardState) {
    buf.extend_from_slice(&hs.term.to_le_bytes());
    buf.push(if hs.vote.is_some() { FLAG_VOTE } else { 0 });
    buf.extend_from_slice(&hs.vote.unwrap_or(0).to_le_bytes());
    buf.extend_from_slice(&hs.commit.to_le_bytes());
}

fn decode_hard_state(r: &mut Reader) -> Result<HardState, Malformed> {
    let term = r.u64()?;
    let has_vote = match r.u8()? {
        0 => false,
        FLAG_VOTE => true,
        _ => return Err(Malformed("unknown vote flag")),
    };
    let vote = r.u64()?;
    let commit = r.u64()?;
    Ok(HardState { term, vote: has_vote.then_some(vote), commit })
}

/// Encodes snapshot metadata (shared by WAL markers and snap file headers).
pub(crate) fn encode_meta(buf: &mut Vec<u8>, meta: &SnapshotMeta) {
    buf.extend_from_slice(&meta.index.to_le_bytes());
    buf.extend_from_slice(&meta.term.to_le_bytes());
    for set in [&meta.conf.voters, &meta.conf.learners, &meta.conf.voters_outgoing] {
        put_len(buf, set.len());
        for id in set {
            buf.extend_from_slice(&id.to_le_bytes());
        }
    }
}

pub(crate) fn decode_meta(r: &mut Reader) -> Result<SnapshotMeta, Malformed> {
    let index = r.u64()?;
    let term = r.u64()?;
    let mut conf = ConfState::default();
    for set in [&mut conf.voters, &mut conf.learners, &mut conf.voters_outgoing] {
        let count = r.len()?;
        if count > r.remaining() / 8 {
            return Err(Malformed("member count exceeds the record"));
        }
        for _ in 0..count {
            set.insert(r.u64()?);
        }
    }
    Ok(SnapshotMeta { index, term, conf })
}

fn put_len(buf: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("a record field longer than 4 GiB");
    buf.extend_from_slice(&len.to_le_bytes());
}

/// A bounds-checked cursor over bytes read from disk.
pub(crate) struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Reader {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        if n > self.remaining() {
            return Err(Malformed("field runs past the end of the record"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn bool(&mut self) -> Result<bool, Malformed> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Malformed("boolean is neither 0 nor 1")),
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn len(&mut self) -> Result<usize, Malformed> {
        usize::try_from(self.u32()?).map_err(|_| Malformed("length does not fit in memory"))
    }

    /// A length-prefixed byte string, sharing the underlying buffer.
    pub(crate) fn bytes(&mut self) -> Result<Bytes, Malformed> {
        let n = self.len()?;
        self.bytes_exact(n)
    }

    pub(crate) fn bytes_exact(&mut self, n: usize) -> Result<Bytes, Malformed> {
        if n > self.remaining() {
            return Err(Malformed("byte string runs past the end of the record"));
        }
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Insists nothing is left over: trailing bytes mean we misread the record.
    pub(crate) fn finish(&self) -> Result<(), Malformed> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(Malformed("unexpected bytes after the record"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detcd_core::types::Snapshot;

    fn sample_op() -> PersistOp {
        PersistOp {
            sync: 9,
            hard_state: Some(HardState { term: 3, vote: Some(2), commit: 7 }),
            snapshot: Some(Snapshot {
                meta: SnapshotMeta { index: 5, term: 2, conf: ConfState::with_voters([1, 2, 3]) },
                data: Bytes::from_static(b"image").into(),
            }),
            entries: vec![
                Entry { term: 3, index: 6, kind: EntryKind::Noop, data: Bytes::new() },
                Entry { term: 3, index: 7, kind: EntryKind::Normal, data: Bytes::from("put") },
            ],
        }
    }

    #[test]
    fn op_round_trips() {
        let op = sample_op();
        let mut buf = Vec::new();
        encode_op(&mut buf, &op, true);
        let Ok(Record::Op(rec)) = decode_record(Bytes::from(buf)) else {
            panic!("did not decode as an op");
        };
        assert_eq!(rec.hard_state, op.hard_state);
        assert_eq!(rec.entries, op.entries);
        let meta = op.snapshot.map(|s| s.meta);
        assert_eq!(rec.snapshot, meta.map(|meta| Marker { meta, kept_log: true }));
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let mut buf = Vec::new();
        encode_op(&mut buf, &sample_op(), false);
        for len in 0..buf.len() {
            let cut = Bytes::copy_from_slice(&buf[..len]);
            assert!(decode_record(cut).is_err(), "prefix of {len} bytes decoded");
        }
    }

    #[test]
    fn huge_counts_are_refused_without_allocating() {
        let mut buf = vec![KIND_OP, 0];
        buf.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_record(Bytes::from(buf)),
            Err(Malformed("entry count exceeds the record"))
        );
    }
}
