//! Random etcd transactions for the workload: every compare target (value, version,
//! create and mod revision) with every operator (`=`, `!=`, `<`, `>`), branches of
//! puts, deletes, reads and one level of nested txn (etcd 3.4 accepts a `RequestOp`
//! txn inside a txn). A txn is drawn in the checker's model form, so the history
//! needs no translation, and turned into the core's request here.
//!
//! Operands are drawn near what the client last saw of the key (its mod revision, one
//! either side, zero for "absent"), so every operator both succeeds and fails often.
//! Writes inside one branch, nested branches included, go to distinct keys: etcd
//! refuses a txn that writes a key twice ("duplicate key given in txn request"), and
//! a refused txn tests nothing.

use bytes::Bytes;
use detcd_checker::models::etcd::{Compare, CompareResult, CompareTarget, KeyRange, Request};
use detcd_core::api;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Requests in one branch, at most.
const BRANCH_OPS_MAX: usize = 3;
/// Compares in one txn, at most.
const COMPARES_MAX: usize = 2;

/// What the generator may draw from: the workload's keys, what the client last saw of
/// each, and a source of fresh values.
pub struct TxnDraw<'a> {
    pub rng: &'a mut ChaCha8Rng,
    /// Every key of the workload, in order.
    pub keys: &'a [String],
    /// The mod revision the client last saw for a key (0: absent or never seen).
    pub last_mod: &'a dyn Fn(&str) -> i64,
    /// The newest revision the client has seen.
    pub last_revision: i64,
    /// A value no other put writes.
    pub fresh_value: &'a mut dyn FnMut() -> String,
}

impl TxnDraw<'_> {
    /// A txn with one to `COMPARES_MAX` compares and branches that may nest one txn.
    pub fn txn(&mut self) -> Request {
        self.txn_at(0)
    }

    fn txn_at(&mut self, depth: u32) -> Request {
        let compares = (0..self.rng.gen_range(1..=COMPARES_MAX)).map(|_| self.compare()).collect();
        let mut free: Vec<String> = self.keys.to_vec();
        free.shuffle(self.rng);
        let mut free_failure = free.clone();
        let success = self.branch(depth, &mut free);
        let failure = self.branch(depth, &mut free_failure);
        Request::Txn { compare: compares, success, failure }
    }

    fn compare(&mut self) -> Compare {
        let key = self.keys.choose(self.rng).cloned().unwrap_or_default();
        let seen = (self.last_mod)(&key);
        let near = |rng: &mut ChaCha8Rng, x: i64| (x + rng.gen_range(-1..=1)).max(0);
        let target = match self.rng.gen_range(0..4) {
            0 => CompareTarget::Value(if self.rng.gen_bool(0.5) {
                // Values are "c<client>-<seq>": compare against a plausible one so `<`
                // and `>` split the written values.
                format!("c{}-{}", self.rng.gen_range(1..=4), self.rng.gen_range(1..=40))
            } else {
                String::new()
            }),
            1 => CompareTarget::Version(self.rng.gen_range(0..=3)),
            2 => CompareTarget::CreateRevision(if self.rng.gen_bool(0.3) {
                0
            } else {
                near(self.rng, seen)
            }),
            _ => CompareTarget::ModRevision(if self.rng.gen_bool(0.2) {
                near(self.rng, self.last_revision)
            } else {
                near(self.rng, seen)
            }),
        };
        let result = match self.rng.gen_range(0..4) {
            0 => CompareResult::Equal,
            1 => CompareResult::NotEqual,
            2 => CompareResult::Less,
            _ => CompareResult::Greater,
        };
        Compare { key, target, result }
    }

    /// A branch of up to `BRANCH_OPS_MAX` requests; writes take keys out of `free`.
    fn branch(&mut self, depth: u32, free: &mut Vec<String>) -> Vec<Request> {
        let n = self.rng.gen_range(0..=BRANCH_OPS_MAX);
        let mut ops = Vec::with_capacity(n);
        for _ in 0..n {
            let read_key = self.keys.choose(self.rng).cloned().unwrap_or_default();
            let op = match self.rng.gen_range(0..10) {
                0..=3 => match free.pop() {
                    Some(key) => Request::Put { key, value: (self.fresh_value)(), prev_kv: false },
                    None => Request::Range { range: KeyRange::Key(read_key) },
                },
                4 => match free.pop() {
                    Some(key) => Request::DeleteRange { range: KeyRange::Key(key), prev_kv: false },
                    None => Request::Range { range: KeyRange::Key(read_key) },
                },
                5..=6 => Request::Range { range: KeyRange::Key(read_key) },
                7 => Request::Range { range: all_keys() },
                _ if depth == 0 => {
                    // The nested txn's writes, in either of its branches, are writes of
                    // this branch: both draw from what this branch left free.
                    let compares = vec![self.compare()];
                    let mut free_failure = free.clone();
                    let success = self.branch(depth + 1, free);
                    let failure = self.branch(depth + 1, &mut free_failure);
                    free.retain(|k| free_failure.contains(k));
                    Request::Txn { compare: compares, success, failure }
                }
                _ => Request::Range { range: KeyRange::Key(read_key) },
            };
            ops.push(op);
        }
        ops
    }
}

/// Every key of the workload, as a span.
pub fn all_keys() -> KeyRange {
    use crate::workload::{KEYS_END, KEY_PREFIX};
    KeyRange::Span { start: KEY_PREFIX.to_string(), end: KEYS_END.to_string() }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn key_range(range: &KeyRange) -> (Bytes, Bytes) {
    match range {
        KeyRange::Key(k) => (b(k), Bytes::new()),
        KeyRange::Span { start, end } => (b(start), b(end)),
        KeyRange::Prefix(p) => {
            // etcd's prefix end: the prefix with its last byte incremented.
            let mut end = p.as_bytes().to_vec();
            while let Some(last) = end.pop() {
                if last < 0xff {
                    end.push(last + 1);
                    break;
                }
            }
            (b(p), if end.is_empty() { Bytes::from_static(&[0]) } else { Bytes::from(end) })
        }
    }
}

/// The core's request for a txn (or any request) in model form.
pub fn to_api(request: &Request) -> api::RequestOp {
    match request {
        Request::Range { range } => {
            let (key, range_end) = key_range(range);
            api::RequestOp::Range(api::RangeRequest { key, range_end, ..Default::default() })
        }
        Request::Put { key, value, prev_kv } => api::RequestOp::Put(api::PutRequest {
            key: b(key),
            value: b(value),
            prev_kv: *prev_kv,
            ..Default::default()
        }),
        Request::DeleteRange { range, prev_kv } => {
            let (key, range_end) = key_range(range);
            api::RequestOp::DeleteRange(api::DeleteRangeRequest {
                key,
                range_end,
                prev_kv: *prev_kv,
            })
        }
        Request::Txn { compare, success, failure } => api::RequestOp::Txn(api::TxnRequest {
            compare: compare.iter().map(api_compare).collect(),
            success: success.iter().map(to_api).collect(),
            failure: failure.iter().map(to_api).collect(),
        }),
    }
}

fn api_compare(c: &Compare) -> api::Compare {
    let (target, target_union) = match &c.target {
        CompareTarget::Value(v) => (api::CompareTarget::Value, api::TargetUnion::Value(b(v))),
        CompareTarget::Version(v) => (api::CompareTarget::Version, api::TargetUnion::Version(*v)),
        CompareTarget::CreateRevision(v) => {
            (api::CompareTarget::Create, api::TargetUnion::CreateRevision(*v))
        }
        CompareTarget::ModRevision(v) => {
            (api::CompareTarget::Mod, api::TargetUnion::ModRevision(*v))
        }
    };
    let result = match c.result {
        CompareResult::Equal => api::CompareResult::Equal,
        CompareResult::NotEqual => api::CompareResult::NotEqual,
        CompareResult::Less => api::CompareResult::Less,
        CompareResult::Greater => api::CompareResult::Greater,
    };
    api::Compare { result, target, key: b(&c.key), range_end: Bytes::new(), target_union }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detcd_checker::models::etcd::{apply, EtcdState};
    use rand::SeedableRng;

    fn config() -> detcd_core::server::Config {
        detcd_core::server::Config::new(detcd_core::raft::Config::new(1, vec![1], 1), 1)
    }

    fn keys() -> Vec<String> {
        (0..6).map(|i| format!("k/{i}")).collect()
    }

    /// Over many draws: every target and operator appears, nesting appears, and the
    /// server's validation accepts every txn (no key written twice on one path).
    #[test]
    fn draws_cover_every_target_and_operator_and_the_server_accepts_them() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let keys = keys();
        let mut seq = 0;
        let mut fresh = || {
            seq += 1;
            format!("c1-{seq}")
        };
        let last_mod = |_: &str| 3;
        let mut seen = std::collections::BTreeSet::new();
        let mut nested = 0;
        for _ in 0..2_000 {
            let mut d = TxnDraw {
                rng: &mut rng,
                keys: &keys,
                last_mod: &last_mod,
                last_revision: 9,
                fresh_value: &mut fresh,
            };
            let Request::Txn { compare, success, failure } = d.txn() else { panic!("not a txn") };
            for c in &compare {
                let t = match c.target {
                    CompareTarget::Value(_) => 0,
                    CompareTarget::Version(_) => 1,
                    CompareTarget::CreateRevision(_) => 2,
                    CompareTarget::ModRevision(_) => 3,
                };
                seen.insert((t, c.result as u8));
            }
            for branch in [&success, &failure] {
                nested += branch.iter().filter(|r| matches!(r, Request::Txn { .. })).count();
            }
            let request = Request::Txn { compare, success, failure };
            let api::RequestOp::Txn(txn) = to_api(&request) else { unreachable!() };
            assert_eq!(
                detcd_core::server::validate(&detcd_core::server::Request::Txn(txn), &config()),
                Ok(()),
                "the server refuses a drawn txn: {request:?}"
            );
        }
        assert_eq!(seen.len(), 16, "targets x operators drawn: {seen:?}");
        assert!(nested > 100, "nested txns drawn: {nested}");
    }

    /// The core's MVCC is the oracle for the checker's model: random txns applied to
    /// both give the same answers, branch by branch, nested ones included.
    #[test]
    fn the_model_answers_random_txns_as_the_core_store_does() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let keys = keys();
        let mut store = detcd_core::mvcc::Store::new();
        let mut state = EtcdState::new();
        let mut seq = 0;
        let mut last_mod = std::collections::BTreeMap::<String, i64>::new();
        let mut agreed_succeeded = [0u32; 2];
        for _ in 0..3_000 {
            let snapshot = last_mod.clone();
            let lm = move |k: &str| snapshot.get(k).copied().unwrap_or(0);
            let mut fresh = || {
                seq += 1;
                format!("c{}-{seq}", seq % 4 + 1)
            };
            let request = TxnDraw {
                rng: &mut rng,
                keys: &keys,
                last_mod: &lm,
                last_revision: store.current_revision(),
                fresh_value: &mut fresh,
            }
            .txn();
            let api::RequestOp::Txn(txn) = to_api(&request) else { unreachable!() };
            let core = store.txn(&txn, &|_| false).expect("the core refused a drawn txn").response;
            let (next, model) = apply(&state, &request);
            let core_body = crate::history::txn_body(&core);
            assert_eq!(model.revision, core.header.revision, "{request:?}");
            assert_eq!(model.body, core_body, "{request:?}");
            agreed_succeeded[usize::from(core.succeeded)] += 1;
            state = next;
            for k in &keys {
                let r = store
                    .range(&api::RangeRequest { key: b(k), ..Default::default() })
                    .expect("range");
                last_mod.insert(k.clone(), r.kvs.first().map_or(0, |kv| kv.mod_revision));
            }
        }
        assert!(agreed_succeeded.iter().all(|&n| n > 500), "{agreed_succeeded:?}");
    }
}
