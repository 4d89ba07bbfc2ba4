//! What one simulated run found: every check with its verdict and evidence, and the
//! figures a sweep adds up. A run "passes" when its outcome matches the scenario's
//! expectation: every check passes, or, for a negative control, the named check fails.

use detcd_scenarios::Expect;
use serde::Serialize;

/// The names of the checks a run makes, as scenarios refer to them in `expect`.
pub mod check_names {
    pub const LINEARIZABILITY: &str = "linearizability";
    pub const WATCH: &str = "watch";
    pub const RAFT_SAFETY: &str = "raft-safety";
    pub const CONVERGENCE: &str = "convergence";
    pub const LIVENESS: &str = "liveness";
    pub const SERIALIZABLE_READS: &str = "serializable-reads";
    pub const LOCK_EXCLUSION: &str = "lock-exclusion";
    pub const ELECTION: &str = "election";
    pub const AUTH_REVOCATION: &str = "auth-revocation";
    pub const MEMBERSHIP: &str = "membership";
    pub const LEADER_TRANSFER: &str = "leader-transfer";
    pub const LOG_COMPACTION: &str = "log-compaction";
    /// A run that went over one of its budgets before its checks could decide (the
    /// history grew past its bound): its own entry, never a second linearizability one.
    pub const BUDGET: &str = "budget";
    pub const REVISION_READS: &str = "revision-reads";
    pub const LEASES: &str = "leases";
    pub const VALIDATION: &str = "validation";
    pub const STATUS: &str = "status";
    pub const LEARNER_REQUESTS: &str = "learner-requests";
    pub const MEMBER_LIST: &str = "member-list";
    /// The run panicked: a broken invariant of the core, or any other bug of the build.
    pub const PANIC: &str = "panic";
}

/// The verdict of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The check could not finish within the run's budget (`run::RunBudget`): too
    /// many events, too many pending at once, too long a history, or a linearizability
    /// search that ran out of steps or memory. Neither a pass nor a bug found.
    Budget,
    /// The check could not decide for a reason other than a run budget (chaos: the
    /// linearizability search of a real cluster's history ran out of steps).
    Unknown,
}

/// One check of one run.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub verdict: Verdict,
    /// In words: what was checked and, on failure, what went wrong where.
    pub evidence: String,
}

impl CheckResult {
    pub fn pass(name: &'static str, evidence: impl Into<String>) -> Self {
        CheckResult { name, verdict: Verdict::Pass, evidence: evidence.into() }
    }
    pub fn fail(name: &'static str, evidence: impl Into<String>) -> Self {
        CheckResult { name, verdict: Verdict::Fail, evidence: evidence.into() }
    }
    pub fn over_budget(name: &'static str, evidence: impl Into<String>) -> Self {
        CheckResult { name, verdict: Verdict::Budget, evidence: evidence.into() }
    }
}

/// Everything one run of one scenario at one seed produced.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub seed: u64,
    pub expect: String,
    pub checks: Vec<CheckResult>,
    /// Client operations issued.
    pub operations: u64,
    /// Operations the linearizability checker verified.
    pub operations_checked: u64,
    /// Simulated time covered, microseconds.
    pub sim_time_us: u64,
    /// Simulated events processed.
    pub events: u64,
    /// Hash of the whole run's trace: equal hashes mean identical runs.
    pub trace_hash: u64,
    /// Wall time of the run, microseconds (not part of the deterministic result).
    pub wall_us: u64,
}

impl RunReport {
    /// The checks that did not pass.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.verdict != Verdict::Pass)
    }

    /// Whether the run went over its budget: some check could not finish, and no check
    /// failed (a failure found first is the run's verdict).
    pub fn over_budget(&self) -> bool {
        self.checks.iter().any(|c| c.verdict == Verdict::Budget)
            && !self.checks.iter().any(|c| c.verdict == Verdict::Fail)
    }

    /// Whether the run matches what its scenario expects.
    pub fn passed(&self, expect: &Expect) -> bool {
        match expect {
            Expect::Pass => self.failures().next().is_none(),
            Expect::Fail(names) => {
                let wanted: Vec<&str> = names.split('|').collect();
                self.checks.iter().any(|c| c.verdict == Verdict::Fail && wanted.contains(&c.name))
            }
        }
    }

    /// A one-line account of why the run did not match its expectation.
    pub fn failure_summary(&self, expect: &Expect) -> String {
        match expect {
            Expect::Pass => self
                .failures()
                .map(|c| format!("{}: {}", c.name, c.evidence))
                .collect::<Vec<_>>()
                .join("; "),
            Expect::Fail(names) => {
                format!("negative control not caught: no {names} violation found")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(checks: Vec<CheckResult>) -> RunReport {
        RunReport {
            scenario: "s".into(),
            seed: 1,
            expect: "pass".into(),
            checks,
            operations: 0,
            operations_checked: 0,
            sim_time_us: 0,
            events: 0,
            trace_hash: 0,
            wall_us: 0,
        }
    }

    #[test]
    fn scenarios_know_the_same_check_names() {
        use check_names::*;
        let made = [
            LINEARIZABILITY,
            WATCH,
            RAFT_SAFETY,
            CONVERGENCE,
            LIVENESS,
            SERIALIZABLE_READS,
            LOCK_EXCLUSION,
            ELECTION,
            AUTH_REVOCATION,
            MEMBERSHIP,
            LEADER_TRANSFER,
            LOG_COMPACTION,
            REVISION_READS,
            LEASES,
            VALIDATION,
            STATUS,
            LEARNER_REQUESTS,
            MEMBER_LIST,
            PANIC,
        ];
        assert_eq!(made.as_slice(), detcd_scenarios::CHECK_NAMES);
    }

    #[test]
    fn pass_needs_every_check() {
        let ok = report(vec![CheckResult::pass("watch", "")]);
        assert!(ok.passed(&Expect::Pass));
        let bad = report(vec![CheckResult::pass("watch", ""), CheckResult::fail("liveness", "x")]);
        assert!(!bad.passed(&Expect::Pass));
    }

    #[test]
    fn negative_control_passes_only_when_its_check_fails() {
        let caught = report(vec![CheckResult::fail("raft-safety", "lost entry")]);
        assert!(caught.passed(&Expect::Fail("raft-safety|linearizability".into())));
        let missed = report(vec![CheckResult::pass("linearizability", "")]);
        assert!(!missed.passed(&Expect::Fail("linearizability".into())));
        let other = report(vec![CheckResult::fail("liveness", "")]);
        assert!(!other.passed(&Expect::Fail("linearizability".into())));
    }
}
