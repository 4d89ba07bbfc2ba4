//! The pre-vote promise (thesis §9.6): a member that grants a pre-vote says it would
//! grant the real vote in the state it is in. So a grant for the member's own term goes
//! only to the candidate it already voted for, or comes from a member that has neither
//! voted nor knows a leader of that term; a leader grants none, and no member grants
//! one for a term below its own. A grant for a later term is judged on the logs alone,
//! which this check does not see.
//!
//! The world checks every grant as the member sends it, against the member's public
//! status at that moment: a pre-vote request changes none of term, vote, leader or
//! role, and the world drains a member after each input, so that status is the one
//! the member decided in.

use crate::safety::ViolationKind;
use crate::types_ext::{NodeId, Term};
use detcd_core::raft::{Message, MessageBody, Role, Status};
use std::fmt;

/// A pre-vote grant its granter's state did not back: for `term`, to `candidate`, from a
/// member at `own_term` that had voted for `vote`, knew `leader` and maybe led.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub term: Term,
    pub candidate: NodeId,
    pub own_term: Term,
    pub vote: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub leading: bool,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = |n: Option<NodeId>| n.map_or("none".to_string(), |n| format!("node {n}"));
        let (term, own_term) = (self.term, self.own_term);
        let why = if self.leading {
            "it leads".to_string()
        } else if term < own_term {
            format!("that term is below its own ({own_term})")
        } else {
            format!(
                "in that term it had voted for {} and knew leader {}",
                node(self.vote),
                node(self.leader)
            )
        };
        write!(
            f,
            "it granted node {} a pre-vote for term {term} that its vote would not back: {why} (thesis 9.6)",
            self.candidate
        )
    }
}

/// `msg` leaves the member whose state is `granter`: a violation if it is a pre-vote
/// grant that member's state does not back.
pub fn granted(msg: &Message, granter: &Status) -> Option<ViolationKind> {
    if !matches!(msg.body, MessageBody::PreVoteResponse { reject: false }) {
        return None;
    }
    let (term, candidate) = (msg.term, msg.to);
    let backed = granter.role != Role::Leader
        && (term > granter.term
            || (term == granter.term
                && (granter.vote == Some(candidate)
                    || (granter.vote.is_none() && granter.leader.is_none()))));
    (!backed).then(|| {
        ViolationKind::PreVoteNotBacked(Box::new(Grant {
            term,
            candidate,
            own_term: granter.term,
            vote: granter.vote,
            leader: granter.leader,
            leading: granter.role == Role::Leader,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use detcd_core::raft::RoleReason;

    fn status(term: u64, vote: Option<u64>, leader: Option<u64>, role: Role) -> Status {
        Status {
            id: 1,
            role,
            role_reason: RoleReason::Started,
            term,
            vote,
            leader,
            commit: 0,
            applied: 0,
            last_index: 0,
            snapshot_index: 0,
        }
    }

    fn grant(to: u64, term: u64) -> Message {
        Message { from: 1, to, term, body: MessageBody::PreVoteResponse { reject: false } }
    }

    #[test]
    fn a_grant_at_its_own_term_needs_a_free_or_same_vote() {
        let free = status(5, None, None, Role::Follower);
        assert_eq!(granted(&grant(2, 5), &free), None);
        let voted_for_2 = status(5, Some(2), Some(2), Role::Follower);
        assert_eq!(granted(&grant(2, 5), &voted_for_2), None);
        let voted_for_3 = status(5, Some(3), None, Role::Follower);
        assert!(granted(&grant(2, 5), &voted_for_3).is_some());
    }

    /// The mutant this check was written for: a member that has not voted but follows
    /// a leader of its term grants a pre-vote for that term.
    #[test]
    fn a_member_that_knows_a_leader_grants_no_pre_vote_at_its_term() {
        let follower = status(5, None, Some(3), Role::Follower);
        assert_eq!(
            granted(&grant(2, 5), &follower),
            Some(ViolationKind::PreVoteNotBacked(Box::new(Grant {
                term: 5,
                candidate: 2,
                own_term: 5,
                vote: None,
                leader: Some(3),
                leading: false,
            })))
        );
        // For a later term only the logs count (§9.6).
        assert_eq!(granted(&grant(2, 6), &follower), None);
    }

    #[test]
    fn no_grant_from_a_leader_or_below_its_term() {
        let leader = status(5, Some(1), Some(1), Role::Leader);
        assert!(granted(&grant(2, 6), &leader).is_some());
        let free = status(5, None, None, Role::Follower);
        assert!(granted(&grant(2, 4), &free).is_some());
    }

    #[test]
    fn refusals_and_other_messages_are_not_checked() {
        let follower = status(5, None, Some(3), Role::Follower);
        let refusal = Message {
            from: 1,
            to: 2,
            term: 5,
            body: MessageBody::PreVoteResponse { reject: true },
        };
        assert_eq!(granted(&refusal, &follower), None);
        let vote =
            Message { from: 1, to: 2, term: 5, body: MessageBody::VoteResponse { reject: false } };
        assert_eq!(granted(&vote, &follower), None);
    }
}
