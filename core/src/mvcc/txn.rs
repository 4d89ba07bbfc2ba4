//! Writes: request validation (static checks, then checks against the state), the txn
//! path (which branch each txn takes, decided before any write), and the writer that
//! applies puts and deletes at the next revision.

use super::delete::bury;
use super::history::{make_event, visible_at, History, Version};
use super::key::Key;
use super::{KeyRange, Store, Written};
use crate::api::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, EtcdError,
    Event, KeyValue, LeaseId, PutRequest, PutResponse, RangeRequest, RequestOp, ResponseHeader,
    ResponseOp, TargetUnion, TxnRequest, TxnResponse,
};
use bytes::Bytes;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

/// etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

pub(crate) fn check_range(req: &RangeRequest) -> Result<(), EtcdError> {
    if req.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    Ok(())
}

pub(crate) fn check_put(req: &PutRequest) -> Result<(), EtcdError> {
    if req.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    if req.ignore_value && !req.value.is_empty() {
        return Err(EtcdError::ValueProvided);
    }
    if req.ignore_lease && req.lease != 0 {
        return Err(EtcdError::LeaseProvided);
    }
    Ok(())
}

pub(crate) fn check_delete(req: &DeleteRangeRequest) -> Result<(), EtcdError> {
    if req.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    Ok(())
}

/// Static checks of a txn: op budget (nested txns get what their parent left), empty
/// keys, then the duplicate-key rule per branch.
pub(crate) fn check_txn(req: &TxnRequest, ops_max: usize) -> Result<(), EtcdError> {
    check_txn_ops(req, ops_max)?;
    check_intervals(&req.success)?;
    check_intervals(&req.failure)?;
    Ok(())
}

fn check_txn_ops(req: &TxnRequest, ops_max: usize) -> Result<(), EtcdError> {
    let ops = req.compare.len().max(req.success.len()).max(req.failure.len());
    if ops > ops_max {
        return Err(EtcdError::TooManyOps);
    }
    if req.compare.iter().any(|c| c.key.is_empty()) {
        return Err(EtcdError::EmptyKey);
    }
    for op in req.success.iter().chain(&req.failure) {
        match op {
            RequestOp::Range(r) => check_range(r)?,
            RequestOp::Put(p) => check_put(p)?,
            RequestOp::DeleteRange(d) => check_delete(d)?,
            RequestOp::Txn(t) => check_txn_ops(t, ops_max - ops)?,
        }
    }
    Ok(())
}

/// The keys a branch may put and the ranges it may delete.
#[derive(Default)]
struct Writes {
    puts: BTreeSet<Bytes>,
    dels: Vec<KeyRange>,
}

impl Writes {
    fn deletes(&self, key: &[u8]) -> bool {
        self.dels.iter().any(|d| d.contains(key))
    }

    fn puts_into(&self, range: &KeyRange) -> bool {
        if range.is_empty() {
            return false;
        }
        self.puts.range::<[u8], _>(range.bounds()).next().is_some()
    }

    /// Adds `other`'s writes; fails if a key would be written twice in one revision.
    fn merge(&mut self, other: Writes) -> Result<(), EtcdError> {
        for k in &other.puts {
            if self.puts.contains(k) || self.deletes(k) {
                return Err(EtcdError::DuplicateKey);
            }
        }
        if other.dels.iter().any(|d| self.puts_into(d)) {
            return Err(EtcdError::DuplicateKey);
        }
        self.puts.extend(other.puts);
        self.dels.extend(other.dels);
        Ok(())
    }
}

/// The duplicate-key rule: within one executed branch (nested txns included) no key may
/// be put twice or both put and deleted. A nested txn's then and else branches exclude
/// each other, so they may touch the same keys. Overlapping deletes are allowed.
fn check_intervals(ops: &[RequestOp]) -> Result<Writes, EtcdError> {
    let mut own = Writes::default();
    for op in ops {
        match op {
            RequestOp::Put(p) if !own.puts.insert(p.key.clone()) => {
                return Err(EtcdError::DuplicateKey);
            }
            RequestOp::DeleteRange(d) => own.dels.push(KeyRange::new(&d.key, &d.range_end)),
            _ => {}
        }
    }
    if own.puts.iter().any(|k| own.deletes(k)) {
        return Err(EtcdError::DuplicateKey);
    }
    for op in ops {
        if let RequestOp::Txn(t) = op {
            let then = check_intervals(&t.success)?;
            let other = check_intervals(&t.failure)?;
            let mut child = then;
            child.puts.extend(other.puts);
            child.dels.extend(other.dels);
            own.merge(child)?;
        }
    }
    Ok(own)
}

impl Store {
    /// Which branch every txn on the executed path takes, in pre-order. etcd decides all
    /// compares, nested ones included, against the state before the txn writes.
    pub(crate) fn txn_path(&self, req: &TxnRequest) -> Vec<bool> {
        let mut path = Vec::new();
        self.push_path(req, &mut path);
        path
    }

    fn push_path(&self, req: &TxnRequest, path: &mut Vec<bool>) {
        let ok = req.compare.iter().all(|c| self.compare(c));
        path.push(ok);
        for op in if ok { &req.success } else { &req.failure } {
            if let RequestOp::Txn(t) = op {
                self.push_path(t, path);
            }
        }
    }

    /// etcd's compare: every key in the range must satisfy it; a missing key compares
    /// as a zero KeyValue, except that a VALUE compare on a missing key is false.
    pub(crate) fn compare(&self, c: &Compare) -> bool {
        let kr = KeyRange::new(&c.key, &c.range_end);
        let rev = self.current_rev;
        let mut seen = false;
        let mut all = true;
        let mut check = |kv: KeyValue| {
            seen = true;
            all &= compare_kv(c, &kv);
        };
        match &kr {
            KeyRange::Single(k) => {
                if let Some(h) = self.history(k) {
                    if let Some(v) = visible_at(h, rev) {
                        check(v.to_kv(k.clone()));
                    }
                }
            }
            _ if kr.is_empty() => {}
            _ => {
                for (k, h) in self.keys.range::<_, [u8]>(kr.bounds()) {
                    if let Some(v) = visible_at(h, rev) {
                        check(v.to_kv(k.to_bytes()));
                    }
                }
            }
        }
        if !seen {
            return c.target != CompareTarget::Value && compare_kv(c, &KeyValue::default());
        }
        all
    }

    pub(crate) fn check_put_state(
        &self,
        req: &PutRequest,
        lease_exists: &dyn Fn(LeaseId) -> bool,
    ) -> Result<(), EtcdError> {
        if (req.ignore_value || req.ignore_lease) && self.get(&req.key).is_none() {
            return Err(EtcdError::KeyNotFound);
        }
        if req.lease != 0 && !lease_exists(req.lease) {
            return Err(EtcdError::LeaseNotFound);
        }
        Ok(())
    }

    /// Checks that depend on the state, along the executed path, before any write.
    pub(crate) fn check_txn_state(
        &self,
        req: &TxnRequest,
        path: &[bool],
        lease_exists: &dyn Fn(LeaseId) -> bool,
    ) -> Result<(), EtcdError> {
        let mut path = path.iter().copied();
        self.check_branch_state(req, &mut path, lease_exists)
    }

    fn check_branch_state(
        &self,
        req: &TxnRequest,
        path: &mut impl Iterator<Item = bool>,
        lease_exists: &dyn Fn(LeaseId) -> bool,
    ) -> Result<(), EtcdError> {
        let ok = path.next().expect("txn path is shorter than the txn");
        for op in if ok { &req.success } else { &req.failure } {
            match op {
                RequestOp::Range(r) => self.check_revision(r.revision)?,
                RequestOp::Put(p) => self.check_put_state(p, lease_exists)?,
                RequestOp::DeleteRange(_) => {}
                RequestOp::Txn(t) => self.check_branch_state(t, path, lease_exists)?,
            }
        }
        Ok(())
    }
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    let ord = match c.target {
        CompareTarget::Value => {
            let want: &[u8] = match &c.target_union {
                TargetUnion::Value(v) => v,
                _ => &[],
            };
            kv.value.as_ref().cmp(want)
        }
        CompareTarget::Version => kv.version.cmp(&union_int(&c.target_union, c.target)),
        CompareTarget::Create => kv.create_revision.cmp(&union_int(&c.target_union, c.target)),
        CompareTarget::Mod => kv.mod_revision.cmp(&union_int(&c.target_union, c.target)),
        CompareTarget::Lease => kv.lease.cmp(&union_int(&c.target_union, c.target)),
    };
    match c.result {
        CompareResult::Equal => ord == Ordering::Equal,
        CompareResult::NotEqual => ord != Ordering::Equal,
        CompareResult::Greater => ord == Ordering::Greater,
        CompareResult::Less => ord == Ordering::Less,
    }
}

/// The number a compare checks against; a union of the wrong kind reads as zero, as an
/// unset protobuf oneof field does.
fn union_int(u: &TargetUnion, target: CompareTarget) -> i64 {
    match (u, target) {
        (TargetUnion::Version(n), CompareTarget::Version)
        | (TargetUnion::CreateRevision(n), CompareTarget::Create)
        | (TargetUnion::ModRevision(n), CompareTarget::Mod)
        | (TargetUnion::Lease(n), CompareTarget::Lease) => *n,
        _ => 0,
    }
}

/// Applies validated writes at revision `current + 1`; `finish` advances the revision
/// only if something changed.
pub(crate) struct Writer<'s> {
    store: &'s mut Store,
    rev: i64,
    events: Vec<Event>,
}

impl<'s> Writer<'s> {
    pub(crate) fn new(store: &'s mut Store) -> Writer<'s> {
        let rev = store.current_rev + 1;
        Writer { store, rev, events: Vec::new() }
    }

    /// The revision reads inside this write see: they observe earlier writes of the txn.
    fn cur(&self) -> i64 {
        if self.events.is_empty() {
            self.store.current_rev
        } else {
            self.rev
        }
    }

    fn sub(&self) -> u32 {
        u32::try_from(self.events.len()).expect("more than u32::MAX writes in one revision")
    }

    pub(crate) fn put(&mut self, req: &PutRequest) -> PutResponse {
        let (rev, sub) = (self.rev, self.sub());
        // Copied so the store never pins a larger buffer the request was decoded from.
        let key = Bytes::copy_from_slice(&req.key);
        let probe = Key::new(&req.key);
        let (prev_kv, event) = match self.store.history_mut(&probe) {
            Some(h) => {
                let prev = h.last().filter(|v| !v.is_tombstone());
                let v = new_version(req, prev, rev, sub);
                let prev_kv = if req.prev_kv { prev.map(|p| p.to_kv(key.clone())) } else { None };
                let event = make_event(key, &v, prev);
                h.push(v);
                (prev_kv, event)
            }
            None => {
                let v = new_version(req, None, rev, sub);
                let event = make_event(key, &v, None);
                self.store.keys.insert(probe, History::new(v));
                (None, event)
            }
        };
        self.events.push(event);
        PutResponse { header: ResponseHeader::at(rev), prev_kv }
    }

    pub(crate) fn delete(&mut self, req: &DeleteRangeRequest) -> DeleteRangeResponse {
        let kr = KeyRange::new(&req.key, &req.range_end);
        let cur = self.cur();
        let mut doomed: Vec<Key> = Vec::new();
        match &kr {
            KeyRange::Single(k) => {
                if self.store.history(k).is_some_and(|h| visible_at(h, cur).is_some()) {
                    doomed.push(Key::new(k));
                }
            }
            _ if kr.is_empty() => {}
            _ => {
                for (k, h) in self.store.keys.range::<_, [u8]>(kr.bounds()) {
                    if visible_at(h, cur).is_some() {
                        doomed.push(k.clone());
                    }
                }
            }
        }
        let mut prev_kvs = Vec::new();
        self.events.reserve(doomed.len());
        for key in &doomed {
            let kvs = if req.prev_kv { Some(&mut prev_kvs) } else { None };
            bury(self.store, key, self.rev, &mut self.events, kvs);
        }
        DeleteRangeResponse {
            header: ResponseHeader::at(self.cur()),
            deleted: doomed.len() as i64,
            prev_kvs,
        }
    }

    /// Takes over the events of a delete applied in slices (the only write of its
    /// revision), so `finish` records them as any write's.
    pub(crate) fn adopt(&mut self, events: Vec<Event>) {
        assert!(self.events.is_empty(), "a sliced delete is the only write of its revision");
        self.events = events;
    }

    pub(crate) fn txn(
        &mut self,
        req: &TxnRequest,
        path: &mut impl Iterator<Item = bool>,
    ) -> TxnResponse {
        let succeeded = path.next().expect("txn path is shorter than the txn");
        let ops = if succeeded { &req.success } else { &req.failure };
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            responses.push(match op {
                RequestOp::Range(r) => ResponseOp::Range(self.store.range_at(r, self.cur())),
                RequestOp::Put(p) => ResponseOp::Put(self.put(p)),
                RequestOp::DeleteRange(d) => ResponseOp::DeleteRange(self.delete(d)),
                RequestOp::Txn(t) => ResponseOp::Txn(self.txn(t, path)),
            });
        }
        TxnResponse { header: ResponseHeader::at(self.cur()), succeeded, responses }
    }

    pub(crate) fn finish<R>(self, response: R) -> Written<R> {
        if self.events.is_empty() {
            return Written { response, events: Vec::new().into() };
        }
        let events: Arc<[Event]> = self.events.into();
        self.store.current_rev = self.rev;
        self.store.log.insert(self.rev, events.clone());
        // Revisions advance one at a time, so dropping the one that just left the
        // window keeps the log at its bound. The compaction revision's events stay.
        let leaving = self.rev - super::EVENT_LOG_REVISIONS;
        if leaving > self.store.compact_rev {
            self.store.log.remove(&leaving);
        }
        Written { response, events }
    }
}

/// The version a validated put writes, given the key's live version (if any).
fn new_version(req: &PutRequest, prev: Option<&Version>, rev: i64, sub: u32) -> Version {
    let missing = "ignore_value/ignore_lease on a missing key passed validation";
    // Kept as handed over: applied entries hand a slice of the log entry's payload
    // (`Proposal::decode_shared`), so the value is stored once.
    let value =
        if req.ignore_value { prev.expect(missing).value.clone() } else { req.value.clone() };
    let lease = if req.ignore_lease { prev.expect(missing).lease } else { req.lease };
    let (create_rev, version) = match prev {
        Some(p) => (p.create_rev, p.version + 1),
        None => (rev, 1),
    };
    Version { mod_rev: rev, sub, create_rev, version, lease, value }
}
