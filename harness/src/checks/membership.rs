//! Membership changes take effect: the leader may refuse a voter change as leaving too
//! few started members (etcd's strict reconfiguration check) only when the cluster's
//! health gives it a reason. A refusal while every voter ran, linked both ways with the
//! leader over a clean network, and nothing had disturbed the cluster for several
//! activity windows, is a false refusal: the operator's change silently never happens.

use crate::report::{check_names::MEMBERSHIP, CheckResult};
use detcd_core::api::EtcdError;
use detcd_sim::MembershipRecord;

/// What the membership check needs besides the records.
#[derive(Clone, Copy, Debug)]
pub struct MembershipBounds {
    /// How long the cluster must have been undisturbed before a request for a refusal
    /// as "not enough started" to be judged: long enough that the leader has heard from
    /// every reachable voter within its activity window (one election timeout).
    pub quiet_min_us: u64,
}

impl MembershipBounds {
    /// Four election timeouts: a new leader hears from each voter within a heartbeat,
    /// so by then each reachable voter is active however the timeouts fell.
    pub fn for_timing(election_ticks: u32, tick_us: u64) -> Self {
        MembershipBounds { quiet_min_us: 4 * u64::from(election_ticks) * tick_us }
    }
}

fn secs(us: u64) -> String {
    format!("{}.{:03}s", us / 1_000_000, (us % 1_000_000) / 1_000)
}

/// Judges every membership request of a run. `cut`: the world's log lost records.
pub fn check_membership(
    records: &[MembershipRecord],
    cut: bool,
    bounds: MembershipBounds,
) -> CheckResult {
    let not_enough = EtcdError::MemberNotEnoughStarted.message();
    let mut judged = 0u64;
    for r in records {
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
             cluster, none refused as not enough started{note}",
            records.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use detcd_sim::{MemberChange, Target};

    const BOUNDS: MembershipBounds = MembershipBounds { quiet_min_us: 400_000 };

    fn record(refused: Option<&str>, quiet_us: u64, voters_reachable: bool) -> MembershipRecord {
        MembershipRecord {
            at_us: 2_000_000,
            leader: 1,
            change: MemberChange::Remove { node: Target::Node(2) },
            refused: refused.map(String::from),
            quiet_us,
            voters: 3,
            voters_reachable,
        }
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
