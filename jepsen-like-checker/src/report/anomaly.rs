//! Naming what went wrong in a history that is not linearizable, the way a person would:
//! a "stale read" or a "lost write". At the point of failure some completed operation
//! cannot take effect in the state reached. If an earlier state of the partial order
//! accepts it, the operations ordered after that state are the ones it did not see;
//! when one of them is a write that had already returned before the operation was
//! called, the anomaly is definite: a read that misses it is a stale read, a write
//! that lands on a store without it shows the write was lost.

use crate::history::History;
use crate::model::Model;
use crate::search::Failure;
use serde::{Deserialize, Serialize};

/// An anomaly, in words, with the operations it is about (history indices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// "stale read" or "lost write".
    pub kind: String,
    /// The operation whose result shows it.
    pub op: usize,
    /// The writes that it did not see although they had returned before it was called.
    pub missed: Vec<usize>,
    /// One sentence for a person.
    pub sentence: String,
}

/// The model states along the partial order: the initial one, then one after each
/// operation. `None` if the model refuses the order (it never does for one the search
/// found).
fn states_along<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    order: &[usize],
) -> Option<Vec<M::State>> {
    let ops = history.ops();
    let mut states = vec![model.init()];
    for &i in order {
        let next = model.step(states.last()?, &ops[i].input, ops[i].output.as_ref())?;
        states.push(next);
    }
    Some(states)
}

/// The anomaly behind a failed part, if it is a definite stale read or lost write.
/// `part` holds the part's operations; `words(i)` describes operation `i`.
///
/// The operations at the point of failure are asked first (the blocked one, then the
/// candidates the model refused). When the search got stuck on an operation that was
/// only a victim (it applies, but what follows does not), the part's completed
/// operations that were never placed are asked next, in call order.
pub fn find<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    part: &[usize],
    failure: &Failure,
    words: impl Fn(usize) -> String,
) -> Option<Anomaly> {
    let ops = history.ops();
    let states = states_along(model, history, &failure.linearized)?;
    let refused = failure.candidates.iter().filter(|c| !c.applicable).map(|c| c.op);
    let outside: Vec<usize> =
        part.iter().copied().filter(|i| !failure.linearized.contains(i)).collect();
    let mut unplaced: Vec<usize> =
        outside.iter().copied().filter(|&i| ops[i].ret.is_some()).collect();
    unplaced.sort_by_key(|&i| (ops[i].call, i));
    let last = states.last()?;
    for x in std::iter::once(failure.blocked).chain(refused).chain(unplaced) {
        let op = &ops[x];
        let Some(out) = op.output.as_ref() else { continue };
        // Not definite when one more operation that was running could have made the
        // result right (an unknown write of the value read, say).
        let deadline = op.ret.unwrap_or(u64::MAX);
        let explained = outside.iter().any(|&u| {
            u != x
                && ops[u].call < deadline
                && model
                    .step(last, &ops[u].input, ops[u].output.as_ref())
                    .is_some_and(|s| model.step(&s, &op.input, Some(out)).is_some())
        });
        if explained {
            continue;
        }
        // The latest earlier state that explains the operation's result.
        let Some(k) = (0..states.len() - 1)
            .rev()
            .find(|&k| model.step(&states[k], &op.input, Some(out)).is_some())
        else {
            continue;
        };
        let missed: Vec<usize> = failure.linearized[k..]
            .iter()
            .copied()
            .filter(|&j| {
                ops[j].ret.is_some_and(|r| r < op.call)
                    && !model.is_read_only(&ops[j].input, ops[j].output.as_ref())
            })
            .collect();
        let Some(&first) = missed.first() else { continue };
        let read = model.is_read_only(&op.input, Some(out))
            || model.step(&states[k], &op.input, Some(out)).as_ref() == Some(&states[k]);
        let returned = ops[first].ret.unwrap_or(0);
        let (kind, sentence) = if read {
            (
                "stale read",
                format!(
                    "Stale read: {} saw the store as it was before {}, although that write had returned (at {returned}) before the read was called (at {}).",
                    words(x),
                    words(first),
                    op.call
                ),
            )
        } else {
            (
                "lost write",
                format!(
                    "Lost write: {} was acknowledged (at {returned}), yet {}, called later (at {}), took effect on a store without it.",
                    words(first),
                    words(x),
                    op.call
                ),
            )
        };
        return Some(Anomaly { kind: kind.to_string(), op: x, missed, sentence });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check;
    use crate::models::register::{Register, RegisterInput, RegisterOutput};
    use crate::search::{Budget, Outcome};

    type H = History<RegisterInput, RegisterOutput>;

    fn history(ops: &[(u64, u64, u64, RegisterInput, RegisterOutput)]) -> H {
        let mut h = H::new();
        for (client, call, ret, input, output) in ops.iter().cloned() {
            h.returned(client, call, ret, input, output).expect("valid op");
        }
        h
    }

    fn failure(history: &H) -> Failure {
        let result = check(&Register, history, &Budget::default());
        match &result.parts[0].outcome {
            Outcome::NotLinearizable(f) => f.clone(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn write(v: i64) -> RegisterInput {
        RegisterInput::Write { value: v }
    }

    #[test]
    fn a_read_of_an_overwritten_value_is_a_stale_read() {
        let h = history(&[
            (1, 0, 10, write(1), RegisterOutput::Written),
            (1, 20, 30, write(2), RegisterOutput::Written),
            (2, 40, 50, RegisterInput::Read, RegisterOutput::Read(Some(1))),
        ]);
        let a = find(&Register, &h, &[0, 1, 2], &failure(&h), |i| format!("#{i}")).expect("named");
        assert_eq!(a.kind, "stale read");
        assert_eq!((a.op, a.missed.clone()), (2, vec![1]));
        assert!(
            a.sentence.starts_with("Stale read: #2 saw the store as it was before #1"),
            "{}",
            a.sentence
        );
    }

    #[test]
    fn a_value_never_written_is_not_called_stale() {
        let h = history(&[
            (1, 0, 10, write(2), RegisterOutput::Written),
            (2, 20, 30, RegisterInput::Read, RegisterOutput::Read(Some(7))),
        ]);
        assert_eq!(find(&Register, &h, &[0, 1], &failure(&h), |i| format!("#{i}")), None);
    }
}
