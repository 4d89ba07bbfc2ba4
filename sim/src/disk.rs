//! One node's simulated disk: the durable state plus a volatile queue of persist
//! requests waiting for their fsync.
//!
//! A request becomes durable when its fsync completes; fsyncs complete in request order.
//! A crash keeps the durable state and loses the queue, except that with torn writes
//! enabled the head of the queue may have partly reached stable storage anyway: some
//! whole requests in order, then a prefix of the next request's entries *without* its
//! hard state (a log that writes entries before the hard state record and is cut off
//! mid-batch). The torn prefix is further cut before the first entry whose term is
//! above the durable term, so a restarted node never holds entries from a term it has
//! not durably entered. Requests carrying a snapshot are never torn (snapshots are
//! installed atomically). Every state a crash leaves is therefore one a real log could
//! leave, and contains everything that was acknowledged.

use detcd_core::types::{DurableState, PersistOp, SyncId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// What a crash did to the volatile queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashLoss {
    /// Requests lost entirely.
    pub lost_ops: usize,
    /// Unsynced requests that reached stable storage whole anyway.
    pub survived_ops: usize,
    /// Entries of a torn request that survived (its hard state did not).
    pub torn_entries: usize,
}

/// Durable state plus the unsynced queue.
#[derive(Default)]
pub struct Disk {
    pub durable: DurableState,
    pending: VecDeque<PersistOp>,
    /// When the last queued fsync completes: later ones complete no earlier.
    last_completion_us: u64,
}

impl Disk {
    /// Queues a persist request at `now_us` with fsync latency `latency_us`; returns when
    /// its fsync completes (never before an earlier request's).
    pub fn write(&mut self, op: PersistOp, now_us: u64, latency_us: u64) -> u64 {
        if let Some(last) = self.pending.back() {
            assert!(op.sync > last.sync, "persist requests must carry increasing sync ids");
        }
        self.pending.push_back(op);
        self.last_completion_us = self.last_completion_us.max(now_us + latency_us);
        self.last_completion_us
    }

    /// The fsync of request `sync` completed: it and every earlier request are durable.
    /// Returns how many requests became durable.
    pub fn fsync_done(&mut self, sync: SyncId) -> usize {
        let mut n = 0;
        while self.pending.front().is_some_and(|op| op.sync <= sync) {
            let op = self.pending.pop_front().expect("front exists");
            self.durable.apply(&op);
            n += 1;
        }
        n
    }

    /// Whether `op` writes entries over an index already written (durable or queued):
    /// the write that replaces a conflicting suffix of the log.
    pub fn overwrites(&self, op: &PersistOp) -> bool {
        let Some(first) = op.entries.first() else { return false };
        let queued = self.pending.iter().rev().find_map(|p| p.entries.last()).map(|e| e.index);
        let durable = self.durable.entries.last().map(|e| e.index);
        queued.or(durable).is_some_and(|last| first.index <= last)
    }

    /// Requests written but not yet durable.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The machine stops: the unsynced queue is lost (see the module docs for tearing).
    pub fn crash(&mut self, rng: &mut ChaCha8Rng, torn_writes: bool) -> CrashLoss {
        let total = self.pending.len();
        let mut loss = CrashLoss::default();
        let whole: usize = rng.gen_range(0..=total);
        let torn_frac: u64 = rng.gen_range(0..=100);
        if torn_writes {
            for _ in 0..whole {
                let op = self.pending.pop_front().expect("counted");
                self.durable.apply(&op);
                loss.survived_ops += 1;
            }
            if let Some(op) = self.pending.front() {
                if op.snapshot.is_none() && !op.entries.is_empty() {
                    let term = self.durable.hard_state.term;
                    let legal = op.entries.iter().take_while(|e| e.term <= term).count();
                    let keep = (legal as u64 * torn_frac / 100) as usize;
                    if keep > 0 {
                        let torn = PersistOp {
                            sync: op.sync,
                            hard_state: None,
                            snapshot: None,
                            entries: op.entries[..keep].to_vec(),
                        };
                        self.durable.apply(&torn);
                        loss.torn_entries = keep;
                    }
                }
            }
        }
        loss.lost_ops = self.pending.len();
        self.pending.clear();
        self.last_completion_us = 0;
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use detcd_core::types::{Entry, EntryKind, HardState};

    fn entry(index: u64, term: u64) -> Entry {
        Entry { term, index, kind: EntryKind::Normal, data: Bytes::new() }
    }

    fn op(sync: u64, term: u64, entries: Vec<Entry>) -> PersistOp {
        let hard_state = Some(HardState { term, vote: None, commit: 0 });
        PersistOp { sync, hard_state, snapshot: None, entries }
    }

    #[test]
    fn fsyncs_complete_in_order_and_apply() {
        let mut d = Disk::default();
        assert_eq!(d.write(op(1, 1, vec![entry(1, 1)]), 0, 500), 500);
        assert_eq!(d.write(op(2, 1, vec![entry(2, 1)]), 10, 100), 500);
        assert_eq!(d.fsync_done(1), 1);
        assert_eq!(d.durable.last_index(), 1);
        assert_eq!(d.fsync_done(2), 1);
        assert_eq!(d.durable.last_index(), 2);
    }

    #[test]
    fn crash_without_tearing_loses_every_unsynced_request() {
        let mut d = Disk::default();
        d.write(op(1, 1, vec![entry(1, 1)]), 0, 10);
        d.fsync_done(1);
        d.write(op(2, 1, vec![entry(2, 1), entry(3, 1)]), 0, 10);
        let mut rng = crate::rng::stream(1, crate::rng::Component::Disk);
        let loss = d.crash(&mut rng, false);
        assert_eq!(loss.lost_ops, 1);
        assert_eq!(d.durable.last_index(), 1);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn torn_prefix_never_outruns_the_durable_term() {
        for seed in 0..200 {
            let mut d = Disk::default();
            d.write(op(1, 2, vec![entry(1, 1)]), 0, 10);
            d.fsync_done(1);
            d.write(op(2, 3, vec![entry(2, 2), entry(3, 2), entry(4, 3)]), 0, 10);
            let mut rng = crate::rng::stream(seed, crate::rng::Component::Disk);
            let loss = d.crash(&mut rng, true);
            let term = d.durable.hard_state.term;
            assert!(d.durable.entries.iter().all(|e| e.term <= term), "seed {seed}: {loss:?}");
            assert!(d.durable.last_index() >= 1);
        }
    }
}
