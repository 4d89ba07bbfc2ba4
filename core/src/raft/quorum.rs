//! Quorum arithmetic over a (possibly joint) configuration (Raft thesis §4.3): a
//! decision of a joint configuration C_old,new needs a majority of C_new AND a
//! majority of C_old. Every place that counts (votes, the commit index, ReadIndex
//! confirmations, CheckQuorum, lease reads) goes through these functions so none can
//! forget the outgoing half.

use crate::types::{ConfState, Index, NodeId};
use std::collections::BTreeSet;

/// The outcome of counting votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VoteResult {
    Won,
    Lost,
    Pending,
}

fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Whether `yes` holds for a majority of `set`. An empty set agrees vacuously, which
/// only the (empty) outgoing half of a non-joint configuration ever is.
fn set_agrees(set: &BTreeSet<NodeId>, yes: &impl Fn(NodeId) -> bool) -> bool {
    set.is_empty() || set.iter().filter(|&&v| yes(v)).count() >= majority(set.len())
}

/// The highest index a majority of `set` reached (`Index::MAX` for an empty set).
fn set_committed(
    set: &BTreeSet<NodeId>,
    matched: &impl Fn(NodeId) -> Index,
    buf: &mut Vec<Index>,
) -> Index {
    if set.is_empty() {
        return Index::MAX;
    }
    buf.clear();
    buf.extend(set.iter().map(|&v| matched(v)));
    buf.sort_unstable_by(|a, b| b.cmp(a));
    buf[majority(set.len()) - 1]
}

impl ConfState {
    /// Whether `yes` holds for a quorum: a majority of the voters, and while joint a
    /// majority of the outgoing voters too.
    pub fn has_quorum(&self, yes: impl Fn(NodeId) -> bool) -> bool {
        set_agrees(&self.voters, &yes) && set_agrees(&self.voters_outgoing, &yes)
    }

    /// The highest index held by a quorum, given each voter's matched index: the
    /// smaller of the two halves' majority indexes while joint. `buf` is scratch space.
    pub fn committed_index(
        &self,
        matched: impl Fn(NodeId) -> Index,
        buf: &mut Vec<Index>,
    ) -> Index {
        let incoming = set_committed(&self.voters, &matched, buf);
        let outgoing = set_committed(&self.voters_outgoing, &matched, buf);
        let c = incoming.min(outgoing);
        if c == Index::MAX {
            0
        } else {
            c
        }
    }

    /// Counts `votes` (voter -> granted; non-voters are ignored): won once both halves
    /// granted by majority, lost once either half can no longer reach one.
    pub(crate) fn vote_result(
        &self,
        votes: &std::collections::BTreeMap<NodeId, bool>,
    ) -> VoteResult {
        let half = |set: &BTreeSet<NodeId>| {
            if set.is_empty() {
                return VoteResult::Won;
            }
            let granted = set.iter().filter(|v| votes.get(v) == Some(&true)).count();
            let rejected = set.iter().filter(|v| votes.get(v) == Some(&false)).count();
            let q = majority(set.len());
            if granted >= q {
                VoteResult::Won
            } else if set.len() - rejected < q {
                VoteResult::Lost
            } else {
                VoteResult::Pending
            }
        };
        match (half(&self.voters), half(&self.voters_outgoing)) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        }
    }

    /// Whether `id` is the only voter of every half: it decides alone.
    pub fn is_sole_voter(&self, id: NodeId) -> bool {
        let alone = |s: &BTreeSet<NodeId>| s.is_empty() || (s.len() == 1 && s.contains(&id));
        !self.voters.is_empty() && alone(&self.voters) && alone(&self.voters_outgoing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn joint(incoming: &[NodeId], outgoing: &[NodeId]) -> ConfState {
        ConfState {
            voters: incoming.iter().copied().collect(),
            learners: BTreeSet::new(),
            voters_outgoing: outgoing.iter().copied().collect(),
        }
    }

    #[test]
    fn single_config_majority() {
        let c = ConfState::with_voters([1, 2, 3]);
        assert!(c.has_quorum(|v| v == 1 || v == 2));
        assert!(!c.has_quorum(|v| v == 1));
        let m = [(1, 9), (2, 5), (3, 7)];
        let matched = |v: NodeId| m.iter().find(|x| x.0 == v).map_or(0, |x| x.1);
        assert_eq!(c.committed_index(matched, &mut Vec::new()), 7);
    }

    /// Thesis §4.3: a joint decision needs separate majorities of both halves.
    #[test]
    fn joint_needs_both_majorities() {
        // C_old = {1,2,3}, C_new = {1,4,5}.
        let c = joint(&[1, 4, 5], &[1, 2, 3]);
        // 1,2,3 is a majority of C_old only.
        assert!(!c.has_quorum(|v| v <= 3));
        // 1,4,5 is a majority of C_new only.
        assert!(!c.has_quorum(|v| v == 1 || v >= 4));
        // 1,2,4 is a majority of both.
        assert!(c.has_quorum(|v| v == 1 || v == 2 || v == 4));
    }

    #[test]
    fn joint_commit_index_is_the_smaller_half() {
        let c = joint(&[1, 4, 5], &[1, 2, 3]);
        let m = [(1, 10), (2, 10), (3, 10), (4, 3), (5, 2)];
        let matched = |v: NodeId| m.iter().find(|x| x.0 == v).map_or(0, |x| x.1);
        // C_old's majority holds 10, C_new's only 3.
        assert_eq!(c.committed_index(matched, &mut Vec::new()), 3);
    }

    #[test]
    fn joint_votes() {
        let c = joint(&[1, 4, 5], &[1, 2, 3]);
        let mut votes = BTreeMap::new();
        votes.insert(1, true);
        votes.insert(2, true);
        votes.insert(3, true);
        assert_eq!(c.vote_result(&votes), VoteResult::Pending, "C_old alone does not elect");
        votes.insert(4, false);
        assert_eq!(c.vote_result(&votes), VoteResult::Pending);
        votes.insert(5, false);
        assert_eq!(c.vote_result(&votes), VoteResult::Lost, "C_new rejected by majority");
        votes.insert(5, true);
        assert_eq!(c.vote_result(&votes), VoteResult::Won);
        // Learners and strangers do not count.
        let mut l = ConfState::with_voters([1, 2, 3]);
        l.learners.insert(4);
        let votes: BTreeMap<NodeId, bool> = [(1, true), (4, true), (9, true)].into();
        assert_eq!(l.vote_result(&votes), VoteResult::Pending);
    }

    #[test]
    fn sole_voter() {
        assert!(ConfState::with_voters([1]).is_sole_voter(1));
        assert!(!ConfState::with_voters([1, 2]).is_sole_voter(1));
        assert!(!joint(&[1], &[1, 2]).is_sole_voter(1));
        assert!(joint(&[1], &[1]).is_sole_voter(1));
        assert!(!ConfState::default().is_sole_voter(1));
    }
}
