//! Snapshot files: `<term:016x>-<index:016x>.snap`, each written atomically and
//! verified in full when read.
//!
//! ```text
//! magic "DETCDSNP" | body length u64 LE | CRC32C of body u32 LE | body
//! body = meta length u32 LE | encoded SnapshotMeta | state machine image
//! ```

use super::codec::{decode_meta, encode_meta, Reader};
use super::error::DiskError;
use super::fsutil::{fsync_dir, io_at};
use super::segment::parse_pair;
use bytes::Bytes;
use detcd_core::types::{Index, Snapshot, Term};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"DETCDSNP";
const HEADER_BYTES: usize = 8 + 8 + 4;
pub(crate) const TMP_SUFFIX: &str = ".tmp";

pub(crate) fn snap_name(term: Term, index: Index) -> String {
    format!("{term:016x}-{index:016x}.snap")
}

/// `(term, index)` from a snapshot file name, or None for any other file.
pub(crate) fn parse_snap_name(name: &str) -> Option<(Term, Index)> {
    parse_pair(name.strip_suffix(".snap")?)
}

/// Writes `snap` into `dir` so that it is either absent or whole and durable: a temp
/// file, fsynced, renamed into place, then the directory fsynced so the rename is too.
/// The image is encoded straight into the file (an image held by reference is never
/// buffered whole); the header, which needs the body's length and CRC, is written last
/// over a placeholder. Returns the file's path and size.
pub(crate) fn write_snapshot(dir: &Path, snap: &Snapshot) -> Result<(PathBuf, u64), DiskError> {
    let name = snap_name(snap.meta.term, snap.meta.index);
    let path = dir.join(&name);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let mut meta = Vec::new();
    encode_meta(&mut meta, &snap.meta);
    let meta_len = u32::try_from(meta.len()).expect("snapshot metadata over 4 GiB");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_at(&tmp))?;
    let mut body = Body { out: BufWriter::with_capacity(BUFFER_BYTES, file), crc: 0, len: 0 };
    body.out.write_all(&[0; HEADER_BYTES]).map_err(io_at(&tmp))?;
    body.write_all(&meta_len.to_le_bytes()).map_err(io_at(&tmp))?;
    body.write_all(&meta).map_err(io_at(&tmp))?;
    snap.data.write_to(&mut body).map_err(io_at(&tmp))?;
    let (crc, body_len) = (body.crc, body.len);
    let mut file = body.out.into_inner().map_err(|e| DiskError::io(&tmp, e.into_error()))?;
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&body_len.to_le_bytes());
    header.extend_from_slice(&crc.to_le_bytes());
    file.seek(SeekFrom::Start(0)).map_err(io_at(&tmp))?;
    file.write_all(&header).map_err(io_at(&tmp))?;
    file.sync_all().map_err(io_at(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_at(&path))?;
    fsync_dir(dir)?;
    Ok((path, HEADER_BYTES as u64 + body_len))
}

/// Bytes gathered before each write of an image to its file.
const BUFFER_BYTES: usize = 1 << 20;

/// The body of a snapshot file as it is written: its CRC and length so far.
struct Body {
    out: BufWriter<File>,
    crc: u32,
    len: u64,
}

impl Write for Body {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes the images of snapshots whose WAL record waits for them (see
/// `Storage::persist_deferring`), from any thread: it only creates files in the
/// snapshot directory, atomically, as [`write_snapshot`] does.
#[derive(Clone, Debug)]
pub struct ImageWriter {
    pub(crate) dir: PathBuf,
}

impl ImageWriter {
    /// Makes `snap`'s file durable; returns its size. A crash meanwhile leaves at most
    /// a temp file, which the next load removes.
    pub fn write(&self, snap: &Snapshot) -> Result<u64, DiskError> {
        write_snapshot(&self.dir, snap).map(|(_, bytes)| bytes)
    }
}

/// Reads and verifies the snapshot file at `path`; any damage is `Corrupt` naming it.
pub(crate) fn read_snapshot(path: &Path) -> Result<Snapshot, DiskError> {
    let raw = Bytes::from(fs::read(path).map_err(io_at(path))?);
    let corrupt = |offset: usize, why: &str| DiskError::corrupt(path, offset as u64, why);
    if raw.len() < HEADER_BYTES || &raw[..8] != MAGIC {
        return Err(corrupt(0, "not a detcd snapshot file (bad magic)"));
    }
    let mut r = Reader::new(raw.slice(8..HEADER_BYTES));
    let body_len = r.u64().map_err(|m| corrupt(8, m.0))?;
    let crc = r.u32().map_err(|m| corrupt(16, m.0))?;
    let body = raw.slice(HEADER_BYTES..);
    if body.len() as u64 != body_len {
        return Err(corrupt(8, "length field does not match the file size"));
    }
    if crc32c::crc32c(&body) != crc {
        return Err(corrupt(16, "CRC mismatch"));
    }
    let mut r = Reader::new(body);
    let decoded = (|| {
        let meta_len = r.u32()? as usize;
        let mut mr = Reader::new(r.bytes_exact(meta_len)?);
        let meta = decode_meta(&mut mr)?;
        mr.finish()?;
        let data = r.bytes_exact(r.remaining())?;
        Ok::<_, super::codec::Malformed>(Snapshot { meta, data: data.into() })
    })();
    decoded.map_err(|m| corrupt(HEADER_BYTES, m.0))
}
