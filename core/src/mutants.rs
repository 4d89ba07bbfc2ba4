//! Hand-written mutants: deliberate, named bugs compiled in only with the `mutants`
//! feature, to measure whether the simulator finds the bugs that matter. Each is a few
//! lines at the real site of the code it breaks, guarded by `active(Mutant::...)`.
//!
//! They cover what a source-level mutation tool cannot write: reordering a promise
//! before the durability it rests on, the previous-term commit rule, boundary
//! off-by-ones that need a second operand, and so on. The normal build does not contain
//! this module nor any mutant site.
//!
//! The selection is one process-wide value set by the binary's `--mutant` flag before
//! any node exists; the core never reads the environment, and a run stays a pure
//! function of its seed and its build (the mutant is part of the build).

use std::sync::atomic::{AtomicU8, Ordering};

/// One deliberate bug. The doc line of each names the bug class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mutant {
    /// Durability ordering: a vote is granted before term and vote are durable (Figure 2).
    VoteBeforeDurable = 1,
    /// Durability ordering: an append is acknowledged before its entries are durable.
    AckBeforeDurable,
    /// Durability ordering: the leader counts entries it sent as if acknowledged, so a
    /// client is answered before its write is durable on a quorum.
    CommitOnSend,
    /// Commit rule: an entry of a previous term is committed by counting replicas
    /// (Raft §5.4.2, Figure 8).
    Figure8Commit,
    /// Reads: a ReadIndex read is served without a heartbeat round confirming leadership.
    ReadWithoutLeadership,
    /// Log matching: an append truncates the log after its entries even where they match.
    TruncateMatching,
    /// Apply once: a proposal that reached the log twice (a duplicated forward) applies
    /// twice.
    ApplyTwice,
    /// Compaction boundary: the version written one revision after the compaction
    /// revision counts as at or below it, so the version live at the boundary is lost.
    CompactOffByOne,
    /// Watch boundary: a watch with a start revision starts one revision late.
    WatchStartOffByOne,
    /// Leases: every member, not only the leader, decides lease expiry on its own clock.
    LeaseExpiryOnFollower,
    /// Terms: a follower accepts appends from a leader of an older term.
    StaleTermAccepted,
    /// Durability: after an append truncates a conflicting suffix, the first replaced
    /// index still counts as durable before the new entry there is written.
    TruncateDurableEarly,
    /// Sliced apply: the applied index moves when a DeleteRange starts applying in
    /// slices, so reads are served and snapshots taken without its writes.
    SliceAppliedEarly,
    /// Sliced apply: every full slice leaves the last key it looked at undeleted.
    SliceSkipsBoundary,
    /// Sliced apply: after each slice the applied store is the delete so far, at the
    /// delete's revision: reads see a half-applied entry.
    SlicePartialVisible,
}

impl Mutant {
    /// Every mutant, in the order the tables list them.
    pub const ALL: [Mutant; 15] = [
        Mutant::VoteBeforeDurable,
        Mutant::AckBeforeDurable,
        Mutant::CommitOnSend,
        Mutant::Figure8Commit,
        Mutant::ReadWithoutLeadership,
        Mutant::TruncateMatching,
        Mutant::ApplyTwice,
        Mutant::CompactOffByOne,
        Mutant::WatchStartOffByOne,
        Mutant::LeaseExpiryOnFollower,
        Mutant::StaleTermAccepted,
        Mutant::TruncateDurableEarly,
        Mutant::SliceAppliedEarly,
        Mutant::SliceSkipsBoundary,
        Mutant::SlicePartialVisible,
    ];

    /// The name used on the command line, e.g. `vote-before-durable`.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::VoteBeforeDurable => "vote-before-durable",
            Mutant::AckBeforeDurable => "ack-before-durable",
            Mutant::CommitOnSend => "commit-on-send",
            Mutant::Figure8Commit => "figure8-commit",
            Mutant::ReadWithoutLeadership => "read-without-leadership",
            Mutant::TruncateMatching => "truncate-matching",
            Mutant::ApplyTwice => "apply-twice",
            Mutant::CompactOffByOne => "compact-off-by-one",
            Mutant::WatchStartOffByOne => "watch-start-off-by-one",
            Mutant::LeaseExpiryOnFollower => "lease-expiry-on-follower",
            Mutant::StaleTermAccepted => "stale-term-accepted",
            Mutant::TruncateDurableEarly => "truncate-durable-early",
            Mutant::SliceAppliedEarly => "slice-applied-early",
            Mutant::SliceSkipsBoundary => "slice-skips-boundary",
            Mutant::SlicePartialVisible => "slice-partial-visible",
        }
    }

    /// The mutant called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// 0: none; otherwise a `Mutant` discriminant.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// Selects the mutant every node of this process runs with (`None`: the correct code).
/// Called once by the binary before any run starts.
pub fn select(m: Option<Mutant>) {
    ACTIVE.store(m.map_or(0, |m| m as u8), Ordering::Relaxed);
}

/// The selected mutant, if any.
pub fn selected() -> Option<Mutant> {
    let v = ACTIVE.load(Ordering::Relaxed);
    Mutant::ALL.into_iter().find(|m| *m as u8 == v)
}

/// Whether `m` is the selected mutant.
pub fn active(m: Mutant) -> bool {
    ACTIVE.load(Ordering::Relaxed) == m as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for m in Mutant::ALL {
            assert_eq!(Mutant::from_name(m.name()), Some(m));
        }
        let mut names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Mutant::ALL.len());
        assert_eq!(Mutant::from_name("no-such-bug"), None);
    }
}
