//! Membership changes as log entries (Raft thesis §4.3, after etcd-io/raft's
//! ConfChangeV2): what a change asks for ([`ConfChangeOp`]), how it turns the current
//! configuration into the next, and the payload of an `EntryKind::ConfChange` entry.
//!
//! Every change is two entries. The first ("enter") holds the joint configuration
//! C_old,new; once it commits, the leader appends the second ("leave") holding C_new
//! alone. Each entry carries the whole configuration it installs, not a delta, so a
//! node finds its configuration as "the last configuration entry in its log, or its
//! snapshot's" — which is what undoing a truncated entry needs.
//!
//! A configuration takes effect on every node as soon as the entry is appended to its
//! log, committed or not (the thesis' rule, not etcd-io/raft's apply-time rule). That
//! way a node never decides anything with a configuration older than one it holds, the
//! safety argument needs no "no unapplied changes before campaigning" check, and a
//! leader counts the enter entry itself under the joint quorum. The cost is that a
//! truncated configuration entry must be undone, which the log-derived rule above does.

use crate::types::{ConfState, NodeId};
use bytes::Bytes;
use std::collections::BTreeSet;

/// One step of a membership change. Several steps form one change (one joint phase),
/// e.g. a replace is `[Remove(a), AddVoter(b)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfChangeOp {
    /// A new member that receives the log but neither votes nor counts.
    AddLearner(NodeId),
    /// A new voter (etcd's MemberAdd without `is_learner`).
    AddVoter(NodeId),
    /// A learner becomes a voter.
    Promote(NodeId),
    /// A voter or learner leaves.
    Remove(NodeId),
}

/// Why a change was refused before it reached the log. Carries the id it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfChangeInvalid {
    /// No step was given.
    Empty,
    /// Id 0 is never a member.
    ZeroId,
    /// The id is already a member.
    AlreadyMember(NodeId),
    /// The id is not a member.
    NotMember(NodeId),
    /// Only a learner can be promoted.
    NotLearner(NodeId),
    /// The change would leave no voter at all.
    NoVoterLeft,
}

impl std::fmt::Display for ConfChangeInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfChangeInvalid::Empty => write!(f, "empty configuration change"),
            ConfChangeInvalid::ZeroId => write!(f, "member id 0 is reserved"),
            ConfChangeInvalid::AlreadyMember(id) => write!(f, "{id:x} is already a member"),
            ConfChangeInvalid::NotMember(id) => write!(f, "{id:x} is not a member"),
            ConfChangeInvalid::NotLearner(id) => write!(f, "{id:x} is not a learner"),
            ConfChangeInvalid::NoVoterLeft => write!(f, "the change would leave no voter"),
        }
    }
}

/// The joint configuration that `ops` lead to from the non-joint `old`: the incoming
/// voters and learners after every step, with `old`'s voters as the outgoing half.
pub fn enter_joint(old: &ConfState, ops: &[ConfChangeOp]) -> Result<ConfState, ConfChangeInvalid> {
    assert!(!old.is_joint(), "a change starts from a non-joint configuration");
    if ops.is_empty() {
        return Err(ConfChangeInvalid::Empty);
    }
    let mut voters = old.voters.clone();
    let mut learners = old.learners.clone();
    for &op in ops {
        match op {
            ConfChangeOp::AddLearner(id) | ConfChangeOp::AddVoter(id) => {
                if id == 0 {
                    return Err(ConfChangeInvalid::ZeroId);
                }
                if voters.contains(&id) || learners.contains(&id) {
                    return Err(ConfChangeInvalid::AlreadyMember(id));
                }
                if matches!(op, ConfChangeOp::AddVoter(_)) {
                    voters.insert(id);
                } else {
                    learners.insert(id);
                }
            }
            ConfChangeOp::Promote(id) => {
                if !learners.remove(&id) {
                    return Err(if voters.contains(&id) {
                        ConfChangeInvalid::NotLearner(id)
                    } else {
                        ConfChangeInvalid::NotMember(id)
                    });
                }
                voters.insert(id);
            }
            ConfChangeOp::Remove(id) => {
                if !voters.remove(&id) && !learners.remove(&id) {
                    return Err(ConfChangeInvalid::NotMember(id));
                }
            }
        }
    }
    if voters.is_empty() {
        return Err(ConfChangeInvalid::NoVoterLeft);
    }
    Ok(ConfState { voters, learners, voters_outgoing: old.voters.clone() })
}

/// The configuration that ends a joint phase: the incoming half alone.
pub fn leave_joint(joint: &ConfState) -> ConfState {
    ConfState {
        voters: joint.voters.clone(),
        learners: joint.learners.clone(),
        voters_outgoing: BTreeSet::new(),
    }
}

/// The payload of a configuration entry: the configuration it installs and an opaque
/// context for the application (etcd puts the member's name and URLs there). The
/// leave entry, appended by Raft itself, has an empty context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfEntry {
    pub conf: ConfState,
    pub context: Bytes,
}

/// First byte of an encoded [`ConfEntry`], so a foreign payload is told apart.
const CONF_ENTRY_VERSION: u8 = 1;
/// Most ids in one set of an encoded configuration: far above any real cluster, small
/// enough that a corrupt count cannot make a decoder allocate much.
const CONF_SET_IDS_MAX: usize = 1024;

impl ConfEntry {
    pub fn encode(&self) -> Bytes {
        let c = &self.conf;
        let ids = c.voters.len() + c.voters_outgoing.len() + c.learners.len();
        let mut buf = Vec::with_capacity(1 + 12 + 8 * ids + self.context.len());
        buf.push(CONF_ENTRY_VERSION);
        for set in [&c.voters, &c.voters_outgoing, &c.learners] {
            let n = u32::try_from(set.len()).expect("a configuration set of 4G members");
            buf.extend_from_slice(&n.to_le_bytes());
            for id in set {
                buf.extend_from_slice(&id.to_le_bytes());
            }
        }
        buf.extend_from_slice(&self.context);
        Bytes::from(buf)
    }

    /// Decodes a payload; `None` when it is not a well-formed configuration entry
    /// (a peer can send anything).
    pub fn decode(data: &Bytes) -> Option<ConfEntry> {
        let (&version, mut rest) = data.split_first()?;
        if version != CONF_ENTRY_VERSION {
            return None;
        }
        let mut sets: [BTreeSet<NodeId>; 3] = Default::default();
        for set in sets.iter_mut() {
            let (n, r) = rest.split_first_chunk::<4>()?;
            let n = u32::from_le_bytes(*n) as usize;
            if n > CONF_SET_IDS_MAX {
                return None;
            }
            rest = r;
            for _ in 0..n {
                let (id, r) = rest.split_first_chunk::<8>()?;
                let id = u64::from_le_bytes(*id);
                if id == 0 {
                    return None;
                }
                set.insert(id);
                rest = r;
            }
        }
        let [voters, voters_outgoing, learners] = sets;
        if voters.is_empty()
            || learners.iter().any(|l| voters.contains(l) || voters_outgoing.contains(l))
        {
            return None;
        }
        let context = data.slice(data.len() - rest.len()..);
        Some(ConfEntry { conf: ConfState { voters, learners, voters_outgoing }, context })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConfChangeOp::*;

    #[test]
    fn enter_and_leave() {
        let old = ConfState::with_voters([1, 2, 3]);
        let j = enter_joint(&old, &[Remove(3), AddVoter(4)]).expect("valid");
        assert_eq!(j.voters, [1, 2, 4].into());
        assert_eq!(j.voters_outgoing, [1, 2, 3].into());
        assert_eq!(leave_joint(&j), ConfState::with_voters([1, 2, 4]));
        let j = enter_joint(&old, &[AddLearner(4)]).expect("valid");
        assert_eq!(j.learners, [4].into());
        let l = leave_joint(&j);
        let p = enter_joint(&l, &[Promote(4)]).expect("valid");
        assert_eq!(leave_joint(&p), ConfState::with_voters([1, 2, 3, 4]));
    }

    #[test]
    fn refusals() {
        let old = ConfState::with_voters([1, 2, 3]);
        assert_eq!(enter_joint(&old, &[]), Err(ConfChangeInvalid::Empty));
        assert_eq!(enter_joint(&old, &[AddVoter(2)]), Err(ConfChangeInvalid::AlreadyMember(2)));
        assert_eq!(enter_joint(&old, &[Remove(9)]), Err(ConfChangeInvalid::NotMember(9)));
        assert_eq!(enter_joint(&old, &[Promote(2)]), Err(ConfChangeInvalid::NotLearner(2)));
        assert_eq!(enter_joint(&old, &[AddLearner(0)]), Err(ConfChangeInvalid::ZeroId));
        let one = ConfState::with_voters([1]);
        assert_eq!(enter_joint(&one, &[Remove(1)]), Err(ConfChangeInvalid::NoVoterLeft));
    }

    #[test]
    fn entry_round_trip_and_garbage() {
        let conf = enter_joint(&ConfState::with_voters([1, 2, 3]), &[AddLearner(7)]).expect("ok");
        let e = ConfEntry { conf, context: Bytes::from_static(b"ctx") };
        assert_eq!(ConfEntry::decode(&e.encode()), Some(e.clone()));
        let enc = e.encode();
        for cut in 0..enc.len() - 3 {
            assert_eq!(ConfEntry::decode(&enc.slice(..cut)), None, "cut at {cut}");
        }
        assert_eq!(ConfEntry::decode(&Bytes::from_static(&[9, 0, 0])), None);
    }

    /// A configuration takes effect when appended, so one whose entry is overwritten by
    /// a newer leader must be undone: the node falls back to the previous configuration
    /// and says so.
    #[test]
    fn a_truncated_configuration_entry_is_undone() {
        use crate::raft::{Config, Message, MessageBody, RaftNode, RaftOutput};
        use crate::types::{DurableState, Entry, EntryKind, HardState};
        let old = ConfState::with_voters([1, 2, 3]);
        let joint = enter_joint(&old, &[AddVoter(4)]).expect("valid");
        let data = ConfEntry { conf: joint.clone(), context: Bytes::new() }.encode();
        let conf_entry = Entry { term: 2, index: 1, kind: EntryKind::ConfChange, data };
        let durable = DurableState {
            hard_state: HardState { term: 2, vote: None, commit: 0 },
            snapshot: None,
            entries: vec![],
        };
        let mut f = RaftNode::new(Config::new(2, vec![1, 2, 3], 2), durable);
        let append = |term, entries: Vec<Entry>| Message {
            from: 1,
            to: 2,
            term,
            body: MessageBody::Append { prev_index: 0, prev_term: 0, entries, commit: 0 },
        };
        f.step(append(2, vec![conf_entry]));
        assert_eq!(f.conf(), &joint);
        let normal = Entry { term: 3, index: 1, kind: EntryKind::Normal, data: Bytes::new() };
        f.step(append(3, vec![normal]));
        assert_eq!(f.conf(), &old, "the overwritten configuration is undone");
        let mut out = Vec::new();
        f.drain(&mut out);
        let undone =
            |o: &RaftOutput| matches!(o, RaftOutput::ConfChanged { conf, .. } if *conf == old);
        assert!(out.iter().any(undone));
    }
}
