//! Checking a whole history: split it into the independent parts the model allows
//! (P-compositionality, Herlihy & Wing 1990 §3.3), search each part, and combine the
//! outcomes into one verdict. Parts are searched one after another, in partition order;
//! a caller that wants parallelism calls [`Prepared::check_part`] from its own threads.

use crate::history::{History, Operation};
use crate::model::Model;
use crate::search::{search, Budget, Outcome, Stats};
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

    /// Searches every part in order.
    pub fn check(&self, budget: &Budget<'_>) -> CheckResult {
        let parts = (0..self.parts.len()).map(|p| self.check_part(p, budget)).collect();
        CheckResult::from_parts(parts)
    }
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
