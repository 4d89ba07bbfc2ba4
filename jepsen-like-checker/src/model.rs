//! What a model is: a sequential specification given as a pure transition function.
//! The search only ever asks a model to `step` a state by one operation and to compare
//! and hash states, so a model knows nothing about time, clients or concurrency.

use crate::history::History;
use std::fmt::Debug;
use std::hash::Hash;

/// A deterministic sequential specification.
///
/// `step` answers: if this operation took effect, atomically, in `state`, and returned
/// `output`, what is the new state? `None` means the operation could not have returned
/// that output in that state. An `output` of `None` means the outcome is unknown (the
/// client timed out or crashed): the model must then accept the operation's effect
/// whatever it returned. The search itself decides that such an operation may also never
/// take effect.
pub trait Model: Sync {
    /// States are compared and hashed (with the crate's fixed hasher) for Lowe's memo.
    type State: Clone + Eq + Hash + Debug;
    type Input: Debug + Sync;
    type Output: Debug + Sync;

    /// A short name used in reports ("cas-register", "kv", ...).
    fn name(&self) -> &'static str;

    fn init(&self) -> Self::State;

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// Independent sub-histories (lists of operation indices into `history`), each
    /// checkable on its own (P-compositionality: the history is linearizable iff every
    /// part is). The default is one part holding everything.
    fn partition(&self, history: &History<Self::Input, Self::Output>) -> Vec<Vec<usize>> {
        vec![(0..history.len()).collect()]
    }

    /// True when this operation, with this output, changes no state in which it is
    /// legal (a read). The search may then take it as soon as it is legal and never
    /// reconsider: moving a pure read earlier, to a point where it is legal, keeps any
    /// linearization valid. Answering `false` is always safe, only slower.
    fn is_read_only(&self, input: &Self::Input, output: Option<&Self::Output>) -> bool {
        let _ = (input, output);
        false
    }

    /// An optional progress measure for pruning: a number that never decreases along
    /// any step (etcd's revision). Models that give it also give [`Model::progress_limit`].
    fn progress(&self, state: &Self::State) -> u64 {
        let _ = state;
        0
    }

    /// The highest [`Model::progress`] of a state in which this completed operation can
    /// still take effect (etcd: its response's revision), or `None`. Once the state has
    /// moved past it, the operation can never be placed, so the search abandons that
    /// branch at once instead of finding out at the operation's return.
    fn progress_limit(&self, input: &Self::Input, output: &Self::Output) -> Option<u64> {
        let _ = (input, output);
        None
    }

    /// Roughly how many bytes a state takes on its own (not counting what it shares with
    /// other states), for the search's memory bound.
    fn state_bytes(&self, state: &Self::State) -> usize {
        let _ = state;
        std::mem::size_of::<Self::State>()
    }

    /// One operation in words, e.g. `cas(1, 2) -> ok`.
    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    /// A state in words, e.g. `value = 3`.
    fn describe_state(&self, state: &Self::State) -> String;
}

/// A specification where an operation may lead to several states (or none).
pub trait NondeterministicModel: Sync {
    type State: Clone + Ord + Hash + Debug;
    type Input: Debug + Sync;
    type Output: Debug + Sync;

    fn name(&self) -> &'static str;

    /// Every possible initial state (at least one).
    fn init(&self) -> Vec<Self::State>;

    /// Every state the operation may lead to; empty when it cannot return `output`.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Vec<Self::State>;

    fn partition(&self, history: &History<Self::Input, Self::Output>) -> Vec<Vec<usize>> {
        vec![(0..history.len()).collect()]
    }

    /// True when this operation, with this output, changes no state in which it is
    /// legal (a read). The search may then take it as soon as it is legal and never
    /// reconsider: moving a pure read earlier, to a point where it is legal, keeps any
    /// linearization valid. Answering `false` is always safe, only slower.
    fn is_read_only(&self, input: &Self::Input, output: Option<&Self::Output>) -> bool {
        let _ = (input, output);
        false
    }

    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    fn describe_state(&self, state: &Self::State) -> String;
}

/// A nondeterministic model run as a deterministic one over sets of states (the subset
/// construction): the state is the sorted set of states the system may be in, and an
/// operation is legal when at least one of them allows it.
#[derive(Debug, Clone)]
pub struct Powerset<M>(pub M);

impl<M: NondeterministicModel> Model for Powerset<M> {
    type State = Vec<M::State>;
    type Input = M::Input;
    type Output = M::Output;

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn init(&self) -> Self::State {
        let mut states = self.0.init();
        assert!(!states.is_empty(), "a nondeterministic model needs an initial state");
        states.sort();
        states.dedup();
        states
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State> {
        let mut next: Vec<M::State> =
            state.iter().flat_map(|s| self.0.step(s, input, output)).collect();
        if next.is_empty() {
            return None;
        }
        next.sort();
        next.dedup();
        Some(next)
    }

    fn partition(&self, history: &History<Self::Input, Self::Output>) -> Vec<Vec<usize>> {
        self.0.partition(history)
    }

    fn is_read_only(&self, input: &Self::Input, output: Option<&Self::Output>) -> bool {
        self.0.is_read_only(input, output)
    }

    fn state_bytes(&self, state: &Self::State) -> usize {
        24 + state.len() * std::mem::size_of::<M::State>()
    }

    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String {
        self.0.describe_operation(input, output)
    }

    fn describe_state(&self, state: &Self::State) -> String {
        if state.len() == 1 {
            return self.0.describe_state(&state[0]);
        }
        let parts: Vec<String> = state.iter().map(|s| self.0.describe_state(s)).collect();
        format!("one of {{{}}}", parts.join(" | "))
    }
}
