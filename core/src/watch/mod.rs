//! Watches: streams of MVCC events from a start revision, filtered per watcher.
