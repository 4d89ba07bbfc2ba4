//! Property tests: histories made by running a model sequentially, each operation taking
//! effect at a known instant inside a random interval around it, are always
//! linearizable; corrupting one read to a never-written value, or making a read return
//! a value overwritten before it was called, is always caught.

use detcd_checker::models::etcd::{KeyRange, Request};
use detcd_checker::models::{CasInput, CasOutput, CasRegister, Etcd, Kv, KvInput, KvOutput};
use detcd_checker::{check, Budget, History, Model, Operation, Verdict};
use proptest::prelude::*;

/// Per operation: (kind, argument, slack before, slack after, client, unknown outcome).
type Shape = (u8, u8, u64, u64, u8, bool);

fn shapes(max_len: usize) -> impl Strategy<Value = Vec<Shape>> {
    prop::collection::vec(
        (0u8..3, 0u8..6, 0u64..40, 0u64..40, 0u8..6, prop::bool::weighted(0.1)),
        1..max_len,
    )
}

/// Operation `i` takes effect at time 10*i + 5; its interval stretches around that.
fn point(i: usize) -> u64 {
    10 * i as u64 + 5
}

/// Runs `inputs` through `model` in order and wraps each in its interval.
fn sequential_history<M: OutputOf>(
    model: &M,
    inputs: Vec<M::Input>,
    shapes: &[Shape],
) -> History<M::Input, M::Output>
where
    M::Output: Clone,
{
    let mut state = model.init();
    let mut h = History::new();
    for (i, (input, shape)) in inputs.into_iter().zip(shapes).enumerate() {
        let (_, _, before, after, client, unknown) = *shape;
        let output = model.output_of(&state, &input);
        state =
            model.step(&state, &input, Some(&output)).expect("the model accepts its own output");
        let call = point(i).saturating_sub(before);
        let client = u64::from(client);
        let op = if unknown {
            Operation { client, call, ret: None, input, output: None }
        } else {
            Operation { client, call, ret: Some(point(i) + after), input, output: Some(output) }
        };
        h.push(op).unwrap();
    }
    h
}

/// What a model returns for an input in a state (so a sequential run can be recorded).
trait OutputOf: Model {
    fn output_of(&self, state: &Self::State, input: &Self::Input) -> Self::Output;
}

impl OutputOf for CasRegister {
    fn output_of(&self, state: &Option<i64>, input: &CasInput) -> CasOutput {
        match input {
            CasInput::Read => CasOutput::Read(*state),
            CasInput::Write { .. } => CasOutput::Written,
            CasInput::Cas { expected, .. } => CasOutput::Cas(*state == Some(*expected)),
        }
    }
}

impl OutputOf for Kv {
    fn output_of(&self, state: &<Kv as Model>::State, input: &KvInput) -> KvOutput {
        match input {
            KvInput::Get { key } => KvOutput::Value(state.get(key).to_string()),
            _ => KvOutput::Ok,
        }
    }
}

impl OutputOf for Etcd {
    fn output_of(
        &self,
        state: &<Etcd as Model>::State,
        input: &Request,
    ) -> detcd_checker::models::etcd::Response {
        detcd_checker::models::etcd::apply(state, input).1
    }
}

/// CAS-register inputs; every written value is unique (the op's index), so a value can
/// never come back once overwritten.
fn cas_inputs(shapes: &[Shape]) -> Vec<CasInput> {
    shapes
        .iter()
        .enumerate()
        .map(|(i, (kind, arg, ..))| match kind {
            0 => CasInput::Read,
            1 => CasInput::Write { value: i as i64 },
            _ => CasInput::Cas { expected: i64::from(*arg) * 2 % (i as i64 + 1), new: i as i64 },
        })
        .collect()
}

fn verdict<M: Model>(model: &M, h: &History<M::Input, M::Output>) -> Verdict {
    check(model, h, &Budget { steps_max: Some(5_000_000), ..Budget::default() }).verdict
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn sequential_cas_runs_are_linearizable(shapes in shapes(40)) {
        let h = sequential_history(&CasRegister, cas_inputs(&shapes), &shapes);
        prop_assert_eq!(verdict(&CasRegister, &h), Verdict::Linearizable);
    }

    #[test]
    fn a_read_of_a_never_written_value_is_caught(shapes in shapes(40), pick in any::<prop::sample::Index>()) {
        let mut h = sequential_history(&CasRegister, cas_inputs(&shapes), &shapes);
        let reads: Vec<usize> = (0..h.len())
            .filter(|i| h.get(*i).input == CasInput::Read && h.get(*i).output.is_some())
            .collect();
        prop_assume!(!reads.is_empty());
        let r = reads[pick.index(reads.len())];
        let mut ops = h.ops().to_vec();
        ops[r].output = Some(CasOutput::Read(Some(-1)));
        h = History::new();
        for op in ops { h.push(op).unwrap(); }
        prop_assert_eq!(verdict(&CasRegister, &h), Verdict::NotLinearizable);
    }

    #[test]
    fn a_read_of_an_overwritten_value_is_caught(shapes in shapes(40), pick in any::<prop::sample::Index>()) {
        let h = sequential_history(&CasRegister, cas_inputs(&shapes), &shapes);
        let ops = h.ops().to_vec();
        // Operations that set the value (known-successful writes and cases), in order.
        let sets: Vec<usize> = (0..ops.len())
            .filter(|i| matches!(
                (&ops[*i].input, &ops[*i].output),
                (CasInput::Write { .. }, Some(_)) | (CasInput::Cas { .. }, Some(CasOutput::Cas(true)))
            ))
            .collect();
        // A known read after two value-setting operations w0 < w1.
        let candidates: Vec<(usize, usize, usize)> = sets.windows(2).flat_map(|w| {
            let (w0, w1) = (w[0], w[1]);
            let ops = &ops;
            (w1 + 1..ops.len())
                .filter(move |r| ops[*r].input == CasInput::Read && ops[*r].output.is_some())
                .map(move |r| (w0, w1, r))
        }).collect();
        prop_assume!(!candidates.is_empty());
        let (w0, w1, r) = candidates[pick.index(candidates.len())];
        let old = match &ops[w0].input {
            CasInput::Write { value } => *value,
            CasInput::Cas { new, .. } => *new,
            CasInput::Read => unreachable!(),
        };
        let mut ops = ops.clone();
        // Real time: w0 returns before w1 is called, w1 returns before the read is called
        // (each interval still holds its operation's instant).
        ops[w0].ret = Some(point(w0));
        ops[w1].call = point(w1);
        ops[w1].ret = Some(point(w1));
        ops[r].call = point(r);
        ops[r].output = Some(CasOutput::Read(Some(old)));
        let mut bad = History::new();
        for op in ops { bad.push(op).unwrap(); }
        prop_assert_eq!(verdict(&CasRegister, &bad), Verdict::NotLinearizable);
    }

    #[test]
    fn sequential_kv_runs_are_linearizable(shapes in shapes(60)) {
        let keys = ["a", "b", "c"];
        let inputs = shapes.iter().enumerate().map(|(i, (kind, arg, ..))| {
            let key = keys[usize::from(*arg) % 3].to_string();
            match (kind, arg) {
                (0, _) => KvInput::Get { key },
                (1, 5) => KvInput::Delete { key },
                (1, _) => KvInput::Put { key, value: format!("p{i}") },
                _ => KvInput::Append { key, value: format!("+{i}") },
            }
        }).collect();
        let h = sequential_history(&Kv, inputs, &shapes);
        prop_assert_eq!(verdict(&Kv, &h), Verdict::Linearizable);
    }

    #[test]
    fn sequential_etcd_runs_are_linearizable(shapes in shapes(30)) {
        use detcd_checker::models::etcd::{Compare, CompareResult, CompareTarget};
        let keys = ["a", "a/1", "b"];
        let inputs = shapes.iter().enumerate().map(|(i, (kind, arg, ..))| {
            let key = keys[usize::from(*arg) % 3].to_string();
            match (kind, arg % 3) {
                (0, 0) => Request::Range { range: KeyRange::Prefix("a".into()) },
                (0, _) => Request::Range { range: KeyRange::Key(key) },
                (1, 0) => Request::DeleteRange { range: KeyRange::Key(key), prev_kv: true },
                (1, _) => Request::Put { key, value: format!("v{i}"), prev_kv: arg % 2 == 0 },
                _ => Request::Txn {
                    compare: vec![Compare { key: key.clone(), target: CompareTarget::Version(0), result: CompareResult::Equal }],
                    success: vec![Request::Put { key: key.clone(), value: format!("t{i}"), prev_kv: false }],
                    failure: vec![Request::Range { range: KeyRange::Key(key) }],
                },
            }
        }).collect();
        let h = sequential_history(&Etcd, inputs, &shapes);
        prop_assert_eq!(verdict(&Etcd, &h), Verdict::Linearizable);
    }
}
