//! The `member-list` check: a MemberList answer (what `etcdctl member list` shows)
//! lists the members the cluster has, as far as its member has applied.
//!
//! Every member starts from the initial cluster's list and applies the accepted changes
//! in log order (or a snapshot of such a prefix), so whatever it has applied, an answer
//! completed at time T:
//! - lists only members of the initial cluster or members an accepted change added by
//!   T, each once, and each with a role it could have: a voter of the initial cluster,
//!   added as a voter, or promoted; a learner only if added as one;
//! - lists every member of the initial cluster that no change accepted by T removes
//!   (nothing can have taken it out).
//!
//! A change counts as accepted when its leader took it (it may still be lost with that
//! leader, which only ever excuses an answer). The changes here are the member-table
//! operations the changes carry, not Raft's configuration steps: a joint replace
//! removes a member from the table and adds a Raft voter that the table never names.
//! When the operator's log was cut, answers after its last record are not judged.

use super::secs;
use crate::report::{check_names::MEMBER_LIST, CheckResult};
use detcd_core::server::MemberOp;

/// One MemberList answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberListAnswer {
    pub member: u64,
    pub complete_us: u64,
    /// The members listed: id and whether listed as a learner, in the answer's order.
    pub listed: Vec<(u64, bool)>,
}

/// A membership change a leader accepted at `at_us`, as the member-table operation it
/// carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedChange {
    pub at_us: u64,
    pub op: MemberOp,
}

/// Whether `id` may be listed with role `learner` at `t_us`.
fn may_list(
    id: u64,
    learner: bool,
    initial: &[u64],
    changes: &[AcceptedChange],
    t_us: u64,
) -> bool {
    (!learner && initial.contains(&id))
        || changes.iter().filter(|c| c.at_us <= t_us).any(|c| match &c.op {
            MemberOp::Add(m) => m.id == id && m.is_learner == learner,
            MemberOp::Promote(p) => *p == id && !learner,
            _ => false,
        })
}

/// What is wrong with `a`, if anything.
fn judge(a: &MemberListAnswer, initial: &[u64], changes: &[AcceptedChange]) -> Option<String> {
    let t = a.complete_us;
    let mut seen = std::collections::BTreeSet::new();
    for &(id, learner) in &a.listed {
        if !seen.insert(id) {
            return Some(format!("lists member {id} twice"));
        }
        if !may_list(id, learner, initial, changes, t) {
            let role = if learner { "learner" } else { "voter" };
            return Some(format!(
                "lists member {id} as a {role}, which no accepted change made it"
            ));
        }
    }
    let removed = |id: u64| {
        changes.iter().any(|c| c.at_us <= t && matches!(c.op, MemberOp::Remove(r) if r == id))
    };
    let missing: Vec<String> = initial
        .iter()
        .filter(|&&id| !seen.contains(&id) && !removed(id))
        .map(|id| id.to_string())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "leaves out member(s) {} of the initial cluster, which no change removed",
            missing.join(", ")
        )
    })
}

/// The verdict on every answer. `cut_after_us`: when the operator's log lost records,
/// the time of its last record kept.
pub fn check_member_list(
    answers: &[MemberListAnswer],
    initial: &[u64],
    changes: &[AcceptedChange],
    cut_after_us: Option<u64>,
) -> CheckResult {
    let judged = answers.iter().filter(|a| cut_after_us.is_none_or(|c| a.complete_us <= c));
    let mut count = 0usize;
    for a in judged {
        count += 1;
        if let Some(why) = judge(a, initial, changes) {
            let listed: Vec<String> = a
                .listed
                .iter()
                .map(|&(id, l)| if l { format!("{id} (learner)") } else { id.to_string() })
                .collect();
            return CheckResult::fail(
                MEMBER_LIST,
                format!(
                    "member {}'s MemberList answer at {} {why}; it listed [{}]",
                    a.member,
                    secs(a.complete_us),
                    listed.join(", ")
                ),
            );
        }
    }
    CheckResult::pass(MEMBER_LIST, format!("{count} MemberList answers list what they may"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use detcd_core::server::Member;

    fn answer(t_s: u64, listed: &[(u64, bool)]) -> MemberListAnswer {
        MemberListAnswer { member: 1, complete_us: t_s * 1_000_000, listed: listed.to_vec() }
    }

    fn at(t_s: u64, op: MemberOp) -> AcceptedChange {
        AcceptedChange { at_us: t_s * 1_000_000, op }
    }

    fn add(id: u64, is_learner: bool) -> MemberOp {
        MemberOp::Add(Member { id, is_learner, ..Member::default() })
    }

    fn verdict(answers: &[MemberListAnswer], changes: &[AcceptedChange]) -> (Verdict, String) {
        let c = check_member_list(answers, &[1, 2, 3], changes, None);
        (c.verdict, c.evidence)
    }

    #[test]
    fn the_initial_cluster_and_what_changes_made_pass() {
        let changes =
            [at(1, add(4, true)), at(2, MemberOp::Promote(4)), at(3, MemberOp::Remove(2))];
        let answers = [
            answer(0, &[(1, false), (2, false), (3, false)]),
            answer(1, &[(1, false), (2, false), (3, false), (4, true)]),
            // Not yet applied here: the promote and the removal.
            answer(3, &[(1, false), (2, false), (3, false), (4, true)]),
            answer(4, &[(1, false), (3, false), (4, false)]),
        ];
        assert_eq!(verdict(&answers, &changes).0, Verdict::Pass);
    }

    #[test]
    fn an_empty_answer_fails() {
        let (v, why) = verdict(&[answer(1, &[])], &[]);
        assert_eq!(v, Verdict::Fail);
        assert!(why.contains("leaves out member(s) 1, 2, 3"), "{why}");
    }

    #[test]
    fn a_member_left_out_without_a_removal_fails() {
        let (v, why) =
            verdict(&[answer(2, &[(1, false), (3, false)])], &[at(3, MemberOp::Remove(2))]);
        assert_eq!(v, Verdict::Fail, "the removal came after the answer");
        assert!(why.contains("leaves out member(s) 2"), "{why}");
    }

    #[test]
    fn a_member_or_role_no_change_made_fails() {
        let base = [(1, false), (2, false), (3, false)];
        let with = |extra: (u64, bool)| {
            let mut l = base.to_vec();
            l.push(extra);
            l
        };
        // Unknown, added later, a learner listed as a voter, a voter listed as a learner.
        assert_eq!(verdict(&[answer(1, &with((9, false)))], &[]).0, Verdict::Fail);
        assert_eq!(
            verdict(&[answer(1, &with((4, true)))], &[at(2, add(4, true))]).0,
            Verdict::Fail
        );
        assert_eq!(
            verdict(&[answer(2, &with((4, false)))], &[at(1, add(4, true))]).0,
            Verdict::Fail
        );
        let learner_one = [(1, true), (2, false), (3, false)];
        assert_eq!(verdict(&[answer(1, &learner_one)], &[]).0, Verdict::Fail);
        let twice = [(1, false), (2, false), (3, false), (2, false)];
        assert_eq!(verdict(&[answer(1, &twice)], &[]).0, Verdict::Fail);
    }

    #[test]
    fn answers_after_a_cut_log_are_not_judged() {
        let c = check_member_list(&[answer(5, &[])], &[1, 2, 3], &[], Some(4_000_000));
        assert_eq!(c.verdict, Verdict::Pass);
        let c = check_member_list(&[answer(3, &[])], &[1, 2, 3], &[], Some(4_000_000));
        assert_eq!(c.verdict, Verdict::Fail);
    }
}
