//! The `status` check: Maintenance Status answers (what `etcdctl endpoint status`
//! shows) describe the member's Raft state truthfully.
//!
//! - `raft_term` is the member's current term, and the leader it names (if any) leads
//!   that term: the world's log must show that member become leader of exactly that
//!   term no later than the answer. A leader is only known in the term it was elected
//!   in, so this holds for every honest answer, and fails for a term left out (0) or
//!   taken from elsewhere.
//! - `raft_index` (the committed index) is never below `raft_applied_index`: a member
//!   applies only committed entries.
//!
//! When the world's log was cut (it lost records), the leader rule is not judged.

use crate::report::{check_names::STATUS, CheckResult};
use detcd_core::raft::Role;
use detcd_sim::RoleRecord;

/// One Status answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusAnswer {
    pub member: u64,
    pub invoke_us: u64,
    pub complete_us: u64,
    pub leader: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
}

fn secs(us: u64) -> String {
    format!("{}.{:03}s", us / 1_000_000, (us % 1_000_000) / 1_000)
}

fn wrong(a: &StatusAnswer, roles: &[RoleRecord], cut: bool) -> Option<String> {
    let who = format!("member {}'s Status answer at {}", a.member, secs(a.complete_us));
    if a.raft_index < a.raft_applied_index {
        return Some(format!(
            "{who} says raft index {} below raft applied index {}: an entry applied before it committed",
            a.raft_index, a.raft_applied_index
        ));
    }
    if a.leader == 0 || cut {
        return None;
    }
    let elected = roles.iter().any(|r| {
        r.node == a.leader
            && r.role == Role::Leader
            && r.term == a.raft_term
            && r.at_us <= a.complete_us
    });
    if elected {
        return None;
    }
    let terms: Vec<String> = roles
        .iter()
        .filter(|r| r.node == a.leader && r.role == Role::Leader && r.at_us <= a.complete_us)
        .map(|r| r.term.to_string())
        .collect();
    Some(format!(
        "{who} names leader {} in raft term {}, but {} never became leader of that term (it led terms [{}])",
        a.leader,
        a.raft_term,
        a.leader,
        terms.join(", ")
    ))
}

/// Judges every Status answer of a run against the world's role log.
pub fn check_status(answers: &[StatusAnswer], roles: &[RoleRecord], cut: bool) -> CheckResult {
    if let Some(why) = answers.iter().find_map(|a| wrong(a, roles, cut)) {
        return CheckResult::fail(STATUS, why);
    }
    let with_leader = answers.iter().filter(|a| a.leader != 0).count();
    CheckResult::pass(
        STATUS,
        format!(
            "{} Status answer(s), {with_leader} naming a leader, each leader elected in the term the answer gave{}",
            answers.len(),
            if cut { " (leaders not judged: the role log was cut)" } else { "" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn elected(node: u64, term: u64, at_us: u64) -> RoleRecord {
        RoleRecord { at_us, node, role: Role::Leader, term, leader: Some(node) }
    }

    fn answer(leader: u64, raft_term: u64) -> StatusAnswer {
        StatusAnswer {
            member: 2,
            invoke_us: 500,
            complete_us: 500,
            leader,
            raft_term,
            raft_index: 10,
            raft_applied_index: 9,
        }
    }

    #[test]
    fn the_named_leader_leads_the_answers_term() {
        let roles = [elected(1, 2, 100), elected(3, 4, 300)];
        let judge = |a: StatusAnswer| check_status(&[a], &roles, false).verdict;
        assert_eq!(judge(answer(1, 2)), Verdict::Pass);
        assert_eq!(judge(answer(3, 4)), Verdict::Pass);
        assert_eq!(judge(answer(0, 3)), Verdict::Pass, "no leader known: any term");
        assert_eq!(judge(answer(1, 0)), Verdict::Fail, "a term left out");
        assert_eq!(judge(answer(1, 4)), Verdict::Fail, "1 did not lead term 4");
        // Elected after the answer: the answer cannot have known it.
        let mut early = answer(3, 4);
        early.complete_us = 200;
        assert_eq!(judge(early), Verdict::Fail);
        // A cut log judges no leader.
        assert_eq!(check_status(&[answer(1, 0)], &roles, true).verdict, Verdict::Pass);
    }

    #[test]
    fn the_applied_index_never_passes_the_committed_one() {
        let mut a = answer(0, 1);
        a.raft_applied_index = 11;
        assert_eq!(check_status(&[a.clone()], &[], false).verdict, Verdict::Fail);
        a.raft_applied_index = 10;
        assert_eq!(check_status(&[a], &[], false).verdict, Verdict::Pass);
    }
}
