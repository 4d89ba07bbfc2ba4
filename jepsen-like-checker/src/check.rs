//! Checking a whole history: split it into the independent parts the model allows
//! (P-compositionality, Herlihy & Wing 1990 §3.3), search each part, and combine the
//! outcomes into one verdict. Parts are searched one after another, in partition order;
//! a caller that wants parallelism calls [`Prepared::check_part`] from its own threads.

use crate::history::{History, Operation};
use crate::model::Model;
use crate::search::{search, Budget, Outcome, Search, Stats};
use serde::{Deserialize, Serialize};

/// The answer to "is this history linearizable?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// The search ran out of budget before deciding.
    Unknown,
}

/// The outcome of one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartResult {
    /// History indices of the part's operations.
    pub ops: Vec<usize>,
    pub outcome: Outcome,
    pub stats: Stats,
}

impl PartResult {
    pub fn verdict(&self) -> Verdict {
        match self.outcome {
            Outcome::Linearizable { .. } => Verdict::Linearizable,
            Outcome::NotLinearizable(_) => Verdict::NotLinearizable,
            Outcome::Unknown { .. } => Verdict::Unknown,
        }
    }
}

/// The outcome of a whole history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub verdict: Verdict,
    pub parts: Vec<PartResult>,
}

impl CheckResult {
    /// Combines part results: one failing part makes the history not linearizable;
    /// otherwise one undecided part leaves it unknown.
    pub fn from_parts(parts: Vec<PartResult>) -> Self {
        let verdicts: Vec<Verdict> = parts.iter().map(PartResult::verdict).collect();
        let verdict = if verdicts.contains(&Verdict::NotLinearizable) {
            Verdict::NotLinearizable
        } else if verdicts.contains(&Verdict::Unknown) {
            Verdict::Unknown
        } else {
            Verdict::Linearizable
        };
        CheckResult { verdict, parts }
    }

    /// Totals over all parts.
    pub fn stats(&self) -> Stats {
        let mut total = Stats::default();
        for part in &self.parts {
            total.steps += part.stats.steps;
            total.memo_entries += part.stats.memo_entries;
            total.states += part.stats.states;
        }
        total
    }
}

/// A history split into parts, ready to be searched part by part.
#[derive(Debug)]
pub struct Prepared<'h, M: Model> {
    model: &'h M,
    history: &'h History<M::Input, M::Output>,
    parts: Vec<Vec<usize>>,
}

impl<'h, M: Model> Prepared<'h, M> {
    pub fn new(model: &'h M, history: &'h History<M::Input, M::Output>) -> Self {
        Prepared { model, history, parts: parts_of(model, history) }
    }

    /// The parts, as lists of history indices.
    pub fn parts(&self) -> &[Vec<usize>] {
        &self.parts
    }

    pub fn check_part(&self, part: usize, budget: &Budget<'_>) -> PartResult {
        check_part(self.model, self.history, &self.parts[part], budget)
    }

    /// Searches the parts in turns; see [`check_parts`].
    pub fn check(&self, budget: &Budget<'_>) -> CheckResult {
        check_parts(self.model, self.history, &self.parts, budget)
    }
}

/// Steps each undecided part gets in the first round of [`check_parts`]; the slice
/// doubles every round.
pub const FIRST_SLICE_STEPS: u64 = 1024;

/// Searches `parts` of `history` taking turns: each round gives every undecided part a
/// slice of steps, and slices double every round. The first round in which a part is
/// found not linearizable is the last: the verdict is then known, and the remaining
/// parts (which may be exponentially harder) are reported undecided. Turn-taking finds
/// the cheapest failure first without threads, and stays deterministic. The memo bound
/// in `budget` is shared out equally among the parts.
pub fn check_parts<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    parts: &[Vec<usize>],
    budget: &Budget<'_>,
) -> CheckResult {
    let memo_bytes = budget.memory_bytes_max / parts.len().max(1);
    let mut searches: Vec<Option<Search<'_, M>>> = parts
        .iter()
        .map(|indices| {
            let ops = indices.iter().map(|i| history.get(*i)).collect();
            Some(Search::new(model, ops, indices.clone(), memo_bytes))
        })
        .collect();
    let mut done: Vec<Option<(Outcome, Stats)>> = vec![None; parts.len()];
    let mut slice = FIRST_SLICE_STEPS;
    loop {
        let mut failed = false;
        let mut undecided = false;
        for (k, slot) in searches.iter_mut().enumerate() {
            let Some(search) = slot else { continue };
            match search.run(slice, budget) {
                None => undecided = true,
                Some(outcome) => {
                    failed |= matches!(outcome, Outcome::NotLinearizable(_));
                    done[k] = Some((outcome.clone(), search.stats()));
                    // Free the part's memo as soon as it is decided.
                    *slot = None;
                }
            }
        }
        if failed || !undecided {
            break;
        }
        slice = slice.saturating_mul(2);
    }
    let results = parts
        .iter()
        .zip(done)
        .zip(searches)
        .map(|((indices, done), search)| {
            let (outcome, stats) = done.unwrap_or_else(|| {
                let stats = search.map(|s| s.stats()).unwrap_or_default();
                let reason =
                    "not decided: the search stopped once another part was found not linearizable"
                        .to_string();
                (Outcome::Unknown { reason }, stats)
            });
            PartResult { ops: indices.clone(), outcome, stats }
        })
        .collect();
    CheckResult::from_parts(results)
}

/// The model's partition of `history`, checked to be one: every operation in exactly
/// one part. Empty parts are dropped.
pub fn parts_of<M: Model>(model: &M, history: &History<M::Input, M::Output>) -> Vec<Vec<usize>> {
    let mut parts = model.partition(history);
    parts.retain(|p| !p.is_empty());
    let mut seen = vec![false; history.len()];
    for index in parts.iter().flatten() {
        assert!(!seen[*index], "the model's partition puts operation {index} in two parts");
        seen[*index] = true;
    }
    assert!(seen.iter().all(|s| *s), "the model's partition leaves an operation out");
    parts
}

/// Searches the part of `history` made of the operations at `indices`.
pub fn check_part<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    indices: &[usize],
    budget: &Budget<'_>,
) -> PartResult {
    let ops: Vec<&Operation<M::Input, M::Output>> =
        indices.iter().map(|i| history.get(*i)).collect();
    let (outcome, stats) = search(model, &ops, indices, budget);
    PartResult { ops: indices.to_vec(), outcome, stats }
}

/// Checks `history` against `model`.
pub fn check<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    budget: &Budget<'_>,
) -> CheckResult {
    Prepared::new(model, history).check(budget)
}
