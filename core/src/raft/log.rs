//! The in-memory Raft log: entries after the last snapshot, the commit and apply
//! cursors, and which suffix still has to be written to stable storage.
//!
//! Entries live in a `VecDeque` indexed by offset from the snapshot, so lookups are
//! O(1) and compaction drops a prefix without copying the rest.

use crate::types::{Entry, Index, Term};
use std::collections::VecDeque;

/// Slots a log keeps after a compaction however few entries are left, so appends after
/// a snapshot do not reallocate at once.
const RETAINED_SLOTS_MIN: usize = 1024;

#[derive(Debug)]
pub(super) struct RaftLog {
    entries: VecDeque<Entry>,
    /// Index and term of the last entry covered by the snapshot (0, 0 without one).
    snap_index: Index,
    snap_term: Term,
    /// Highest index known committed.
    pub(super) commit: Index,
    /// Highest index handed to the application (`Apply` or `RestoreSnapshot`).
    pub(super) applied: Index,
    /// Lowest index whose entry changed since the last persist request, if any.
    unpersisted_from: Option<Index>,
}

impl RaftLog {
    pub(super) fn new(snap_index: Index, snap_term: Term, entries: Vec<Entry>) -> RaftLog {
        let mut log = RaftLog {
            entries: VecDeque::with_capacity(entries.len()),
            snap_index,
            snap_term,
            commit: snap_index,
            applied: snap_index,
            unpersisted_from: None,
        };
        for e in entries {
            if e.index <= snap_index {
                continue;
            }
            assert_eq!(
                e.index,
                log.last_index() + 1,
                "durable log has a gap or disorder after index {}",
                log.last_index()
            );
            assert!(e.term >= log.last_term(), "durable log terms decrease at index {}", e.index);
            log.entries.push_back(e);
        }
        log
    }

    pub(super) fn snap_index(&self) -> Index {
        self.snap_index
    }

    pub(super) fn first_index(&self) -> Index {
        self.snap_index + 1
    }

    pub(super) fn last_index(&self) -> Index {
        self.snap_index + self.entries.len() as u64
    }

    pub(super) fn last_term(&self) -> Term {
        self.entries.back().map_or(self.snap_term, |e| e.term)
    }

    /// The term at `index`, if known (the snapshot's last index counts).
    pub(super) fn term(&self, index: Index) -> Option<Term> {
        if index == self.snap_index {
            return Some(self.snap_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub(super) fn entry(&self, index: Index) -> Option<&Entry> {
        if index <= self.snap_index {
            return None;
        }
        let off = index - self.snap_index - 1;
        if off >= self.entries.len() as u64 {
            return None;
        }
        self.entries.get(off as usize)
    }

    pub(super) fn match_term(&self, index: Index, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// §5.4.1: is a log ending at (`last_index`, `last_term`) at least as up-to-date?
    pub(super) fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Appends one entry at the end (leader side). The caller sets its index.
    pub(super) fn push(&mut self, entry: Entry) {
        assert_eq!(entry.index, self.last_index() + 1, "leader appends out of order");
        assert!(entry.term >= self.last_term(), "leader appends an entry of an older term");
        self.mark_unpersisted(entry.index);
        self.entries.push_back(entry);
    }

    fn mark_unpersisted(&mut self, index: Index) {
        self.unpersisted_from = Some(self.unpersisted_from.map_or(index, |u| u.min(index)));
    }

    /// Follower side of AppendEntries after the consistency check passed at
    /// `entries[0].index - 1`: skips entries already present, truncates at the first
    /// conflict and appends the rest (Figure 2, receiver steps 3 and 4). Returns the
    /// index where the log was truncated, if it was.
    pub(super) fn merge(&mut self, entries: Vec<Entry>) -> Option<Index> {
        let mut truncated = None;
        #[cfg(feature = "mutants")]
        if crate::mutants::active(crate::mutants::Mutant::TruncateMatching) {
            if let Some(first) = entries.first().filter(|e| e.index <= self.last_index()) {
                let keep = (first.index - self.snap_index - 1) as usize;
                self.entries.truncate(keep);
                truncated = Some(first.index);
            }
        }
        for e in entries {
            match self.term(e.index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    let keep = (e.index - self.snap_index - 1) as usize;
                    self.entries.truncate(keep);
                    truncated = Some(e.index);
                }
                None => {}
            }
            debug_assert_eq!(e.index, self.last_index() + 1);
            self.mark_unpersisted(e.index);
            self.entries.push_back(e);
        }
        truncated
    }

    /// Up to `count_max` entries from `lo` on, stopping before `bytes_max` payload bytes
    /// (at least one entry when any is available).
    pub(super) fn slice(&self, lo: Index, count_max: usize, bytes_max: usize) -> Vec<Entry> {
        let last = self.last_index();
        if lo > last || lo <= self.snap_index {
            return Vec::new();
        }
        let start = (lo - self.snap_index - 1) as usize;
        let avail = (last - lo + 1) as usize;
        let n = avail.min(count_max.max(1));
        let mut out = Vec::with_capacity(n);
        let mut bytes = 0usize;
        for e in self.entries.range(start..start + n) {
            bytes += e.data.len();
            if !out.is_empty() && bytes > bytes_max {
                break;
            }
            out.push(e.clone());
        }
        out
    }

    /// Entries in `lo..=hi`, all of which must be in memory.
    pub(super) fn range(&self, lo: Index, hi: Index) -> Vec<Entry> {
        assert!(lo > self.snap_index && hi <= self.last_index(), "range {lo}..={hi} not in log");
        if lo > hi {
            return Vec::new();
        }
        let start = (lo - self.snap_index - 1) as usize;
        let end = (hi - self.snap_index) as usize;
        self.entries.range(start..end).cloned().collect()
    }

    /// The largest index at or below `index` whose term is at most `term` (fast
    /// backtracking, §5.3 "optimization"), with its term. Never goes below the snapshot.
    pub(super) fn find_conflict_by_term(&self, index: Index, term: Term) -> (Index, Term) {
        let mut i = index.min(self.last_index());
        while i > self.snap_index {
            match self.term(i) {
                Some(t) if t <= term => return (i, t),
                _ => i -= 1,
            }
        }
        (self.snap_index, self.snap_term)
    }

    /// Drops entries up to `index` (covered by a snapshot at `index`, `term`).
    pub(super) fn compact(&mut self, index: Index, term: Term) {
        assert!(index > self.snap_index && index <= self.applied, "compact to {index} invalid");
        let drop = (index - self.snap_index) as usize;
        self.entries.drain(..drop);
        self.release_slots();
        self.snap_index = index;
        self.snap_term = term;
    }

    /// Gives back the slots of entries a snapshot took over. A `VecDeque` keeps its
    /// capacity when drained, so without this a member holds, between two snapshots,
    /// slots for every entry the last one covered (131 072 x 56 bytes after 100 k
    /// entries) though only the few entries after the snapshot are left.
    fn release_slots(&mut self) {
        let keep = (self.entries.len() * 2).max(RETAINED_SLOTS_MIN);
        if self.entries.capacity() > 2 * keep {
            self.entries.shrink_to(keep);
        }
    }

    /// Replaces the whole log with a snapshot at (`index`, `term`).
    pub(super) fn restore(&mut self, index: Index, term: Term) {
        self.entries.clear();
        self.release_slots();
        self.snap_index = index;
        self.snap_term = term;
        self.commit = index;
        self.applied = index;
        self.unpersisted_from = None;
    }

    /// The entries that changed since the last persist request, clearing the mark.
    pub(super) fn take_unpersisted(&mut self) -> Vec<Entry> {
        match self.unpersisted_from.take() {
            Some(from) if from <= self.last_index() => {
                let from = from.max(self.first_index());
                self.range(from, self.last_index())
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn has_unpersisted(&self) -> bool {
        self.unpersisted_from.is_some()
    }

    /// Checks the shape of the log (debug builds): contiguous indexes, non-decreasing
    /// terms, cursors in order. Looks at the ends and the newest entries only, so it
    /// stays cheap on long logs.
    #[cfg(any(debug_assertions, feature = "invariants"))]
    pub(super) fn check(&self, current_term: Term) {
        assert!(self.applied <= self.commit, "applied {} > commit {}", self.applied, self.commit);
        assert!(
            self.commit <= self.last_index(),
            "commit {} > last {}",
            self.commit,
            self.last_index()
        );
        assert!(self.snap_index <= self.applied, "snapshot beyond applied");
        if let Some(first) = self.entries.front() {
            assert_eq!(first.index, self.snap_index + 1, "first entry does not follow snapshot");
            assert!(first.term >= self.snap_term, "first entry older than snapshot");
        }
        let n = self.entries.len();
        let from = n.saturating_sub(64);
        for i in from.max(1)..n {
            let (a, b) = (&self.entries[i - 1], &self.entries[i]);
            assert_eq!(a.index + 1, b.index, "log indexes not contiguous at {}", b.index);
            assert!(a.term <= b.term, "log terms decrease at index {}", b.index);
        }
        assert!(self.last_term() <= current_term, "log has an entry from a future term");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::EntryKind;
    use bytes::Bytes;

    fn entry(index: Index) -> Entry {
        Entry { term: 1, index, kind: EntryKind::Normal, data: Bytes::from_static(b"x") }
    }

    #[test]
    fn compaction_gives_back_the_slots_of_covered_entries() {
        let mut log = RaftLog::new(0, 0, Vec::new());
        for i in 1..=20_000 {
            log.push(entry(i));
        }
        assert!(log.entries.capacity() >= 20_000);
        log.commit = 19_990;
        log.applied = 19_990;
        log.compact(19_990, 1);
        assert_eq!(log.entries.len(), 10);
        assert!(log.entries.capacity() <= 2 * RETAINED_SLOTS_MIN, "{}", log.entries.capacity());
        assert_eq!(log.entry(19_995).map(|e| e.index), Some(19_995));
        assert_eq!(log.last_index(), 20_000);
        // A compaction that leaves many entries keeps room for them.
        for i in 20_001..=30_000 {
            log.push(entry(i));
        }
        log.commit = 20_000;
        log.applied = 20_000;
        log.compact(20_000, 1);
        assert_eq!(log.entries.len(), 10_000);
        assert_eq!(log.range(29_999, 30_000).len(), 2);
        log.restore(40_000, 2);
        assert!(log.entries.capacity() <= 2 * RETAINED_SLOTS_MIN);
    }
}
