//! The WAL writer: a task that owns the member's [`Storage`] and makes batches of
//! persist requests durable, one batch at a time, while the driver keeps stepping the
//! core.
//!
//! Why a task of its own: a write plus fdatasync takes milliseconds. Run inside the
//! driver it stalls everything else (peer messages, new proposals, reads) for that
//! long. Here the driver hands over a batch and goes on; the persist requests the core
//! makes meanwhile gather into the next batch (group commit), and the leader's appends,
//! which do not wait for its own disk, reach the followers while it syncs (Raft thesis
//! §10.2.1). Nothing that depends on a write is released before the writer reports it
//! durable: the driver keeps the outbox and tells the core only on [`Written`].
//!
//! A storage whose `persist` blocks its thread on real I/O runs on tokio's blocking
//! pool, so the runtime's worker threads keep serving clients during an fsync. The
//! simulated disk runs inline and stays deterministic.

use crate::disk::{DiskError, Storage};
use crate::driver::memory;
use detcd_core::types::{PersistOp, SyncId};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One batch for the writer.
pub struct Job {
    /// Start a new log segment before these ops (an operator's defragment, so the
    /// snapshot among the ops releases every segment before it).
    pub start_segment: bool,
    /// Persist requests in the order the core made them.
    pub ops: Vec<PersistOp>,
}

/// What the writer reports for a [`Job`].
pub struct Written {
    /// The last persist request of the batch, durable now with every earlier one.
    pub last: Option<SyncId>,
    /// `Err` when the storage failed: nothing of the batch may be acknowledged, and
    /// the writer has stopped.
    pub result: Result<(), DiskError>,
    /// The storage's size after the batch.
    pub size_bytes: u64,
    /// How long the write and its fsync took.
    pub took: Duration,
}

/// Runs until the driver drops its end of `jobs` or the storage fails.
pub async fn run<S: Storage + Send + 'static>(
    mut storage: S,
    mut jobs: mpsc::Receiver<Job>,
    written: mpsc::Sender<Written>,
) {
    while let Some(job) = jobs.recv().await {
        let (back, report) = carry(storage, job).await;
        storage = back;
        let failed = report.result.is_err();
        if written.send(report).await.is_err() || failed {
            return;
        }
    }
}

/// Does one job where its I/O belongs and gives the storage back.
async fn carry<S: Storage + Send + 'static>(storage: S, job: Job) -> (S, Written) {
    #[cfg(not(madsim))]
    if storage.blocks_thread() {
        return match tokio::task::spawn_blocking(move || write(storage, job)).await {
            Ok(done) => done,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
    }
    write(storage, job)
}

fn write<S: Storage>(mut storage: S, job: Job) -> (S, Written) {
    let started = Instant::now();
    let last = job.ops.last().map(|op| op.sync);
    let snapshotted = job.ops.iter().any(|op| op.snapshot.is_some());
    let result = if job.start_segment { storage.start_segment() } else { Ok(()) };
    let result = result.and_then(|()| storage.persist(&job.ops));
    let took = started.elapsed();
    // The ops held the last references to a snapshot's image; freeing it here, off the
    // driver, and handing the pages back keeps the member's resident size down.
    drop(job);
    if snapshotted {
        memory::release_freed();
    }
    let size_bytes = storage.size_bytes();
    (storage, Written { last, result, size_bytes, took })
}
