//! Compaction: forget history below a revision, keeping every key's newest version at
//! or below it so reads at the compaction revision still work.

use super::key::Key;
use super::Store;
use crate::api::{CompactionResponse, EtcdError, Event, ResponseHeader};
use std::sync::Arc;

impl Store {
    /// Compacts to `rev`. Reads below `rev` then fail with `Compacted`; the newest
    /// version of each key at `rev` survives unless it is a deletion. The log keeps the
    /// events of `rev` itself so a watch may start there.
    pub fn compact(&mut self, rev: i64) -> Result<CompactionResponse, EtcdError> {
        if rev <= self.compact_rev {
            return Err(EtcdError::Compacted);
        }
        if rev > self.current_rev {
            return Err(EtcdError::FutureRev);
        }
        // The events of `rev` itself, taken before the versions that imply them go (the
        // log may no longer hold them when `rev` is older than its window).
        let kept: Option<Arc<[Event]>> = self.events(rev, rev).next().map(|(_, e)| e);
        let mut changes: Vec<(Key, usize)> = Vec::new();
        for (k, h) in self.keys.iter() {
            let boundary = rev;
            #[cfg(feature = "mutants")]
            let boundary = if crate::mutants::active(crate::mutants::Mutant::CompactOffByOne) {
                rev + 1
            } else {
                boundary
            };
            let at_or_below = h.partition_point(|v| v.mod_rev <= boundary);
            if at_or_below == 0 {
                continue;
            }
            let newest = at_or_below - 1;
            let keep_from = if h[newest].is_tombstone() { at_or_below } else { newest };
            if keep_from > 0 {
                changes.push((k.clone(), keep_from));
            }
        }
        for (k, keep_from) in changes {
            let h = self.keys.get_mut(&k).expect("compacted key vanished");
            match h.keep_from(keep_from) {
                Some(kept) => *h = kept,
                None => {
                    self.keys.remove(&k);
                }
            }
        }
        let (_, _, newer) = self.log.split_lookup(&rev);
        self.log = newer;
        if let Some(events) = kept {
            self.log.insert(rev, events);
        }
        self.compact_rev = rev;
        Ok(CompactionResponse { header: ResponseHeader::at(self.current_rev) })
    }
}
