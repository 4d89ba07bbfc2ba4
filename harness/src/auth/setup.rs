//! How far the administrator's setup got, and what a run whose setup never finished
//! may conclude: a step the cluster refused outright is a wrong answer (a failure), but
//! a setup whose attempts only ever met members unable to serve them (down, cut off,
//! without a leader, or no answer in time) checked nothing and found nothing, and says
//! so as undecided.

use crate::report::{check_names, CheckResult, Verdict};
use crate::workload::{is_definite_refusal, is_unknown_outcome};
use detcd_core::api::EtcdError;

/// The setup's progress through its steps.
#[derive(Clone, Debug, Default)]
pub struct SetupProgress {
    /// Whether every step is done and auth is on.
    pub done: bool,
    /// Steps done, of `steps`.
    pub steps_done: usize,
    pub steps: usize,
    /// Attempts that met a member unable to serve them: no answer, or an answer that
    /// says so (no leader, not the leader, too busy, leader changed, timed out).
    pub unavailable: u64,
    /// The first answer that refused a step for another reason.
    pub refused: Option<(usize, EtcdError)>,
}

impl SetupProgress {
    /// Records a failed attempt at `step`.
    pub fn failed(&mut self, step: usize, error: Option<EtcdError>) {
        match error {
            Some(e) if !is_definite_refusal(&e) && !is_unknown_outcome(&e) => {
                self.refused.get_or_insert((step, e));
            }
            _ => self.unavailable += 1,
        }
    }

    /// The `auth-revocation` verdict of a run whose setup never finished; `None` once
    /// it did.
    pub fn unfinished(&self) -> Option<CheckResult> {
        if self.done {
            return None;
        }
        let progress = format!(
            "{} of {} setup step(s) done, {} attempt(s) unanswered or refused as unavailable",
            self.steps_done, self.steps, self.unavailable
        );
        Some(match self.refused {
            Some((step, e)) => CheckResult::fail(
                check_names::AUTH_REVOCATION,
                format!(
                    "the administrator never finished setting up auth: setup step {step} was \
                     refused with {e:?} ({progress}); nothing was checked"
                ),
            ),
            None => CheckResult {
                name: check_names::AUTH_REVOCATION,
                verdict: Verdict::Unknown,
                evidence: format!(
                    "undecided, not a safety violation: faults kept the members from serving \
                     the administrator's setup until the safety phase ended ({progress}); \
                     nothing was checked"
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_setup_leaves_the_verdict_to_the_check() {
        let p = SetupProgress { done: true, steps_done: 3, steps: 3, ..Default::default() };
        assert!(p.unfinished().is_none());
    }

    #[test]
    fn an_unavailable_cluster_is_undecided() {
        let mut p = SetupProgress { steps_done: 1, steps: 3, ..Default::default() };
        p.failed(1, None);
        p.failed(1, Some(EtcdError::NoLeader));
        p.failed(1, Some(EtcdError::Timeout));
        let r = p.unfinished().expect("unfinished");
        assert_eq!(r.verdict, Verdict::Unknown);
        assert!(r.evidence.contains("3 attempt(s) unanswered"), "{}", r.evidence);
    }

    #[test]
    fn a_refused_step_is_a_failure() {
        let mut p = SetupProgress { steps_done: 1, steps: 3, ..Default::default() };
        p.failed(1, None);
        p.failed(1, Some(EtcdError::PermissionDenied));
        p.failed(1, Some(EtcdError::RoleNotFound));
        let r = p.unfinished().expect("unfinished");
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.evidence.contains("step 1 was refused with PermissionDenied"), "{}", r.evidence);
    }
}
