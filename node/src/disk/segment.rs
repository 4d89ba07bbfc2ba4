//! WAL segment files: their names, and reading one back into records.
//!
//! A segment is `<seq:016x>-<index:016x>.wal`: `seq` counts segments without gaps and
//! `index` is the first log index expected in it (informational). It opens with a CRC
//! record carrying the running CRC the previous segment ended with, then the hard state
//! at the cut. Only the newest segment may end in a torn write; anywhere else a bad
//! record is corruption.

use super::codec::{decode_record, Record};
use super::error::DiskError;
use super::frame::{read_frame, FrameError, LEN_FIELD_BYTES};
use bytes::Bytes;
use std::path::Path;

pub(crate) fn segment_name(seq: u64, index: u64) -> String {
    format!("{seq:016x}-{index:016x}.wal")
}

/// `(seq, index)` from a segment file name, or None for any other file.
pub(crate) fn parse_segment_name(name: &str) -> Option<(u64, u64)> {
    parse_pair(name.strip_suffix(".wal")?)
}

/// Two 16-digit hex numbers joined by a dash (shared with snapshot names).
pub(crate) fn parse_pair(stem: &str) -> Option<(u64, u64)> {
    let (a, b) = stem.split_once('-')?;
    if a.len() != 16 || b.len() != 16 {
        return None;
    }
    Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?))
}

/// One segment read back.
pub(crate) struct Scanned {
    /// Each good record with the byte offset of its frame.
    pub records: Vec<(u64, Record)>,
    /// The running CRC after the last good record.
    pub end_crc: u32,
    /// Where a torn tail starts, when the segment has one (only ever the last one).
    pub torn_at: Option<(u64, &'static str)>,
}

/// Reads segment `path` whose bytes are `buf`. `prev_crc` is the running CRC the
/// previous segment ended with (None for the oldest one kept). `is_last`: whether a
/// damaged final record is a torn write to cut away rather than corruption.
pub(crate) fn scan(
    path: &Path,
    buf: &Bytes,
    prev_crc: Option<u32>,
    is_last: bool,
) -> Result<Scanned, DiskError> {
    let mut records = Vec::new();
    let mut crc: Option<u32> = None;
    let mut at = 0;
    let mut torn_at = None;
    while at < buf.len() {
        let bad = match read_frame(buf, at) {
            Ok(frame) => {
                let chained = match crc {
                    Some(c) => Some(c),
                    None => chain_start(&frame.record),
                };
                if chained.is_some_and(|c| frame.verifies(c)) {
                    let record = decode_record(frame.record.clone()).map_err(|m| {
                        DiskError::corrupt(path, at as u64, format!("undecodable record: {}", m.0))
                    })?;
                    if crc.is_none() {
                        check_continues(path, &record, prev_crc)?;
                    }
                    records.push((at as u64, record));
                    crc = Some(frame.crc);
                    at = frame.end;
                    continue;
                }
                Some(("CRC mismatch", frame.end))
            }
            Err(FrameError::Zero) => Some((FrameError::Zero.why(), at)),
            Err(e @ FrameError::PastEnd) => Some((e.why(), buf.len())),
            Err(e @ FrameError::BadPadding { end }) => Some((e.why(), end)),
            // A length field written only in part, then zeros: torn if nothing follows.
            Err(e @ FrameError::BadLength) => Some((e.why(), at + LEN_FIELD_BYTES)),
        };
        if let Some((why, end)) = bad {
            // A write cut short leaves its record damaged and nothing but zeros (or
            // nothing) after it; damage followed by data is not a torn write.
            let only_zeros_after = buf[end.min(buf.len())..].iter().all(|&b| b == 0);
            if is_last && only_zeros_after {
                torn_at = Some((at as u64, why));
                break;
            }
            return Err(DiskError::corrupt(path, at as u64, why));
        }
    }
    debug_assert!(at.is_multiple_of(LEN_FIELD_BYTES) || torn_at.is_some());
    if records.is_empty() && !is_last {
        return Err(DiskError::corrupt(path, 0, "segment holds no records"));
    }
    let end_crc = crc.or(prev_crc).unwrap_or(0);
    Ok(Scanned { records, end_crc, torn_at })
}

/// Where a segment's chain starts: the value its first record, a CRC record, carries.
fn chain_start(record: &Bytes) -> Option<u32> {
    match decode_record(record.clone()) {
        Ok(Record::Crc(carried)) => Some(carried),
        _ => None,
    }
}

/// A segment's first record must carry the CRC the previous segment ended with.
fn check_continues(path: &Path, first: &Record, prev_crc: Option<u32>) -> Result<(), DiskError> {
    match (first, prev_crc) {
        (Record::Crc(carried), Some(prev)) if *carried != prev => Err(DiskError::corrupt(
            path,
            0,
            format!(
                "segment starts from CRC {carried:08x} but the previous segment ended \
                 with {prev:08x} (a segment is missing or was replaced)"
            ),
        )),
        (Record::Crc(_), _) => Ok(()),
        _ => Err(DiskError::corrupt(path, 0, "segment does not start with a CRC record")),
    }
}
