//! Membership changes take effect, and only when they may: the leader may refuse a
//! voter change as leaving too few started members (etcd's strict reconfiguration
//! check) only when the cluster's health gives it a reason. A refusal while every voter
//! ran, linked both ways with the leader over a clean network, and nothing had
//! disturbed the cluster for several activity windows, is a false refusal: the
//! operator's change silently never happens. The other way round, a voter removal the
//! leader accepts while, by the world's own knowledge, too few of the remaining voters
//! can have been heard from (down, or cut off from the leader, for longer than its
//! activity window) leaves a cluster that cannot commit: etcd refuses it. And adding a
//! learner may be refused as "too many learners" only when the leader's settled
//! configuration already holds the most learners etcd allows.

use super::secs;
use crate::report::{check_names::MEMBERSHIP, CheckResult};
use detcd_core::api::EtcdError;
use detcd_core::server::LEARNERS_MAX;
use detcd_sim::{MemberChange, MembershipRecord, Target};

/// What the membership check needs besides the records.
#[derive(Clone, Copy, Debug)]
pub struct MembershipBounds {
    /// How long the cluster must have been undisturbed before a request for a refusal
    /// as "not enough started" to be judged: long enough that the leader has heard from
    /// every reachable voter within its activity window (one election timeout).
    pub quiet_min_us: u64,
    /// How long a voter must have been unable to reach the leader for the leader to
    /// count it inactive for sure: its activity window (one election timeout of its own
    /// clock, which may run at half speed) plus any message still in flight.
    pub silent_min_us: u64,
}

impl MembershipBounds {
    /// Four election timeouts for both: a new leader hears from each voter within a
    /// heartbeat, so by then each reachable voter is active however the timeouts fell;
    /// and a leader's window of one election timeout, at half clock speed, is two.
    pub fn for_timing(election_ticks: u32, tick_us: u64) -> Self {
        let four = 4 * u64::from(election_ticks) * tick_us;
        MembershipBounds { quiet_min_us: four, silent_min_us: four }
    }
}

/// The voter a removal (or a replacement) takes out, if it is one of the leader's.
fn removed_voter(r: &MembershipRecord) -> Option<u64> {
    let id = match &r.change {
        MemberChange::Remove { node: Target::Node(id) }
        | MemberChange::Replace { remove: Target::Node(id), .. } => *id,
        _ => return None,
    };
    (id == r.leader || r.silent_us.iter().any(|&(v, _)| v == id)).then_some(id)
}

/// An accepted removal that leaves the remaining voters without a quorum of members the
/// leader can have heard from: the reason, or None when it could.
fn unhealthy_removal(r: &MembershipRecord, bounds: MembershipBounds) -> Option<String> {
    if r.refused.is_some() || !r.settled || r.voters < 2 {
        return None;
    }
    let removed = removed_voter(r)?;
    let remaining = r.voters - 1;
    let silent: Vec<String> = r
        .silent_us
        .iter()
        .filter(|&&(v, us)| v != removed && us >= bounds.silent_min_us)
        .map(|&(v, us)| format!("{v} for {} ms", us / 1_000))
        .collect();
    let active_max = remaining.saturating_sub(silent.len() as u64);
    (active_max < remaining / 2 + 1).then(|| {
        format!(
            "leader {} accepted {} at {}, leaving {remaining} voter(s) of which at most \
             {active_max} can have been active (silent towards it: {}); etcd refuses it as \
             unhealthy",
            r.leader,
            r.change,
            secs(r.at_us),
            silent.join(", ")
        )
    })
}

/// Judges every membership request of a run. `cut`: the world's log lost records.
pub fn check_membership(
    records: &[MembershipRecord],
    cut: bool,
    bounds: MembershipBounds,
) -> CheckResult {
    let not_enough = EtcdError::MemberNotEnoughStarted.message();
    let too_many = EtcdError::TooManyLearners.message();
    let mut judged = 0u64;
    let mut removals = 0u64;
    let mut learner_adds = 0u64;
    for r in records {
        if let Some(why) = unhealthy_removal(r, bounds) {
            return CheckResult::fail(MEMBERSHIP, why);
        }
        if r.refused.is_none() && r.settled && removed_voter(r).is_some() {
            removals += 1;
        }
        if r.settled && matches!(r.change, MemberChange::AddLearner { .. }) {
            learner_adds += 1;
            if r.refused.as_deref() == Some(too_many) && r.learners < LEARNERS_MAX as u64 {
                return CheckResult::fail(
                    MEMBERSHIP,
                    format!(
                        "leader {} refused {} at {} with \"{too_many}\", yet its configuration \
                         held {} learner(s), fewer than the {LEARNERS_MAX} allowed",
                        r.leader,
                        r.change,
                        secs(r.at_us),
                        r.learners
                    ),
                );
            }
        }
        let healthy = r.voters_reachable && r.quiet_us >= bounds.quiet_min_us && r.voters >= 2;
        if !healthy {
            continue;
        }
        judged += 1;
        if r.refused.as_deref() == Some(not_enough) {
            return CheckResult::fail(
                MEMBERSHIP,
                format!(
                    "leader {} refused {} at {} with \"{not_enough}\", yet all {} voters ran and were \
                     linked with it and the cluster had been quiet for {} ms",
                    r.leader,
                    r.change,
                    secs(r.at_us),
                    r.voters,
                    r.quiet_us / 1_000
                ),
            );
        }
    }
    let applied = records.iter().filter(|r| r.refused.is_none()).count();
    let note = if cut { " (the operator log was cut: later requests not judged)" } else { "" };
    CheckResult::pass(
        MEMBERSHIP,
        format!(
            "{} membership request(s), {applied} proposed; {judged} made to a healthy, quiet \
             cluster, none refused as not enough started; {removals} voter removal(s) accepted, \
             each leaving a quorum that can have been active; {learner_adds} learner add(s) to \
             a settled configuration, none refused below the learner limit{note}",
            records.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use detcd_sim::{MemberChange, Target};

    const BOUNDS: MembershipBounds =
        MembershipBounds { quiet_min_us: 400_000, silent_min_us: 400_000 };

    fn record(refused: Option<&str>, quiet_us: u64, voters_reachable: bool) -> MembershipRecord {
        MembershipRecord {
            at_us: 2_000_000,
            leader: 1,
            change: MemberChange::Remove { node: Target::Node(2) },
            refused: refused.map(String::from),
            quiet_us,
            voters: 3,
            voters_reachable,
            settled: true,
            learners: 0,
            silent_us: vec![(2, 0), (3, 0)],
        }
    }

    /// A removal of voter `remove` from voters 1..=`voters` (1 leads), each other voter
    /// silent for the given time.
    fn removal(
        remove: u64,
        voters: u64,
        silent: &[(u64, u64)],
        refused: Option<&str>,
    ) -> MembershipRecord {
        let silent_us = (2..=voters)
            .map(|v| (v, silent.iter().find(|s| s.0 == v).map_or(0, |s| s.1)))
            .collect();
        MembershipRecord {
            change: MemberChange::Remove { node: Target::Node(remove) },
            voters,
            voters_reachable: silent.is_empty(),
            silent_us,
            ..record(refused, 100_000, false)
        }
    }

    fn learner_add(refused: Option<&str>, learners: u64, settled: bool) -> MembershipRecord {
        MembershipRecord {
            change: MemberChange::AddLearner { node: 4 },
            learners,
            settled,
            ..record(refused, 900_000, true)
        }
    }

    #[test]
    fn a_removal_leaving_no_active_quorum_fails() {
        // Voter 3 has been down 0.9 s: removing 2 leaves {1, 3}, only 1 active.
        let c = check_membership(&[removal(2, 3, &[(3, 900_000)], None)], false, BOUNDS);
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        assert!(c.evidence.contains("at most 1 can have been active"), "{}", c.evidence);
        assert!(c.evidence.contains("3 for 900 ms"), "{}", c.evidence);
        // The leader removing itself is the same.
        let c = check_membership(&[removal(1, 3, &[(3, 900_000)], None)], false, BOUNDS);
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        // Five voters, two of the remaining four silent: two active, three needed.
        let r = removal(2, 5, &[(3, 500_000), (4, 700_000)], None);
        assert_eq!(check_membership(&[r], false, BOUNDS).verdict, Verdict::Fail);
    }

    #[test]
    fn removals_that_leave_an_active_quorum_or_were_refused_pass() {
        let not_enough = EtcdError::MemberNotEnoughStarted.message();
        let good = [
            // Refused, as etcd does.
            removal(2, 3, &[(3, 900_000)], Some(not_enough)),
            // The silent voter itself goes.
            removal(3, 3, &[(3, 900_000)], None),
            // Silent too briefly for the leader to be sure.
            removal(2, 3, &[(3, 300_000)], None),
            // Five voters, one of the remaining four silent: three can be active.
            removal(2, 5, &[(3, 900_000)], None),
            // Nobody silent.
            removal(2, 3, &[], None),
            // A member that is no voter of the leader's.
            removal(7, 3, &[(3, 900_000)], None),
        ];
        let c = check_membership(&good, false, BOUNDS);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        assert!(c.evidence.contains("4 voter removal(s) accepted"), "{}", c.evidence);
        // A configuration not settled (a change under way) is not judged.
        let mut r = removal(2, 3, &[(3, 900_000)], None);
        r.settled = false;
        assert_eq!(check_membership(&[r], false, BOUNDS).verdict, Verdict::Pass);
    }

    #[test]
    fn a_learner_refused_below_the_limit_fails() {
        let too_many = EtcdError::TooManyLearners.message();
        let c = check_membership(&[learner_add(Some(too_many), 0, true)], false, BOUNDS);
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        assert!(
            c.evidence.contains("held 0 learner(s), fewer than the 1 allowed"),
            "{}",
            c.evidence
        );
    }

    #[test]
    fn learner_refusals_at_the_limit_pass() {
        let too_many = EtcdError::TooManyLearners.message();
        let good = [
            learner_add(Some(too_many), LEARNERS_MAX as u64, true),
            // A change under way: the member list may not be the configuration.
            learner_add(Some(too_many), 0, false),
            learner_add(None, 0, true),
        ];
        let c = check_membership(&good, false, BOUNDS);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        assert!(c.evidence.contains("2 learner add(s)"), "{}", c.evidence);
    }

    #[test]
    fn a_refusal_in_a_healthy_quiet_cluster_fails() {
        let msg = EtcdError::MemberNotEnoughStarted.message();
        let bad = [record(None, 900_000, true), record(Some(msg), 900_000, true)];
        let c = check_membership(&bad, false, BOUNDS);
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        assert!(c.evidence.contains("refused remove"), "{}", c.evidence);
    }

    #[test]
    fn refusals_with_a_reason_pass() {
        let msg = EtcdError::MemberNotEnoughStarted.message();
        let good = [
            // A voter down or cut off, or a disturbance too recent to judge.
            record(Some(msg), 900_000, false),
            record(Some(msg), 100_000, true),
            // Another reason altogether (a change already under way).
            record(Some(EtcdError::Unhealthy.message()), 900_000, true),
            record(None, 900_000, true),
        ];
        let c = check_membership(&good, false, BOUNDS);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
        assert!(
            c.evidence.contains("4 membership request(s), 1 proposed; 2 made"),
            "{}",
            c.evidence
        );
    }

    #[test]
    fn a_single_voter_may_refuse() {
        let msg = EtcdError::MemberNotEnoughStarted.message();
        let mut r = record(Some(msg), 900_000, true);
        r.voters = 1;
        assert_eq!(check_membership(&[r], false, BOUNDS).verdict, Verdict::Pass);
    }
}
