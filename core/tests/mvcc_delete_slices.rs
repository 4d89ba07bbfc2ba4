//! A DeleteRange applied in slices (`Store::delete_slices`) against the one-step
//! `Store::delete_range` on the same store: for every slice size, around the slice
//! boundaries (a slice ending on a tombstone, on the last key, one past it), the
//! response, the events and the whole resulting store are the same, and a store
//! shared with the one reads are served from is left untouched.

use bytes::Bytes;
use detcd_core::api::*;
use detcd_core::mvcc::Store;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn no_lease(_: LeaseId) -> bool {
    false
}

fn put(s: &mut Store, k: &str, v: &str) {
    let req = PutRequest { key: b(k), value: b(v), ..PutRequest::default() };
    s.put(&req, &no_lease).expect("put");
}

/// Keys k00..k11 (k03 and k07 written twice, k04 and k08 deleted, so their last
/// versions are tombstones), a key before and a key after the range, compacted once.
fn store() -> Store {
    let mut s = Store::new();
    put(&mut s, "a", "before");
    for i in 0..12 {
        put(&mut s, &format!("k{i:02}"), "v");
    }
    put(&mut s, "k03", "w");
    put(&mut s, "k07", "w");
    for k in ["k04", "k08"] {
        s.delete_range(&DeleteRangeRequest { key: b(k), ..Default::default() }).expect("delete");
    }
    put(&mut s, "z", "after");
    // Compacts k03's first version, and keeps both tombstones (k04 17, k08 18).
    assert_eq!(s.current_revision(), 19);
    s.compact(15).expect("compact");
    s
}

fn delete_k(prev_kv: bool) -> DeleteRangeRequest {
    DeleteRangeRequest { key: b("k"), range_end: b("l"), prev_kv }
}

/// Deletes `req` from a copy of `s` in slices of `keys_max`; returns the copy, the
/// result and how many steps it took.
fn sliced(
    s: &Store,
    req: &DeleteRangeRequest,
    keys_max: usize,
) -> (Store, DeleteRangeResponse, Vec<Event>, usize) {
    let mut work = s.clone();
    let mut d = s.delete_slices(req).expect("a valid delete");
    let mut steps = 1;
    while !d.step(&mut work, keys_max) {
        steps += 1;
        assert!(steps <= 100, "the delete never finished");
        // Between slices nothing is visible yet on the store reads use.
        assert_eq!(&work.current_revision(), &s.current_revision());
    }
    let written = d.finish(&mut work);
    (work, written.response, written.events.to_vec(), steps)
}

#[test]
fn every_slice_size_gives_the_one_step_result() {
    let s = store();
    for prev_kv in [false, true] {
        let req = delete_k(prev_kv);
        let mut whole = s.clone();
        let want = whole.delete_range(&req).expect("delete");
        assert_eq!(want.response.deleted, 10);
        // 12 keys in the range: sizes that end a slice on a tombstone (4, 8), on the
        // last key (6, 12) and one past it (13).
        for keys_max in 1..=14 {
            let before = s.clone();
            let (work, response, events, steps) = sliced(&s, &req, keys_max);
            assert_eq!(response, want.response, "response, slices of {keys_max}");
            assert_eq!(events, want.events.to_vec(), "events, slices of {keys_max}");
            assert_eq!(work, whole, "store, slices of {keys_max}");
            assert_eq!(s, before, "the slices wrote the store reads are served from");
            // A step looks at keys_max keys; the one that sees fewer than that ends.
            assert_eq!(steps, 12 / keys_max + 1, "steps, slices of {keys_max}");
        }
    }
}

#[test]
fn single_key_empty_and_open_ranges_match_too() {
    let s = store();
    let cases = [
        DeleteRangeRequest { key: b("k04"), ..Default::default() },
        DeleteRangeRequest { key: b("k05"), prev_kv: true, ..Default::default() },
        DeleteRangeRequest { key: b("m"), range_end: b("n"), ..Default::default() },
        DeleteRangeRequest { key: b("k04"), range_end: b("k05"), ..Default::default() },
        DeleteRangeRequest { key: b("n"), range_end: b("m"), ..Default::default() },
        DeleteRangeRequest { key: b("\0"), range_end: b("\0"), ..Default::default() },
    ];
    for req in cases {
        let mut whole = s.clone();
        let want = whole.delete_range(&req).expect("delete");
        for keys_max in [1, 2, 4096] {
            let (work, response, events, _) = sliced(&s, &req, keys_max);
            assert_eq!(response, want.response, "{req:?} in slices of {keys_max}");
            assert_eq!(events, want.events.to_vec(), "{req:?} in slices of {keys_max}");
            assert_eq!(work, whole, "{req:?} in slices of {keys_max}");
        }
    }
}

#[test]
fn delete_exceeds_counts_live_keys_only() {
    let s = store();
    let req = delete_k(false);
    assert!(s.delete_exceeds(&req, 9));
    assert!(!s.delete_exceeds(&req, 10), "two of the twelve keys are tombstones");
    let one = DeleteRangeRequest { key: b("k05"), ..Default::default() };
    assert!(!s.delete_exceeds(&one, 0), "a single key never slices");
}

#[test]
fn a_bad_delete_is_refused_before_any_slice() {
    let s = store();
    let empty = DeleteRangeRequest::default();
    assert_eq!(s.delete_slices(&empty).expect_err("no key"), EtcdError::EmptyKey);
}
