//! The etcd model: revisions, versions, txn branches, and histories of detcd clients.

use detcd_checker::models::etcd::{
    apply, Compare, CompareResult, CompareTarget, EtcdState, KeyRange, KeyValue, Request, Response,
    ResponseBody,
};
use detcd_checker::models::Etcd;
use detcd_checker::{check, Budget, History, Model, Verdict};

fn put(key: &str, value: &str) -> Request {
    Request::Put { key: key.into(), value: value.into(), prev_kv: false }
}

fn get(key: &str) -> Request {
    Request::Range { range: KeyRange::Key(key.into()) }
}

fn kv(key: &str, value: &str, create: i64, modified: i64, version: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
        create_revision: create,
        mod_revision: modified,
        version,
    }
}

fn run(requests: &[Request]) -> (EtcdState, Vec<Response>) {
    let mut state = EtcdState::new();
    let mut out = Vec::new();
    for r in requests {
        let (next, resp) = apply(&state, r);
        state = next;
        out.push(resp);
    }
    (state, out)
}

#[test]
fn a_new_store_is_at_revision_1_and_each_write_adds_one() {
    let (state, out) = run(&[get("a"), put("a", "1"), put("a", "2"), put("b", "x"), get("a")]);
    assert_eq!(out[0], Response { revision: 1, body: ResponseBody::Range { kvs: vec![] } });
    assert_eq!(out[1].revision, 2);
    assert_eq!(out[2].revision, 3);
    assert_eq!(out[3].revision, 4);
    assert_eq!(
        out[4],
        Response { revision: 4, body: ResponseBody::Range { kvs: vec![kv("a", "2", 2, 3, 2)] } }
    );
    assert_eq!(state.revision(), 4);
}

#[test]
fn deleting_nothing_does_not_advance_the_revision() {
    let del = |k: &str| Request::DeleteRange { range: KeyRange::Key(k.into()), prev_kv: true };
    let (_, out) = run(&[put("a", "1"), del("zz"), del("a"), get("a"), put("a", "again")]);
    assert_eq!(
        out[1],
        Response { revision: 2, body: ResponseBody::DeleteRange { deleted: 0, prev_kvs: vec![] } }
    );
    assert_eq!(
        out[2],
        Response {
            revision: 3,
            body: ResponseBody::DeleteRange { deleted: 1, prev_kvs: vec![kv("a", "1", 2, 2, 1)] }
        }
    );
    assert_eq!(out[3].revision, 3);
    // A re-created key starts over: new create revision, version 1.
    let (_, out2) = run(&[put("a", "1"), del("a"), put("a", "again"), get("a")]);
    assert_eq!(out2[3].body, ResponseBody::Range { kvs: vec![kv("a", "again", 4, 4, 1)] });
}

#[test]
fn prefix_and_span_ranges_are_sorted_by_key() {
    let (_, out) = run(&[
        put("b/2", "y"),
        put("b/1", "x"),
        put("c", "z"),
        Request::Range { range: KeyRange::Prefix("b/".into()) },
        Request::Range { range: KeyRange::Span { start: "b/2".into(), end: "d".into() } },
    ]);
    assert_eq!(
        out[3].body,
        ResponseBody::Range { kvs: vec![kv("b/1", "x", 3, 3, 1), kv("b/2", "y", 2, 2, 1)] }
    );
    assert_eq!(
        out[4].body,
        ResponseBody::Range { kvs: vec![kv("b/2", "y", 2, 2, 1), kv("c", "z", 4, 4, 1)] }
    );
}

fn txn(compare: Vec<Compare>, success: Vec<Request>, failure: Vec<Request>) -> Request {
    Request::Txn { compare, success, failure }
}

fn cmp(key: &str, target: CompareTarget, result: CompareResult) -> Compare {
    Compare { key: key.into(), target, result }
}

#[test]
fn txn_writes_share_one_revision_and_reads_only_txns_do_not_bump() {
    let t = txn(
        vec![cmp("a", CompareTarget::Version(0), CompareResult::Equal)],
        vec![put("a", "1"), put("b", "2"), get("a")],
        vec![get("a")],
    );
    let (_, out) = run(&[t.clone(), t]);
    assert_eq!(
        out[0],
        Response {
            revision: 2,
            body: ResponseBody::Txn {
                succeeded: true,
                responses: vec![
                    ResponseBody::Put { prev_kv: None },
                    ResponseBody::Put { prev_kv: None },
                    ResponseBody::Range { kvs: vec![kv("a", "1", 2, 2, 1)] },
                ],
            },
        }
    );
    // The second time the compare fails and the failure branch only reads.
    assert_eq!(
        out[1],
        Response {
            revision: 2,
            body: ResponseBody::Txn {
                succeeded: false,
                responses: vec![ResponseBody::Range { kvs: vec![kv("a", "1", 2, 2, 1)] }],
            },
        }
    );
}

#[test]
fn compares_on_a_missing_key() {
    let value_ne = txn(
        vec![cmp("nope", CompareTarget::Value("x".into()), CompareResult::NotEqual)],
        vec![],
        vec![],
    );
    let mod_eq_0 =
        txn(vec![cmp("nope", CompareTarget::ModRevision(0), CompareResult::Equal)], vec![], vec![]);
    let create_lt = txn(
        vec![cmp("nope", CompareTarget::CreateRevision(1), CompareResult::Less)],
        vec![],
        vec![],
    );
    let (_, out) = run(&[value_ne, mod_eq_0, create_lt]);
    let succeeded =
        |r: &Response| matches!(r.body, ResponseBody::Txn { succeeded, .. } if succeeded);
    assert!(!succeeded(&out[0]), "a value compare on a missing key is false");
    assert!(succeeded(&out[1]) && succeeded(&out[2]), "revisions of a missing key compare as 0");
}

/// etcd decides the whole path of a txn before running it: a nested txn's compare sees
/// the store as it was before the outer txn, not the puts before it in its branch.
#[test]
fn nested_compares_read_the_store_before_the_txn() {
    let nested = txn(
        vec![cmp("a", CompareTarget::Version(0), CompareResult::Equal)],
        vec![put("b", "nested-success")],
        vec![put("b", "nested-failure")],
    );
    let outer = txn(vec![], vec![put("a", "1"), nested], vec![]);
    let (state, out) = run(&[outer]);
    let ResponseBody::Txn { responses, .. } = &out[0].body else { panic!("not a txn") };
    assert!(
        matches!(&responses[1], ResponseBody::Txn { succeeded: true, .. }),
        "the nested compare saw the outer put: {responses:?}"
    );
    let (_, read) = apply(&state, &get("b"));
    assert_eq!(read.body, ResponseBody::Range { kvs: vec![kv("b", "nested-success", 2, 2, 1)] });
}

#[test]
fn put_returns_the_previous_kv_when_asked() {
    let (_, out) =
        run(&[put("a", "1"), Request::Put { key: "a".into(), value: "2".into(), prev_kv: true }]);
    assert_eq!(out[1].body, ResponseBody::Put { prev_kv: Some(kv("a", "1", 2, 2, 1)) });
}

#[test]
fn histories_with_revisions() {
    let put_resp = |rev| Response { revision: rev, body: ResponseBody::Put { prev_kv: None } };
    let read_resp = |rev, kvs| Response { revision: rev, body: ResponseBody::Range { kvs } };

    // Two concurrent puts: their revisions fix their order; a read after both sees the
    // one with the higher revision.
    let mut h = History::new();
    h.returned(0, 0, 10, put("k", "a"), put_resp(3)).unwrap();
    h.returned(1, 1, 9, put("k", "b"), put_resp(2)).unwrap();
    h.returned(2, 11, 12, get("k"), read_resp(3, vec![kv("k", "a", 2, 3, 2)])).unwrap();
    assert_eq!(check(&Etcd, &h, &Budget::default()).verdict, Verdict::Linearizable);

    // The same read claiming the other value is stale.
    let mut bad = h.clone();
    bad.returned(3, 13, 14, get("k"), read_resp(3, vec![kv("k", "b", 2, 2, 1)])).unwrap();
    assert_eq!(check(&Etcd, &bad, &Budget::default()).verdict, Verdict::NotLinearizable);

    // A value that is right but with a wrong header revision is caught too.
    let mut bad = h.clone();
    bad.returned(3, 13, 14, get("k"), read_resp(2, vec![kv("k", "a", 2, 3, 2)])).unwrap();
    assert_eq!(check(&Etcd, &bad, &Budget::default()).verdict, Verdict::NotLinearizable);

    // A put whose revision skips one: only possible if an unknown write took effect.
    let mut h = History::new();
    h.returned(0, 0, 1, put("k", "a"), put_resp(2)).unwrap();
    h.unknown(1, 2, put("j", "x")).unwrap();
    h.returned(0, 3, 4, put("k", "b"), put_resp(4)).unwrap();
    assert_eq!(check(&Etcd, &h, &Budget::default()).verdict, Verdict::Linearizable);
    let mut without = History::new();
    without.returned(0, 0, 1, put("k", "a"), put_resp(2)).unwrap();
    without.returned(0, 3, 4, put("k", "b"), put_resp(4)).unwrap();
    assert_eq!(check(&Etcd, &without, &Budget::default()).verdict, Verdict::NotLinearizable);

    // A read can see the unknown write's key only after it took effect.
    h.returned(2, 5, 6, get("j"), read_resp(4, vec![kv("j", "x", 3, 3, 1)])).unwrap();
    assert_eq!(check(&Etcd, &h, &Budget::default()).verdict, Verdict::Linearizable);
}

#[test]
fn describe_speaks_etcd() {
    let s = EtcdState::new();
    let (s, r) = apply(&s, &put("a", "1"));
    assert_eq!(Etcd.describe_state(&s), "revision 2: {\"a\"=\"1\" (create 2, mod 2, v1)}");
    assert_eq!(Etcd.describe_operation(&put("a", "1"), Some(&r)), "put(\"a\", \"1\") -> ok @rev 2");
    assert_eq!(Etcd.describe_operation(&get("a"), None), "range(\"a\") -> unknown");
}
