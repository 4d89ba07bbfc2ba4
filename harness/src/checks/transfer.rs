//! Leader transfers answer: a MoveLeader request waits on the leader it was sent to
//! until its target leads, and that member learns it. From the moment the member
//! believes the target leads, the request must be answered OK; an answer of anything
//! else (a timeout above all) after that moment means the transfer succeeded but its
//! operator was told it failed. And a transfer asked of the leader of a quiet cluster
//! (no fault, crash, start or election for several election timeouts) towards a target
//! that could take over at once (a running, caught-up voter linked both ways with it,
//! over a calm network) must succeed unless something upset the cluster before the
//! answer: a refusal there ("not leader" from the leader itself) is a transfer that
//! should have happened.

use super::secs;
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

/// What the world recorded around the transfers, besides the records themselves.
#[derive(Clone, Copy, Debug)]
pub struct TransferContext<'a> {
    /// Every role change (who each member believed led).
    pub roles: &'a [RoleRecord],
    /// When each fault, crash, start or operator request happened, in order.
    pub upsets_us: &'a [u64],
    /// How long the cluster must have been quiet before a transfer for its failure to
    /// be judged (several election timeouts: the leader has heard from every member).
    pub quiet_min_us: u64,
    /// The world's log lost records: a transfer, role change or upset it lacks is not
    /// judged, nor any transfer by the quiet rule.
    pub cut: bool,
}

/// Whether transfer `t`, answered at `complete_us`, was asked in a quiet cluster of a
/// target ready to take over, with no upset until its answer.
fn should_succeed(t: &TransferRecord, complete_us: u64, ctx: &TransferContext<'_>) -> bool {
    !ctx.cut
        && t.target_ready
        && t.quiet_us >= ctx.quiet_min_us
        && !ctx.upsets_us.iter().any(|&u| u > t.at_us && u <= complete_us)
}

/// Judges every answered transfer request of a run.
pub fn check_transfers(
    transfers: &[TransferRecord],
    answers: &[TransferAnswer],
    ctx: &TransferContext<'_>,
) -> CheckResult {
    let mut answered = 0u64;
    let mut ok = 0u64;
    let mut judged = 0u64;
    for t in transfers {
        let Some(a) = answers.iter().find(|a| a.request == t.request) else { continue };
        answered += 1;
        let quiet = should_succeed(t, a.complete_us, ctx);
        judged += u64::from(quiet);
        if a.ok {
            ok += 1;
            continue;
        }
        if quiet {
            return CheckResult::fail(
                LEADER_TRANSFER,
                format!(
                    "leader {} was asked at {} to hand leadership to {}, a running, caught-up \
                     voter linked with it, after {} ms of quiet, and nothing upset the cluster \
                     until it answered {} at {}",
                    t.leader,
                    secs(t.at_us),
                    t.target,
                    t.quiet_us / 1_000,
                    a.what,
                    secs(a.complete_us)
                ),
            );
        }
        let learned = ctx.roles.iter().find(|r| {
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
    let note = if ctx.cut { " (the operator log was cut: some not judged)" } else { "" };
    CheckResult::pass(
        LEADER_TRANSFER,
        format!(
            "{} transfer request(s), {answered} answered, {ok} OK; none answered otherwise once \
             its member saw the target lead; {judged} asked of a quiet leader towards a ready \
             target, all OK{note}",
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
        TransferRecord {
            at_us: 1_000_000,
            request: 7,
            leader: 1,
            target: 2,
            quiet_us: 100_000,
            target_ready: false,
        }
    }

    fn quiet_transfer() -> TransferRecord {
        TransferRecord { quiet_us: 900_000, target_ready: true, ..transfer() }
    }

    fn answer(ok: bool, complete_us: u64) -> TransferAnswer {
        let what = if ok { "ok" } else { "etcdserver: request timed out" };
        TransferAnswer { request: 7, complete_us, ok, what: what.into() }
    }

    fn refused(complete_us: u64) -> TransferAnswer {
        TransferAnswer { request: 7, complete_us, ok: false, what: "etcdserver: not leader".into() }
    }

    fn learned(at_us: u64, leader: u64) -> RoleRecord {
        RoleRecord { at_us, node: 1, role: Role::Follower, term: 3, leader: Some(leader) }
    }

    fn ctx<'a>(roles: &'a [RoleRecord], upsets_us: &'a [u64]) -> TransferContext<'a> {
        TransferContext { roles, upsets_us, quiet_min_us: 400_000, cut: false }
    }

    #[test]
    fn a_timeout_after_the_target_took_over_fails() {
        let roles = [learned(1_050_000, 2)];
        let c = check_transfers(&[transfer()], &[answer(false, 2_000_000)], &ctx(&roles, &[]));
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        assert!(c.evidence.contains("saw 2 lead term 3 at 1.050s"), "{}", c.evidence);
    }

    #[test]
    fn ok_answers_and_failed_transfers_pass() {
        // Answered OK when the member learned it.
        let roles = [learned(1_050_000, 2)];
        let c = check_transfers(&[transfer()], &[answer(true, 1_050_000)], &ctx(&roles, &[]));
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        // Another member took over, or the target only after the answer: a real failure.
        let roles = [learned(1_050_000, 3), learned(2_500_000, 2)];
        let c = check_transfers(&[transfer()], &[answer(false, 2_000_000)], &ctx(&roles, &[]));
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        // Never answered (the run ended first): not judged.
        let roles = [learned(1_050_000, 2)];
        let c = check_transfers(&[transfer()], &[], &ctx(&roles, &[]));
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        assert!(c.evidence.contains("1 transfer request(s), 0 answered"), "{}", c.evidence);
    }

    #[test]
    fn a_quiet_leader_refusing_a_ready_target_fails() {
        let c = check_transfers(&[quiet_transfer()], &[refused(1_001_000)], &ctx(&[], &[]));
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        assert!(c.evidence.contains("after 900 ms of quiet"), "{}", c.evidence);
        assert!(c.evidence.contains("answered etcdserver: not leader at 1.001s"), "{}", c.evidence);
        // An upset before the request, or at its own moment (the request itself), still fails.
        let upsets = [100_000, 1_000_000];
        let c = check_transfers(&[quiet_transfer()], &[refused(1_001_000)], &ctx(&[], &upsets));
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
    }

    #[test]
    fn failures_with_a_reason_pass() {
        let cases = [
            // Not quiet long enough.
            (TransferRecord { quiet_us: 300_000, ..quiet_transfer() }, vec![]),
            // The target could not take over at once.
            (TransferRecord { target_ready: false, ..quiet_transfer() }, vec![]),
            // A fault between the request and the answer.
            (quiet_transfer(), vec![1_000_500]),
        ];
        for (t, upsets) in cases {
            let c = check_transfers(
                std::slice::from_ref(&t),
                &[refused(1_001_000)],
                &ctx(&[], &upsets),
            );
            assert_eq!(c.verdict, Verdict::Pass, "{t:?}: {}", c.evidence);
        }
        // A cut log judges nothing by the quiet rule.
        let cut = TransferContext { cut: true, ..ctx(&[], &[]) };
        let c = check_transfers(&[quiet_transfer()], &[refused(1_001_000)], &cut);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        // Answered OK: judged and passed.
        let c = check_transfers(&[quiet_transfer()], &[answer(true, 1_010_000)], &ctx(&[], &[]));
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        assert!(c.evidence.contains("1 asked of a quiet leader"), "{}", c.evidence);
    }
}
