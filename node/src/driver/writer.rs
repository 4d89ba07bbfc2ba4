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
//! simulated disk runs inline and stays deterministic. The image of a snapshot the
//! member took itself is written by a task of its own, so that writing tens of
//! megabytes never holds a batch back (see [`run`]).

use crate::disk::{DiskError, Storage};
use crate::driver::memory;
use detcd_core::types::{PersistOp, Snapshot, SyncId};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, warn};

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
    /// How long the batch's fdatasync took; None when the batch made none (it only
    /// moved the commit index, or its bytes wait for a later sync).
    pub synced: Option<Duration>,
}

/// The image of a snapshot this member took, written off the WAL's path.
struct ImageDone {
    snapshot: Snapshot,
    result: Result<u64, DiskError>,
}

/// The deferred snapshot images: one is written at a time, and of those waiting only
/// the newest matters (it covers the older ones), so at most two are held.
#[derive(Default)]
struct Images {
    writing: bool,
    next: Option<Snapshot>,
}

/// Runs until the driver drops its end of `jobs` or the storage fails.
///
/// A snapshot this member took itself leaves the batch (`persist_deferring`): its
/// image is written by a task of its own while the writer goes on making batches
/// durable, and only once that file is durable does the writer record the snapshot in
/// the WAL (`adopt_snapshot`), which releases the segments it covers. A crash before
/// that finds the entries in the log and an older snapshot, or none.
pub async fn run<S: Storage + Send + 'static>(
    mut storage: S,
    mut jobs: mpsc::Receiver<Job>,
    written: mpsc::Sender<Written>,
) {
    let (done_tx, mut done_rx) = mpsc::channel::<ImageDone>(1);
    let mut images = Images::default();
    loop {
        tokio::select! {
            biased;
            Some(done) = done_rx.recv(), if images.writing => {
                images.writing = false;
                storage = adopt(storage, done).await;
                start_image(&storage, &mut images, &done_tx);
            }
            job = jobs.recv() => {
                let Some(job) = job else { break };
                let (back, report, deferred) = carry(storage, job).await;
                storage = back;
                let failed = report.result.is_err();
                if written.send(report).await.is_err() || failed {
                    return;
                }
                if deferred.is_some() {
                    images.next = deferred;
                    start_image(&storage, &mut images, &done_tx);
                }
            }
        }
    }
    // The driver stopped: finish the image under way, so a restart replays less.
    if images.writing {
        if let Some(done) = done_rx.recv().await {
            adopt(storage, done).await;
        }
    }
}

/// Starts writing the newest waiting image unless one is being written.
fn start_image<S: Storage>(storage: &S, images: &mut Images, done: &mpsc::Sender<ImageDone>) {
    if images.writing {
        return;
    }
    let Some(snapshot) = images.next.take() else { return };
    let Some(writer) = storage.image_writer() else {
        panic!("a storage deferred a snapshot without an image writer");
    };
    images.writing = true;
    let done = done.clone();
    tokio::spawn(async move {
        let done_now = blocking(move || {
            let result = writer.write(&snapshot);
            ImageDone { snapshot, result }
        })
        .await;
        // The writer holds the receiver until this report arrives.
        let _ = done.send(done_now).await;
    });
}

/// Records a durable image in the WAL; an image that could not be written is only
/// logged (its entries are in the log, the next snapshot tries again).
async fn adopt<S: Storage + Send + 'static>(storage: S, done: ImageDone) -> S {
    let ImageDone { snapshot, result } = done;
    let index = snapshot.meta.index;
    // The image's bytes are freed before the record is written.
    let meta = snapshot.meta.clone();
    drop(snapshot);
    match result {
        Ok(bytes) => {
            let blocks = storage.blocks_thread();
            let (storage, adopted) = on_pool(blocks, storage, move |s| {
                let adopted = s.adopt_snapshot(&meta);
                memory::release_freed();
                adopted
            })
            .await;
            match adopted {
                Ok(()) => debug!(index, bytes, "snapshot image durable and recorded"),
                // The storage is poisoned: the next batch fails and stops the member.
                Err(e) => warn!(index, error = %e, "cannot record a durable snapshot image"),
            }
            storage
        }
        Err(e) => {
            warn!(index, error = %e, "cannot write a snapshot image; its entries stay in the WAL");
            storage
        }
    }
}

/// Runs `f` where blocking I/O belongs: tokio's blocking pool.
#[cfg(not(madsim))]
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(done) => done,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// In the madsim build the disk is simulated and never blocks: `f` runs inline.
#[cfg(madsim)]
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    f()
}

/// Runs `f` on the storage, on the blocking pool when the storage blocks its thread,
/// and gives the storage back.
async fn on_pool<S: Storage + Send + 'static, T: Send + 'static>(
    blocks: bool,
    mut storage: S,
    f: impl FnOnce(&mut S) -> T + Send + 'static,
) -> (S, T) {
    if blocks {
        return blocking(move || {
            let out = f(&mut storage);
            (storage, out)
        })
        .await;
    }
    let out = f(&mut storage);
    (storage, out)
}

/// Does one job where its I/O belongs and gives the storage back, with the snapshot
/// it deferred, if any.
async fn carry<S: Storage + Send + 'static>(
    storage: S,
    job: Job,
) -> (S, Written, Option<Snapshot>) {
    let blocks = storage.blocks_thread();
    let (storage, (written, deferred)) = on_pool(blocks, storage, move |s| write(s, job)).await;
    (storage, written, deferred)
}

fn write<S: Storage>(storage: &mut S, job: Job) -> (Written, Option<Snapshot>) {
    let last = job.ops.last().map(|op| op.sync);
    let snapshotted = job.ops.iter().any(|op| op.snapshot.is_some());
    let result = if job.start_segment { storage.start_segment() } else { Ok(()) };
    // An operator's defragment wants the snapshot's release now, so it is not deferred.
    let result = result.and_then(|()| {
        if job.start_segment {
            storage.persist(&job.ops).map(|()| None)
        } else {
            storage.persist_deferring(&job.ops)
        }
    });
    let synced = if result.is_ok() { storage.last_sync() } else { None };
    let (result, deferred) = match result {
        Ok(deferred) => (Ok(()), deferred),
        Err(e) => (Err(e), None),
    };
    // The ops held the last references to an installed snapshot's image; freeing it
    // here, off the driver, and handing the pages back keeps the resident size down.
    drop(job);
    if snapshotted && deferred.is_none() {
        memory::release_freed();
    }
    let size_bytes = storage.size_bytes();
    (Written { last, result, size_bytes, synced }, deferred)
}
