//! Range, put, delete with their options; txn with every compare target, both branches,
//! and a txn nested in a txn.

use crate::{keys, put, value};
use detcd_etcd_client_tests::{run, Ctx};
use etcd_client::{
    Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, SortOrder, SortTarget, Txn, TxnOp,
    TxnOpResponse,
};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn strs(kvs: &[etcd_client::KeyValue]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| (kv.key_str().unwrap().to_string(), kv.value_str().unwrap().to_string()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn put_get_delete_with_options() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let r1 = put(&mut c, "/kv/a", "1").await;
        let r2 = put(&mut c, "/kv/b", "22").await;
        let r3 = put(&mut c, "/kv/c", "333").await;
        assert_eq!((r2, r3), (r1 + 1, r1 + 2));
        // prev_kv on put: the value it replaced.
        let resp = c.put("/kv/a", "4", Some(PutOptions::new().with_prev_key())).await.unwrap();
        let r4 = resp.header().unwrap().revision();
        assert_eq!(r4, r1 + 3);
        let prev = resp.prev_key().expect("prev_kv asked for");
        assert_eq!((prev.value_str().unwrap(), prev.mod_revision(), prev.version()), ("1", r1, 1));
        // No prev_kv for a new key, or when not asked.
        let resp = c.put("z", "last", Some(PutOptions::new().with_prev_key())).await.unwrap();
        assert!(resp.prev_key().is_none());
        let r5 = resp.header().unwrap().revision();
        assert!(c.put("z", "last", None).await.unwrap().prev_key().is_none());
        let r6 = r5 + 1;

        // A single key, with its revisions and version.
        let resp = c.get("/kv/a", None).await.unwrap();
        assert_eq!(resp.header().unwrap().revision(), r6);
        assert_eq!(resp.count(), 1);
        let kv = &resp.kvs()[0];
        assert_eq!(
            (kv.value_str().unwrap(), kv.create_revision(), kv.mod_revision()),
            ("4", r1, r4)
        );
        assert_eq!((kv.version(), kv.lease()), (2, 0));
        assert_eq!(value(&mut c, "nope").await, None);

        // Prefix, range, from-key.
        let all = pairs(&[("/kv/a", "4"), ("/kv/b", "22"), ("/kv/c", "333")]);
        let resp = c.get("/kv/", Some(GetOptions::new().with_prefix())).await.unwrap();
        assert_eq!((strs(resp.kvs()), resp.count(), resp.more()), (all.clone(), 3, false));
        let resp = c.get("/kv/a", Some(GetOptions::new().with_range("/kv/c"))).await.unwrap();
        assert_eq!(strs(resp.kvs()), all[..2].to_vec());
        let resp = c.get("/kv/b", Some(GetOptions::new().with_from_key())).await.unwrap();
        assert_eq!(strs(resp.kvs()), pairs(&[("/kv/b", "22"), ("/kv/c", "333"), ("z", "last")]));
        let resp = c.get("", Some(GetOptions::new().with_all_keys())).await.unwrap();
        assert_eq!(resp.count(), 4);

        // Limit: the first keys, `more`, and the count of all.
        let resp =
            c.get("/kv/", Some(GetOptions::new().with_prefix().with_limit(2))).await.unwrap();
        assert_eq!((strs(resp.kvs()), resp.count(), resp.more()), (all[..2].to_vec(), 3, true));

        // Sort by key, by modification revision, by value, by version.
        let sorted = |target, order| GetOptions::new().with_prefix().with_sort(target, order);
        let resp = c.get("/kv/", Some(sorted(SortTarget::Key, SortOrder::Descend))).await.unwrap();
        let names = |r: &etcd_client::GetResponse| {
            r.kvs().iter().map(|kv| kv.key_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(names(&resp), ["/kv/c", "/kv/b", "/kv/a"]);
        let resp = c.get("/kv/", Some(sorted(SortTarget::Mod, SortOrder::Descend))).await.unwrap();
        assert_eq!(names(&resp), ["/kv/a", "/kv/c", "/kv/b"]);
        let resp = c.get("/kv/", Some(sorted(SortTarget::Value, SortOrder::Ascend))).await.unwrap();
        assert_eq!(names(&resp), ["/kv/b", "/kv/c", "/kv/a"]);
        let resp =
            c.get("/kv/", Some(sorted(SortTarget::Version, SortOrder::Descend))).await.unwrap();
        assert_eq!(names(&resp)[0], "/kv/a");
        let resp = c
            .get("/kv/", Some(sorted(SortTarget::Create, SortOrder::Descend).with_limit(1)))
            .await
            .unwrap();
        assert_eq!((names(&resp), resp.more()), (vec!["/kv/c".to_string()], true));

        // At a past revision.
        let resp = c.get("/kv/a", Some(GetOptions::new().with_revision(r1))).await.unwrap();
        assert_eq!(strs(resp.kvs()), pairs(&[("/kv/a", "1")]));
        let resp =
            c.get("/kv/", Some(GetOptions::new().with_prefix().with_revision(r2))).await.unwrap();
        assert_eq!(strs(resp.kvs()), pairs(&[("/kv/a", "1"), ("/kv/b", "22")]));
        // A future revision is an error.
        let err = c.get("/kv/a", Some(GetOptions::new().with_revision(r6 + 100))).await;
        assert!(
            format!("{:?}", err.expect_err("future revision")).contains("future revision"),
            "error for a future revision"
        );

        // count_only and keys_only.
        let resp =
            c.get("/kv/", Some(GetOptions::new().with_prefix().with_count_only())).await.unwrap();
        assert_eq!((resp.kvs().len(), resp.count()), (0, 3));
        let resp =
            c.get("/kv/", Some(GetOptions::new().with_prefix().with_keys_only())).await.unwrap();
        assert_eq!(names(&resp), ["/kv/a", "/kv/b", "/kv/c"]);
        assert!(resp.kvs().iter().all(|kv| kv.value().is_empty()));
        assert_eq!(resp.kvs()[0].mod_revision(), r4);

        // Delete one key with prev_kv, then the rest of the prefix.
        let resp = c.delete("/kv/b", Some(DeleteOptions::new().with_prev_key())).await.unwrap();
        assert_eq!(resp.deleted(), 1);
        assert_eq!(strs(resp.prev_kvs()), pairs(&[("/kv/b", "22")]));
        assert_eq!(resp.header().unwrap().revision(), r6 + 1);
        let resp = c.delete("/kv/b", None).await.unwrap();
        assert_eq!(resp.deleted(), 0);
        assert_eq!(resp.header().unwrap().revision(), r6 + 1, "a delete of nothing is no write");
        let resp = c.delete("/kv/", Some(DeleteOptions::new().with_prefix())).await.unwrap();
        assert_eq!((resp.deleted(), resp.prev_kvs().len()), (2, 0));
        assert!(keys(&mut c, "/kv/").await.is_empty());
        assert_eq!(keys(&mut c, "").await, ["z"]);
        // History stays readable.
        let resp = c.get("/kv/b", Some(GetOptions::new().with_revision(r6))).await.unwrap();
        assert_eq!(strs(resp.kvs()), pairs(&[("/kv/b", "22")]));

        // A write through one member is read through another.
        let mut m0 = ctx.client_of(0).await;
        let mut m2 = ctx.client_of(2).await;
        put(&mut m0, "across", "members").await;
        assert_eq!(value(&mut m2, "across").await.as_deref(), Some("members"));
    });
}

fn get_value(resp: &TxnOpResponse) -> Option<String> {
    match resp {
        TxnOpResponse::Get(g) => g.kvs().first().map(|kv| kv.value_str().unwrap().to_string()),
        other => panic!("expected a range response, got {other:?}"),
    }
}

#[test]
fn txn_compares_and_nesting() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let r = put(&mut c, "t/k", "v1").await;
        let guard = |v: &str, version: i64, create: i64, modr: i64| {
            vec![
                Compare::value("t/k", CompareOp::Equal, v),
                Compare::version("t/k", CompareOp::Equal, version),
                Compare::create_revision("t/k", CompareOp::Equal, create),
                Compare::mod_revision("t/k", CompareOp::Equal, modr),
            ]
        };
        let txn = |cmp: Vec<Compare>| {
            Txn::new()
                .when(cmp)
                .and_then([TxnOp::put("t/k", "v2", None), TxnOp::get("t/k", None)])
                .or_else([TxnOp::get("t/k", None), TxnOp::put("t/failed", "yes", None)])
        };

        // Success branch: every compare holds. The whole txn is one revision.
        let resp = c.txn(txn(guard("v1", 1, r, r))).await.unwrap();
        assert!(resp.succeeded());
        assert_eq!(resp.header().unwrap().revision(), r + 1);
        let ops = resp.op_responses();
        assert_eq!(ops.len(), 2);
        match &ops[0] {
            TxnOpResponse::Put(p) => assert_eq!(p.header().unwrap().revision(), r + 1),
            other => panic!("expected a put response, got {other:?}"),
        }
        assert_eq!(get_value(&ops[1]).as_deref(), Some("v2"), "a txn reads its own write");

        // Failure branch: the same compares no longer hold (value, version, mod revision).
        let resp = c.txn(txn(guard("v1", 1, r, r))).await.unwrap();
        assert!(!resp.succeeded());
        assert_eq!(resp.header().unwrap().revision(), r + 2);
        let ops = resp.op_responses();
        assert_eq!(ops.len(), 2);
        assert_eq!(get_value(&ops[0]).as_deref(), Some("v2"));
        assert_eq!(value(&mut c, "t/failed").await.as_deref(), Some("yes"));

        // Each compare alone decides: one false compare is enough to fail.
        for (i, cmp) in [
            Compare::value("t/k", CompareOp::Equal, "other"),
            Compare::version("t/k", CompareOp::Equal, 1),
            Compare::create_revision("t/k", CompareOp::Equal, r + 1),
            Compare::mod_revision("t/k", CompareOp::Equal, r),
        ]
        .into_iter()
        .enumerate()
        {
            let mut cmps = guard("v2", 2, r, r + 1);
            cmps[i] = cmp;
            let resp = c.txn(Txn::new().when(cmps).and_then([TxnOp::get("t/k", None)])).await;
            assert!(!resp.unwrap().succeeded(), "compare {i} is false, so the txn fails");
        }
        // ...and the true ones succeed, with the other operators.
        let resp = c
            .txn(Txn::new().when(vec![
                Compare::value("t/k", CompareOp::NotEqual, "v1"),
                Compare::value("t/k", CompareOp::Greater, "v1"),
                Compare::version("t/k", CompareOp::Greater, 1),
                Compare::version("t/k", CompareOp::Less, 3),
                Compare::create_revision("t/k", CompareOp::Less, r + 1),
                Compare::mod_revision("t/k", CompareOp::Greater, r),
                // A missing key has version and create revision 0.
                Compare::version("t/missing", CompareOp::Equal, 0),
                Compare::create_revision("t/missing", CompareOp::Equal, 0),
            ]))
            .await
            .unwrap();
        assert!(resp.succeeded());
        assert_eq!(resp.op_responses().len(), 0);
        // A read-only txn does not move the revision.
        assert_eq!(resp.header().unwrap().revision(), r + 2);

        // Nested: the outer txn succeeds, the inner one takes its failure branch, then
        // the success branch.
        let inner = |v: &str| {
            Txn::new()
                .when([Compare::value("t/k", CompareOp::Equal, v)])
                .and_then([TxnOp::put("t/inner", "then", None)])
                .or_else([
                    TxnOp::put("t/inner", "else", Some(PutOptions::new().with_prev_key())),
                    TxnOp::delete("t/failed", Some(DeleteOptions::new().with_prev_key())),
                ])
        };
        let outer = |v: &str| {
            Txn::new()
                .when([Compare::version("t/k", CompareOp::Greater, 0)])
                .and_then([TxnOp::txn(inner(v)), TxnOp::get("t/inner", None)])
        };
        let resp = c.txn(outer("no such value")).await.unwrap();
        assert!(resp.succeeded());
        let ops = resp.op_responses();
        let TxnOpResponse::Txn(nested) = &ops[0] else { panic!("expected a txn response") };
        assert!(!nested.succeeded());
        let nested_ops = nested.op_responses();
        assert_eq!(nested_ops.len(), 2);
        match &nested_ops[1] {
            TxnOpResponse::Delete(d) => {
                assert_eq!(d.deleted(), 1);
                assert_eq!(d.prev_kvs()[0].value_str().unwrap(), "yes");
            }
            other => panic!("expected a delete response, got {other:?}"),
        }
        assert_eq!(get_value(&ops[1]).as_deref(), Some("else"));
        let rev = resp.header().unwrap().revision();
        assert_eq!(rev, r + 3, "a nested txn is still one revision");

        let resp = c.txn(outer("v2")).await.unwrap();
        let ops = resp.op_responses();
        let TxnOpResponse::Txn(nested) = &ops[0] else { panic!("expected a txn response") };
        assert!(nested.succeeded());
        assert_eq!(get_value(&ops[1]).as_deref(), Some("then"));
        let kv = c.get("t/inner", None).await.unwrap().kvs()[0].clone();
        assert_eq!((kv.version(), kv.mod_revision()), (2, r + 4));
        assert_eq!(value(&mut c, "t/failed").await, None);
    });
}
