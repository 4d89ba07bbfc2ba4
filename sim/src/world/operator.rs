//! What the world saw of the operator's requests, for checks that judge their
//! outcomes after a run: each membership request with the cluster's health when it was
//! made, each leader-transfer request with the same, every role change (who each member
//! believed led), when the cluster was last disturbed (a fault, a crash, a start, an
//! election) and when each fault, crash, start or membership request happened, and
//! since when each member has been down and each link cut (how long a member has been
//! silent towards the leader).
//!
//! Recorded whether or not the event log is kept, and never hashed: the log only
//! watches, so keeping it changes no run. Bounded: past `OPERATOR_LOG_MAX` records the
//! log stops growing and says it was cut, and a check must not judge what it lacks.

use super::World;
use crate::nemesis::MemberChange;
use crate::types_ext::{NodeId, RequestId, Term};
use detcd_core::process::Process;
use detcd_core::raft::Role;
use std::collections::BTreeMap;

/// The most records of each kind the log keeps.
pub const OPERATOR_LOG_MAX: usize = 50_000;

/// One membership request the membership nemesis made of the leader.
#[derive(Clone, Debug, PartialEq)]
pub struct MembershipRecord {
    pub at_us: u64,
    /// The leader asked (0: there was none).
    pub leader: NodeId,
    pub change: MemberChange,
    /// Why the leader refused it (its error message), or None when it was proposed.
    pub refused: Option<String>,
    /// How long the cluster had been undisturbed: no fault, crash, start or election.
    pub quiet_us: u64,
    /// Voters in the leader's configuration (both halves of a joint one).
    pub voters: u64,
    /// Every voter of the leader's configuration was running and linked both ways with
    /// the leader, the network dropped nothing at random and no link was slow.
    pub voters_reachable: bool,
    /// The leader's configuration was settled: no change under way and every committed
    /// entry applied, so the member list its checks read is that configuration.
    pub settled: bool,
    /// Learners in the leader's configuration.
    pub learners: u64,
    /// Each voter of the leader's configuration but the leader, and how long it had been
    /// unable to reach the leader (down, or its link to the leader cut); 0 if it could.
    pub silent_us: Vec<(NodeId, u64)>,
}

/// One leader-transfer request sent to the leader as a client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRecord {
    pub at_us: u64,
    /// The world's request id: its answer comes back as a client result.
    pub request: RequestId,
    pub leader: NodeId,
    pub target: NodeId,
    /// How long the cluster had been undisturbed: no fault, crash, start or election.
    pub quiet_us: u64,
    /// The target could take over at once: a running voter of the leader's settled
    /// configuration, linked both ways with it, holding every entry the leader had
    /// committed, over a network that lost, held back and slowed nothing, with every
    /// clock at true rate and every disk at the run's pace.
    pub target_ready: bool,
}

/// A member's role, term or the leader it believes in changed: it now believes
/// `leader` leads `term`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleRecord {
    pub at_us: u64,
    pub node: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: Option<NodeId>,
}

/// The operator log of one run.
#[derive(Clone, Debug, Default)]
pub struct OperatorLog {
    pub membership: Vec<MembershipRecord>,
    pub transfers: Vec<TransferRecord>,
    pub roles: Vec<RoleRecord>,
    /// When each fault, crash, start or membership request happened (elections not
    /// counted), in order.
    pub upsets_us: Vec<u64>,
    /// Some record was not kept: the log hit `OPERATOR_LOG_MAX`.
    pub cut: bool,
    disturbed_us: u64,
    /// Since when each member that is down now has been down.
    down_since_us: BTreeMap<NodeId, u64>,
    /// Since when each directed link that is cut now has been cut.
    cut_since_us: BTreeMap<(NodeId, NodeId), u64>,
}

impl OperatorLog {
    fn keep<T>(cut: &mut bool, list: &mut Vec<T>, record: T) {
        if list.len() < OPERATOR_LOG_MAX {
            list.push(record);
        } else {
            *cut = true;
        }
    }

    pub(super) fn disturbed(&mut self, now_us: u64) {
        self.disturbed_us = now_us;
        Self::keep(&mut self.cut, &mut self.upsets_us, now_us);
    }

    pub(super) fn down(&mut self, node: NodeId, now_us: u64) {
        self.down_since_us.entry(node).or_insert(now_us);
    }

    pub(super) fn up(&mut self, node: NodeId) {
        self.down_since_us.remove(&node);
    }

    /// The network's cut links are now `cut`: links cut before stay cut since then.
    pub(super) fn links(&mut self, cut: &[(NodeId, NodeId)], now_us: u64) {
        let before = std::mem::take(&mut self.cut_since_us);
        for &link in cut {
            self.cut_since_us.insert(link, before.get(&link).copied().unwrap_or(now_us));
        }
    }

    /// How long `node` has been unable to reach `leader`: down, or its link to it cut.
    pub(super) fn silent_us(&self, node: NodeId, leader: NodeId, now_us: u64) -> u64 {
        let down = self.down_since_us.get(&node);
        let cut = self.cut_since_us.get(&(node, leader));
        down.into_iter().chain(cut).map(|&since| now_us.saturating_sub(since)).max().unwrap_or(0)
    }

    pub(super) fn quiet_us(&self, now_us: u64) -> u64 {
        now_us.saturating_sub(self.disturbed_us)
    }

    pub(super) fn membership(&mut self, record: MembershipRecord) {
        Self::keep(&mut self.cut, &mut self.membership, record);
    }

    pub(super) fn transfer(&mut self, record: TransferRecord) {
        Self::keep(&mut self.cut, &mut self.transfers, record);
    }

    /// A role change; an election disturbs the cluster but is no upset.
    pub(super) fn role(&mut self, record: RoleRecord) {
        if record.role == Role::Leader {
            self.disturbed_us = record.at_us;
        }
        Self::keep(&mut self.cut, &mut self.roles, record);
    }
}

impl<P: Process> World<P> {
    /// What the world saw of the operator's requests so far.
    pub fn operator_log(&self) -> &OperatorLog {
        &self.operator
    }

    /// How many voters `leader`'s configuration has (both halves of a joint one).
    pub(super) fn voter_count(&self, leader: NodeId) -> u64 {
        self.process(leader)
            .and_then(|p| p.membership())
            .map_or(0, |(conf, _)| conf.voters.union(&conf.voters_outgoing).count() as u64)
    }

    /// Whether `leader`'s configuration is settled: no change under way and every
    /// committed entry applied (its member list is that configuration).
    pub(super) fn conf_settled(&self, leader: NodeId) -> bool {
        self.process(leader).is_some_and(|p| {
            let st = p.status();
            p.membership().is_some_and(|(_, pending)| !pending) && st.applied >= st.commit
        })
    }

    /// How many learners `leader`'s configuration has.
    pub(super) fn learner_count(&self, leader: NodeId) -> u64 {
        self.process(leader)
            .and_then(|p| p.membership())
            .map_or(0, |(c, _)| c.learners.len() as u64)
    }

    /// Each voter of `leader`'s configuration but the leader, and how long it has been
    /// unable to reach the leader.
    pub(super) fn silent_voters(&self, leader: NodeId) -> Vec<(NodeId, u64)> {
        let Some((conf, _)) = self.process(leader).and_then(|p| p.membership()) else {
            return Vec::new();
        };
        let voters: std::collections::BTreeSet<NodeId> =
            conf.voters.union(&conf.voters_outgoing).copied().collect();
        voters
            .into_iter()
            .filter(|&v| v != leader)
            .map(|v| (v, self.operator.silent_us(v, leader, self.now_us)))
            .collect()
    }

    /// Records which links are cut now, after the network changed.
    pub(super) fn note_links(&mut self) {
        let ids: Vec<NodeId> = self.nodes.iter().map(|s| s.id).collect();
        let mut cut = Vec::new();
        for &a in &ids {
            for &b in &ids {
                if a != b && self.network.is_cut(a, b) {
                    cut.push((a, b));
                }
            }
        }
        self.operator.links(&cut, self.now_us);
    }

    /// Whether `target` could take over from `leader` at once (`TransferRecord`).
    pub(super) fn transfer_ready(&self, leader: NodeId, target: NodeId) -> bool {
        let o = &self.network.options;
        let calm = o.drop_rate == 0.0 && !self.network.has_slow();
        let paced = self
            .nodes
            .iter()
            .all(|s| s.fsync.is_none() && s.clock.rate_permille == crate::clock::Clock::RATE_TRUE);
        let (Some(l), Some(t)) = (self.process(leader), self.process(target)) else {
            return false;
        };
        let voter = l.membership().is_some_and(|(c, _)| c.voters.contains(&target));
        calm && paced
            && voter
            && self.conf_settled(leader)
            && !self.network.is_cut(leader, target)
            && !self.network.is_cut(target, leader)
            && t.status().last_index >= l.status().commit
    }

    /// Whether every voter of `leader`'s configuration runs and is linked both ways with
    /// it over a network that loses and holds back nothing.
    pub(super) fn voters_reachable(&self, leader: NodeId) -> bool {
        let o = &self.network.options;
        if o.drop_rate > 0.0 || self.network.has_slow() {
            return false;
        }
        let Some((conf, _)) = self.process(leader).and_then(|p| p.membership()) else {
            return false;
        };
        conf.voters.iter().chain(&conf.voters_outgoing).all(|&v| {
            v == leader
                || (self.process(v).is_some()
                    && !self.network.is_cut(leader, v)
                    && !self.network.is_cut(v, leader))
        })
    }
}
