//! The node's durable storage: the [`Storage`] trait the driver persists through, and
//! [`FileStorage`], its real implementation on a data directory (segmented write-ahead
//! log with chained CRC32C, snapshots written atomically), and [`SimDisk`], the
//! simulation's crash-lossy disk. Plain synchronous code: the
//! driver decides on which thread it runs, and a simulated disk can stand in for it.

pub(crate) mod codec;
mod error;
mod file;
mod frame;
mod fsutil;
mod replay;
mod segment;
mod shape;
pub mod sim;
mod snap;

pub use error::DiskError;
pub use file::{FileStorage, FileStorageOptions};
pub use sim::{SimDisk, SimStorage};
pub use snap::ImageWriter;

use detcd_core::types::{DurableState, PersistOp, Snapshot, SnapshotMeta};
use std::time::Duration;

/// Where a node keeps what it must not forget.
pub trait Storage {
    /// Everything durable, for `Process::restore`.
    fn load(&mut self) -> Result<DurableState, DiskError>;
    /// Makes every op durable, in order, with ONE fdatasync for the batch (group commit),
    /// returning only once it is. Nothing may be acknowledged before this returns. The
    /// one exception is a batch that only moves the commit index: a storage may leave
    /// it to the next fsync, since a commit index recovered lower is safe.
    fn persist(&mut self, ops: &[PersistOp]) -> Result<(), DiskError>;
    /// How long the fdatasync of the last `persist` or `persist_deferring` took, or
    /// None when that call made none (a batch that only moved the commit index, or
    /// one whose bytes wait for a later sync). The WAL fsync histogram observes only
    /// real syncs, as etcd's does.
    fn last_sync(&self) -> Option<Duration>;
    /// Bytes the storage holds now (for metrics and the quota).
    fn size_bytes(&self) -> u64;
    /// Starts a new log segment now, so that the snapshot taken next releases every
    /// segment before it (an operator's defragment). Nothing is acknowledged by it.
    fn start_segment(&mut self) -> Result<(), DiskError>;
    /// Whether `persist` blocks its thread on real I/O (writes and fdatasync). The WAL
    /// writer then runs it on the runtime's blocking pool, off the worker threads.
    fn blocks_thread(&self) -> bool {
        false
    }
    /// As `persist`, except that a snapshot this member took itself (the entry at its
    /// index, with its term, is in this storage's log) may be left out and handed back:
    /// its entries are durable in the log, so its image only shortens a restart and
    /// can be written later, off the WAL's path, by [`Storage::image_writer`]; then
    /// [`Storage::adopt_snapshot`] records it. A snapshot installed from a leader
    /// (its entries exist nowhere here) is always written before this returns.
    fn persist_deferring(&mut self, ops: &[PersistOp]) -> Result<Option<Snapshot>, DiskError> {
        self.persist(ops).map(|()| None)
    }
    /// Writes the images of deferred snapshots; it touches only the snapshot
    /// directory, so it may run while the storage persists. None for a storage that
    /// never defers.
    fn image_writer(&self) -> Option<ImageWriter> {
        None
    }
    /// The image of a deferred snapshot is durable: records the snapshot in the log
    /// (one fsync) and releases what it covers. A snapshot no newer than the durable
    /// one (a leader's was installed meanwhile) is ignored.
    fn adopt_snapshot(&mut self, _meta: &SnapshotMeta) -> Result<(), DiskError> {
        Ok(())
    }
}
