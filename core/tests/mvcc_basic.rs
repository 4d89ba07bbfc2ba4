//! MVCC behaviour on hand-written cases: revision rules, versions, txns, compaction and
//! every error of the reference table that belongs to the store, with code and message.

use bytes::Bytes;
use detcd_core::api::*;
use detcd_core::mvcc::{Store, MAX_TXN_OPS};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn no_lease(_: LeaseId) -> bool {
    false
}

fn put(s: &mut Store, k: &str, v: &str) -> PutResponse {
    let req = PutRequest { key: b(k), value: b(v), prev_kv: true, ..PutRequest::default() };
    s.put(&req, &no_lease).expect("put").response
}

fn get(s: &Store, k: &str) -> RangeResponse {
    s.range(&RangeRequest { key: b(k), ..RangeRequest::default() }).expect("range")
}

fn range(s: &Store, req: RangeRequest) -> Vec<String> {
    s.range(&req)
        .expect("range")
        .kvs
        .iter()
        .map(|kv| String::from_utf8(kv.key.to_vec()).expect("utf8"))
        .collect()
}

fn assert_err<T: std::fmt::Debug>(r: Result<T, EtcdError>, want: EtcdError, code: Code, msg: &str) {
    let e = r.expect_err("expected an error");
    assert_eq!(e, want);
    assert_eq!(e.code(), code);
    assert_eq!(e.message(), msg);
    assert_eq!(e.to_string(), msg);
    assert_eq!(EtcdError::from_message(msg), Some(want));
}

#[test]
fn new_store_is_at_revision_one_and_first_write_gets_two() {
    let mut s = Store::new();
    assert_eq!(s.current_revision(), 1);
    assert_eq!(get(&s, "a").header.revision, 1);
    let r = put(&mut s, "a", "1");
    assert_eq!(r.header.revision, 2);
    assert_eq!(r.prev_kv, None);
    let kv = &get(&s, "a").kvs[0];
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 2, 1));
}

#[test]
fn versions_count_per_generation_and_delete_resets() {
    let mut s = Store::new();
    put(&mut s, "k", "1");
    let r = put(&mut s, "k", "2");
    assert_eq!(r.prev_kv.expect("prev").value, b("1"));
    let kv = &get(&s, "k").kvs[0];
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
    let d = s
        .delete_range(&DeleteRangeRequest { key: b("k"), prev_kv: true, ..Default::default() })
        .expect("delete")
        .response;
    assert_eq!((d.deleted, d.header.revision), (1, 4));
    assert_eq!(d.prev_kvs[0].value, b("2"));
    assert_eq!(get(&s, "k").count, 0);
    put(&mut s, "k", "3");
    let kv = &get(&s, "k").kvs[0];
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (5, 5, 1));
}

#[test]
fn delete_of_nothing_does_not_advance_the_revision() {
    let mut s = Store::new();
    let w = s.delete_range(&DeleteRangeRequest { key: b("x"), ..Default::default() }).expect("del");
    assert_eq!((w.response.deleted, w.response.header.revision), (0, 1));
    assert!(w.events.is_empty());
    assert_eq!(s.current_revision(), 1);
}

#[test]
fn txn_writes_share_one_revision_and_readonly_txn_does_not_advance() {
    let mut s = Store::new();
    put(&mut s, "a", "1");
    let txn = TxnRequest {
        compare: vec![Compare {
            key: b("a"),
            target: CompareTarget::Value,
            target_union: TargetUnion::Value(b("1")),
            ..Default::default()
        }],
        success: vec![
            RequestOp::Put(PutRequest { key: b("b"), value: b("x"), ..Default::default() }),
            RequestOp::Range(RangeRequest { key: b("b"), ..Default::default() }),
            RequestOp::Put(PutRequest { key: b("c"), value: b("y"), ..Default::default() }),
        ],
        failure: vec![RequestOp::Range(RangeRequest { key: b("a"), ..Default::default() })],
    };
    let w = s.txn(&txn, &no_lease).expect("txn");
    assert!(w.response.succeeded);
    assert_eq!(w.response.header.revision, 3);
    assert_eq!(s.current_revision(), 3);
    assert_eq!(w.events.len(), 2);
    assert_eq!(w.events[0].kv.key, b("b"));
    assert_eq!(w.events[1].kv.key, b("c"));
    // The range inside the txn sees the put before it.
    match &w.response.responses[1] {
        ResponseOp::Range(r) => assert_eq!(r.kvs[0].value, b("x")),
        other => panic!("unexpected {other:?}"),
    }
    // Compare now fails (a's value is 1, compare for 2): failure branch only reads.
    let mut txn2 = txn.clone();
    txn2.compare[0].target_union = TargetUnion::Value(b("2"));
    let w = s.txn(&txn2, &no_lease).expect("txn");
    assert!(!w.response.succeeded);
    assert_eq!(w.response.header.revision, 3);
    assert_eq!(s.current_revision(), 3);
    assert!(w.events.is_empty());
}

#[test]
fn compare_on_missing_key_uses_zero_values_but_value_compare_fails() {
    let mut s = Store::new();
    let cmp = |target, u| Compare { key: b("nope"), target, target_union: u, ..Default::default() };
    let cases = [
        (cmp(CompareTarget::Version, TargetUnion::Version(0)), true),
        (cmp(CompareTarget::Create, TargetUnion::CreateRevision(0)), true),
        (cmp(CompareTarget::Mod, TargetUnion::ModRevision(0)), true),
        (cmp(CompareTarget::Lease, TargetUnion::Lease(0)), true),
        (cmp(CompareTarget::Value, TargetUnion::Value(Bytes::new())), false),
    ];
    for (c, want) in cases {
        let r = s.txn(&TxnRequest { compare: vec![c.clone()], ..Default::default() }, &no_lease);
        assert_eq!(r.expect("txn").response.succeeded, want, "{c:?}");
    }
    // Range compare: every key in the range must pass.
    put(&mut s, "p1", "a");
    put(&mut s, "p2", "b");
    let c = Compare {
        key: b("p"),
        range_end: b("q"),
        target: CompareTarget::Version,
        result: CompareResult::Equal,
        target_union: TargetUnion::Version(1),
    };
    let ok = s.txn(&TxnRequest { compare: vec![c.clone()], ..Default::default() }, &no_lease);
    assert!(ok.expect("txn").response.succeeded);
    put(&mut s, "p2", "c");
    let ok = s.txn(&TxnRequest { compare: vec![c], ..Default::default() }, &no_lease);
    assert!(!ok.expect("txn").response.succeeded);
}

#[test]
fn range_options() {
    let mut s = Store::new();
    for (k, v) in [("a", "3"), ("b", "1"), ("c", "2"), ("d", "0")] {
        put(&mut s, k, v);
    }
    put(&mut s, "c", "9"); // c: version 2, mod 6
    let all = RangeRequest { key: b("\0"), range_end: b("\0"), ..Default::default() };
    assert_eq!(range(&s, all.clone()), ["a", "b", "c", "d"]);
    let from_b = RangeRequest { key: b("b"), range_end: b("\0"), ..Default::default() };
    assert_eq!(range(&s, from_b), ["b", "c", "d"]);
    let span = RangeRequest { key: b("b"), range_end: b("d"), ..Default::default() };
    assert_eq!(range(&s, span), ["b", "c"]);
    let backwards = RangeRequest { key: b("d"), range_end: b("b"), ..Default::default() };
    assert_eq!(range(&s, backwards), Vec::<String>::new());

    let limited = s.range(&RangeRequest { limit: 2, ..all.clone() }).expect("range");
    assert_eq!((limited.kvs.len(), limited.more, limited.count), (2, true, 4));
    let exact = s.range(&RangeRequest { limit: 4, ..all.clone() }).expect("range");
    assert!(!exact.more);

    // A non-key target with order NONE sorts ascending.
    let by_value = RangeRequest { sort_target: SortTarget::Value, ..all.clone() };
    assert_eq!(range(&s, by_value), ["d", "b", "a", "c"]);
    let desc = RangeRequest { sort_order: SortOrder::Descend, ..all.clone() };
    assert_eq!(range(&s, desc), ["d", "c", "b", "a"]);
    let by_mod_desc = RangeRequest {
        sort_order: SortOrder::Descend,
        sort_target: SortTarget::Mod,
        limit: 1,
        ..all.clone()
    };
    let r = s.range(&by_mod_desc).expect("range");
    assert_eq!((r.kvs[0].key.clone(), r.more, r.count), (b("c"), true, 4));

    let keys_only = s.range(&RangeRequest { keys_only: true, ..all.clone() }).expect("range");
    assert!(keys_only.kvs.iter().all(|kv| kv.value.is_empty() && kv.version > 0));
    let count_only = s.range(&RangeRequest { count_only: true, ..all.clone() }).expect("range");
    assert_eq!((count_only.kvs.len(), count_only.count), (0, 4));

    let filtered = RangeRequest { min_mod_revision: 4, max_mod_revision: 5, ..all.clone() };
    assert_eq!(range(&s, filtered), ["d"]);
    let created = RangeRequest { max_create_revision: 3, ..all.clone() };
    assert_eq!(range(&s, created), ["a", "b"]);

    // Historical read: at revision 4, c had its first value and d did not exist.
    let old = s.range(&RangeRequest { revision: 4, ..all.clone() }).expect("range");
    assert_eq!(old.kvs.len(), 3);
    assert_eq!(old.kvs[2].value, b("2"));
    assert_eq!(old.header.revision, 6);
}

#[test]
fn compaction_keeps_the_newest_versions_and_refuses_old_reads() {
    let mut s = Store::new();
    put(&mut s, "a", "1"); // 2
    put(&mut s, "a", "2"); // 3
    put(&mut s, "b", "1"); // 4
    s.delete_range(&DeleteRangeRequest { key: b("b"), ..Default::default() }).expect("del"); // 5
    put(&mut s, "c", "1"); // 6
    let h = s.hash(6).expect("hash");
    s.compact(5).expect("compact");
    assert_eq!(s.compact_revision(), 5);
    assert_ne!(s.hash(6).expect("hash"), h, "compaction drops history the hash covers");
    let at5 = s
        .range(&RangeRequest {
            key: b("\0"),
            range_end: b("\0"),
            revision: 5,
            ..Default::default()
        })
        .expect("read at the compaction revision");
    assert_eq!(at5.kvs.len(), 1);
    assert_eq!(at5.kvs[0].value, b("2"));
    let msg_c = "etcdserver: mvcc: required revision has been compacted";
    let msg_f = "etcdserver: mvcc: required revision is a future revision";
    let old = RangeRequest { key: b("a"), revision: 4, ..Default::default() };
    assert_err(s.range(&old), EtcdError::Compacted, Code::OutOfRange, msg_c);
    let future = RangeRequest { key: b("a"), revision: 7, ..Default::default() };
    assert_err(s.range(&future), EtcdError::FutureRev, Code::OutOfRange, msg_f);
    assert_err(s.compact(5), EtcdError::Compacted, Code::OutOfRange, msg_c);
    assert_err(s.compact(3), EtcdError::Compacted, Code::OutOfRange, msg_c);
    assert_err(s.compact(7), EtcdError::FutureRev, Code::OutOfRange, msg_f);
    assert_err(s.hash(4), EtcdError::Compacted, Code::OutOfRange, msg_c);
    // The deletion at 5 stays visible to watches starting at 5.
    let events: Vec<_> = s.events(5, 6).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].1[0].r#type, EventType::Delete);
    assert_eq!(get(&s, "a").kvs[0].version, 2);
}

#[test]
fn key_errors() {
    let mut s = Store::new();
    let empty = "etcdserver: key is not provided";
    let r = s.range(&RangeRequest::default());
    assert_err(r, EtcdError::EmptyKey, Code::InvalidArgument, empty);
    let r = s.put(&PutRequest::default(), &no_lease);
    assert_err(r, EtcdError::EmptyKey, Code::InvalidArgument, empty);
    let r = s.delete_range(&DeleteRangeRequest::default());
    assert_err(r, EtcdError::EmptyKey, Code::InvalidArgument, empty);
    let txn = TxnRequest { compare: vec![Compare::default()], ..Default::default() };
    assert_err(s.txn(&txn, &no_lease), EtcdError::EmptyKey, Code::InvalidArgument, empty);

    let ignore = PutRequest { key: b("k"), ignore_value: true, ..Default::default() };
    let r = s.put(&ignore, &no_lease);
    assert_err(r, EtcdError::KeyNotFound, Code::InvalidArgument, "etcdserver: key not found");
    let with_value = PutRequest { value: b("v"), ..ignore.clone() };
    let r = s.put(&with_value, &no_lease);
    assert_err(r, EtcdError::ValueProvided, Code::InvalidArgument, "etcdserver: value is provided");
    let with_lease = PutRequest { key: b("k"), ignore_lease: true, lease: 5, ..Default::default() };
    let r = s.put(&with_lease, &no_lease);
    assert_err(r, EtcdError::LeaseProvided, Code::InvalidArgument, "etcdserver: lease is provided");
    let unknown_lease = PutRequest { key: b("k"), lease: 5, ..Default::default() };
    let r = s.put(&unknown_lease, &no_lease);
    let msg = "etcdserver: requested lease not found";
    assert_err(r, EtcdError::LeaseNotFound, Code::NotFound, msg);
    assert_eq!(s.current_revision(), 1, "failed writes change nothing");

    // ignore_value keeps the value, ignore_lease keeps the lease.
    let leased = PutRequest { key: b("k"), value: b("v"), lease: 7, ..Default::default() };
    s.put(&leased, &|id| id == 7).expect("put");
    let kept = s.put(&ignore, &no_lease).expect("put").response;
    assert_eq!(kept.header.revision, 3);
    let kv = get(&s, "k").kvs[0].clone();
    assert_eq!((kv.value, kv.lease, kv.version), (b("v"), 0, 2));
    let relet = PutRequest { key: b("k"), value: b("w"), ignore_lease: true, ..Default::default() };
    s.put(&relet, &no_lease).expect("put");
    assert_eq!(get(&s, "k").kvs[0].lease, 0);
}

fn put_op(k: &str) -> RequestOp {
    RequestOp::Put(PutRequest { key: b(k), value: b("v"), ..Default::default() })
}

#[test]
fn txn_op_limit_counts_nested_budget() {
    let mut s = Store::new();
    let ops = |n: usize| (0..n).map(|i| put_op(&format!("k{i}"))).collect::<Vec<_>>();
    let ok = TxnRequest { success: ops(MAX_TXN_OPS), ..Default::default() };
    s.txn(&ok, &no_lease).expect("128 ops are allowed");
    let msg = "etcdserver: too many operations in txn request";
    let too_many = TxnRequest { success: ops(MAX_TXN_OPS + 1), ..Default::default() };
    assert_err(s.txn(&too_many, &no_lease), EtcdError::TooManyOps, Code::InvalidArgument, msg);
    // The parent uses 2 ops, so a nested txn may use 126.
    let nested = |n| TxnRequest {
        success: vec![
            put_op("x"),
            RequestOp::Txn(TxnRequest { failure: ops(n), ..Default::default() }),
        ],
        ..Default::default()
    };
    s.txn(&nested(MAX_TXN_OPS - 2), &no_lease).expect("within budget");
    let r = s.txn(&nested(MAX_TXN_OPS - 1), &no_lease);
    assert_err(r, EtcdError::TooManyOps, Code::InvalidArgument, msg);
}

#[test]
fn txn_duplicate_keys() {
    let mut s = Store::new();
    let msg = "etcdserver: duplicate key given in txn request";
    let del = |k: &str, e: &str| {
        RequestOp::DeleteRange(DeleteRangeRequest {
            key: b(k),
            range_end: b(e),
            ..Default::default()
        })
    };
    let bad = [
        vec![put_op("a"), put_op("a")],
        vec![put_op("b"), del("a", "c")],
        vec![del("a", "\0"), put_op("z")],
        vec![
            put_op("a"),
            RequestOp::Txn(TxnRequest { success: vec![put_op("a")], ..Default::default() }),
        ],
        vec![
            del("a", "b"),
            RequestOp::Txn(TxnRequest { failure: vec![put_op("a")], ..Default::default() }),
        ],
    ];
    for ops in bad {
        let t = TxnRequest { success: ops.clone(), ..Default::default() };
        assert_err(s.txn(&t, &no_lease), EtcdError::DuplicateKey, Code::InvalidArgument, msg);
    }
    let fine = [
        vec![del("a", "c"), del("b", "d")],
        vec![RequestOp::Txn(TxnRequest {
            success: vec![put_op("a")],
            failure: vec![put_op("a")],
            ..Default::default()
        })],
    ];
    for ops in fine {
        s.txn(&TxnRequest { success: ops, ..Default::default() }, &no_lease).expect("allowed");
    }
    // The same key in then and else is allowed.
    let t =
        TxnRequest { success: vec![put_op("a")], failure: vec![put_op("a")], ..Default::default() };
    s.txn(&t, &no_lease).expect("then/else may share keys");
}

#[test]
fn nested_txn_compares_see_the_state_before_the_txn() {
    let mut s = Store::new();
    let nested = TxnRequest {
        compare: vec![Compare {
            key: b("a"),
            target: CompareTarget::Version,
            target_union: TargetUnion::Version(0),
            ..Default::default()
        }],
        success: vec![put_op("b")],
        failure: vec![put_op("c")],
    };
    let t = TxnRequest { success: vec![put_op("a"), RequestOp::Txn(nested)], ..Default::default() };
    let w = s.txn(&t, &no_lease).expect("txn");
    assert_eq!(w.events.len(), 2);
    assert_eq!(w.events[1].kv.key, b("b"));
    assert_eq!(s.current_revision(), 2);
}

#[test]
fn delete_keys_is_one_revision() {
    let mut s = Store::new();
    put(&mut s, "a", "1");
    put(&mut s, "b", "1");
    let events = s.delete_keys(&[b("a"), b("b"), b("missing"), b("a")]);
    assert_eq!(events.len(), 2);
    assert_eq!(s.current_revision(), 4);
    assert!(events.iter().all(|e| e.kv.mod_revision == 4 && e.r#type == EventType::Delete));
}

#[test]
fn long_and_short_keys_mix_in_order() {
    let mut s = Store::new();
    let long = "k".repeat(40);
    let longer = format!("{long}z");
    let keys = ["k", "kk", long.as_str(), longer.as_str(), "kl", "l"];
    for k in keys {
        put(&mut s, k, k);
    }
    for k in keys {
        assert_eq!(get(&s, k).kvs[0].value, b(k));
    }
    let all = RangeRequest { key: b("\0"), range_end: b("\0"), ..Default::default() };
    let mut sorted = keys.to_vec();
    sorted.sort();
    assert_eq!(range(&s, all), sorted);
    s.delete_range(&DeleteRangeRequest { key: b(&long), ..Default::default() }).expect("del");
    assert_eq!(get(&s, &long).count, 0);
    assert_eq!(get(&s, &longer).count, 1);
    let json = serde_json::to_string(&s).expect("ser");
    assert_eq!(serde_json::from_str::<Store>(&json).expect("de"), s);
}

#[test]
fn malformed_snapshots_are_rejected() {
    let mut s = Store::new();
    put(&mut s, "a", "1");
    put(&mut s, "b", "2");
    let good = serde_json::to_value(&s).expect("ser");
    assert_eq!(serde_json::from_value::<Store>(good.clone()).expect("de"), s);
    let mut bad_rev = good.clone();
    bad_rev["current_rev"] = serde_json::json!(0);
    assert!(serde_json::from_value::<Store>(bad_rev).is_err());
    let mut swapped = good.clone();
    let keys = swapped["keys"].as_array_mut().expect("keys");
    keys.swap(0, 1);
    assert!(serde_json::from_value::<Store>(swapped).is_err());
    let mut future = good;
    future["keys"][0][1][0]["mod_rev"] = serde_json::json!(99);
    assert!(serde_json::from_value::<Store>(future).is_err());
}
