//! The etcd server state machine on a 3-member cluster: KV requests on the leader and
//! on followers, linearizable and serializable reads, response headers, and etcd's
//! errors for the cases the server owns.

mod server_net;

use bytes::Bytes;
use detcd_core::api::{
    CompactionRequest, Compare, CompareResult, CompareTarget, DeleteRangeRequest, EtcdError,
    PutRequest, RangeRequest, RequestOp, TargetUnion, TxnRequest,
};
use detcd_core::process::Process;
use detcd_core::server::{Request, Response};
use server_net::{err, put, range, values, Cluster, CLUSTER_ID};

fn b(s: &str) -> Bytes {
    Bytes::from(s.as_bytes().to_vec())
}

#[test]
fn leader_serves_puts_gets_deletes_with_headers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let r = c.put(l, "a", "1");
    let Response::Put(p) = &r else { panic!("{r:?}") };
    assert_eq!(p.header.revision, 2, "the first write of a new store gets revision 2");
    assert_eq!(p.header.cluster_id, CLUSTER_ID);
    assert_eq!(p.header.member_id, l);
    assert_eq!(p.header.raft_term, c.node(l).status().term);

    assert_eq!(values(&c.get(l, "a", false)), vec!["1"]);
    let r = c.call(l, Request::Range(range("missing")));
    let Response::Range(rr) = &r else { panic!("{r:?}") };
    assert!(rr.kvs.is_empty() && rr.count == 0, "a missing key is not an error");

    let r = c.call(
        l,
        Request::DeleteRange(DeleteRangeRequest {
            key: b("a"),
            prev_kv: true,
            ..Default::default()
        }),
    );
    let Response::DeleteRange(d) = &r else { panic!("{r:?}") };
    assert_eq!(d.deleted, 1);
    assert_eq!(d.header.revision, 3);
    assert_eq!(d.prev_kvs[0].value, b("1"));
    assert!(values(&c.get(l, "a", false)).is_empty());
}

#[test]
fn followers_forward_writes_and_serve_both_read_kinds() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = c.followers()[0];
    let r = c.put(f, "k", "from-follower");
    let Response::Put(p) = &r else { panic!("{r:?}") };
    assert_eq!(p.header.member_id, f, "the member that took the request answers it");
    assert_eq!(values(&c.get(l, "k", false)), vec!["from-follower"]);
    // A linearizable read on the other follower sees the write at once.
    let g = c.followers()[1];
    assert_eq!(values(&c.get(g, "k", false)), vec!["from-follower"]);
    // A serializable read is local: after the commit reached it, it sees the write.
    c.run(5);
    assert_eq!(values(&c.get(g, "k", true)), vec!["from-follower"]);
    c.converge();
}

#[test]
fn txn_compares_and_branches() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.put(l, "x", "1");
    let txn = |expect: &str| TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal,
            target: CompareTarget::Value,
            key: b("x"),
            target_union: TargetUnion::Value(b(expect)),
            range_end: Bytes::new(),
        }],
        success: vec![RequestOp::Put(put("x", "2")), RequestOp::Range(range("x"))],
        failure: vec![RequestOp::Range(range("x"))],
    };
    let f = c.followers()[0];
    let r = c.call(f, Request::Txn(txn("1")));
    let Response::Txn(t) = &r else { panic!("{r:?}") };
    assert!(t.succeeded);
    assert_eq!(t.header.revision, 3);
    let r = c.call(l, Request::Txn(txn("1")));
    let Response::Txn(t) = &r else { panic!("{r:?}") };
    assert!(!t.succeeded, "x is 2 now");
    assert_eq!(t.header.revision, 3, "a failed compare with a read-only branch writes nothing");
    // A read-only txn is served as a read (linearizable on a follower).
    let ro = TxnRequest { success: vec![RequestOp::Range(range("x"))], ..Default::default() };
    let r = c.call(f, Request::Txn(ro));
    let Response::Txn(t) = &r else { panic!("{r:?}") };
    assert!(t.succeeded);
}

#[test]
fn validation_errors_match_etcd() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let empty = c.call(l, Request::Put(put("", "v")));
    assert_eq!(err(&empty), EtcdError::EmptyKey);
    let r = c.call(l, Request::Put(PutRequest { ignore_value: true, ..put("k", "v") }));
    assert_eq!(err(&r), EtcdError::ValueProvided);
    let r = c.call(l, Request::Put(PutRequest { ignore_lease: true, lease: 5, ..put("k", "") }));
    assert_eq!(err(&r), EtcdError::LeaseProvided);

    let big = "x".repeat(1_600_000);
    assert_eq!(err(&c.put(l, "big", &big)), EtcdError::RequestTooLarge);
    // Just under the limit passes.
    let ok = "x".repeat(1_500_000);
    assert!(c.put(l, "big", &ok).err().is_none());

    let ops = |n: usize| TxnRequest {
        success: (0..n).map(|i| RequestOp::Put(put(&format!("k{i}"), "v"))).collect(),
        ..Default::default()
    };
    assert!(c.call(l, Request::Txn(ops(128))).err().is_none(), "128 ops are allowed");
    assert_eq!(err(&c.call(l, Request::Txn(ops(129)))), EtcdError::TooManyOps);

    let dup = TxnRequest {
        success: vec![RequestOp::Put(put("d", "1")), RequestOp::Put(put("d", "2"))],
        ..Default::default()
    };
    assert_eq!(err(&c.call(l, Request::Txn(dup))), EtcdError::DuplicateKey);
    let overlap = TxnRequest {
        success: vec![
            RequestOp::DeleteRange(DeleteRangeRequest {
                key: b("a"),
                range_end: b("z"),
                ..Default::default()
            }),
            RequestOp::Put(put("m", "1")),
        ],
        ..Default::default()
    };
    assert_eq!(err(&c.call(l, Request::Txn(overlap))), EtcdError::DuplicateKey);
    let then_else = TxnRequest {
        success: vec![RequestOp::Put(put("d", "1"))],
        failure: vec![RequestOp::Put(put("d", "2"))],
        ..Default::default()
    };
    assert!(c.call(l, Request::Txn(then_else)).err().is_none(), "then and else may share a key");

    let unknown_lease = c.call(l, Request::Put(PutRequest { lease: 424242, ..put("k", "v") }));
    assert_eq!(err(&unknown_lease), EtcdError::LeaseNotFound);
    let ignore_missing =
        c.call(l, Request::Put(PutRequest { ignore_value: true, ..put("nope", "") }));
    assert_eq!(err(&ignore_missing), EtcdError::KeyNotFound);
}

#[test]
fn compacted_and_future_revisions() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for i in 0..5 {
        c.put(l, "r", &i.to_string());
    }
    // Revisions 2..=6 exist.
    let at = |rev: i64| Request::Range(RangeRequest { revision: rev, ..range("r") });
    assert_eq!(values(&c.call(l, at(3))), vec!["1"]);
    assert_eq!(err(&c.call(l, at(7))), EtcdError::FutureRev);
    let r = c.call(l, Request::Compact(CompactionRequest { revision: 4, physical: false }));
    assert!(r.err().is_none(), "{r:?}");
    let f = c.followers()[0];
    assert_eq!(err(&c.call(f, at(3))), EtcdError::Compacted);
    assert_eq!(values(&c.call(f, at(4))), vec!["2"]);
    let again = c.call(l, Request::Compact(CompactionRequest { revision: 4, physical: false }));
    assert_eq!(err(&again), EtcdError::Compacted);
    let future = c.call(l, Request::Compact(CompactionRequest { revision: 99, physical: false }));
    assert_eq!(err(&future), EtcdError::FutureRev);
    c.converge();
}

#[test]
fn no_leader_refuses_writes_and_linearizable_reads_but_serves_serializable() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.put(l, "s", "1");
    c.run(3);
    // A fresh node that never saw a leader has none.
    for id in c.ids() {
        c.isolate(id);
    }
    c.run(40);
    let f = c.followers()[0];
    assert_eq!(c.node(f).status().leader, None);
    assert_eq!(err(&c.put(f, "s", "2")), EtcdError::NoLeader);
    assert_eq!(err(&c.get(f, "s", false)), EtcdError::NoLeader);
    assert_eq!(values(&c.get(f, "s", true)), vec!["1"]);
    assert_eq!(EtcdError::NoLeader.message(), "etcdserver: no leader");
}
