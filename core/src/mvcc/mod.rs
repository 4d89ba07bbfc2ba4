//! The multi-version key-value store: revisions, ranges, puts, deletes, txns, compaction.
