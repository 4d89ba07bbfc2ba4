//! The linearizability search for one independent part of a history: Wing & Gong's
//! depth-first search over the order in which operations take effect, with Lowe's
//! memoization of (linearized set, state) pairs ("Testing for linearizability", 2017),
//! over a doubly linked list of call and return entries from which linearized operations
//! are lifted out and put back on backtracking.
//!
//! Walking the list from its head, a call entry is an operation that may take effect
//! now (every operation whose return precedes this call has already been linearized); a
//! return entry is an operation that had to take effect before this point and has not,
//! so the search backtracks. Unknown operations have no return entry: they never force
//! backtracking and need not be linearized at all. The search succeeds when every
//! operation with a known return has been linearized.
//!
//! The search is single-threaded and deterministic: its only outside input is the
//! budget, whose callback it polls every [`POLL_STEPS`] steps.

use crate::bitset::Bitset;
use crate::history::Operation;
use crate::model::Model;
use crate::tables::{Inserted, Interner, Memo};
use std::collections::BTreeMap;

/// How often (in search steps) the deadline callback is polled; a power of two.
pub const POLL_STEPS: u64 = 1024;
const _: () = assert!(POLL_STEPS.is_power_of_two());

/// Limits on one check. The crate never reads a clock: a caller that wants a wall-clock
/// timeout passes `expired`, a callback that says when time is up.
#[derive(Clone, Copy)]
pub struct Budget<'a> {
    /// Stop with an unknown verdict after this many search steps.
    pub steps_max: Option<u64>,
    /// The memory bound of the memo and the stored states, in bytes (as estimated by
    /// [`Model::state_bytes`]); reaching it gives an unknown verdict.
    pub memory_bytes_max: usize,
    /// Polled during the search; `true` stops it with an unknown verdict.
    pub expired: Option<&'a (dyn Fn() -> bool + Sync)>,
}

impl Default for Budget<'_> {
    fn default() -> Self {
        Budget { steps_max: None, memory_bytes_max: 1 << 30, expired: None }
    }
}

impl std::fmt::Debug for Budget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("steps_max", &self.steps_max)
            .field("memory_bytes_max", &self.memory_bytes_max)
            .field("expired", &self.expired.is_some())
            .finish()
    }
}

/// An operation that was a candidate to take effect next at the point of failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the operation in the history.
    pub op: usize,
    /// False when the model refuses it in the state reached (wrong output); true when it
    /// applies but every continuation from there fails.
    pub applicable: bool,
}

/// Evidence that a part is not linearizable: the longest partial linearization found,
/// and where it got stuck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// History indices of the operations, in the order they took effect.
    pub linearized: Vec<usize>,
    /// The model state after each of them, in words.
    pub states: Vec<String>,
    /// The initial state, in words.
    pub initial_state: String,
    /// The operation whose return was reached before it could take effect.
    pub blocked: usize,
    /// The operations that could have taken effect next; none of them leads anywhere.
    pub candidates: Vec<Candidate>,
}

/// The outcome of searching one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A complete linearization (history indices, in effect order) and the state after
    /// each operation. Unknown operations that took effect are included; those that did
    /// not are absent.
    Linearizable {
        order: Vec<usize>,
        states: Vec<String>,
    },
    NotLinearizable(Failure),
    /// The budget ran out; `reason` says which limit.
    Unknown {
        reason: String,
    },
}

/// Counters, for reports and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub steps: u64,
    pub memo_entries: usize,
    pub states: usize,
}

const NONE: u32 = u32::MAX;
const HEAD: u32 = 0;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Local operation index.
    op: u32,
    /// For a call entry, its return entry (NONE when the outcome is unknown); for a
    /// return entry, NONE.
    ret: u32,
    is_call: bool,
    prev: u32,
    next: u32,
}

/// The entry list: node 0 is the head sentinel, the others are call/return entries in
/// time order.
struct Entries {
    nodes: Vec<Node>,
}

impl Entries {
    fn new<I, O>(ops: &[&Operation<I, O>]) -> Self {
        // (time, 0 = call / 1 = return, op): calls sort before returns at equal times
        // because intervals are closed; the op index makes the order total.
        let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.call, 0, i as u32));
            if let Some(ret) = op.ret {
                events.push((ret, 1, i as u32));
            }
        }
        events.sort_unstable();
        let mut nodes = Vec::with_capacity(events.len() + 1);
        nodes.push(Node { op: NONE, ret: NONE, is_call: false, prev: NONE, next: NONE });
        let mut ret_node = vec![NONE; ops.len()];
        for (k, (_, kind, op)) in events.iter().enumerate() {
            let id = (k + 1) as u32;
            if *kind == 1 {
                ret_node[*op as usize] = id;
            }
            nodes.push(Node { op: *op, ret: NONE, is_call: *kind == 0, prev: id - 1, next: NONE });
            nodes[k].next = id;
        }
        for node in nodes.iter_mut().skip(1) {
            if node.is_call {
                node.ret = ret_node[node.op as usize];
            }
        }
        Entries { nodes }
    }

    #[inline]
    fn unlink(&mut self, n: u32) {
        let Node { prev, next, .. } = self.nodes[n as usize];
        self.nodes[prev as usize].next = next;
        if next != NONE {
            self.nodes[next as usize].prev = prev;
        }
    }

    #[inline]
    fn relink(&mut self, n: u32) {
        let Node { prev, next, .. } = self.nodes[n as usize];
        self.nodes[prev as usize].next = n;
        if next != NONE {
            self.nodes[next as usize].prev = n;
        }
    }

    /// Removes a call entry and its return entry.
    #[inline]
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let ret = self.nodes[call as usize].ret;
        if ret != NONE {
            self.unlink(ret);
        }
    }

    /// Undoes `lift`; entries must be put back in the reverse order of their lifting.
    #[inline]
    fn unlift(&mut self, call: u32) {
        let ret = self.nodes[call as usize].ret;
        if ret != NONE {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// The deepest point where the search got stuck: the linearized calls (with the state
/// before each), the state after them, and the return entry that blocked.
struct Deepest {
    calls: Vec<(u32, u32)>,
    state: u32,
    blocking: u32,
}

/// A search in progress on one part; [`Search::run`] advances it by a number of steps,
/// so several parts can take turns (see [`crate::check::check_parts`]).
pub struct Search<'a, M: Model> {
    model: &'a M,
    ops: Vec<&'a Operation<M::Input, M::Output>>,
    indices: Vec<usize>,
    entries: Entries,
    linearized: Bitset,
    memo: Memo,
    memory_bytes_max: usize,
    states: Interner<M::State>,
    /// Estimated bytes of the interned states.
    state_bytes: usize,
    state: u32,
    initial: u32,
    /// (call entry, state before it) for each linearized operation, in effect order.
    calls: Vec<(u32, u32)>,
    /// Operations with a known return not yet linearized.
    remaining: usize,
    /// Per operation: a pure read with a known output (see [`Model::is_read_only`]).
    read_only: Vec<bool>,
    /// Per operation: its [`Model::progress_limit`], if any.
    limits: Vec<Option<u64>>,
    /// The limits of the operations not yet linearized, as a multiset (limit -> count).
    pending_limits: BTreeMap<u64, u32>,
    /// The deepest point of failure seen.
    deepest: Option<Deepest>,
    cursor: u32,
    /// Each point is scanned twice: first trying only operations with a known outcome,
    /// then only unknown ones, so unknown operations take effect only when nothing else
    /// can go on. The order of trying changes nothing about the verdict, only how soon
    /// a linearization is found.
    unknown_phase: bool,
    steps: u64,
    done: Option<Outcome>,
}

impl<'a, M: Model> Search<'a, M> {
    /// A search over `ops`, whose indices in the whole history are `indices`. The memo
    /// may use up to `memory_bytes_max` bytes.
    pub fn new(
        model: &'a M,
        ops: Vec<&'a Operation<M::Input, M::Output>>,
        indices: Vec<usize>,
        memory_bytes_max: usize,
    ) -> Self {
        assert_eq!(ops.len(), indices.len(), "one history index per operation");
        let n = ops.len();
        let entries = Entries::new(&ops);
        let memo_entries_max = (memory_bytes_max / Memo::entry_bytes(n)).max(1);
        let mut states = Interner::new();
        let state = states.intern(model.init());
        let remaining = ops.iter().filter(|op| !op.is_unknown()).count();
        let read_only =
            ops.iter().map(|op| model.is_read_only(&op.input, op.output.as_ref())).collect();
        let limits: Vec<Option<u64>> = ops
            .iter()
            .map(|op| op.output.as_ref().and_then(|out| model.progress_limit(&op.input, out)))
            .collect();
        let mut pending_limits = BTreeMap::new();
        for limit in limits.iter().flatten() {
            *pending_limits.entry(*limit).or_insert(0) += 1;
        }
        let cursor = entries.nodes[HEAD as usize].next;
        Search {
            model,
            ops,
            indices,
            entries,
            linearized: Bitset::new(n),
            memo: Memo::new(n, memo_entries_max),
            memory_bytes_max,
            state_bytes: model.state_bytes(states.get(state)),
            states,
            state,
            initial: state,
            calls: Vec::with_capacity(n),
            remaining,
            read_only,
            limits,
            pending_limits,
            deepest: None,
            cursor,
            unknown_phase: false,
            steps: 0,
            done: None,
        }
    }

    pub fn stats(&self) -> Stats {
        Stats { steps: self.steps, memo_entries: self.memo.len(), states: self.states.len() }
    }

    /// The outcome, once decided.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.done.as_ref()
    }

    /// Runs at most `slice` more steps (polling `budget`); returns the outcome once
    /// decided, `None` while undecided.
    pub fn run(&mut self, slice: u64, budget: &Budget<'_>) -> Option<&Outcome> {
        if self.done.is_none() {
            self.done = self.advance(slice, budget);
        }
        self.done.as_ref()
    }

    fn unknown(&self, reason: String) -> Option<Outcome> {
        Some(Outcome::Unknown { reason })
    }

    fn advance(&mut self, slice: u64, budget: &Budget<'_>) -> Option<Outcome> {
        let stop_at = self.steps.saturating_add(slice);
        let model = self.model;
        loop {
            if self.remaining == 0 {
                return Some(self.success());
            }
            if self.steps >= stop_at {
                return None;
            }
            self.steps += 1;
            let steps = self.steps;
            // The step limit is one comparison, so it holds exactly; memory and the
            // clock cost more and are polled.
            if let Some(max) = budget.steps_max.filter(|&max| steps > max) {
                return self.unknown(format!("gave up after {max} search steps (step limit)"));
            }
            if steps & (POLL_STEPS - 1) == 0 {
                let memo_bytes = self.memo.len() * Memo::entry_bytes(self.ops.len());
                if memo_bytes + self.state_bytes > self.memory_bytes_max {
                    return self.unknown(format!(
                        "reached the memory limit of {} bytes ({} memo entries, {} states)",
                        self.memory_bytes_max,
                        self.memo.len(),
                        self.states.len()
                    ));
                }
                if budget.expired.is_some_and(|expired| expired()) {
                    return self.unknown(format!(
                        "stopped after {steps} search steps (time limit, or stopped by the caller)"
                    ));
                }
            }
            assert!(
                self.cursor != NONE,
                "an operation with a known return is always ahead in the list"
            );
            let node = self.entries.nodes[self.cursor as usize];
            if node.is_call {
                let op = self.ops[node.op as usize];
                if op.is_unknown() != self.unknown_phase {
                    self.cursor = node.next;
                    continue;
                }
                let current = self.states.get(self.state);
                let Some(next) = model.step(current, &op.input, op.output.as_ref()) else {
                    self.cursor = node.next;
                    continue;
                };
                // Reads leave the state unchanged: skip hashing it again.
                let next_id = if &next == current {
                    self.state
                } else {
                    let known = self.states.len();
                    let id = self.states.intern(next);
                    if self.states.len() > known {
                        self.state_bytes += model.state_bytes(self.states.get(id));
                    }
                    id
                };
                // An unknown operation that changes nothing never needs to take effect:
                // every continuation after it is also open without it, since it blocks
                // nothing.
                if next_id == self.state && op.is_unknown() {
                    self.cursor = node.next;
                    continue;
                }
                if self.dooms_another(node.op as usize, next_id) {
                    self.cursor = node.next;
                    continue;
                }
                self.linearized.set(node.op as usize);
                match self.memo.insert(&self.linearized, next_id) {
                    Inserted::New => {
                        self.calls.push((self.cursor, self.state));
                        self.take_limit(node.op as usize);
                        self.state = next_id;
                        self.entries.lift(self.cursor);
                        if !op.is_unknown() {
                            self.remaining -= 1;
                        }
                        self.cursor = self.entries.nodes[HEAD as usize].next;
                        self.unknown_phase = false;
                    }
                    Inserted::Seen => {
                        self.linearized.clear(node.op as usize);
                        self.cursor = node.next;
                        // A pure read legal here could be taken first in any
                        // linearization from here; that was explored and failed, so
                        // this point fails too.
                        if self.read_only[node.op as usize] && !self.backtrack() {
                            return Some(self.failure());
                        }
                    }
                    Inserted::Full => {
                        return self.unknown(format!(
                            "the memo reached its memory limit ({} entries, {} bytes)",
                            self.memo.len(),
                            self.memory_bytes_max
                        ));
                    }
                }
            } else if !self.unknown_phase {
                self.unknown_phase = true;
                self.cursor = self.entries.nodes[HEAD as usize].next;
            } else {
                let deeper = match &self.deepest {
                    None => true,
                    Some(d) => self.calls.len() > d.calls.len(),
                };
                if deeper {
                    let calls = self.calls.clone();
                    self.deepest =
                        Some(Deepest { calls, state: self.state, blocking: self.cursor });
                }
                if !self.backtrack() {
                    return Some(self.failure());
                }
            }
        }
    }

    /// Whether taking `op` into state `next` would leave some other operation with a
    /// known outcome unable ever to take effect (its progress limit already passed).
    fn dooms_another(&self, op: usize, next: u32) -> bool {
        let Some((&lowest, &count)) = self.pending_limits.iter().next() else {
            return false;
        };
        let progress = self.model.progress(self.states.get(next));
        if lowest >= progress {
            return false;
        }
        // The lowest limit may be this operation's own (it is about to leave the set).
        if self.limits[op] == Some(lowest) && count == 1 {
            return self.pending_limits.iter().nth(1).is_some_and(|(l, _)| *l < progress);
        }
        true
    }

    fn take_limit(&mut self, op: usize) {
        if let Some(limit) = self.limits[op] {
            let count = self
                .pending_limits
                .get_mut(&limit)
                .expect("a pending operation's limit is counted");
            *count -= 1;
            if *count == 0 {
                self.pending_limits.remove(&limit);
            }
        }
    }

    /// Undoes linearized operations up to and including the latest real choice, and
    /// moves the cursor past it; `false` when there is no choice left. Pure reads are not
    /// choices: one legal where it was taken could be taken there in any linearization,
    /// so a dead end after it is a dead end before it.
    fn backtrack(&mut self) -> bool {
        loop {
            let Some((call, before)) = self.calls.pop() else {
                return false;
            };
            let op = self.entries.nodes[call as usize].op as usize;
            self.linearized.clear(op);
            self.entries.unlift(call);
            if let Some(limit) = self.limits[op] {
                *self.pending_limits.entry(limit).or_insert(0) += 1;
            }
            if !self.ops[op].is_unknown() {
                self.remaining += 1;
            }
            self.state = before;
            self.cursor = self.entries.nodes[call as usize].next;
            self.unknown_phase = self.ops[op].is_unknown();
            if !self.read_only[op] {
                return true;
            }
        }
    }

    fn success(&self) -> Outcome {
        let nodes = &self.entries.nodes;
        let order: Vec<usize> =
            self.calls.iter().map(|(c, _)| self.indices[nodes[*c as usize].op as usize]).collect();
        let after = self.calls.iter().skip(1).map(|(_, s)| *s).chain(std::iter::once(self.state));
        let states = if self.calls.is_empty() {
            Vec::new()
        } else {
            after.map(|s| self.model.describe_state(self.states.get(s))).collect()
        };
        Outcome::Linearizable { order, states }
    }

    fn failure(&self) -> Outcome {
        let deepest = self.deepest.as_ref().expect("failure implies a blocked return entry");
        Outcome::NotLinearizable(explain(
            self.model,
            &self.ops,
            &self.indices,
            &self.states,
            self.initial,
            &deepest.calls,
            deepest.state,
            deepest.blocking,
        ))
    }
}

/// Searches one part to the end (or until the budget runs out). `ops` are the part's
/// operations and `indices` their indices in the whole history.
pub fn search<M: Model>(
    model: &M,
    ops: &[&Operation<M::Input, M::Output>],
    indices: &[usize],
    budget: &Budget<'_>,
) -> (Outcome, Stats) {
    let mut search = Search::new(model, ops.to_vec(), indices.to_vec(), budget.memory_bytes_max);
    let outcome = search.run(u64::MAX, budget).cloned().expect("an unbounded run decides");
    (outcome, search.stats())
}

/// Rebuilds the point of failure in words: the linearized prefix, the state after each
/// step, and which operations could have come next (those called before the blocking
/// return that are not in the prefix).
#[allow(clippy::too_many_arguments)]
fn explain<M: Model>(
    model: &M,
    ops: &[&Operation<M::Input, M::Output>],
    indices: &[usize],
    states: &Interner<M::State>,
    initial: u32,
    best: &[(u32, u32)],
    best_state: u32,
    blocking: u32,
) -> Failure {
    // Recompute the entry list's order: it is the time order, so rebuild it fresh.
    let entries = Entries::new(ops);
    let mut in_prefix = vec![false; ops.len()];
    for (call, _) in best {
        in_prefix[entries.nodes[*call as usize].op as usize] = true;
    }
    let blocked_op = entries.nodes[blocking as usize].op;
    let state = states.get(best_state);
    let mut candidates = Vec::new();
    let mut cursor = entries.nodes[HEAD as usize].next;
    while cursor != NONE && cursor != blocking {
        let node = entries.nodes[cursor as usize];
        if node.is_call && !in_prefix[node.op as usize] {
            let op = ops[node.op as usize];
            let applicable = model.step(state, &op.input, op.output.as_ref()).is_some();
            candidates.push(Candidate { op: indices[node.op as usize], applicable });
        }
        cursor = node.next;
    }
    let linearized =
        best.iter().map(|(c, _)| indices[entries.nodes[*c as usize].op as usize]).collect();
    let after = best.iter().skip(1).map(|(_, s)| *s).chain(std::iter::once(best_state));
    let described = if best.is_empty() {
        Vec::new()
    } else {
        after.map(|s| model.describe_state(states.get(s))).collect()
    };
    Failure {
        linearized,
        states: described,
        initial_state: model.describe_state(states.get(initial)),
        blocked: indices[blocked_op as usize],
        candidates,
    }
}
