//! Reports a person can read: the verdict with an explanation in words, every operation
//! described by the model, and per part the linearization (or the longest partial one
//! and where it got stuck). Serialized as JSON, and rendered as a self-contained HTML
//! page by [`html::render`].

pub mod anomaly;
pub mod html;

pub use anomaly::Anomaly;

use crate::check::{CheckResult, Verdict};
use crate::history::History;
use crate::model::Model;
use crate::search::Outcome;
use serde::{Deserialize, Serialize};

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub model: String,
    pub verdict: Verdict,
    /// One sentence.
    pub summary: String,
    /// The reasoning, a paragraph per line.
    pub explanation: Vec<String>,
    pub operations: Vec<OpReport>,
    pub parts: Vec<PartReport>,
    pub steps: u64,
    /// What went wrong, named ("stale read", "lost write"), when it is definite.
    #[serde(default)]
    pub anomaly: Option<Anomaly>,
}

/// One operation of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpReport {
    pub index: usize,
    pub client: u64,
    pub call: u64,
    #[serde(rename = "return")]
    pub ret: Option<u64>,
    pub description: String,
    /// Who ran it, in words ("client 3", or a name the caller gave, e.g. a probe's).
    #[serde(default)]
    pub who: String,
}

/// One independently checked part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartReport {
    pub verdict: Verdict,
    /// Indices (into `operations`) of the part's operations.
    pub operations: Vec<usize>,
    pub initial_state: String,
    /// The linearization, or the longest partial one when not linearizable.
    pub linearization: Vec<usize>,
    /// The state after each operation of `linearization`.
    pub states: Vec<String>,
    /// The operation whose return was reached before it could take effect.
    pub blocked: Option<usize>,
    /// The operations that could have come next at the point of failure.
    pub candidates: Vec<CandidateReport>,
    pub unknown_reason: Option<String>,
    pub steps: u64,
    pub memo_entries: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateReport {
    pub op: usize,
    /// False: the model refuses it there. True: it applies but leads to a dead end.
    pub applicable: bool,
}

/// How many failing parts the explanation spells out.
const EXPLAINED_PARTS_MAX: usize = 3;
/// How many operations of the partial linearization the explanation lists.
const PREFIX_SHOWN_MAX: usize = 6;

impl Report {
    pub fn new<M: Model>(
        model: &M,
        history: &History<M::Input, M::Output>,
        result: &CheckResult,
    ) -> Self {
        Self::with_client_names(model, history, result, |c| format!("client {c}"))
    }

    /// Like `new`, naming each client with `name` (e.g. an internal probe client).
    pub fn with_client_names<M: Model>(
        model: &M,
        history: &History<M::Input, M::Output>,
        result: &CheckResult,
        name: impl Fn(u64) -> String,
    ) -> Self {
        let operations: Vec<OpReport> = history
            .ops()
            .iter()
            .enumerate()
            .map(|(index, op)| OpReport {
                index,
                client: op.client,
                call: op.call,
                ret: op.ret,
                description: model.describe_operation(&op.input, op.output.as_ref()),
                who: name(op.client),
            })
            .collect();
        let initial_state = model.describe_state(&model.init());
        let parts: Vec<PartReport> = result
            .parts
            .iter()
            .map(|p| {
                let mut part = PartReport {
                    verdict: p.verdict(),
                    operations: p.ops.clone(),
                    initial_state: initial_state.clone(),
                    linearization: Vec::new(),
                    states: Vec::new(),
                    blocked: None,
                    candidates: Vec::new(),
                    unknown_reason: None,
                    steps: p.stats.steps,
                    memo_entries: p.stats.memo_entries,
                };
                match &p.outcome {
                    Outcome::Linearizable { order, states } => {
                        part.linearization = order.clone();
                        part.states = states.clone();
                    }
                    Outcome::NotLinearizable(f) => {
                        part.linearization = f.linearized.clone();
                        part.states = f.states.clone();
                        part.initial_state = f.initial_state.clone();
                        part.blocked = Some(f.blocked);
                        part.candidates = f
                            .candidates
                            .iter()
                            .map(|c| CandidateReport { op: c.op, applicable: c.applicable })
                            .collect();
                    }
                    Outcome::Unknown { reason } => part.unknown_reason = Some(reason.clone()),
                }
                part
            })
            .collect();
        let mut report = Report {
            model: model.name().to_string(),
            verdict: result.verdict,
            summary: String::new(),
            explanation: Vec::new(),
            operations,
            parts,
            steps: result.stats().steps,
            anomaly: None,
        };
        report.anomaly = result.parts.iter().find_map(|p| match &p.outcome {
            Outcome::NotLinearizable(f) => {
                anomaly::find(model, history, &p.ops, f, |i| report.op_words(i))
            }
            _ => None,
        });
        report.summary = report.summarize();
        report.explanation = report.explain();
        report
    }

    fn summarize(&self) -> String {
        let n = self.operations.len();
        let parts = self.parts.len();
        let part_word = if parts == 1 { "part" } else { "parts" };
        match self.verdict {
            Verdict::Linearizable => format!(
                "linearizable: the {n} operations ({parts} independent {part_word}) can be put in one order that the {} model accepts",
                self.model
            ),
            Verdict::NotLinearizable => {
                let bad = self.parts.iter().filter(|p| p.verdict == Verdict::NotLinearizable).count();
                let verb = if bad == 1 { "admits" } else { "admit" };
                let named = self.anomaly.as_ref().map_or(String::new(), |a| format!(" ({})", a.kind));
                format!(
                    "NOT linearizable{named}: {bad} of {parts} {part_word} {verb} no order of operations that the {} model accepts",
                    self.model
                )
            }
            Verdict::Unknown => {
                let undecided = self.parts.iter().filter(|p| p.verdict == Verdict::Unknown).count();
                format!("unknown: the search gave up on {undecided} of {parts} {part_word} before deciding")
            }
        }
    }

    fn op_words(&self, i: usize) -> String {
        let op = &self.operations[i];
        let when = match op.ret {
            Some(r) => format!("called at {}, returned at {r}", op.call),
            None => format!("called at {}, outcome unknown", op.call),
        };
        format!("#{i} ({}: {}; {when})", op.who, op.description)
    }

    fn explain(&self) -> Vec<String> {
        // The named anomaly first: it is what a reader came for.
        let mut lines: Vec<String> = self.anomaly.iter().map(|a| a.sentence.clone()).collect();
        let unknown = self.operations.iter().filter(|o| o.ret.is_none()).count();
        if unknown > 0 {
            let (noun, verb) =
                if unknown == 1 { ("operation", "has") } else { ("operations", "have") };
            lines.push(format!(
                "{unknown} {noun} {verb} an unknown outcome (timeout or crash): each may take effect at any time after its call, or never."
            ));
        }
        match self.verdict {
            Verdict::Linearizable => {
                let placed: usize = self.parts.iter().map(|p| p.linearization.len()).sum();
                let known = self.operations.len() - unknown;
                lines.push(format!(
                    "Every operation with a known outcome takes effect at one instant between its call and its return, in an order the model accepts; {} of the unknown operations took effect in that order.",
                    placed.saturating_sub(known)
                ));
            }
            Verdict::Unknown => {
                for (k, p) in self.parts.iter().enumerate() {
                    if let Some(reason) = &p.unknown_reason {
                        lines.push(format!(
                            "Part {k} ({} operations): {reason}.",
                            p.operations.len()
                        ));
                    }
                }
            }
            Verdict::NotLinearizable => {
                let failing: Vec<(usize, &PartReport)> = self
                    .parts
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.verdict == Verdict::NotLinearizable)
                    .collect();
                for (k, p) in failing.iter().take(EXPLAINED_PARTS_MAX) {
                    lines.extend(self.explain_failure(*k, p));
                }
                if failing.len() > EXPLAINED_PARTS_MAX {
                    lines.push(format!(
                        "… and {} more failing parts.",
                        failing.len() - EXPLAINED_PARTS_MAX
                    ));
                }
            }
        }
        lines
    }

    fn explain_failure(&self, k: usize, p: &PartReport) -> Vec<String> {
        let mut lines = Vec::new();
        let len = p.linearization.len();
        let state = p.states.last().unwrap_or(&p.initial_state);
        let mut prefix = format!(
            "Part {k} ({} operations): the longest order found takes {len} operations",
            p.operations.len()
        );
        if len > 0 {
            let shown: Vec<String> = p
                .linearization
                .iter()
                .skip(len.saturating_sub(PREFIX_SHOWN_MAX))
                .map(|i| format!("#{i} {}", self.operations[*i].description))
                .collect();
            let ellipsis = if len > PREFIX_SHOWN_MAX { "…, " } else { "" };
            prefix.push_str(&format!(", ending {ellipsis}{}", shown.join(", ")));
        }
        prefix.push_str(&format!("; the state is then {state}."));
        lines.push(prefix);
        if let Some(b) = p.blocked {
            lines.push(format!(
                "Operation {} must take effect before it returns, but from there no operation called before that return can take effect next:",
                self.op_words(b)
            ));
        }
        for c in &p.candidates {
            let why = if c.applicable {
                "could take effect, but every way of going on after it fails later".to_string()
            } else {
                format!("cannot take effect: its output contradicts the state ({state})")
            };
            lines.push(format!("  - {}: {why}", self.op_words(c.op)));
        }
        lines
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialize")
    }

    /// A short human text: the summary, then the explanation.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.summary);
        for line in &self.explanation {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}
