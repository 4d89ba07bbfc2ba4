//! Membership changes through joint consensus (Raft thesis §4.3), driven on a small
//! in-memory cluster that delivers every message in order and makes every persist
//! durable at once, unless a node is cut off.

use bytes::Bytes;
use detcd_core::raft::{
    ConfChangeInvalid, ConfChangeOp, ConfEntry, Config, Message, MessageBody, ProposeError,
    RaftNode, RaftOutput, Role, RoleReason,
};
use detcd_core::types::{ConfState, DurableState, Entry, EntryKind, HardState, Snapshot};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use ConfChangeOp::*;

/// Rounds of delivery one `settle` may take before the test gives up.
const ROUNDS_MAX: usize = 10_000;

fn cfg(id: u64, voters: &[u64]) -> Config {
    let mut c = Config::new(id, voters.to_vec(), id);
    c.election_ticks = 10;
    c.heartbeat_ticks = 1;
    c
}

struct Cluster {
    nodes: BTreeMap<u64, RaftNode>,
    /// Nodes whose messages (both ways) are dropped.
    cut: BTreeSet<u64>,
    queue: VecDeque<Message>,
    /// Every configuration change announced, per node.
    confs: BTreeMap<u64, Vec<ConfState>>,
    applied: BTreeMap<u64, Vec<Entry>>,
}

impl Cluster {
    fn new(voters: &[u64]) -> Cluster {
        let mut c = Cluster {
            nodes: BTreeMap::new(),
            cut: BTreeSet::new(),
            queue: VecDeque::new(),
            confs: BTreeMap::new(),
            applied: BTreeMap::new(),
        };
        for &id in voters {
            c.nodes.insert(id, RaftNode::new(cfg(id, voters), DurableState::default()));
        }
        c.nodes.get_mut(&voters[0]).expect("first voter").campaign();
        c.settle();
        assert_eq!(c.leader(), Some(voters[0]));
        c
    }

    /// A brand-new node that knows no configuration: it learns it from the leader.
    fn start_empty(&mut self, id: u64) {
        self.nodes.insert(id, RaftNode::new(cfg(id, &[]), DurableState::default()));
    }

    fn node(&mut self, id: u64) -> &mut RaftNode {
        self.nodes.get_mut(&id).expect("node exists")
    }

    fn leader(&self) -> Option<u64> {
        self.nodes.values().find(|n| n.status().role == Role::Leader).map(|n| n.id())
    }

    fn pump_outputs(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            let n = self.nodes.get_mut(&id).expect("listed");
            let mut out = Vec::new();
            n.drain(&mut out);
            let mut last_sync = None;
            for o in out {
                match o {
                    RaftOutput::Send { msg, .. }
                        if !self.cut.contains(&msg.from) && !self.cut.contains(&msg.to) =>
                    {
                        self.queue.push_back(msg);
                    }
                    RaftOutput::Send { .. } => {}
                    RaftOutput::Persist(op) => last_sync = Some(op.sync),
                    RaftOutput::ConfChanged { conf, .. } => {
                        self.confs.entry(id).or_default().push(conf)
                    }
                    RaftOutput::Apply(entries) => {
                        let a = self.applied.entry(id).or_default();
                        a.extend(entries);
                        if let Some(e) = a.last() {
                            n.advance_applied(e.index);
                        }
                    }
                    _ => {}
                }
            }
            if let Some(s) = last_sync {
                n.persisted(s);
            }
        }
    }

    /// Delivers messages until none is left.
    fn settle(&mut self) {
        for _ in 0..ROUNDS_MAX {
            self.pump_outputs();
            let Some(m) = self.queue.pop_front() else { return };
            if let Some(n) = self.nodes.get_mut(&m.to) {
                n.step(m);
            }
        }
        panic!("the cluster did not settle in {ROUNDS_MAX} rounds");
    }

    /// Ticks every node `ticks` times, settling after each.
    fn tick(&mut self, ticks: u32) {
        for _ in 0..ticks {
            for n in self.nodes.values_mut() {
                n.tick();
            }
            self.settle();
        }
    }

    fn change(&mut self, ops: &[ConfChangeOp]) -> Result<(), ProposeError> {
        let l = self.leader().expect("a leader");
        let r = self.node(l).propose_conf_change(ops, Bytes::from_static(b"ctx"));
        self.settle();
        r
    }
}

fn voters(ids: &[u64]) -> BTreeSet<u64> {
    ids.iter().copied().collect()
}

/// Reference: thesis §4.2.1 and §4.3 — a learner joins with an empty log and catches up;
/// both entries of the change commit and every member ends in C_new.
#[test]
fn add_learner_then_promote() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.start_empty(4);
    c.change(&[AddLearner(4)]).expect("proposed");
    c.tick(3);
    for id in 1..=4 {
        let conf = c.node(id).conf().clone();
        assert_eq!(conf.voters, voters(&[1, 2, 3]), "node {id}");
        assert_eq!(conf.learners, voters(&[4]), "node {id}");
        assert!(!conf.is_joint(), "node {id} left the joint configuration");
    }
    let last = c.node(1).status().last_index;
    assert_eq!(c.node(4).status().commit, last, "the learner caught up");
    // The joint phase was announced on the way.
    assert!(c.confs[&2].iter().any(|s| s.is_joint() && s.learners.contains(&4)));
    // Each change is two ConfChange entries: enter (with the context) and leave.
    let conf_entries: Vec<ConfEntry> = c.applied[&4]
        .iter()
        .filter(|e| e.kind == EntryKind::ConfChange)
        .map(|e| ConfEntry::decode(&e.data).expect("decodes"))
        .collect();
    assert_eq!(conf_entries.len(), 2);
    assert_eq!(conf_entries[0].context, Bytes::from_static(b"ctx"));
    assert!(conf_entries[1].context.is_empty());

    c.change(&[Promote(4)]).expect("proposed");
    c.tick(3);
    for id in 1..=4 {
        assert_eq!(c.node(id).conf(), &ConfState::with_voters([1, 2, 3, 4]), "node {id}");
    }
    // The promoted member votes: with 1 and 2 cut off, 3 and 4 are not a majority of
    // four, so nobody can lead; with only 1 cut off, 2, 3 and 4 elect.
    c.cut.insert(1);
    c.tick(60);
    let l = c.nodes.iter().find(|(id, n)| **id != 1 && n.status().role == Role::Leader);
    assert!(l.is_some(), "2, 3, 4 elect a leader without 1");
}

/// Reference: thesis §4.3 — while joint, commitment needs a majority of C_new too.
#[test]
fn joint_commit_needs_the_new_majority() {
    let mut c = Cluster::new(&[1, 2, 3]);
    // 4 and 5 do not exist yet: C_new = {1,4,5} has only 1 answering.
    c.change(&[Remove(2), Remove(3), AddVoter(4), AddVoter(5)]).expect("proposed");
    let enter = c.node(1).status().last_index;
    c.tick(2);
    assert!(c.node(1).status().commit < enter, "C_old alone must not commit the change");
    assert!(c.node(1).conf().is_joint());
    assert_eq!(
        c.change(&[AddLearner(9)]),
        Err(ProposeError::ConfChangePending),
        "one change at a time"
    );
    c.start_empty(4);
    c.tick(3);
    assert!(c.node(1).status().commit > enter, "enter and leave committed");
    assert_eq!(c.node(1).conf(), &ConfState::with_voters([1, 4, 5]));
    assert_eq!(c.leader(), Some(1));
}

/// Reference: thesis §4.2.2 — a leader that is removed keeps leading until C_new
/// commits, then steps down; the rest elect a new leader without it.
#[test]
fn removed_leader_steps_down() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.change(&[Remove(1)]).expect("proposed");
    let s = c.node(1).status();
    assert_eq!(s.role, Role::Follower);
    assert_eq!(s.role_reason, RoleReason::Removed);
    assert_eq!(c.node(1).conf(), &ConfState::with_voters([2, 3]));
    c.tick(40);
    let l = c.leader().expect("2 or 3 leads");
    assert!(l == 2 || l == 3);
    // The removed member never campaigns again.
    assert_eq!(c.node(1).status().role, Role::Follower);
}

#[test]
fn invalid_changes_are_refused() {
    let mut c = Cluster::new(&[1, 2, 3]);
    let inv = |w| Err(ProposeError::ConfChangeInvalid(w));
    assert_eq!(c.change(&[AddVoter(2)]), inv(ConfChangeInvalid::AlreadyMember(2)));
    assert_eq!(c.change(&[Promote(3)]), inv(ConfChangeInvalid::NotLearner(3)));
    assert_eq!(c.change(&[Remove(7)]), inv(ConfChangeInvalid::NotMember(7)));
    assert_eq!(
        c.node(2).propose_conf_change(&[AddLearner(4)], Bytes::new()),
        Err(ProposeError::NotLeader { leader: Some(1) })
    );
}

fn conf_entry(term: u64, index: u64, conf: ConfState) -> Entry {
    let data = ConfEntry { conf, context: Bytes::new() }.encode();
    Entry { term, index, kind: EntryKind::ConfChange, data }
}

/// A configuration takes effect when appended, so one whose entry is overwritten by a
/// newer leader must be undone: the node falls back to the previous configuration.
#[test]
fn truncated_conf_entry_is_undone() {
    let old = ConfState::with_voters([1, 2, 3]);
    let mut joint = old.clone();
    joint.voters.insert(4);
    joint.voters_outgoing = voters(&[1, 2, 3]);
    let durable = DurableState {
        hard_state: HardState { term: 2, vote: None, commit: 0 },
        snapshot: None,
        entries: vec![],
    };
    let mut f = RaftNode::new(cfg(2, &[1, 2, 3]), durable);
    let append = |term, entries: Vec<Entry>| Message {
        from: 1,
        to: 2,
        term,
        body: MessageBody::Append { prev_index: 0, prev_term: 0, entries, commit: 0 },
    };
    f.step(append(2, vec![conf_entry(2, 1, joint.clone())]));
    assert_eq!(f.conf(), &joint);
    let normal = Entry { term: 3, index: 1, kind: EntryKind::Normal, data: Bytes::new() };
    f.step(append(3, vec![normal]));
    assert_eq!(f.conf(), &old, "the overwritten configuration is undone");
    let mut out = Vec::new();
    f.drain(&mut out);
    assert!(out.iter().any(|o| matches!(o, RaftOutput::ConfChanged { conf, .. } if *conf == old)));
}

/// A snapshot taken after a change carries the configuration at its index, and a node
/// that is sent it adopts it.
#[test]
fn snapshot_carries_the_configuration() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.change(&[AddLearner(4)]).expect("proposed");
    c.tick(2);
    let applied = c.node(1).status().applied;
    c.node(1).compact(Snapshot::default_at(applied));
    c.settle();
    c.start_empty(4);
    c.tick(5);
    assert_eq!(c.node(4).status().snapshot_index, applied, "caught up by snapshot");
    let mut want = ConfState::with_voters([1, 2, 3]);
    want.learners.insert(4);
    assert_eq!(c.node(4).conf(), &want);
}

trait At {
    fn default_at(index: u64) -> Snapshot;
}

impl At for Snapshot {
    fn default_at(index: u64) -> Snapshot {
        let mut s = Snapshot::default();
        s.meta.index = index;
        s
    }
}
