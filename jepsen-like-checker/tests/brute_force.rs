//! The search against a brute-force oracle: on small random CAS-register histories (with
//! random outputs, so both verdicts are common), the verdict must equal that of trying
//! every order outright. This guards the search's shortcuts (memo, pure reads taken
//! eagerly, unknown operations tried last or skipped when they change nothing).

use detcd_checker::models::etcd::{
    apply, Compare, CompareResult, CompareTarget, EtcdState, KeyRange, Request,
};
use detcd_checker::models::{CasInput, CasOutput, CasRegister, Etcd};
use detcd_checker::{check, Budget, History, Model, Operation, Verdict};
use proptest::prelude::*;

/// Is there an order of the operations (unknown ones optional) that respects real time
/// (`a` before `b` whenever `a` returned before `b` was called) and the model?
fn brute_force<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>]) -> bool {
    fn go<M: Model>(
        model: &M,
        ops: &[Operation<M::Input, M::Output>],
        placed: &mut Vec<bool>,
        state: &M::State,
    ) -> bool {
        if ops.iter().zip(placed.iter()).all(|(op, p)| *p || op.ret.is_none()) {
            return true;
        }
        for i in 0..ops.len() {
            if placed[i] {
                continue;
            }
            // Every operation that returned before this call must already be placed.
            let blocked = ops.iter().enumerate().any(|(j, other)| {
                !placed[j] && j != i && other.ret.is_some_and(|r| r < ops[i].call)
            });
            if blocked {
                continue;
            }
            if let Some(next) = model.step(state, &ops[i].input, ops[i].output.as_ref()) {
                placed[i] = true;
                let ok = go(model, ops, placed, &next);
                placed[i] = false;
                if ok {
                    return true;
                }
            }
        }
        false
    }
    go(model, ops, &mut vec![false; ops.len()], &model.init())
}

fn op_strategy() -> impl Strategy<Value = Operation<CasInput, CasOutput>> {
    (0u8..3, 0i64..3, 0i64..3, 0u64..12, 0u64..6, 0u8..10, any::<bool>()).prop_map(
        |(kind, a, b, call, len, out, flag)| {
            let (input, output) = match kind {
                0 => (
                    CasInput::Read,
                    CasOutput::Read(if out % 4 == 3 { None } else { Some(i64::from(out % 4)) }),
                ),
                1 => (CasInput::Write { value: a }, CasOutput::Written),
                _ => (CasInput::Cas { expected: a, new: b }, CasOutput::Cas(flag)),
            };
            let unknown = out == 9;
            Operation {
                client: 0,
                call,
                ret: if unknown { None } else { Some(call + len) },
                input,
                output: if unknown { None } else { Some(output) },
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn search_agrees_with_brute_force(ops in prop::collection::vec(op_strategy(), 1..8)) {
        let mut h = History::new();
        for (i, mut op) in ops.clone().into_iter().enumerate() {
            op.client = i as u64;
            h.push(op).unwrap();
        }
        let expected = if brute_force(&CasRegister, h.ops()) { Verdict::Linearizable } else { Verdict::NotLinearizable };
        prop_assert_eq!(check(&CasRegister, &h, &Budget::default()).verdict, expected, "{:?}", h);
    }
}

/// Small etcd histories: a sequential run stretched into random intervals, then
/// perturbed (outputs swapped between two operations, an interval moved, an outcome
/// made unknown), so that both verdicts occur.
fn etcd_history(
    seed: &[(u8, u8, u64, u64, u8)],
    swap: (usize, usize),
    unknown: usize,
) -> History<Request, detcd_checker::models::etcd::Response> {
    let keys = ["a", "b"];
    let mut state = EtcdState::new();
    let mut ops = Vec::new();
    for (i, (kind, arg, before, after, _)) in seed.iter().enumerate() {
        let key = keys[usize::from(*arg) % 2].to_string();
        let request = match kind % 5 {
            0 => Request::Range { range: KeyRange::Prefix(String::new()) },
            1 => Request::Put { key, value: format!("{}", arg % 3), prev_kv: false },
            2 => Request::DeleteRange { range: KeyRange::Key(key), prev_kv: false },
            3 => Request::Range { range: KeyRange::Key(key) },
            _ => Request::Txn {
                compare: vec![Compare {
                    key: key.clone(),
                    target: CompareTarget::Value("1".into()),
                    result: CompareResult::Equal,
                }],
                success: vec![Request::Put { key: key.clone(), value: "2".into(), prev_kv: false }],
                failure: vec![Request::Range { range: KeyRange::Key(key) }],
            },
        };
        let (next, response) = apply(&state, &request);
        state = next;
        let point = 10 * i as u64 + 30;
        ops.push(Operation {
            client: i as u64,
            call: point - before,
            ret: Some(point + after),
            input: request,
            output: Some(response),
        });
    }
    let n = ops.len();
    let (a, b) = (swap.0 % n, swap.1 % n);
    let out_a = ops[a].output.clone();
    ops[a].output = ops[b].output.clone();
    ops[b].output = out_a;
    if unknown < n {
        ops[unknown].ret = None;
        ops[unknown].output = None;
    }
    let mut h = History::new();
    for op in ops {
        h.push(op).unwrap();
    }
    h
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn etcd_search_agrees_with_brute_force(
        seed in prop::collection::vec((0u8..5, 0u8..6, 0u64..25, 0u64..25, 0u8..1), 1..7),
        swap in (0usize..7, 0usize..7),
        unknown in 0usize..14,
    ) {
        let h = etcd_history(&seed, swap, unknown);
        let expected = if brute_force(&Etcd, h.ops()) { Verdict::Linearizable } else { Verdict::NotLinearizable };
        prop_assert_eq!(check(&Etcd, &h, &Budget::default()).verdict, expected, "{:?}", h);
    }
}
