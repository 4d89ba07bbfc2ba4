//! Membership changes in the simulated world: hosts that join and leave as the
//! cluster's configuration changes.
//!
//! Spare hosts (`WorldOptions::spares`, ids after the initial cluster) exist from the
//! start but run nothing. A membership fault asks the leader, through the node type's
//! [`MembershipHook`], for a change; a host it adds is started first, empty, as a
//! member joining a running cluster (it catches up by log or snapshot). A host it
//! removes keeps running until some member reports the change committed, then it is
//! stopped for good (its slot is absent: no restart brings it back).
//!
//! The world also watches each member's configuration after every step and records
//! a change (and a joint phase) as an event, for traces and the step log.

use super::events::SimEvent;
use super::{MembershipRecord, World};
use crate::nemesis::{MemberChange, Target};
use crate::types_ext::NodeId;
use detcd_core::process::Process;

/// Asks a process (the leader) for a membership change; `Err` says why it refused.
pub type MembershipHook<P> = fn(&mut P, &MemberChange) -> Result<(), String>;

impl<P: Process> World<P> {
    /// Lets membership faults reach the node type.
    pub fn set_membership_hook(&mut self, hook: MembershipHook<P>) {
        self.membership = Some(hook);
    }

    /// The running members that are learners in their own configuration, in slot
    /// order: the members a client may address as learners now.
    pub fn learners(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter_map(|s| s.process.as_ref())
            .filter(|p| p.membership().is_some_and(|(conf, _)| conf.learners.contains(&p.id())))
            .map(|p| p.id())
            .collect()
    }

    pub(super) fn change_membership(&mut self, change: &MemberChange) {
        let Some(hook) = self.membership else { return };
        let Some(leader) = self.leader() else {
            self.note_membership(0, change, Some("no leader".into()));
            let change = change.to_string();
            self.emit(SimEvent::Membership {
                leader: 0,
                change,
                refused: Some("no leader".into()),
            });
            return;
        };
        let resolved = match self.resolve_change(change) {
            Some(c) => c,
            None => return,
        };
        // The cluster's health as it was when the leader was asked, before any host
        // the change adds starts.
        let quiet_us = self.operator.quiet_us(self.now_us);
        let voters_reachable = self.voters_reachable(leader);
        let voters = self.voter_count(leader);
        let settled = self.conf_settled(leader);
        let learners = self.learner_count(leader);
        let silent_us = self.silent_voters(leader);
        let started: Vec<NodeId> =
            resolved.added_all().into_iter().filter(|&id| self.join(id)).collect();
        let li = self.slot_index(leader).expect("the leader has a slot");
        let p = self.nodes[li].process.as_mut().expect("the leader runs");
        let result = hook(p, &resolved);
        let refused = result.as_ref().err().cloned();
        let at_us = self.now_us;
        let change = resolved.clone();
        let record = MembershipRecord {
            at_us,
            leader,
            change,
            refused,
            quiet_us,
            voters,
            voters_reachable,
            settled,
            learners,
            silent_us,
        };
        self.operator.membership(record);
        self.operator.disturbed(at_us);
        self.pump(li);
        self.check(li);
        let text = resolved.to_string();
        match result {
            Ok(()) => {
                if let Some(id) = resolved.removed() {
                    self.removing.insert(id);
                }
                self.adding.extend(started);
                self.emit(SimEvent::Membership { leader, change: text, refused: None });
            }
            Err(why) => {
                self.emit(SimEvent::Membership { leader, change: text, refused: Some(why) });
                for id in started {
                    self.leave(id);
                }
            }
        }
    }

    /// Records a request that never reached a leader.
    fn note_membership(&mut self, leader: NodeId, change: &MemberChange, refused: Option<String>) {
        let at_us = self.now_us;
        let quiet_us = self.operator.quiet_us(at_us);
        let change = change.clone();
        let record = MembershipRecord {
            at_us,
            leader,
            change,
            refused,
            quiet_us,
            voters: 0,
            voters_reachable: false,
            settled: false,
            learners: 0,
            silent_us: Vec::new(),
        };
        self.operator.membership(record);
    }

    /// Fixes a change's targets now (a removal of "the leader" or of a random member).
    fn resolve_change(&mut self, change: &MemberChange) -> Option<MemberChange> {
        let mut resolve = |t: &Target| self.target_index(t).map(|i| self.nodes[i].id);
        Some(match change {
            MemberChange::Remove { node } => {
                MemberChange::Remove { node: Target::Node(resolve(node)?) }
            }
            MemberChange::Replace { remove, add } => {
                MemberChange::Replace { remove: Target::Node(resolve(remove)?), add: *add }
            }
            other => other.clone(),
        })
    }

    /// Starts spare host `id` empty, as a member joining a running cluster. False when
    /// it is not a spare that never ran.
    fn join(&mut self, id: NodeId) -> bool {
        let Some(i) = self.slot_index(id) else { return false };
        let slot = &mut self.nodes[i];
        if !slot.absent || slot.process.is_some() || slot.incarnation > 0 {
            return false;
        }
        slot.absent = false;
        slot.joining = true;
        self.emit(SimEvent::HostAdded { node: id });
        self.start(i);
        true
    }

    /// Stops host `id` for good: it left the cluster.
    fn leave(&mut self, id: NodeId) {
        let Some(i) = self.slot_index(id) else { return };
        self.crash(i);
        self.nodes[i].absent = true;
        self.emit(SimEvent::HostRemoved { node: id });
    }

    /// Stops the hosts whose removal some member reports committed (no change
    /// pending and the member is not in its configuration).
    pub(super) fn reap_removed(&mut self) {
        self.reap_lost_adds();
        if self.removing.is_empty() {
            return;
        }
        let done: Vec<NodeId> = self
            .removing
            .iter()
            .copied()
            .filter(|&id| {
                self.nodes.iter().filter_map(|s| s.process.as_ref()).any(|p| {
                    p.membership().is_some_and(|(conf, pending)| !pending && !conf.contains(id))
                })
            })
            .collect();
        for id in done {
            self.removing.remove(&id);
            self.leave(id);
        }
    }

    /// Settles the hosts started for an add: kept once the leader's configuration holds
    /// them with no change pending; stopped for good when the leader has no change
    /// pending and does not hold them (the add was truncated away with its term: a
    /// leader holds every committed entry, and a pending one counts as pending). Only
    /// the leader is asked: a follower may not have heard of the add yet.
    fn reap_lost_adds(&mut self) {
        if self.adding.is_empty() {
            return;
        }
        let Some(leader) = self.leader() else { return };
        let Some((conf, pending)) = self.process(leader).and_then(|p| p.membership()) else {
            return;
        };
        if pending {
            return;
        }
        let (kept, lost): (Vec<NodeId>, Vec<NodeId>) =
            self.adding.iter().copied().partition(|&id| conf.contains(id));
        for id in kept {
            self.adding.remove(&id);
        }
        for id in lost {
            self.adding.remove(&id);
            self.leave(id);
        }
    }

    /// Records a change of slot `i`'s configuration as an event.
    pub(super) fn observe_conf(&mut self, i: usize) {
        let Some(p) = self.nodes[i].process.as_ref() else { return };
        let Some((conf, _)) = p.membership() else { return };
        let slot = &self.nodes[i];
        if slot.conf_seen.as_ref() == Some(conf) {
            return;
        }
        let first = slot.conf_seen.is_none();
        let conf = conf.clone();
        let node = slot.id;
        let text = conf.to_string();
        let joint = conf.is_joint();
        self.nodes[i].conf_seen = Some(conf);
        if !first {
            self.emit(SimEvent::ConfChange { node, conf: text, joint });
        }
    }
}
