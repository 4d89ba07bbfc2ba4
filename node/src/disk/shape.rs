//! The shape of the durable log (which index has which term) kept by the writer, so
//! that when a snapshot is persisted it can record whether the entries above it were
//! kept, without holding the entries themselves in memory. Terms never decrease along a
//! Raft log, so the shape is a short list of runs, one per term.

use detcd_core::types::{DurableState, Index, PersistOp, Term};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogShape {
    /// Index of the first entry (one past the snapshot when the log is empty).
    first: Index,
    /// Index of the last entry (`first - 1` when the log is empty).
    last: Index,
    /// `(first index, term)` of each run of equal terms, in index order.
    runs: Vec<(Index, Term)>,
}

impl LogShape {
    pub(crate) fn of(state: &DurableState) -> LogShape {
        let base = state.snapshot.as_ref().map_or(0, |s| s.meta.index);
        let mut shape = LogShape { first: base + 1, last: base, runs: Vec::new() };
        if let Some(first) = state.entries.first() {
            shape.first = first.index;
            shape.last = first.index - 1;
        }
        shape.extend(state.entries.iter().map(|e| (e.index, e.term)));
        shape
    }

    pub(crate) fn last_index(&self) -> Index {
        self.last
    }

    /// Whether the log holds the entry `(index, term)`.
    pub(crate) fn holds(&self, index: Index, term: Term) -> bool {
        self.term_at(index) == Some(term)
    }

    fn term_at(&self, index: Index) -> Option<Term> {
        if index < self.first || index > self.last {
            return None;
        }
        let run = self.runs.partition_point(|&(start, _)| start <= index);
        run.checked_sub(1).map(|r| self.runs[r].1)
    }

    /// Follows `op` as `DurableState::apply` does; returns whether its snapshot (if
    /// any) kept the entries above it, the outcome replay must reproduce.
    pub(crate) fn apply(&mut self, op: &PersistOp) -> bool {
        let mut kept = false;
        if let Some(snap) = &op.snapshot {
            let (index, term) = (snap.meta.index, snap.meta.term);
            kept = self.term_at(index) == Some(term);
            if kept && index < self.last {
                let from = self.runs.partition_point(|&(start, _)| start <= index + 1) - 1;
                self.runs.drain(..from);
                self.runs[0].0 = index + 1;
            } else {
                self.runs.clear();
                self.last = index;
            }
            self.first = index + 1;
        }
        if let Some(first) = op.entries.first() {
            self.runs.retain(|&(start, _)| start < first.index);
            if self.runs.is_empty() {
                self.first = first.index;
            }
            self.last = first.index - 1;
            self.extend(op.entries.iter().map(|e| (e.index, e.term)));
        }
        kept
    }

    fn extend(&mut self, entries: impl Iterator<Item = (Index, Term)>) {
        for (index, term) in entries {
            if self.runs.last().is_none_or(|&(_, t)| t != term) {
                self.runs.push((index, term));
            }
            self.last = index;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use detcd_core::types::{Entry, EntryKind, Snapshot, SnapshotMeta};
    use proptest::prelude::*;

    fn op(snapshot: Option<(Index, Term)>, entries: Option<(Index, Vec<Term>)>) -> PersistOp {
        let snapshot = snapshot.map(|(index, term)| Snapshot {
            meta: SnapshotMeta { index, term, ..Default::default() },
            data: Default::default(),
        });
        let entries = entries.map_or(Vec::new(), |(first, terms)| {
            terms
                .into_iter()
                .enumerate()
                .map(|(i, term)| Entry {
                    term,
                    index: first + i as u64,
                    kind: EntryKind::Normal,
                    data: Bytes::new(),
                })
                .collect()
        });
        PersistOp { sync: 0, hard_state: None, snapshot, entries }
    }

    proptest! {
        /// The shape agrees with `DurableState::apply` on every snapshot's outcome and
        /// on the log it leaves, for any sequence of contiguous appends and snapshots.
        #[test]
        fn shape_follows_apply(steps in prop::collection::vec(
            (any::<bool>(), 0u64..12, 0u64..4, prop::collection::vec(0u64..3, 0..5)), 1..30)
        ) {
            let mut state = DurableState::default();
            let mut shape = LogShape::of(&state);
            for (is_snap, at, dterm, dterms) in steps {
                let last = state.last_index();
                let last_term = state.entries.last().map_or(0, |e| e.term);
                let o = if is_snap {
                    op(Some((at.min(last + 3), last_term + dterm / 2)), None)
                } else {
                    let base = state.snapshot.as_ref().map_or(0, |s| s.meta.index);
                    let first = (base + 1 + at).min(last + 1);
                    let mut t = last_term;
                    let terms = dterms.iter().map(|d| { t += d; t }).collect();
                    op(None, Some((first, terms)))
                };
                let expect_kept = o.snapshot.as_ref().is_some_and(|s| {
                    state.entries.iter().any(|e| e.index == s.meta.index && e.term == s.meta.term)
                });
                prop_assert_eq!(shape.apply(&o), expect_kept);
                state.apply(&o);
                prop_assert_eq!(&shape, &LogShape::of(&state));
            }
        }
    }
}
