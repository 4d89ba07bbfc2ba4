//! What the world saw of the operator's requests, for checks that judge their
//! outcomes after a run: each membership request with the cluster's health when it was
//! made, each leader-transfer request, every role change (who each member believed led),
//! and when the cluster was last disturbed (a fault, a crash, a start, an election).
//!
//! Recorded whether or not the event log is kept, and never hashed: the log only
//! watches, so keeping it changes no run. Bounded: past `OPERATOR_LOG_MAX` records the
//! log stops growing and says it was cut, and a check must not judge what it lacks.

use super::World;
use crate::nemesis::MemberChange;
use crate::types_ext::{NodeId, RequestId, Term};
use detcd_core::process::Process;
use detcd_core::raft::Role;

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
}

/// One leader-transfer request sent to the leader as a client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRecord {
    pub at_us: u64,
    /// The world's request id: its answer comes back as a client result.
    pub request: RequestId,
    pub leader: NodeId,
    pub target: NodeId,
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
    /// Some record was not kept: the log hit `OPERATOR_LOG_MAX`.
    pub cut: bool,
    disturbed_us: u64,
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
