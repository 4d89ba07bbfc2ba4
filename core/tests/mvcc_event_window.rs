//! The store's event log keeps only the last `EVENT_LOG_REVISIONS` revisions; older
//! events are rebuilt from the key versions. Watches must not tell the difference: every
//! revision's events, from any start, equal what the writes returned — also across a
//! compaction older than the window and a snapshot round trip.

use bytes::Bytes;
use detcd_core::api::*;
use detcd_core::mvcc::{Store, EVENT_LOG_REVISIONS};
use std::sync::Arc;

fn b(s: String) -> Bytes {
    Bytes::from(s.into_bytes())
}

fn no_lease(_: LeaseId) -> bool {
    false
}

/// Writes three windows' worth of revisions (puts over a few keys, deletes, two-key
/// txns) and returns every write's events by revision.
fn write_history(s: &mut Store) -> Vec<(i64, Arc<[Event]>)> {
    let mut out = Vec::new();
    let revisions = 3 * EVENT_LOG_REVISIONS;
    for i in 0..revisions {
        let key = b(format!("k{:02}", i % 37));
        let written = match i % 11 {
            3 => {
                s.delete_range(&DeleteRangeRequest { key, prev_kv: true, ..Default::default() })
                    .expect("delete")
                    .events
            }
            7 => {
                let put = |k: String| {
                    RequestOp::Put(PutRequest {
                        key: b(k),
                        value: b(format!("t{i}")),
                        ..Default::default()
                    })
                };
                let txn = TxnRequest {
                    success: vec![put(format!("k{:02}", i % 37)), put(format!("x{i}"))],
                    ..Default::default()
                };
                s.txn(&txn, &no_lease).expect("txn").events
            }
            _ => {
                let put = PutRequest { key, value: b(format!("v{i}")), ..Default::default() };
                s.put(&put, &no_lease).expect("put").events
            }
        };
        if !written.is_empty() {
            out.push((s.current_revision(), written));
        }
    }
    out
}

fn events(s: &Store, from: i64) -> Vec<(i64, Vec<Event>)> {
    s.events(from, s.current_revision()).map(|(r, e)| (r, e.to_vec())).collect()
}

fn expected(written: &[(i64, Arc<[Event]>)], from: i64) -> Vec<(i64, Vec<Event>)> {
    written.iter().filter(|(r, _)| *r >= from).map(|(r, e)| (*r, e.to_vec())).collect()
}

#[test]
fn events_older_than_the_window_are_rebuilt_exactly() {
    let mut s = Store::new();
    let written = write_history(&mut s);
    let cur = s.current_revision();
    assert!(cur > 2 * EVENT_LOG_REVISIONS, "the history must outgrow the window");
    for from in [1, 2, 3, cur / 2, cur - EVENT_LOG_REVISIONS, cur - EVENT_LOG_REVISIONS + 1, cur] {
        assert_eq!(events(&s, from), expected(&written, from), "from {from}");
    }
    // A range that ends before the window, too.
    let early: Vec<_> = s.events(10, 20).map(|(r, e)| (r, e.to_vec())).collect();
    let want: Vec<_> = expected(&written, 10).into_iter().filter(|(r, _)| *r <= 20).collect();
    assert_eq!(early, want);
}

#[test]
fn a_compaction_older_than_the_window_keeps_its_revisions_events() {
    let mut s = Store::new();
    let written = write_history(&mut s);
    let at = 100;
    assert!(at < s.current_revision() - EVENT_LOG_REVISIONS);
    s.compact(at).expect("compact");
    // A watch may still start at the compaction revision itself.
    assert_eq!(events(&s, at), expected(&written, at));
    assert_eq!(events(&s, 1), expected(&written, at), "clamped to the compaction revision");
    // Writes after the compaction slide the window on without losing it.
    let more = write_history(&mut s);
    let mut all = expected(&written, at);
    all.extend(expected(&more, 0));
    assert_eq!(events(&s, at), all);
}

#[test]
fn a_restored_store_equals_the_original() {
    let mut s = Store::new();
    write_history(&mut s);
    s.compact(EVENT_LOG_REVISIONS / 2).expect("compact");
    write_history(&mut s);
    let json = serde_json::to_string(&s).expect("serialize");
    let restored: Store = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(restored, s);
    assert_eq!(events(&restored, 1), events(&s, 1));
}
