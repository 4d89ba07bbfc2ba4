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
//! - A member of a quiet cluster names its leader (what an operator reads `etcdctl
//!   endpoint status` for): when the role log shows one leader of one term, elected at
//!   least `stable_us` before the request and undisturbed until the answer (no member
//!   took another term, lost its leader or restarted: each of those is a role record),
//!   and the answering member had heard from that leader before the request, the
//!   answer names that leader and term. Elections in flight, restarted or removed
//!   members and learners not yet reached all leave records that excuse the answer.
//!
//! When the world's log was cut (it lost records), the leader rules are not judged.

use super::secs;
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

/// The leader and term a quiet cluster's member must name in answer `a`, if the
/// cluster was quiet for it (see the module docs).
fn quiet_leader(a: &StatusAnswer, roles: &[RoleRecord], stable_us: u64) -> Option<(u64, u64)> {
    let heard = roles.iter().rfind(|r| r.node == a.member && r.at_us <= a.invoke_us)?;
    let (leader, term) = (heard.leader?, heard.term);
    let elected_us =
        roles.iter().find(|r| r.node == leader && r.role == Role::Leader && r.term == term)?.at_us;
    if elected_us + stable_us > a.invoke_us {
        return None;
    }
    let disturbed = roles
        .iter()
        .filter(|r| r.at_us > elected_us && r.at_us <= a.complete_us)
        .any(|r| r.term != term || r.leader != Some(leader));
    (!disturbed).then_some((leader, term))
}

fn wrong(a: &StatusAnswer, roles: &[RoleRecord], cut: bool, stable_us: u64) -> Option<String> {
    let who = format!("member {}'s Status answer at {}", a.member, secs(a.complete_us));
    if a.raft_index < a.raft_applied_index {
        return Some(format!(
            "{who} says raft index {} below raft applied index {}: an entry applied before it committed",
            a.raft_index, a.raft_applied_index
        ));
    }
    if cut {
        return None;
    }
    if let Some((leader, term)) = quiet_leader(a, roles, stable_us) {
        if (a.leader, a.raft_term) != (leader, term) {
            return Some(format!(
                "{who} names leader {} in raft term {}, but the cluster was quiet: {leader} had led term {term} undisturbed for at least {} before the request, and member {} had heard from it",
                a.leader,
                a.raft_term,
                secs(stable_us),
                a.member
            ));
        }
    }
    if a.leader == 0 {
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

/// Judges every Status answer of a run against the world's role log; a leader counts
/// as settled once it has led undisturbed for `stable_us`.
pub fn check_status(
    answers: &[StatusAnswer],
    roles: &[RoleRecord],
    cut: bool,
    stable_us: u64,
) -> CheckResult {
    if let Some(why) = answers.iter().find_map(|a| wrong(a, roles, cut, stable_us)) {
        return CheckResult::fail(STATUS, why);
    }
    let with_leader = answers.iter().filter(|a| a.leader != 0).count();
    let quiet = if cut {
        0
    } else {
        answers.iter().filter(|a| quiet_leader(a, roles, stable_us).is_some()).count()
    };
    CheckResult::pass(
        STATUS,
        format!(
            "{} Status answer(s), {with_leader} naming a leader, each leader elected in the term the answer gave; {quiet} from a quiet cluster, each naming its leader{}",
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
        let judge = |a: StatusAnswer| check_status(&[a], &roles, false, 0).verdict;
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
        assert_eq!(check_status(&[answer(1, 0)], &roles, true, 0).verdict, Verdict::Pass);
    }

    #[test]
    fn the_applied_index_never_passes_the_committed_one() {
        let mut a = answer(0, 1);
        a.raft_applied_index = 11;
        assert_eq!(check_status(&[a.clone()], &[], false, 0).verdict, Verdict::Fail);
        a.raft_applied_index = 10;
        assert_eq!(check_status(&[a], &[], false, 0).verdict, Verdict::Pass);
    }

    fn heard(node: u64, term: u64, leader: Option<u64>, at_us: u64) -> RoleRecord {
        RoleRecord { at_us, node, role: Role::Follower, term, leader }
    }

    #[test]
    fn a_member_of_a_quiet_cluster_names_its_leader() {
        // 1 leads term 2 from 100; member 2 hears from it at 150; asked at 500.
        let quiet = [elected(1, 2, 100), heard(2, 2, Some(1), 150)];
        let judge = |roles: &[RoleRecord], a: StatusAnswer| check_status(&[a], roles, false, 300);
        assert_eq!(judge(&quiet, answer(1, 2)).verdict, Verdict::Pass);
        let silent = judge(&quiet, answer(0, 2));
        assert_eq!(silent.verdict, Verdict::Fail, "no leader named in a quiet cluster");
        assert!(silent.evidence.contains("names leader 0"), "{}", silent.evidence);
        // Not settled long enough: 100 + 300 > 350.
        let mut early = answer(0, 2);
        early.invoke_us = 350;
        assert_eq!(judge(&quiet, early).verdict, Verdict::Pass);
        // An election in flight before the answer: member 3 took term 3.
        let mut electing = quiet.to_vec();
        electing.push(RoleRecord {
            at_us: 450,
            node: 3,
            role: Role::Candidate,
            term: 3,
            leader: None,
        });
        assert_eq!(judge(&electing, answer(0, 2)).verdict, Verdict::Pass);
        // The member restarted (and forgot its leader) before the answer.
        let mut restarted = quiet.to_vec();
        restarted.push(heard(2, 2, None, 400));
        assert_eq!(judge(&restarted, answer(0, 2)).verdict, Verdict::Pass);
        // A member that never heard from the leader (a learner not reached yet).
        assert_eq!(judge(&[elected(1, 2, 100)], answer(0, 2)).verdict, Verdict::Pass);
        // A cut log judges nothing.
        assert_eq!(check_status(&[answer(0, 2)], &quiet, true, 300).verdict, Verdict::Pass);
    }
}
