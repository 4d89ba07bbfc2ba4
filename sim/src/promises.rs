//! Promise checks: what a member states on the wire or to a client is checked against
//! the disks at the moment it is released, so a promise released too early fails on its
//! first occurrence instead of when its distant consequence (two leaders, a lost write)
//! finally shows. Raft Figure 2: servers "respond to RPCs only after updating stable
//! storage". One check per promise, each naming the property it guards:
//!
//! - Vote durability (§5.2, Figure 2): a vote grant leaves only once the voter's disk
//!   holds that term and that vote; and a member never grants two candidates one term,
//!   across crashes.
//! - Append durability (§5.3, Figure 2): an acknowledgement up to index `i` leaves only
//!   once the member's disk holds its log up to `i`; and afterwards its durable log keeps
//!   index `i` unless it durably moved to a later term (a later leader may replace
//!   uncommitted entries, the same leader never shortens what it was told it holds).
//! - Answer durability (§5.3, §8): a member answers a client only while everything it
//!   applied is durable on a quorum of disks: what it applied is committed, and committed
//!   means on a quorum's stable storage.
//! - Apply durability (the core's contract: it hands out for apply only committed
//!   entries that its own log holds durably): whatever a member has applied is on its
//!   own disk, as the entry its log holds there. The member's durable index is also
//!   what it counts as its own match when it leads; an index that claims an entry not
//!   yet written (say after an append replaced a conflicting suffix) shows here first.
//!
//! Torn writes can leave a truncation on disk without the term that justified it; after
//! such a crash the member's recorded acknowledgements are dropped rather than checked.

use crate::safety::{DecidedUnder, ViolationKind};
use crate::types_ext::{Index, NodeId, Term};
use detcd_core::raft::{Message, MessageBody};
use detcd_core::types::DurableState;
use std::collections::BTreeMap;

/// What a disk holds at one index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    /// An entry of this term.
    Entry(Term),
    /// Nothing there, but the snapshot covers it.
    Snapshot,
    /// Nothing.
    No,
}

fn held(d: &DurableState, index: Index) -> Held {
    if index == 0 || d.snapshot.as_ref().is_some_and(|s| s.meta.index >= index) {
        return Held::Snapshot;
    }
    match d.entries.binary_search_by_key(&index, |e| e.index) {
        Ok(i) => Held::Entry(d.entries[i].term),
        Err(_) => Held::No,
    }
}

fn last_index(d: &DurableState) -> Index {
    let snap = d.snapshot.as_ref().map_or(0, |s| s.meta.index);
    d.entries.last().map_or(snap, |e| e.index.max(snap))
}

/// Per member: the votes it granted and the appends it acknowledged, for the terms it
/// may still be in (older terms are pruned once its disk moved past them).
#[derive(Clone, Debug, Default)]
struct Member {
    /// term -> candidate granted.
    votes: BTreeMap<Term, NodeId>,
    /// term -> highest index acknowledged in that term.
    acks: BTreeMap<Term, Index>,
}

impl Member {
    /// A member whose disk is at `term` can never again act in an older term.
    fn prune(&mut self, term: Term) {
        self.votes = self.votes.split_off(&term);
        self.acks = self.acks.split_off(&term);
    }
}

/// The record of promises over a whole run.
#[derive(Clone, Debug, Default)]
pub struct PromiseChecker {
    members: BTreeMap<NodeId, Member>,
}

impl PromiseChecker {
    /// `msg` goes on the wire; `disk` is its sender's. A violation if it promises what
    /// the disk does not hold.
    pub fn sent(&mut self, msg: &Message, disk: &DurableState) -> Option<ViolationKind> {
        let (node, term) = (msg.from, msg.term);
        let disk_term = disk.hard_state.term;
        let member = self.members.entry(node).or_default();
        member.prune(disk_term);
        match msg.body {
            MessageBody::VoteResponse { reject: false } => {
                let candidate = msg.to;
                let durable = disk_term > term
                    || (disk_term == term && disk.hard_state.vote == Some(candidate));
                if !durable {
                    return Some(ViolationKind::VoteNotDurable {
                        term,
                        candidate,
                        durable_term: disk_term,
                        durable_vote: disk.hard_state.vote,
                    });
                }
                match member.votes.get(&term) {
                    Some(&first) if first != candidate => {
                        return Some(ViolationKind::TwoVotes { term, first, second: candidate })
                    }
                    Some(_) => {}
                    None if term >= disk_term => {
                        member.votes.insert(term, candidate);
                    }
                    None => {}
                }
            }
            MessageBody::AppendResponse { index, reject: false, .. } => {
                if held(disk, index) == Held::No {
                    return Some(ViolationKind::AckNotDurable {
                        term,
                        index,
                        durable_last: last_index(disk),
                    });
                }
                if term >= disk_term {
                    let acked = member.acks.entry(term).or_insert(0);
                    *acked = (*acked).max(index);
                }
            }
            _ => {}
        }
        None
    }

    /// `node`'s disk changed by a whole acknowledged write: every append it acknowledged
    /// in a term its disk is still in must still be there.
    pub fn persisted(&mut self, node: NodeId, disk: &DurableState) -> Option<ViolationKind> {
        let member = self.members.get_mut(&node)?;
        member.prune(disk.hard_state.term);
        for (&term, &index) in &member.acks {
            if held(disk, index) == Held::No {
                return Some(ViolationKind::AckedEntryLost {
                    term,
                    index,
                    durable_last: last_index(disk),
                });
            }
        }
        None
    }

    /// A crash tore a write on `node`'s disk: what it acknowledged is not checked again
    /// (the torn prefix may hold a truncation without the term that justified it).
    pub fn torn(&mut self, node: NodeId) {
        if let Some(m) = self.members.get_mut(&node) {
            m.acks.clear();
        }
    }

    /// A member has applied up to `applied`, its log holding an entry of term `term`
    /// there (`None`: it no longer holds it, not checked); `disk` is its own. A
    /// violation unless that disk holds the same entry, or a snapshot covering it.
    pub fn applied(
        applied: Index,
        term: Option<Term>,
        disk: &DurableState,
    ) -> Option<ViolationKind> {
        let term = term?;
        match held(disk, applied) {
            Held::Snapshot => None,
            Held::Entry(t) if t == term => None,
            Held::Entry(t) => Some(ViolationKind::AppliedNotDurable {
                index: applied,
                term,
                durable_term: Some(t),
            }),
            Held::No => {
                Some(ViolationKind::AppliedNotDurable { index: applied, term, durable_term: None })
            }
        }
    }

    /// A member answers a client having applied up to `applied`, the entry there being
    /// of term `term` (`None` when it no longer holds it: not checked). `decided` is the
    /// configuration that entry was committed under; `disk` finds a host's disk
    /// (`None`: no such host). A violation unless a quorum of that configuration's
    /// disks holds the entry: a majority of the voters and, while joint, of the
    /// outgoing voters too. `AllHosts` counts every disk `all` yields.
    pub fn answered<'a>(
        applied: Index,
        term: Option<Term>,
        decided: &DecidedUnder,
        disk: impl Fn(NodeId) -> Option<&'a DurableState>,
        all: impl ExactSizeIterator<Item = &'a DurableState>,
    ) -> Option<ViolationKind> {
        let term = term?;
        if applied == 0 {
            return None;
        }
        let holds = |d: &DurableState| match held(d, applied) {
            Held::Entry(t) => t == term,
            Held::Snapshot => true,
            Held::No => false,
        };
        let short = |durable_on: usize, members: usize| {
            (durable_on < members / 2 + 1).then(|| ViolationKind::AnswerNotDurable {
                index: applied,
                durable_on,
                members,
                config: decided.to_string(),
            })
        };
        match decided {
            DecidedUnder::Unknown => None,
            DecidedUnder::AllHosts => {
                let members = all.len();
                short(all.filter(|d| holds(d)).count(), members)
            }
            DecidedUnder::Conf(conf) => [&conf.voters, &conf.voters_outgoing]
                .into_iter()
                .filter(|half| !half.is_empty())
                .find_map(|half| {
                    let on = half.iter().filter(|&&id| disk(id).is_some_and(holds)).count();
                    short(on, half.len())
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use detcd_core::types::{Entry, EntryKind, HardState};

    fn disk(term: Term, vote: Option<NodeId>, last: Index) -> DurableState {
        let entries = (1..=last)
            .map(|index| Entry { term, index, kind: EntryKind::Normal, data: Bytes::new() })
            .collect();
        DurableState { hard_state: HardState { term, vote, commit: 0 }, snapshot: None, entries }
    }

    fn msg(from: NodeId, to: NodeId, term: Term, body: MessageBody) -> Message {
        Message { from, to, term, body }
    }

    fn ack(index: Index) -> MessageBody {
        MessageBody::AppendResponse { index, reject: false, reject_hint: 0, hint_term: 0 }
    }

    #[test]
    fn a_vote_must_be_durable_when_granted() {
        let mut c = PromiseChecker::default();
        let grant = msg(1, 2, 3, MessageBody::VoteResponse { reject: false });
        assert_eq!(c.sent(&grant, &disk(3, Some(2), 0)), None);
        let early = c.sent(&grant, &disk(2, None, 0));
        assert!(matches!(early, Some(ViolationKind::VoteNotDurable { term: 3, .. })), "{early:?}");
        let reject = msg(1, 2, 3, MessageBody::VoteResponse { reject: true });
        assert_eq!(c.sent(&reject, &disk(2, None, 0)), None);
    }

    #[test]
    fn two_votes_in_one_term_are_caught_across_crashes() {
        let mut c = PromiseChecker::default();
        let to2 = msg(1, 2, 3, MessageBody::VoteResponse { reject: false });
        assert_eq!(c.sent(&to2, &disk(3, Some(2), 0)), None);
        // After a crash that lost nothing the disk says otherwise... a buggy disk or
        // driver lets it vote again for another candidate.
        let to3 = msg(1, 3, 3, MessageBody::VoteResponse { reject: false });
        let twice = c.sent(&to3, &disk(3, Some(3), 0));
        assert_eq!(twice, Some(ViolationKind::TwoVotes { term: 3, first: 2, second: 3 }));
        // A later term is a new election.
        let later = msg(1, 3, 4, MessageBody::VoteResponse { reject: false });
        assert_eq!(c.sent(&later, &disk(4, Some(3), 0)), None);
    }

    #[test]
    fn an_ack_must_be_durable_and_stay() {
        let mut c = PromiseChecker::default();
        let early = c.sent(&msg(2, 1, 5, ack(4)), &disk(5, None, 3));
        assert!(matches!(early, Some(ViolationKind::AckNotDurable { index: 4, .. })), "{early:?}");
        assert_eq!(c.sent(&msg(2, 1, 5, ack(4)), &disk(5, None, 4)), None);
        assert_eq!(c.persisted(2, &disk(5, None, 6)), None);
        let lost = c.persisted(2, &disk(5, None, 2));
        assert!(matches!(lost, Some(ViolationKind::AckedEntryLost { index: 4, .. })), "{lost:?}");
        // A later term's leader may replace it.
        assert_eq!(c.persisted(2, &disk(6, None, 2)), None);
    }

    #[test]
    fn a_torn_write_forgets_acks() {
        let mut c = PromiseChecker::default();
        assert_eq!(c.sent(&msg(2, 1, 5, ack(4)), &disk(5, None, 4)), None);
        c.torn(2);
        assert_eq!(c.persisted(2, &disk(5, None, 2)), None);
    }

    fn answered(
        applied: Index,
        term: Option<Term>,
        d: &DecidedUnder,
        disks: &[DurableState],
    ) -> Option<ViolationKind> {
        let disk = |id: NodeId| disks.get(id as usize - 1);
        PromiseChecker::answered(applied, term, d, disk, disks.iter())
    }

    #[test]
    fn an_answer_needs_a_quorum_of_disks() {
        let all = DecidedUnder::AllHosts;
        let disks = [disk(2, None, 5), disk(2, None, 5), disk(2, None, 3)];
        assert_eq!(answered(5, Some(2), &all, &disks), None);
        let one = [disk(2, None, 5), disk(2, None, 4), disk(2, None, 3)];
        let short = answered(5, Some(2), &all, &one);
        assert!(
            matches!(
                short,
                Some(ViolationKind::AnswerNotDurable { index: 5, durable_on: 1, members: 3, .. })
            ),
            "{short:?}"
        );
        // Another term at that index is not the same write.
        assert!(answered(5, Some(3), &all, &disks).is_some());
        assert_eq!(answered(5, None, &all, &one), None);
    }

    #[test]
    fn an_applied_entry_must_be_on_its_own_disk() {
        // Applied up to 4 of term 5: the disk holds it, or a snapshot covers it.
        assert_eq!(PromiseChecker::applied(4, Some(5), &disk(5, None, 4)), None);
        let mut snap = disk(5, None, 0);
        snap.snapshot = Some(detcd_core::types::Snapshot {
            meta: detcd_core::types::SnapshotMeta { index: 6, term: 5, ..Default::default() },
            ..Default::default()
        });
        assert_eq!(PromiseChecker::applied(4, Some(5), &snap), None);
        // Not written yet.
        let early = PromiseChecker::applied(4, Some(5), &disk(5, None, 3));
        assert_eq!(
            early,
            Some(ViolationKind::AppliedNotDurable { index: 4, term: 5, durable_term: None })
        );
        // The disk still holds the entry an append replaced: another write.
        let replaced = PromiseChecker::applied(4, Some(6), &disk(5, None, 4));
        assert_eq!(
            replaced,
            Some(ViolationKind::AppliedNotDurable { index: 4, term: 6, durable_term: Some(5) })
        );
        // Nothing applied, or an entry the member no longer holds: nothing to check.
        assert_eq!(PromiseChecker::applied(0, Some(5), &disk(5, None, 0)), None);
        assert_eq!(PromiseChecker::applied(4, None, &disk(5, None, 0)), None);
    }

    /// Thesis §4.3: an entry decided under C_old,new is on a majority of both halves; a
    /// majority of the old voters alone is not enough, nor of the new ones alone.
    #[test]
    fn a_joint_answer_needs_both_halves() {
        use detcd_core::types::ConfState;
        let joint = ConfState {
            voters: [1, 2, 4].into(),
            voters_outgoing: [1, 2, 3].into(),
            learners: Default::default(),
        };
        let joint = DecidedUnder::Conf(joint);
        // Hosts 1..=4; index 5 held by the disks marked 5.
        let both = [disk(2, None, 5), disk(2, None, 5), disk(2, None, 3), disk(2, None, 3)];
        assert_eq!(answered(5, Some(2), &joint, &both), None);
        let old_only = [disk(2, None, 5), disk(2, None, 3), disk(2, None, 5), disk(2, None, 3)];
        let short = answered(5, Some(2), &joint, &old_only);
        assert!(
            matches!(
                short,
                Some(ViolationKind::AnswerNotDurable { durable_on: 1, members: 3, .. })
            ),
            "{short:?}"
        );
        let new_only = [disk(2, None, 5), disk(2, None, 3), disk(2, None, 3), disk(2, None, 5)];
        assert!(answered(5, Some(2), &joint, &new_only).is_some());
        // The same disks under the new configuration alone are a quorum.
        let new = DecidedUnder::Conf(ConfState::with_voters([1, 2, 4]));
        assert_eq!(answered(5, Some(2), &new, &new_only), None);
        // A host that does not exist holds nothing; an unknown decision is not checked.
        let far = DecidedUnder::Conf(ConfState::with_voters([1, 8, 9]));
        assert!(answered(5, Some(2), &far, &both).is_some());
        assert_eq!(answered(5, Some(2), &DecidedUnder::Unknown, &old_only), None);
    }
}
