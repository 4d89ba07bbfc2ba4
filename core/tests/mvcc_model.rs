//! The store against a deliberately simple reference model (every version of every key
//! in a BTreeMap, compaction only moves a bound) on random operation sequences: every
//! response and error must match, for every Range option and historical revisions.
//! Also: snapshots (clones) stay frozen, and serialize/restore gives an identical store.

use bytes::Bytes;
use detcd_core::api::*;
use detcd_core::mvcc::Store;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
struct MVer {
    rev: i64,
    create: i64,
    version: i64,
    value: Bytes,
    deleted: bool,
}

#[derive(Clone, Debug)]
struct Model {
    keys: BTreeMap<Bytes, Vec<MVer>>,
    rev: i64,
    compact: i64,
}

fn in_range(key: &Bytes, end: &Bytes, k: &Bytes) -> bool {
    if end.is_empty() {
        k == key
    } else if end.as_ref() == b"\0" {
        k >= key
    } else {
        k >= key && k < end
    }
}

impl Model {
    fn new() -> Model {
        Model { keys: BTreeMap::new(), rev: 1, compact: -1 }
    }

    fn at(&self, k: &Bytes, rev: i64) -> Option<KeyValue> {
        let v = self.keys.get(k)?.iter().rev().find(|v| v.rev <= rev)?;
        (!v.deleted).then(|| KeyValue {
            key: k.clone(),
            create_revision: v.create,
            mod_revision: v.rev,
            version: v.version,
            value: v.value.clone(),
            lease: 0,
        })
    }

    fn check_rev(&self, rev: i64) -> Result<(), EtcdError> {
        if rev > self.rev {
            return Err(EtcdError::FutureRev);
        }
        if rev > 0 && rev < self.compact {
            return Err(EtcdError::Compacted);
        }
        Ok(())
    }

    fn range(&self, r: &RangeRequest, cur: i64) -> RangeResponse {
        let rev = if r.revision > 0 { r.revision } else { cur };
        let mut kvs: Vec<KeyValue> = self
            .keys
            .keys()
            .filter(|k| in_range(&r.key, &r.range_end, k))
            .filter_map(|k| self.at(k, rev))
            .collect();
        let count = kvs.len() as i64;
        let filters = r.min_mod_revision != 0
            || r.max_mod_revision != 0
            || r.min_create_revision != 0
            || r.max_create_revision != 0;
        if r.sort_order == SortOrder::None && !filters && r.limit > 0 {
            kvs.truncate(r.limit as usize + 1);
        }
        if r.count_only {
            kvs.clear();
        }
        kvs.retain(|kv| {
            (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
                && (r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
                && (r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
                && (r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
        });
        let order = match (r.sort_order, r.sort_target) {
            (SortOrder::None, SortTarget::Key) => SortOrder::None,
            (SortOrder::None, _) => SortOrder::Ascend,
            (o, _) => o,
        };
        let keyf = |kv: &KeyValue| -> (i64, Bytes) {
            match r.sort_target {
                SortTarget::Key => (0, kv.key.clone()),
                SortTarget::Version => (kv.version, Bytes::new()),
                SortTarget::Create => (kv.create_revision, Bytes::new()),
                SortTarget::Mod => (kv.mod_revision, Bytes::new()),
                SortTarget::Value => (0, kv.value.clone()),
            }
        };
        match order {
            SortOrder::Ascend => kvs.sort_by_key(keyf),
            SortOrder::Descend => kvs.sort_by_key(|kv| std::cmp::Reverse(keyf(kv))),
            SortOrder::None => {}
        }
        let mut more = false;
        if r.limit > 0 && kvs.len() > r.limit as usize {
            kvs.truncate(r.limit as usize);
            more = true;
        }
        if r.keys_only {
            kvs.iter_mut().for_each(|kv| kv.value = Bytes::new());
        }
        RangeResponse { header: ResponseHeader::at(cur), kvs, more, count }
    }

    fn write(&mut self, k: &Bytes, rev: i64, value: Option<Bytes>) {
        let prev = self.at(k, rev);
        let v = match value {
            Some(value) => MVer {
                rev,
                create: prev.as_ref().map_or(rev, |p| p.create_revision),
                version: prev.as_ref().map_or(1, |p| p.version + 1),
                value,
                deleted: false,
            },
            None => MVer { rev, create: 0, version: 0, value: Bytes::new(), deleted: true },
        };
        let h = self.keys.entry(k.clone()).or_default();
        if h.last().is_some_and(|l| l.rev == rev) {
            h.pop();
        }
        h.push(v);
    }

    /// Applies ops of one branch at revision rev+1; returns responses and whether any
    /// write happened.
    fn branch(&mut self, ops: &[RequestOp]) -> (Vec<ResponseOp>, bool) {
        let new = self.rev + 1;
        let mut wrote = false;
        let mut out = Vec::new();
        for op in ops {
            let cur = if wrote { new } else { self.rev };
            match op {
                RequestOp::Range(r) => out.push(ResponseOp::Range(self.range(r, cur))),
                RequestOp::Put(p) => {
                    let prev = self.at(&p.key, cur);
                    let value = if p.ignore_value {
                        prev.clone().expect("checked").value
                    } else {
                        p.value.clone()
                    };
                    self.write(&p.key, new, Some(value));
                    wrote = true;
                    let prev_kv = if p.prev_kv { prev } else { None };
                    out.push(ResponseOp::Put(PutResponse {
                        header: ResponseHeader::at(new),
                        prev_kv,
                    }));
                }
                RequestOp::DeleteRange(d) => {
                    let doomed: Vec<KeyValue> = self
                        .keys
                        .keys()
                        .filter(|k| in_range(&d.key, &d.range_end, k))
                        .filter_map(|k| self.at(k, cur))
                        .collect();
                    for kv in &doomed {
                        self.write(&kv.key, new, None);
                    }
                    wrote |= !doomed.is_empty();
                    let header = ResponseHeader::at(if wrote { new } else { self.rev });
                    out.push(ResponseOp::DeleteRange(DeleteRangeResponse {
                        header,
                        deleted: doomed.len() as i64,
                        prev_kvs: if d.prev_kv { doomed } else { Vec::new() },
                    }));
                }
                RequestOp::Txn(_) => unreachable!("the generator makes flat txns"),
            }
        }
        if wrote {
            self.rev = new;
        }
        (out, wrote)
    }

    fn compare(&self, c: &Compare) -> bool {
        let kv = self.at(&c.key, self.rev);
        if kv.is_none() && c.target == CompareTarget::Value {
            return false;
        }
        let kv = kv.unwrap_or_default();
        let ord = match (&c.target_union, c.target) {
            (TargetUnion::Value(v), CompareTarget::Value) => kv.value.cmp(v),
            (TargetUnion::Version(n), CompareTarget::Version) => kv.version.cmp(n),
            (TargetUnion::ModRevision(n), CompareTarget::Mod) => kv.mod_revision.cmp(n),
            _ => unreachable!("the generator pairs targets and unions"),
        };
        match c.result {
            CompareResult::Equal => ord.is_eq(),
            CompareResult::NotEqual => ord.is_ne(),
            CompareResult::Greater => ord.is_gt(),
            CompareResult::Less => ord.is_lt(),
        }
    }

    fn duplicate(ops: &[RequestOp]) -> bool {
        let puts: Vec<&Bytes> = ops
            .iter()
            .filter_map(|o| if let RequestOp::Put(p) = o { Some(&p.key) } else { None })
            .collect();
        let dup_put = puts.iter().enumerate().any(|(i, k)| puts[..i].contains(k));
        let put_in_del = ops.iter().any(|o| match o {
            RequestOp::DeleteRange(d) => puts.iter().any(|k| in_range(&d.key, &d.range_end, k)),
            _ => false,
        });
        dup_put || put_in_del
    }

    fn txn(&mut self, t: &TxnRequest) -> Result<TxnResponse, EtcdError> {
        if Model::duplicate(&t.success) || Model::duplicate(&t.failure) {
            return Err(EtcdError::DuplicateKey);
        }
        let ok = t.compare.iter().all(|c| self.compare(c));
        let ops = if ok { &t.success } else { &t.failure };
        for op in ops {
            match op {
                RequestOp::Range(r) => self.check_rev(r.revision)?,
                RequestOp::Put(p) if p.ignore_value && self.at(&p.key, self.rev).is_none() => {
                    return Err(EtcdError::KeyNotFound)
                }
                _ => {}
            }
        }
        let (responses, _) = self.branch(ops);
        Ok(TxnResponse { header: ResponseHeader::at(self.rev), succeeded: ok, responses })
    }

    fn compact(&mut self, rev: i64) -> Result<CompactionResponse, EtcdError> {
        if rev <= self.compact {
            return Err(EtcdError::Compacted);
        }
        if rev > self.rev {
            return Err(EtcdError::FutureRev);
        }
        self.compact = rev;
        Ok(CompactionResponse { header: ResponseHeader::at(self.rev) })
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put(PutRequest),
    Delete(DeleteRangeRequest),
    Txn(TxnRequest),
    Range(RangeRequest),
    /// Compact to (current revision - back).
    Compact(i64),
}

const KEYS: &[&str] = &["a", "ab", "b", "c", "d"];
const ENDS: &[&str] = &["", "", "\0", "b", "c", "e", "a"];

fn key() -> impl Strategy<Value = Bytes> {
    prop::sample::select(KEYS).prop_map(|k| Bytes::from_static(k.as_bytes()))
}

fn end() -> impl Strategy<Value = Bytes> {
    prop::sample::select(ENDS).prop_map(|k| Bytes::from_static(k.as_bytes()))
}

fn value() -> impl Strategy<Value = Bytes> {
    prop::sample::select(&["", "x", "y", "zz"][..]).prop_map(|v| Bytes::from_static(v.as_bytes()))
}

fn put_req() -> impl Strategy<Value = PutRequest> {
    (key(), value(), any::<bool>(), prop::bool::weighted(0.15)).prop_map(
        |(key, value, prev_kv, iv)| PutRequest {
            key,
            value: if iv { Bytes::new() } else { value },
            prev_kv,
            ignore_value: iv,
            ..PutRequest::default()
        },
    )
}

fn del_req() -> impl Strategy<Value = DeleteRangeRequest> {
    (key(), end(), any::<bool>()).prop_map(|(key, range_end, prev_kv)| DeleteRangeRequest {
        key,
        range_end,
        prev_kv,
    })
}

fn range_req() -> impl Strategy<Value = RangeRequest> {
    let order = prop::sample::select(&[SortOrder::None, SortOrder::Ascend, SortOrder::Descend][..]);
    let target = prop::sample::select(
        &[
            SortTarget::Key,
            SortTarget::Version,
            SortTarget::Create,
            SortTarget::Mod,
            SortTarget::Value,
        ][..],
    );
    let filter = prop_oneof![4 => Just(0i64), 1 => 1i64..12];
    (
        (key(), end(), 0i64..4, prop_oneof![2 => Just(0i64), 1 => 1i64..14], order, target),
        (any::<bool>(), prop::bool::weighted(0.15)),
        (filter.clone(), filter.clone(), filter.clone(), filter),
    )
        .prop_map(
            |(
                (key, range_end, limit, revision, sort_order, sort_target),
                (keys_only, count_only),
                f,
            )| {
                RangeRequest {
                    key,
                    range_end,
                    limit,
                    revision,
                    sort_order,
                    sort_target,
                    serializable: false,
                    keys_only,
                    count_only,
                    min_mod_revision: f.0,
                    max_mod_revision: f.1,
                    min_create_revision: f.2,
                    max_create_revision: f.3,
                }
            },
        )
}

fn txn_op() -> impl Strategy<Value = RequestOp> {
    prop_oneof![
        3 => put_req().prop_map(RequestOp::Put),
        1 => del_req().prop_map(RequestOp::DeleteRange),
        2 => range_req().prop_map(RequestOp::Range),
    ]
}

fn compare() -> impl Strategy<Value = Compare> {
    let result = prop::sample::select(
        &[
            CompareResult::Equal,
            CompareResult::NotEqual,
            CompareResult::Greater,
            CompareResult::Less,
        ][..],
    );
    let tu = prop_oneof![
        value().prop_map(|v| (CompareTarget::Value, TargetUnion::Value(v))),
        (0i64..3).prop_map(|n| (CompareTarget::Version, TargetUnion::Version(n))),
        (0i64..10).prop_map(|n| (CompareTarget::Mod, TargetUnion::ModRevision(n))),
    ];
    (key(), result, tu).prop_map(|(key, result, (target, target_union))| Compare {
        result,
        target,
        key,
        target_union,
        range_end: Bytes::new(),
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => put_req().prop_map(Op::Put),
        2 => del_req().prop_map(Op::Delete),
        3 => range_req().prop_map(Op::Range),
        2 => (prop::collection::vec(compare(), 0..3), prop::collection::vec(txn_op(), 0..4),
              prop::collection::vec(txn_op(), 0..4))
            .prop_map(|(compare, success, failure)| Op::Txn(TxnRequest { compare, success, failure })),
        1 => (0i64..4).prop_map(Op::Compact),
    ]
}

fn all_keys(s: &Store) -> RangeResponse {
    s.range(&RangeRequest {
        key: Bytes::from_static(b"\0"),
        range_end: Bytes::from_static(b"\0"),
        ..Default::default()
    })
    .expect("range all")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut store = Store::new();
        let mut model = Model::new();
        let mut frozen: Option<(Store, RangeResponse, u64)> = None;
        let no_lease = |_: LeaseId| false;
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Put(p) => {
                    let got = store.put(p, &no_lease).map(|w| w.response);
                    let want = model.txn(&TxnRequest { success: vec![RequestOp::Put(p.clone())], ..Default::default() })
                        .map(|t| match &t.responses[0] { ResponseOp::Put(r) => r.clone(), _ => unreachable!() });
                    prop_assert_eq!(got, want, "op {}: {:?}", i, op);
                }
                Op::Delete(d) => {
                    let got = store.delete_range(d).map(|w| w.response);
                    let want = model.txn(&TxnRequest { success: vec![RequestOp::DeleteRange(d.clone())], ..Default::default() })
                        .map(|t| match &t.responses[0] { ResponseOp::DeleteRange(r) => r.clone(), _ => unreachable!() });
                    prop_assert_eq!(got, want, "op {}: {:?}", i, op);
                }
                Op::Txn(t) => {
                    let before = store.current_revision();
                    let got = store.txn(t, &no_lease);
                    let want = model.txn(t);
                    if let Ok(w) = &got {
                        let wrote = !w.events.is_empty();
                        prop_assert_eq!(store.current_revision(), before + i64::from(wrote));
                        prop_assert!(w.events.iter().all(|e| e.kv.mod_revision == store.current_revision()));
                    }
                    prop_assert_eq!(got.map(|w| w.response), want, "op {}: {:?}", i, op);
                }
                Op::Range(r) => {
                    let got = store.range(r);
                    let want = model.check_rev(r.revision).map(|_| model.range(r, model.rev));
                    prop_assert_eq!(got, want, "op {}: {:?}", i, op);
                }
                Op::Compact(back) => {
                    let rev = model.rev - back;
                    prop_assert_eq!(store.compact(rev), model.compact(rev), "op {}: {:?}", i, op);
                }
            }
            prop_assert_eq!(store.current_revision(), model.rev);
            prop_assert_eq!(store.compact_revision(), model.compact);
            if i == ops.len() / 2 {
                frozen = Some((store.clone(), all_keys(&store), store.hash(0).expect("hash")));
            }
        }
        // Every retained revision reads the same as the model.
        for rev in model.compact.max(1)..=model.rev {
            let r = RangeRequest { key: Bytes::from_static(b"\0"), range_end: Bytes::from_static(b"\0"), revision: rev, ..Default::default() };
            prop_assert_eq!(store.range(&r), Ok(model.range(&r, model.rev)));
        }
        // A clone taken earlier is unaffected by later writes.
        if let Some((snap, seen, hash)) = frozen {
            prop_assert_eq!(all_keys(&snap), seen);
            prop_assert_eq!(snap.hash(0).expect("hash"), hash);
        }
        // Serialize / restore gives an identical store.
        let json = serde_json::to_string(&store).expect("serialize");
        let restored: Store = serde_json::from_str(&json).expect("deserialize");
        prop_assert_eq!(&restored, &store);
        prop_assert_eq!(restored.hash(0), store.hash(0));
        let from = store.compact_revision().max(1);
        let a: Vec<_> = store.events(from, store.current_revision()).map(|(r, e)| (r, e.to_vec())).collect();
        let b: Vec<_> = restored.events(from, store.current_revision()).map(|(r, e)| (r, e.to_vec())).collect();
        prop_assert_eq!(a, b);
    }
}
