//! Invariants checked after every input in debug builds and wherever the `invariants`
//! feature is on (the simulator and harness turn it on, so release sweeps check them).
//! A failure is a bug in this crate (or a driver breaking the contract), never something
//! a peer can cause. `Config::check_invariants` switches them off at run time, for a
//! real member whose binary also holds the simulator (and so the feature).

#[cfg(any(debug_assertions, feature = "invariants"))]
use super::node::RaftNode;
#[cfg(any(debug_assertions, feature = "invariants"))]
use super::progress::ProgressState;
#[cfg(any(debug_assertions, feature = "invariants"))]
use super::Role;

#[cfg(any(debug_assertions, feature = "invariants"))]
impl RaftNode {
    pub(super) fn check_invariants(&self) {
        if !self.cfg.check_invariants {
            return;
        }
        let id = self.cfg.id;
        self.log.check(self.term);
        let last = self.log.last_index();
        assert!(self.dur.stable <= last, "node {id}: stable {} > last {last}", self.dur.stable);
        assert!(self.app_applied <= self.log.applied, "node {id}: app applied beyond handed out");
        assert!(
            self.log.snap_index() == 0 || self.snapshot.is_some(),
            "node {id}: log compacted without a snapshot"
        );
        if let Some(s) = &self.snapshot {
            assert_eq!(s.meta.index, self.log.snap_index(), "node {id}: snapshot/log disagree");
        }
        if self.role != Role::Leader {
            assert_eq!(
                self.reads.leader_held(),
                (0, 0, false),
                "node {id}: not leading, yet holds a leader's reads (waiting, in rounds, round open)"
            );
        }
        match self.role {
            Role::Leader => {
                assert_eq!(self.vote, Some(id), "node {id}: leader without a vote for itself");
                assert_eq!(self.leader, Some(id), "node {id}: leader does not know it leads");
                assert!(
                    self.conf.is_voter(id) || self.last_conf_index() > self.log.commit,
                    "node {id}: leader is not a voter of a committed configuration"
                );
                for (p, pr) in &self.progress {
                    assert!(pr.matched <= last, "node {id}: match of {p} beyond last index");
                    assert!(
                        pr.next >= 1 && pr.next <= last + 1
                            || matches!(pr.state, ProgressState::Snapshot { .. }),
                        "node {id}: next {} of {p} outside 1..={}",
                        pr.next,
                        last + 1
                    );
                    assert!(
                        pr.matched < pr.next || matches!(pr.state, ProgressState::Snapshot { .. }),
                        "node {id}: match {} >= next {} for {p}",
                        pr.matched,
                        pr.next
                    );
                }
                assert!(
                    self.log.term(self.log.last_index()) == Some(self.term),
                    "node {id}: leader's last entry is not of its term"
                );
            }
            Role::Candidate => {
                assert_eq!(self.vote, Some(id), "node {id}: candidate without a vote for itself");
                assert!(self.leader.is_none(), "node {id}: candidate knows a leader");
            }
            Role::PreCandidate => {
                assert!(self.leader.is_none(), "node {id}: pre-candidate knows a leader")
            }
            Role::Follower => {
                assert!(self.progress.is_empty(), "node {id}: follower tracks progress");
                assert_ne!(self.leader, Some(id), "node {id}: follower thinks it leads");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::raft::{Config, RaftNode};
    use crate::types::DurableState;

    /// A follower that believes it leads: a state the checks reject.
    fn broken(check_invariants: bool) -> RaftNode {
        let mut cfg = Config::new(1, vec![1, 2, 3], 7);
        cfg.check_invariants = check_invariants;
        let mut node = RaftNode::new(cfg, DurableState::default());
        node.leader = Some(1);
        node
    }

    #[test]
    fn checks_are_on_by_default() {
        assert!(Config::new(1, vec![1], 0).check_invariants);
    }

    #[cfg(any(debug_assertions, feature = "invariants"))]
    #[test]
    #[should_panic(expected = "follower thinks it leads")]
    fn a_broken_state_panics_with_checks_on() {
        broken(true).flush_reads();
    }

    #[test]
    fn a_broken_state_passes_with_checks_off() {
        broken(false).flush_reads();
    }
}
