//! [`SimDisk`]: a member's disk in simulation, with `detcd-sim`'s fault model
//! ([`detcd_sim::disk::Disk`]): durable state plus a queue of writes not yet synced; a
//! crash loses the queue and may tear its head. The test owns the `SimDisk` so that it
//! outlives a killed member; a restarted member opens it again and recovers from what
//! is durable.
//!
//! The driver's WAL writer persists synchronously (a batch is written and synced before
//! `persist` returns, and the simulated disk runs inline on the writer task), so a
//! crash, which can only land between two awaits, normally finds the queue empty. The queue fills only when an adapter acknowledges before the sync: the
//! `negative-ack-before-fsync` feature builds such an adapter, which syncs in the
//! background at most every [`LAZY_SYNC_INTERVAL`], to prove the suite catches it.

use super::{DiskError, Storage};
use detcd_core::types::{DurableState, PersistOp};
use detcd_sim::disk::{CrashLoss, Disk};
use std::sync::{Arc, Mutex, MutexGuard};

/// How long the `negative-ack-before-fsync` adapter leaves written ops unsynced.
pub const LAZY_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

#[derive(Default)]
struct State {
    disk: Disk,
    /// Starts of the member on this disk.
    incarnation: u64,
    /// Bytes of entry data written (the quota's measure).
    bytes: u64,
    /// When the lazy adapter last synced.
    #[cfg_attr(not(feature = "negative-ack-before-fsync"), allow(dead_code))]
    synced_at: Option<tokio::time::Instant>,
}

/// One member's simulated disk, shared between the test and the member's storage.
#[derive(Clone, Default)]
pub struct SimDisk(Arc<Mutex<State>>);

impl SimDisk {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The machine stops: what was not synced is lost, and with `torn_writes` the head
    /// of the unsynced queue may survive in part (see `detcd_sim::disk`).
    pub fn crash(&self, seed: u64, torn_writes: bool) -> CrashLoss {
        let mut rng = detcd_sim::rng::stream(seed, detcd_sim::rng::Component::Disk);
        self.state().disk.crash(&mut rng, torn_writes)
    }

    /// Opens the disk for a (re)starting member: its storage and its incarnation.
    pub fn open(&self) -> (SimStorage, u64) {
        let mut s = self.state();
        s.incarnation += 1;
        (SimStorage { disk: self.clone(), synced: false }, s.incarnation)
    }

    /// What is durable now.
    pub fn durable(&self) -> DurableState {
        self.state().disk.durable.clone()
    }
}

/// The [`Storage`] a simulated member persists through.
pub struct SimStorage {
    disk: SimDisk,
    /// Whether the last `persist` synced.
    synced: bool,
}

impl Storage for SimStorage {
    fn load(&mut self) -> Result<DurableState, DiskError> {
        Ok(self.disk.durable())
    }

    fn persist(&mut self, ops: &[PersistOp]) -> Result<(), DiskError> {
        self.synced = false;
        let mut s = self.disk.state();
        for op in ops {
            s.bytes += op.entries.iter().map(|e| e.data.len() as u64 + 24).sum::<u64>();
            s.disk.write(op.clone(), 0, 0);
        }
        let Some(last) = ops.last().map(|op| op.sync) else { return Ok(()) };
        #[cfg(feature = "negative-ack-before-fsync")]
        {
            // The negative control: return (and so acknowledge) before the sync, which
            // happens later, with some later batch.
            let now = tokio::time::Instant::now();
            let due = s.synced_at.is_none_or(|at| now.duration_since(at) >= LAZY_SYNC_INTERVAL);
            if !due {
                return Ok(());
            }
            s.synced_at = Some(now);
        }
        s.disk.fsync_done(last);
        self.synced = true;
        Ok(())
    }

    /// The simulated disk syncs at once.
    fn last_sync(&self) -> Option<std::time::Duration> {
        self.synced.then_some(std::time::Duration::ZERO)
    }

    fn size_bytes(&self) -> u64 {
        self.disk.state().bytes
    }

    fn start_segment(&mut self) -> Result<(), DiskError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use detcd_core::types::{Entry, EntryKind, HardState};

    fn op(sync: u64, index: u64) -> PersistOp {
        PersistOp {
            sync,
            hard_state: Some(HardState { term: 1, vote: Some(1), commit: 0 }),
            snapshot: None,
            entries: vec![Entry { term: 1, index, kind: EntryKind::Normal, data: Bytes::new() }],
        }
    }

    #[test]
    fn what_persist_returned_on_survives_a_crash() {
        let disk = SimDisk::default();
        let (mut storage, incarnation) = disk.open();
        assert_eq!(incarnation, 1);
        storage.persist(&[op(1, 1), op(2, 2)]).unwrap();
        disk.crash(7, true);
        let (mut storage, incarnation) = disk.open();
        assert_eq!(incarnation, 2);
        assert_eq!(storage.load().unwrap().last_index(), 2);
    }
}
