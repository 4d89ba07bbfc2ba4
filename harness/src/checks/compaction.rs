//! The log is compacted (§7): a member snapshots its applied state every
//! `snapshot_entries` entries and the Raft log drops the prefix the snapshot covers, so
//! its first index follows its applied index. A member whose log still starts far
//! behind what it applied keeps every entry forever: memory and restart time grow
//! without bound though nothing is lost.

use crate::report::{check_names::LOG_COMPACTION, CheckResult};

/// One running member's log at the end of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberLog {
    pub node: u64,
    pub applied: u64,
    /// The index the Raft log's snapshot covers (its first index less one).
    pub snapshot_index: u64,
}

/// A member snapshots once it applied `snapshot_entries` past its last snapshot, at the
/// end of the apply batch that got it there; a batch can be as long again (a member
/// catching up), so a gap of twice the threshold is a log that is not being compacted.
const GAP_THRESHOLDS_MAX: u64 = 2;

/// Every member's log starts within two snapshot thresholds of what it applied.
pub fn check_compaction(members: &[MemberLog], snapshot_entries: u64) -> CheckResult {
    let gap_max = snapshot_entries.saturating_mul(GAP_THRESHOLDS_MAX);
    for m in members {
        let gap = m.applied.saturating_sub(m.snapshot_index);
        if gap > gap_max {
            return CheckResult::fail(
                LOG_COMPACTION,
                format!(
                    "member {} applied up to {} but its log still starts after {}: {gap} entries \
                     kept, more than {GAP_THRESHOLDS_MAX} x snapshot_entries ({snapshot_entries})",
                    m.node, m.applied, m.snapshot_index
                ),
            );
        }
    }
    let highest = members.iter().map(|m| m.snapshot_index).max().unwrap_or(0);
    CheckResult::pass(
        LOG_COMPACTION,
        format!(
            "{} member(s), each log within {gap_max} entries of its applied index (snapshots up to {highest})",
            members.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn member(applied: u64, snapshot_index: u64) -> MemberLog {
        MemberLog { node: 2, applied, snapshot_index }
    }

    #[test]
    fn a_log_never_compacted_fails() {
        let c = check_compaction(&[member(500, 480), member(500, 0)], 40);
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        assert!(c.evidence.contains("member 2 applied up to 500"), "{}", c.evidence);
    }

    #[test]
    fn logs_that_follow_their_applied_index_pass() {
        // Short of a snapshot yet, or within a long apply batch of the last one.
        let c = check_compaction(&[member(60, 0), member(500, 480), member(500, 421)], 40);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.evidence);
    }
}
