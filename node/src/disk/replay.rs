//! Rebuilding the durable state from WAL records, through `DurableState::apply` so the
//! WAL means exactly what a persist op means everywhere else.

use super::codec::{OpRecord, Record};
use detcd_core::types::{DurableState, Entry, EntryKind, PersistOp, Snapshot};

/// Applies one record to `state`. Snapshot markers rebuild a snapshot with its metadata
/// only; the caller fills in the image from the snap file afterwards.
pub(crate) fn replay(state: &mut DurableState, record: Record) -> Result<(), &'static str> {
    match record {
        Record::Crc(_) => Ok(()),
        Record::HardState(hs) => {
            state.apply(&PersistOp {
                sync: 0,
                hard_state: Some(hs),
                snapshot: None,
                entries: Vec::new(),
            });
            Ok(())
        }
        Record::Op(op) => replay_op(state, op),
    }
}

fn replay_op(state: &mut DurableState, op: OpRecord) -> Result<(), &'static str> {
    let snapshot = match op.snapshot {
        Some(marker) => {
            let (index, term) = (marker.meta.index, marker.meta.term);
            let has = state.entries.iter().any(|e| e.index == index && e.term == term);
            match (marker.kept_log, has) {
                (true, true) | (false, false) => {}
                // The entry the snapshot was checked against sat in a segment removed
                // since; stand it in so `apply` keeps the entries above it, as it did
                // when the op was persisted. `apply` drops the stand-in at once.
                (true, false) => state.entries.push(Entry {
                    term,
                    index,
                    kind: EntryKind::Noop,
                    data: Default::default(),
                }),
                (false, true) => {
                    return Err("snapshot marker says the log was dropped but it matches")
                }
            }
            Some(Snapshot { meta: marker.meta, data: Default::default() })
        }
        None => None,
    };
    state.apply(&PersistOp { sync: 0, hard_state: op.hard_state, snapshot, entries: op.entries });
    Ok(())
}
