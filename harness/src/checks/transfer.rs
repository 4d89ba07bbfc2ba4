//! Leader transfers answer: a MoveLeader request waits on the leader it was sent to
//! until its target leads, and that member learns it. From the moment the member
//! believes the target leads, the request must be answered OK; an answer of anything
//! else (a timeout above all) after that moment means the transfer succeeded but its
//! operator was told it failed.

use crate::report::{check_names::LEADER_TRANSFER, CheckResult};
use detcd_sim::{RoleRecord, TransferRecord};

/// How one transfer request was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferAnswer {
    /// The world's request id (`TransferRecord::request`).
    pub request: u64,
    pub complete_us: u64,
    /// Answered with a MoveLeader response.
    pub ok: bool,
    /// The answer in words (an error's message, "timeout", "ok").
    pub what: String,
}

fn secs(us: u64) -> String {
    format!("{}.{:03}s", us / 1_000_000, (us % 1_000_000) / 1_000)
}

/// Judges every answered transfer request of a run. `cut`: the world's log lost records
/// (a transfer or role change it lacks is not judged).
pub fn check_transfers(
    transfers: &[TransferRecord],
    answers: &[TransferAnswer],
    roles: &[RoleRecord],
    cut: bool,
) -> CheckResult {
    let mut answered = 0u64;
    let mut ok = 0u64;
    for t in transfers {
        let Some(a) = answers.iter().find(|a| a.request == t.request) else { continue };
        answered += 1;
        if a.ok {
            ok += 1;
            continue;
        }
        let learned = roles.iter().find(|r| {
            r.node == t.leader
                && r.leader == Some(t.target)
                && r.at_us >= t.at_us
                && r.at_us < a.complete_us
        });
        if let Some(r) = learned {
            return CheckResult::fail(
                LEADER_TRANSFER,
                format!(
                    "member {} was asked at {} to hand leadership to {}; it saw {} lead term {} \
                     at {}, yet answered {} at {}",
                    t.leader,
                    secs(t.at_us),
                    t.target,
                    t.target,
                    r.term,
                    secs(r.at_us),
                    a.what,
                    secs(a.complete_us)
                ),
            );
        }
    }
    let note = if cut { " (the operator log was cut: some not judged)" } else { "" };
    CheckResult::pass(
        LEADER_TRANSFER,
        format!(
            "{} transfer request(s), {answered} answered, {ok} OK; none answered otherwise once \
             its member saw the target lead{note}",
            transfers.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use detcd_core::raft::Role;

    fn transfer() -> TransferRecord {
        TransferRecord { at_us: 1_000_000, request: 7, leader: 1, target: 2 }
    }

    fn answer(ok: bool, complete_us: u64) -> TransferAnswer {
        let what = if ok { "ok" } else { "etcdserver: request timed out" };
        TransferAnswer { request: 7, complete_us, ok, what: what.into() }
    }

    fn learned(at_us: u64, leader: u64) -> RoleRecord {
        RoleRecord { at_us, node: 1, role: Role::Follower, term: 3, leader: Some(leader) }
    }

    #[test]
    fn a_timeout_after_the_target_took_over_fails() {
        let c = check_transfers(
            &[transfer()],
            &[answer(false, 2_000_000)],
            &[learned(1_050_000, 2)],
            false,
        );
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        assert!(c.evidence.contains("saw 2 lead term 3 at 1.050s"), "{}", c.evidence);
    }

    #[test]
    fn ok_answers_and_failed_transfers_pass() {
        // Answered OK when the member learned it.
        let c = check_transfers(
            &[transfer()],
            &[answer(true, 1_050_000)],
            &[learned(1_050_000, 2)],
            false,
        );
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        // Another member took over, or the target only after the answer: a real failure.
        let roles = [learned(1_050_000, 3), learned(2_500_000, 2)];
        let c = check_transfers(&[transfer()], &[answer(false, 2_000_000)], &roles, false);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        // Never answered (the run ended first): not judged.
        let c = check_transfers(&[transfer()], &[], &[learned(1_050_000, 2)], false);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        assert!(c.evidence.contains("1 transfer request(s), 0 answered"), "{}", c.evidence);
    }
}
