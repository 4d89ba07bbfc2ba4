//! [`FileStorage`]: the data directory on a real filesystem.
//!
//! ```text
//! <data-dir>/member/lock                       held (flock) while a process uses the dir
//! <data-dir>/member/wal/<seq>-<index>.wal      WAL segments, see `segment`
//! <data-dir>/member/snap/<term>-<index>.snap   snapshots, see `snap`
//! ```
//!
//! `load` changes nothing until everything has verified; only then does it cut a torn
//! tail away and remove leftovers of interrupted writes. `persist` appends one record per
//! op and fdatasyncs once per call (not at all for a call that only moves the commit
//! index, see `must_sync`); a snapshot's file is durable before the WAL record that
//! names it is written. A snapshot the member took itself may have its file written
//! later, off the WAL's path (`persist_deferring`, `adopt_snapshot`): its entries stay
//! in the log, and its segments, until the file is durable and its record written.

use super::codec::{encode_crc, encode_hard_state_record, encode_op, Record};
use super::error::DiskError;
use super::frame::{begin_frame, end_frame};
use super::fsutil::{fsync_dir, io_at};
use super::replay::replay;
use super::segment::{parse_segment_name, scan, segment_name};
use super::shape::LogShape;
use super::snap::{
    parse_snap_name, read_snapshot, snap_name, write_snapshot, ImageWriter, TMP_SUFFIX,
};
use super::Storage;
use bytes::Bytes;
use detcd_core::types::{DurableState, HardState, Index, PersistOp, Snapshot, SnapshotMeta, Term};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Knobs of a [`FileStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStorageOptions {
    /// A segment past this size is closed and a new one started after the current batch.
    pub segment_bytes_max: u64,
    /// Test only (`detcd serve --test-fsync-delay-ms`, for `detcd chaos`): every WAL
    /// fsync takes at least this much longer, as on a slow or overloaded disk.
    pub sync_delay: std::time::Duration,
    /// Test only (`detcd serve --test-unsynced-writes-lost-on-kill`): WAL bytes stay in
    /// this process until their fsync, so kill -9 loses exactly what was not fsynced,
    /// as a power cut does (the page cache would otherwise keep them).
    pub hold_unsynced: bool,
    /// Test only, a deliberately broken disk (`--test-unsafe-ack-before-fsync`): with
    /// `hold_unsynced`, `persist` returns before its bytes are written or fsynced;
    /// they go out once [`PENDING_MAX`] bytes are held. A negative control for chaos.
    pub ack_before_fsync: bool,
}

/// How a persist treats the snapshots among its ops.
enum Images<'a> {
    /// Each snapshot's file is written and made durable before its WAL record.
    Write,
    /// A snapshot taken by this member is left out of the WAL and handed back here.
    Defer(&'a mut Option<Snapshot>),
    /// The snapshot's file is already durable (`adopt_snapshot`).
    Written,
}

/// Bytes an `ack_before_fsync` storage holds before it writes and fsyncs them.
pub const PENDING_MAX: usize = 1024 * 1024;

impl Default for FileStorageOptions {
    fn default() -> Self {
        FileStorageOptions {
            segment_bytes_max: 64 * 1024 * 1024,
            sync_delay: std::time::Duration::ZERO,
            hold_unsynced: false,
            ack_before_fsync: false,
        }
    }
}

/// The node's storage in a data directory. Holds the directory's lock while it lives.
pub struct FileStorage {
    data_dir: PathBuf,
    wal_dir: PathBuf,
    snap_dir: PathBuf,
    options: FileStorageOptions,
    _lock: File,
    /// Present once `load` succeeded.
    writer: Option<Writer>,
    /// Set when a write or fsync failed: what reached the disk is unknown from then on.
    poisoned: bool,
    /// See [`Storage::last_sync`].
    last_sync: Option<Duration>,
}

struct Segment {
    seq: u64,
    path: PathBuf,
    bytes: u64,
    /// The highest entry index written in it, if any.
    entry_index_max: Option<Index>,
}

struct Writer {
    /// Oldest first; the last one is open for appending.
    segments: Vec<Segment>,
    file: File,
    crc: u32,
    hard_state: HardState,
    shape: LogShape,
    /// `(term, index)` of the durable snapshot, and the segment holding its marker.
    snapshot: Option<(Term, Index, u64)>,
    snap_bytes: u64,
    buf: Vec<u8>,
    /// With `hold_unsynced`: whole records past the file's end, not yet written.
    pending: Vec<u8>,
}

/// Whether a batch needs its fdatasync: it carries entries, a snapshot, or a new term
/// or vote. A batch that only moves the commit index does not: a commit index lost in a
/// crash comes back lower, which is safe (the leader tells it again, and entries
/// committed by a quorum are on a quorum's disks), while a synced one would put a
/// second fsync on every write's path, because each commit is followed by a
/// commit-only record on every member. Its record still goes to the file, in order, so
/// the next synced batch makes it durable too; a torn copy of it can only be the
/// WAL's tail, which load cuts away.
fn must_sync(ops: &[PersistOp], written: &HardState) -> bool {
    ops.iter().any(|op| {
        op.snapshot.is_some()
            || !op.entries.is_empty()
            || op.hard_state.is_some_and(|hs| (hs.term, hs.vote) != (written.term, written.vote))
    })
}

/// Writes and fsyncs what `hold_unsynced` kept back.
fn flush_pending(file: &mut File, pending: &mut Vec<u8>, path: &Path) -> Result<(), DiskError> {
    if pending.is_empty() {
        return Ok(());
    }
    file.write_all(pending).map_err(io_at(path))?;
    file.sync_data().map_err(io_at(path))?;
    pending.clear();
    Ok(())
}

impl FileStorage {
    /// Opens (creating if needed) the data directory with default options.
    pub fn open(data_dir: &Path) -> Result<FileStorage, DiskError> {
        FileStorage::open_with(data_dir, FileStorageOptions::default())
    }

    /// Opens (creating if needed) the data directory and takes its lock; a directory
    /// another process (or another `FileStorage`) holds gives [`DiskError::Locked`].
    /// Reads nothing yet: call [`Storage::load`] next.
    pub fn open_with(
        data_dir: &Path,
        options: FileStorageOptions,
    ) -> Result<FileStorage, DiskError> {
        let member = data_dir.join("member");
        let wal_dir = member.join("wal");
        let snap_dir = member.join("snap");
        for dir in [&wal_dir, &snap_dir] {
            fs::create_dir_all(dir).map_err(io_at(dir))?;
        }
        let lock_path = member.join("lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(DiskError::Locked { path: data_dir.to_path_buf() })
            }
            Err(TryLockError::Error(e)) => return Err(DiskError::io(&lock_path, e)),
        }
        Ok(FileStorage {
            data_dir: data_dir.to_path_buf(),
            wal_dir,
            snap_dir,
            options,
            _lock: lock,
            writer: None,
            poisoned: false,
            last_sync: None,
        })
    }

    /// The data directory this storage owns.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn read_all(&self) -> Result<Loaded, DiskError> {
        let listing = list(&self.wal_dir)?;
        let mut segs: Vec<(u64, PathBuf)> = Vec::new();
        let mut leftovers = Vec::new();
        for (name, path) in listing {
            if let Some((seq, _)) = parse_segment_name(&name) {
                segs.push((seq, path));
            } else if name.ends_with(TMP_SUFFIX) {
                leftovers.push(path);
            }
        }
        segs.sort();
        for pair in segs.windows(2) {
            if pair[1].0 != pair[0].0 + 1 {
                let why = format!("segment {:016x} is missing before it", pair[0].0 + 1);
                return Err(DiskError::corrupt(&pair[1].1, 0, why));
            }
        }
        let snaps = self.list_snapshots(&mut leftovers)?;
        if segs.is_empty() && !snaps.is_empty() {
            let why = "no WAL segments, yet snapshot files exist (the WAL was removed?)";
            return Err(DiskError::corrupt(&self.wal_dir, 0, why));
        }
        let mut state = DurableState::default();
        let mut segments = Vec::new();
        let mut crc = None;
        let mut torn = None;
        let mut marker_seq = None;
        let count = segs.len();
        for (i, (seq, path)) in segs.into_iter().enumerate() {
            let buf = Bytes::from(fs::read(&path).map_err(io_at(&path))?);
            let scanned = scan(&path, &buf, crc, i + 1 == count)?;
            let mut entry_index_max = None;
            for (offset, record) in scanned.records {
                if let Record::Op(op) = &record {
                    if op.snapshot.is_some() {
                        marker_seq = Some(seq);
                    }
                    let top = op.entries.iter().map(|e| e.index).max();
                    entry_index_max = entry_index_max.max(top);
                }
                replay(&mut state, record).map_err(|why| DiskError::corrupt(&path, offset, why))?;
            }
            crc = Some(scanned.end_crc);
            let bytes = match scanned.torn_at {
                Some((offset, why)) => {
                    torn = Some((path.clone(), offset, why));
                    offset
                }
                None => buf.len() as u64,
            };
            segments.push(Segment { seq, path, bytes, entry_index_max });
        }
        let mut snapshot = None;
        if let Some(snap) = &mut state.snapshot {
            let (term, index) = (snap.meta.term, snap.meta.index);
            let path = self.snap_dir.join(snap_name(term, index));
            if !snaps.iter().any(|&(t, i, _)| (t, i) == (term, index)) {
                let why = "snapshot file named by the WAL is missing";
                return Err(DiskError::corrupt(&path, 0, why));
            }
            let on_disk = read_snapshot(&path)?;
            if on_disk.meta != snap.meta {
                let why = "snapshot metadata differs from the WAL's record of it";
                return Err(DiskError::corrupt(&path, 0, why));
            }
            snap.data = on_disk.data;
            let seq = marker_seq.expect("a replayed snapshot came from a marker");
            snapshot = Some((term, index, seq));
        }
        Ok(Loaded { state, segments, crc: crc.unwrap_or(0), torn, leftovers, snapshot })
    }

    fn list_snapshots(
        &self,
        leftovers: &mut Vec<PathBuf>,
    ) -> Result<Vec<(Term, Index, PathBuf)>, DiskError> {
        let mut snaps = Vec::new();
        for (name, path) in list(&self.snap_dir)? {
            if let Some((term, index)) = parse_snap_name(&name) {
                snaps.push((term, index, path));
            } else if name.ends_with(TMP_SUFFIX) {
                leftovers.push(path);
            }
        }
        snaps.sort_by_key(|&(term, index, _)| (index, term));
        Ok(snaps)
    }

    /// Starts the next segment: written whole under a temp name, fsynced, renamed into
    /// place and the directory fsynced, so a segment either exists with its header or
    /// not at all.
    fn create_segment(
        &self,
        seq: u64,
        index: Index,
        crc: u32,
        hs: &HardState,
    ) -> Result<(File, Segment, u32), DiskError> {
        let name = segment_name(seq, index);
        let path = self.wal_dir.join(&name);
        let tmp = self.wal_dir.join(format!("{name}{TMP_SUFFIX}"));
        let mut header = Vec::new();
        let crc = write_header(&mut header, crc, hs);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_at(&tmp))?;
        file.write_all(&header).map_err(io_at(&tmp))?;
        file.sync_all().map_err(io_at(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_at(&path))?;
        fsync_dir(&self.wal_dir)?;
        let segment = Segment { seq, path, bytes: header.len() as u64, entry_index_max: None };
        Ok((file, segment, crc))
    }

    fn persist_batch(&mut self, ops: &[PersistOp], mut images: Images) -> Result<(), DiskError> {
        self.last_sync = None;
        let w = self.writer.as_mut().expect("FileStorage::persist called before load");
        w.buf.clear();
        let mut snapshotted = false;
        let current = w.segments.last_mut().expect("a loaded WAL has a segment");
        let must_sync = must_sync(ops, &w.hard_state);
        let mut stripped;
        for op in ops {
            let mut op = op;
            if let (Some(snap), Images::Defer(deferred)) = (&op.snapshot, &mut images) {
                if w.shape.holds(snap.meta.index, snap.meta.term) {
                    // Taken here: its entries go to the log in order, its record
                    // waits for its image (`adopt_snapshot`).
                    **deferred = Some(snap.clone());
                    stripped = PersistOp { snapshot: None, ..op.clone() };
                    op = &stripped;
                }
            }
            if op.hard_state.is_none() && op.snapshot.is_none() && op.entries.is_empty() {
                continue;
            }
            if let Some(snap) = &op.snapshot {
                if !matches!(images, Images::Written) {
                    write_snapshot(&self.snap_dir, snap)?;
                }
                w.snapshot = Some((snap.meta.term, snap.meta.index, current.seq));
                snapshotted = true;
            }
            let kept = w.shape.apply(op);
            let start = begin_frame(&mut w.buf);
            encode_op(&mut w.buf, op, kept);
            w.crc = end_frame(&mut w.buf, start, w.crc);
            if let Some(hs) = op.hard_state {
                w.hard_state = hs;
            }
            let top = op.entries.iter().map(|e| e.index).max();
            current.entry_index_max = current.entry_index_max.max(top);
        }
        if w.buf.is_empty() {
            return Ok(());
        }
        current.bytes += w.buf.len() as u64;
        if self.options.hold_unsynced {
            w.pending.extend_from_slice(&w.buf);
            let lazy =
                (self.options.ack_before_fsync || !must_sync) && w.pending.len() < PENDING_MAX;
            if !lazy {
                let started = Instant::now();
                // The bytes live only in this process for the whole (slow) fsync.
                if !self.options.sync_delay.is_zero() {
                    std::thread::sleep(self.options.sync_delay);
                }
                flush_pending(&mut w.file, &mut w.pending, &current.path)?;
                self.last_sync = Some(started.elapsed());
            }
        } else {
            w.file.write_all(&w.buf).map_err(io_at(&current.path))?;
            if must_sync {
                let started = Instant::now();
                if !self.options.sync_delay.is_zero() {
                    std::thread::sleep(self.options.sync_delay);
                }
                w.file.sync_data().map_err(io_at(&current.path))?;
                self.last_sync = Some(started.elapsed());
            }
        }
        if current.bytes >= self.options.segment_bytes_max {
            self.cut()?;
        }
        if snapshotted {
            self.collect_garbage();
        }
        Ok(())
    }

    fn cut(&mut self) -> Result<(), DiskError> {
        let w = self.writer.as_mut().expect("loaded");
        // Held-back records belong to the segment being closed.
        let path = &w.segments.last().expect("a loaded WAL has a segment").path;
        flush_pending(&mut w.file, &mut w.pending, path)?;
        let w = self.writer.as_ref().expect("loaded");
        let seq = w.segments.last().map_or(0, |s| s.seq + 1);
        let (file, segment, crc) =
            self.create_segment(seq, w.shape.last_index() + 1, w.crc, &w.hard_state)?;
        let w = self.writer.as_mut().expect("loaded");
        w.file = file;
        w.crc = crc;
        w.segments.push(segment);
        Ok(())
    }

    /// Removes what the durable snapshot made unnecessary. Failing to remove a file
    /// loses nothing (replay from older segments gives the same state), so failures
    /// are only logged.
    fn collect_garbage(&mut self) {
        let w = self.writer.as_mut().expect("loaded");
        let Some((term, index, marker_seq)) = w.snapshot else { return };
        let mut removed = false;
        while w.segments.len() > 1 {
            let oldest = &w.segments[0];
            let below = oldest.entry_index_max.is_none_or(|top| top <= index);
            if oldest.seq >= marker_seq || !below {
                break;
            }
            if let Err(e) = fs::remove_file(&oldest.path) {
                tracing::warn!(path = %oldest.path.display(), error = %e, "cannot remove WAL segment");
                break;
            }
            w.segments.remove(0);
            removed = true;
        }
        if removed {
            if let Err(e) = fsync_dir(&self.wal_dir) {
                tracing::warn!(error = %e, "cannot fsync the WAL directory after removals");
            }
        }
        w.snap_bytes = remove_old_snapshots(&self.snap_dir, term, index);
    }
}

/// Writes a segment header (CRC record, hard state record); returns the running CRC.
fn write_header(out: &mut Vec<u8>, crc: u32, hs: &HardState) -> u32 {
    let start = begin_frame(out);
    encode_crc(out, crc);
    // The CRC record's own chain starts from the value it carries.
    let crc = end_frame(out, start, crc);
    let start = begin_frame(out);
    encode_hard_state_record(out, hs);
    end_frame(out, start, crc)
}

/// Keeps the snapshot `(term, index)` and the newest one older than it; removes the
/// rest, including any newer file whose WAL marker never became durable. Returns the
/// bytes the kept files hold.
fn remove_old_snapshots(dir: &Path, term: Term, index: Index) -> u64 {
    let files = match list(dir) {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list snapshots");
            return 0;
        }
    };
    let mut snaps: Vec<(Index, Term, PathBuf)> = files
        .into_iter()
        .filter_map(|(name, path)| parse_snap_name(&name).map(|(t, i)| (i, t, path)))
        .collect();
    snaps.sort();
    let previous = snaps.iter().rev().find(|&&(i, t, _)| (i, t) < (index, term));
    let previous = previous.map(|(i, t, _)| (*i, *t));
    let mut kept_bytes = 0;
    let mut removed = false;
    for (i, t, path) in &snaps {
        if (*i, *t) == (index, term) || Some((*i, *t)) == previous {
            kept_bytes += fs::metadata(path).map_or(0, |m| m.len());
        } else if let Err(e) = fs::remove_file(path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove old snapshot");
        } else {
            removed = true;
        }
    }
    if removed {
        if let Err(e) = fsync_dir(dir) {
            tracing::warn!(error = %e, "cannot fsync the snapshot directory after removals");
        }
    }
    kept_bytes
}

/// Everything `load` read, before it repairs anything.
struct Loaded {
    state: DurableState,
    segments: Vec<Segment>,
    crc: u32,
    torn: Option<(PathBuf, u64, &'static str)>,
    leftovers: Vec<PathBuf>,
    snapshot: Option<(Term, Index, u64)>,
}

/// `(file name, path)` of every file in `dir`, sorted by name.
fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>, DiskError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

impl Drop for FileStorage {
    /// A clean stop keeps what `ack_before_fsync` held back; only a kill loses it.
    fn drop(&mut self) {
        if self.poisoned {
            return;
        }
        if let Some(w) = self.writer.as_mut() {
            let Some(last) = w.segments.last() else { return };
            if let Err(e) = flush_pending(&mut w.file, &mut w.pending, &last.path) {
                tracing::warn!(error = %e, "cannot write held-back WAL records on close");
            }
        }
    }
}

impl Storage for FileStorage {
    fn load(&mut self) -> Result<DurableState, DiskError> {
        assert!(self.writer.is_none(), "FileStorage::load called twice");
        let loaded = self.read_all()?;
        // Everything verified: now repair.
        for path in &loaded.leftovers {
            tracing::warn!(path = %path.display(), "removing a file left by an interrupted write");
            fs::remove_file(path).map_err(io_at(path))?;
        }
        let mut segments = loaded.segments;
        let mut crc = loaded.crc;
        let file = match segments.last_mut() {
            None => {
                let (file, segment, c) = self.create_segment(0, 1, 0, &loaded.state.hard_state)?;
                segments.push(segment);
                crc = c;
                file
            }
            Some(last) => {
                let mut file =
                    OpenOptions::new().append(true).open(&last.path).map_err(io_at(&last.path))?;
                if let Some((path, offset, why)) = &loaded.torn {
                    tracing::warn!(
                        path = %path.display(), offset, why,
                        "WAL ends in a torn write; truncating it away"
                    );
                    file.set_len(*offset).map_err(io_at(path))?;
                    if *offset == 0 {
                        // The whole segment was torn: give it its header back.
                        let mut header = Vec::new();
                        crc = write_header(&mut header, crc, &loaded.state.hard_state);
                        file.write_all(&header).map_err(io_at(path))?;
                        last.bytes = header.len() as u64;
                    }
                    file.sync_all().map_err(io_at(path))?;
                }
                file
            }
        };
        self.writer = Some(Writer {
            segments,
            file,
            crc,
            hard_state: loaded.state.hard_state,
            shape: LogShape::of(&loaded.state),
            snapshot: loaded.snapshot,
            snap_bytes: 0,
            buf: Vec::new(),
            pending: Vec::new(),
        });
        match loaded.snapshot {
            Some(_) => self.collect_garbage(),
            None => {
                let w = self.writer.as_mut().expect("just set");
                w.snap_bytes = remove_old_snapshots(&self.snap_dir, 0, 0);
            }
        }
        Ok(loaded.state)
    }

    fn persist(&mut self, ops: &[PersistOp]) -> Result<(), DiskError> {
        if self.poisoned {
            return Err(DiskError::Poisoned { path: self.data_dir.clone() });
        }
        let result = self.persist_batch(ops, Images::Write);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn persist_deferring(&mut self, ops: &[PersistOp]) -> Result<Option<Snapshot>, DiskError> {
        if self.poisoned {
            return Err(DiskError::Poisoned { path: self.data_dir.clone() });
        }
        let mut deferred = None;
        let result = self.persist_batch(ops, Images::Defer(&mut deferred));
        if result.is_err() {
            self.poisoned = true;
        }
        result.map(|()| deferred)
    }

    fn image_writer(&self) -> Option<ImageWriter> {
        Some(ImageWriter { dir: self.snap_dir.clone() })
    }

    fn adopt_snapshot(&mut self, meta: &SnapshotMeta) -> Result<(), DiskError> {
        if self.poisoned {
            return Err(DiskError::Poisoned { path: self.data_dir.clone() });
        }
        let w = self.writer.as_ref().expect("FileStorage::adopt_snapshot called before load");
        // A newer snapshot (installed from a leader) made this one stale: its record
        // would replay over the newer one and drop the log above it.
        let durable = w.snapshot.map_or(0, |(_, index, _)| index);
        if meta.index <= durable || !w.shape.holds(meta.index, meta.term) {
            return Ok(());
        }
        let snapshot = Snapshot { meta: meta.clone(), data: Default::default() };
        let op = PersistOp { sync: 0, hard_state: None, snapshot: Some(snapshot), entries: vec![] };
        let result = self.persist_batch(&[op], Images::Written);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn start_segment(&mut self) -> Result<(), DiskError> {
        if self.poisoned {
            return Err(DiskError::Poisoned { path: self.data_dir.clone() });
        }
        let w = self.writer.as_ref().expect("FileStorage::start_segment called before load");
        // A segment with no entries yet is already a fresh start.
        if w.segments.last().is_none_or(|s| s.entry_index_max.is_none()) {
            return Ok(());
        }
        let result = self.cut();
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn last_sync(&self) -> Option<Duration> {
        self.last_sync
    }

    fn size_bytes(&self) -> u64 {
        self.writer
            .as_ref()
            .map_or(0, |w| w.snap_bytes + w.segments.iter().map(|s| s.bytes).sum::<u64>())
    }

    fn blocks_thread(&self) -> bool {
        true
    }
}
