//! WAL framing: how one record sits in a segment.
//!
//! ```text
//! length field  u64 LE: low 56 bits = body length, top byte = 0x80 | padding bytes
//! body          crc u32 LE, then the record (kind byte + payload)
//! padding       zeros up to the next multiple of 8
//! ```
//!
//! Frames start 8-byte aligned, so a length field never straddles a sector and cannot
//! be torn; a zero length field is where a log that ended early stops. The CRC is
//! CRC32C chained over every earlier record: it starts from the previous record's CRC,
//! so a record cannot be dropped, duplicated or reordered without detection.

use bytes::Bytes;

pub(crate) const LEN_FIELD_BYTES: usize = 8;
const CRC_BYTES: usize = 4;
const LEN_MASK: u64 = (1 << 56) - 1;
const PADDED_FLAG: u8 = 0x80;

/// Reserves room for a frame's header; write the record after it, then `end_frame`.
pub(crate) fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.resize(start + LEN_FIELD_BYTES + CRC_BYTES, 0);
    start
}

/// Finishes the frame begun at `start` (its record is everything written since), pads
/// it, and returns the running CRC after it.
pub(crate) fn end_frame(out: &mut Vec<u8>, start: usize, prev_crc: u32) -> u32 {
    let record_at = start + LEN_FIELD_BYTES + CRC_BYTES;
    let crc = crc32c::crc32c_append(prev_crc, &out[record_at..]);
    let body = (out.len() - start - LEN_FIELD_BYTES) as u64;
    assert!(body <= LEN_MASK, "a WAL record of {body} bytes");
    let pad = (8 - body % 8) % 8;
    let field = body | (u64::from(PADDED_FLAG | pad as u8) << 56);
    out[start..start + LEN_FIELD_BYTES].copy_from_slice(&field.to_le_bytes());
    out[start + LEN_FIELD_BYTES..record_at].copy_from_slice(&crc.to_le_bytes());
    out.resize(out.len() + pad as usize, 0);
    crc
}

/// A frame read back: its stored CRC, its record and where the next frame starts.
pub(crate) struct Frame {
    pub crc: u32,
    pub record: Bytes,
    pub end: usize,
}

impl Frame {
    /// Whether the stored CRC is the one chained from `prev_crc`.
    pub(crate) fn verifies(&self, prev_crc: u32) -> bool {
        crc32c::crc32c_append(prev_crc, &self.record) == self.crc
    }
}

/// Why no frame could be read at an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The length field is zero: nothing was written here.
    Zero,
    /// The frame claims more bytes than the file holds.
    PastEnd,
    /// The length field is not one we write.
    BadLength,
    /// Padding that should be zeros is not; `end` is where the frame would end.
    BadPadding { end: usize },
}

impl FrameError {
    pub(crate) fn why(self) -> &'static str {
        match self {
            FrameError::Zero => "zero length field",
            FrameError::PastEnd => "record runs past the end of the file",
            FrameError::BadLength => "malformed length field",
            FrameError::BadPadding { .. } => "non-zero padding",
        }
    }
}

/// Reads the frame at `at` (8-byte aligned, before the end of `buf`).
pub(crate) fn read_frame(buf: &Bytes, at: usize) -> Result<Frame, FrameError> {
    let rest = &buf[at..];
    let Some(field) = rest.get(..LEN_FIELD_BYTES) else {
        return Err(FrameError::PastEnd);
    };
    let mut raw = [0; LEN_FIELD_BYTES];
    raw.copy_from_slice(field);
    let field = u64::from_le_bytes(raw);
    if field == 0 {
        return Err(FrameError::Zero);
    }
    let top = (field >> 56) as u8;
    let body = field & LEN_MASK;
    let pad = u64::from(top & !PADDED_FLAG);
    if top & PADDED_FLAG == 0
        || pad > 7
        || !(body + pad).is_multiple_of(8)
        || body <= CRC_BYTES as u64
    {
        return Err(FrameError::BadLength);
    }
    let available = (rest.len() - LEN_FIELD_BYTES) as u64;
    if body + pad > available {
        return Err(FrameError::PastEnd);
    }
    let body_at = at + LEN_FIELD_BYTES;
    let record_end = body_at + body as usize;
    let end = record_end + pad as usize;
    if buf[record_end..end].iter().any(|&b| b != 0) {
        return Err(FrameError::BadPadding { end });
    }
    let mut crc = [0; CRC_BYTES];
    crc.copy_from_slice(&buf[body_at..body_at + CRC_BYTES]);
    let record = buf.slice(body_at + CRC_BYTES..record_end);
    Ok(Frame { crc: u32::from_le_bytes(crc), record, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(records: &[&[u8]]) -> (Bytes, u32) {
        let mut out = Vec::new();
        let mut crc = 0;
        for r in records {
            let start = begin_frame(&mut out);
            out.extend_from_slice(r);
            crc = end_frame(&mut out, start, crc);
        }
        (Bytes::from(out), crc)
    }

    #[test]
    fn frames_are_aligned_and_chain() {
        let (buf, last) = framed(&[b"a", b"abcdefghijk", b"abc"]);
        assert_eq!(buf.len() % 8, 0);
        let mut at = 0;
        let mut crc = 0;
        let mut seen = Vec::new();
        while at < buf.len() {
            let f = read_frame(&buf, at).expect("frame");
            assert!(f.verifies(crc));
            crc = f.crc;
            seen.push(f.record.clone());
            at = f.end;
        }
        assert_eq!(crc, last);
        assert_eq!(seen, vec![&b"a"[..], &b"abcdefghijk"[..], &b"abc"[..]]);
    }

    #[test]
    fn a_cut_frame_runs_past_the_end() {
        let (buf, _) = framed(&[b"abcdefghijk"]);
        for len in 1..buf.len() {
            let cut = buf.slice(..len);
            assert_eq!(read_frame(&cut, 0).err(), Some(FrameError::PastEnd), "len {len}");
        }
    }

    #[test]
    fn zeros_and_garbage_lengths_are_told_apart() {
        assert_eq!(read_frame(&Bytes::from(vec![0; 16]), 0).err(), Some(FrameError::Zero));
        let mut raw = vec![0xff; 16];
        raw[7] = 0x01;
        assert_eq!(read_frame(&Bytes::from(raw), 0).err(), Some(FrameError::BadLength));
    }
}
