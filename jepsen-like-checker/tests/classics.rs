//! Hand-made histories, the classic anomalies among them, for each model: each is
//! checked for the verdict and, when not linearizable, for the evidence.

use detcd_checker::models::{CasInput as C, CasOutput as CO, CasRegister, Kv, KvInput, KvOutput};
use detcd_checker::models::{Register, RegisterInput as R, RegisterOutput as RO};
use detcd_checker::{
    check, Budget, Event, History, Model, NondeterministicModel, Outcome, Powerset, Verdict,
};

fn verdict<M: Model>(model: &M, h: &History<M::Input, M::Output>) -> Verdict {
    check(model, h, &Budget::default()).verdict
}

fn write(h: &mut History<R, RO>, client: u64, call: u64, ret: u64, value: i64) {
    h.returned(client, call, ret, R::Write { value }, RO::Written).unwrap();
}

fn read(h: &mut History<R, RO>, client: u64, call: u64, ret: u64, value: Option<i64>) {
    h.returned(client, call, ret, R::Read, RO::Read(value)).unwrap();
}

#[test]
fn stale_read_after_a_completed_write() {
    let mut h = History::new();
    write(&mut h, 0, 0, 1, 1);
    read(&mut h, 1, 2, 3, None);
    let result = check(&Register, &h, &Budget::default());
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let Outcome::NotLinearizable(f) = &result.parts[0].outcome else { panic!("{result:?}") };
    assert_eq!(f.linearized, vec![0], "the write is the longest prefix");
    assert_eq!(f.blocked, 1, "the stale read is stuck");
    assert_eq!(f.states, vec!["value = 1".to_string()]);
    assert!(f.candidates.iter().any(|c| c.op == 1 && !c.applicable));
}

#[test]
fn concurrent_read_may_see_either_value() {
    for seen in [None, Some(1)] {
        let mut h = History::new();
        write(&mut h, 0, 0, 10, 1);
        read(&mut h, 1, 2, 3, seen);
        assert_eq!(verdict(&Register, &h), Verdict::Linearizable, "read {seen:?}");
    }
}

#[test]
fn intervals_are_closed() {
    // The read starts at the instant the write returns: they overlap.
    let mut h = History::new();
    write(&mut h, 0, 0, 5, 1);
    read(&mut h, 1, 5, 6, None);
    assert_eq!(verdict(&Register, &h), Verdict::Linearizable);
    let mut h = History::new();
    write(&mut h, 0, 0, 5, 1);
    read(&mut h, 1, 6, 7, None);
    assert_eq!(verdict(&Register, &h), Verdict::NotLinearizable);
}

#[test]
fn lost_write() {
    let mut h = History::new();
    write(&mut h, 0, 0, 1, 1);
    write(&mut h, 1, 2, 3, 2);
    read(&mut h, 2, 4, 5, Some(1));
    assert_eq!(verdict(&Register, &h), Verdict::NotLinearizable);
}

#[test]
fn read_of_a_never_written_value() {
    let mut h = History::new();
    write(&mut h, 0, 0, 10, 1);
    read(&mut h, 1, 1, 9, Some(7));
    assert_eq!(verdict(&Register, &h), Verdict::NotLinearizable);
}

#[test]
fn cas_succeeding_on_an_old_value() {
    let mut h = History::new();
    h.returned(0, 0, 1, C::Write { value: 1 }, CO::Written).unwrap();
    h.returned(1, 2, 3, C::Write { value: 2 }, CO::Written).unwrap();
    h.returned(2, 4, 5, C::Cas { expected: 1, new: 3 }, CO::Cas(true)).unwrap();
    assert_eq!(verdict(&CasRegister, &h), Verdict::NotLinearizable);
    // Concurrent with the second write, it may have gone first.
    let mut h = History::new();
    h.returned(0, 0, 1, C::Write { value: 1 }, CO::Written).unwrap();
    h.returned(1, 2, 5, C::Write { value: 2 }, CO::Written).unwrap();
    h.returned(2, 3, 4, C::Cas { expected: 1, new: 3 }, CO::Cas(true)).unwrap();
    h.returned(3, 6, 7, C::Read, CO::Read(Some(2))).unwrap();
    assert_eq!(verdict(&CasRegister, &h), Verdict::Linearizable);
}

#[test]
fn failed_cas_observes_another_value() {
    let mut h = History::new();
    h.returned(0, 0, 1, C::Write { value: 1 }, CO::Written).unwrap();
    h.returned(1, 2, 3, C::Cas { expected: 1, new: 2 }, CO::Cas(false)).unwrap();
    assert_eq!(verdict(&CasRegister, &h), Verdict::NotLinearizable);
}

#[test]
fn unknown_write_that_must_take_effect() {
    let mut h = History::new();
    h.unknown(0, 0, R::Write { value: 1 }).unwrap();
    read(&mut h, 1, 1, 2, Some(1));
    let result = check(&Register, &h, &Budget::default());
    assert_eq!(result.verdict, Verdict::Linearizable);
    let Outcome::Linearizable { order, .. } = &result.parts[0].outcome else { panic!() };
    assert_eq!(order, &vec![0, 1], "the unknown write took effect before the read");
    // Once it took effect it cannot be undone.
    read(&mut h, 2, 3, 4, None);
    assert_eq!(verdict(&Register, &h), Verdict::NotLinearizable);
}

#[test]
fn unknown_write_that_must_not_take_effect() {
    let mut h = History::new();
    write(&mut h, 0, 0, 1, 1);
    h.unknown(1, 2, R::Write { value: 2 }).unwrap();
    read(&mut h, 2, 3, 4, Some(1));
    read(&mut h, 3, 5, 6, Some(1));
    let result = check(&Register, &h, &Budget::default());
    assert_eq!(result.verdict, Verdict::Linearizable);
    let Outcome::Linearizable { order, .. } = &result.parts[0].outcome else { panic!() };
    assert!(
        !order.contains(&1) || order.last() == Some(&1),
        "it never took effect, or only at the end"
    );
    // An unknown write cannot take effect before it was called.
    let mut h = History::new();
    read(&mut h, 0, 0, 1, Some(2));
    h.unknown(1, 2, R::Write { value: 2 }).unwrap();
    assert_eq!(verdict(&Register, &h), Verdict::NotLinearizable);
}

#[test]
fn definite_failures_are_dropped() {
    let events = vec![
        Event::Invoke { client: 0, input: R::Write { value: 1 } },
        Event::Fail { client: 0 },
        Event::Invoke { client: 1, input: R::Read },
        Event::Ok { client: 1, output: RO::Read(None) },
    ];
    assert_eq!(
        verdict(&Register, &History::from_events(events.clone()).unwrap()),
        Verdict::Linearizable
    );
    let mut seen_one = events;
    seen_one[3] = Event::Ok { client: 1, output: RO::Read(Some(1)) };
    assert_eq!(
        verdict(&Register, &History::from_events(seen_one).unwrap()),
        Verdict::NotLinearizable
    );
}

#[test]
fn kv_keys_are_checked_apart_and_the_bad_key_is_named() {
    let mut h = History::new();
    let put = |k: &str, v: &str| KvInput::Put { key: k.into(), value: v.into() };
    let get = |k: &str| KvInput::Get { key: k.into() };
    h.returned(0, 0, 1, put("a", "1"), KvOutput::Ok).unwrap();
    h.returned(1, 0, 1, put("b", "1"), KvOutput::Ok).unwrap();
    h.returned(0, 2, 3, KvInput::Append { key: "a".into(), value: "2".into() }, KvOutput::Ok)
        .unwrap();
    h.returned(1, 2, 3, get("b"), KvOutput::Value("1".into())).unwrap();
    h.returned(0, 4, 5, get("a"), KvOutput::Value("12".into())).unwrap();
    h.returned(1, 4, 5, KvInput::Delete { key: "b".into() }, KvOutput::Ok).unwrap();
    h.returned(1, 6, 7, get("b"), KvOutput::Value(String::new())).unwrap();
    assert_eq!(verdict(&Kv, &h), Verdict::Linearizable);
    h.returned(2, 8, 9, get("b"), KvOutput::Value("1".into())).unwrap();
    let result = check(&Kv, &h, &Budget::default());
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    assert_eq!(result.parts.len(), 2);
    assert_eq!(result.parts[0].verdict(), Verdict::Linearizable, "key a is fine");
    let Outcome::NotLinearizable(f) = &result.parts[1].outcome else { panic!() };
    assert_eq!(f.blocked, 7);
}

#[test]
fn a_step_budget_gives_unknown() {
    // Twelve concurrent writes, then a read of a value nobody wrote: proving it takes
    // every subset of the writes.
    let mut h = History::new();
    for v in 0..12 {
        write(&mut h, v as u64, 0, 100, v);
    }
    read(&mut h, 99, 50, 101, Some(77));
    let tight = Budget { steps_max: Some(2048), ..Budget::default() };
    assert_eq!(check(&Register, &h, &tight).verdict, Verdict::Unknown);
    let small_memo = Budget { memory_bytes_max: 4096, ..Budget::default() };
    assert_eq!(check(&Register, &h, &small_memo).verdict, Verdict::Unknown);
    assert_eq!(verdict(&Register, &h), Verdict::NotLinearizable);
}

#[test]
fn the_step_budget_is_exact() {
    // Three sequential writes and a read: a few steps. A limit below them gives up at
    // exactly the limit (not at the next clock poll); a limit above them decides.
    let mut h = History::new();
    for v in 0..3 {
        write(&mut h, 0, 10 * v as u64, 10 * v as u64 + 5, v);
    }
    read(&mut h, 1, 40, 45, Some(2));
    let steps = check(&Register, &h, &Budget::default()).stats().steps;
    assert!(steps >= 4, "{steps} steps");
    let under = check(&Register, &h, &Budget { steps_max: Some(steps - 1), ..Budget::default() });
    assert_eq!(under.verdict, Verdict::Unknown);
    let Outcome::Unknown { reason } = &under.parts[0].outcome else { panic!("{under:?}") };
    assert!(reason.contains(&format!("after {} search steps", steps - 1)), "{reason}");
    let at = check(&Register, &h, &Budget { steps_max: Some(steps), ..Budget::default() });
    assert_eq!(at.verdict, Verdict::Linearizable);
}

/// A register whose writes may be silently lost: nondeterministic.
struct LossyRegister;

impl NondeterministicModel for LossyRegister {
    type State = Option<i64>;
    type Input = R;
    type Output = RO;
    fn name(&self) -> &'static str {
        "lossy-register"
    }
    fn init(&self) -> Vec<Option<i64>> {
        vec![None]
    }
    fn step(&self, s: &Option<i64>, input: &R, output: Option<&RO>) -> Vec<Option<i64>> {
        match (input, output) {
            (R::Write { value }, _) => vec![Some(*value), *s],
            (R::Read, Some(RO::Read(v))) if v == s => vec![*s],
            (R::Read, None) => vec![*s],
            _ => vec![],
        }
    }
    fn describe_operation(&self, input: &R, output: Option<&RO>) -> String {
        Register.describe_operation(input, output)
    }
    fn describe_state(&self, s: &Option<i64>) -> String {
        Register.describe_state(s)
    }
}

#[test]
fn nondeterministic_models_run_over_sets_of_states() {
    let mut h = History::new();
    write(&mut h, 0, 0, 1, 1);
    read(&mut h, 1, 2, 3, None);
    assert_eq!(verdict(&Powerset(LossyRegister), &h), Verdict::Linearizable, "the write was lost");
    read(&mut h, 1, 4, 5, Some(1));
    assert_eq!(verdict(&Powerset(LossyRegister), &h), Verdict::NotLinearizable, "lost for good");
    let mut h = History::new();
    write(&mut h, 0, 0, 1, 1);
    read(&mut h, 1, 2, 3, Some(2));
    assert_eq!(verdict(&Powerset(LossyRegister), &h), Verdict::NotLinearizable);
}
