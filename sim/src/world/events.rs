//! Events: what the world records after each step. Message kinds and outcomes for
//! the trace, safety observation of a member with its role-change and commit events,
//! and the first violation.

use super::{World, TARGET};
use crate::safety::{Violation, ViolationKind};
use crate::trace::EventKind;
use crate::types_ext::NodeId;
use detcd_core::process::Process;
use detcd_core::raft::{Message, MessageBody};
use tracing::{debug, info, warn};

/// A small number per message kind, for the trace hash.
pub(super) fn msg_code(msg: &Message) -> u64 {
    match msg.body {
        MessageBody::PreVote { .. } => 1,
        MessageBody::PreVoteResponse { .. } => 2,
        MessageBody::Vote { .. } => 3,
        MessageBody::VoteResponse { .. } => 4,
        MessageBody::Append { .. } => 5,
        MessageBody::AppendResponse { .. } => 6,
        MessageBody::Heartbeat { .. } => 7,
        MessageBody::HeartbeatResponse { .. } => 8,
        MessageBody::InstallSnapshot { .. } => 9,
        MessageBody::Propose { .. } => 10,
        MessageBody::ReadIndex { .. } => 11,
        MessageBody::ReadIndexResponse { .. } => 12,
        MessageBody::TimeoutNow => 13,
    }
}

/// How a response went, for traces: vote and pre-vote answers are "granted" or
/// "rejected", append answers "ok" or "rejected"; other messages have none.
pub(super) fn msg_detail(msg: &Message) -> Option<&'static str> {
    let reject = match msg.body {
        MessageBody::VoteResponse { reject } | MessageBody::PreVoteResponse { reject } => {
            return Some(if reject { "rejected" } else { "granted" })
        }
        MessageBody::AppendResponse { reject, .. } => reject,
        _ => return None,
    };
    Some(if reject { "rejected" } else { "ok" })
}

impl<P: Process> World<P> {
    pub(super) fn flag(&mut self, node: NodeId, kind: ViolationKind) {
        if self.violation.is_none() {
            let v = Violation { at_us: self.now_us, node, kind };
            warn!(target: TARGET, t_us = self.now_us, node, violation = %v, "violation");
            self.violation = Some(v);
        }
    }

    /// Observes node `i` after an event: safety checks, role-change and commit traces.
    pub(super) fn check(&mut self, i: usize) {
        let Some(p) = self.nodes[i].process.as_ref() else { return };
        match self.safety.observe(p, self.now_us, self.options.check_raft_safety) {
            Ok(obs) => {
                let st = obs.status;
                if obs.role_changed {
                    let leader = st.leader.unwrap_or(0);
                    let fields = [st.id, st.role as u64, st.term, leader];
                    self.trace.record(self.now_us, EventKind::RoleChange, &fields);
                    info!(
                        target: TARGET,
                        t_us = self.now_us,
                        node = st.id,
                        role = ?st.role,
                        term = st.term,
                        leader,
                        "role_change"
                    );
                }
                let slot = &mut self.nodes[i];
                if st.commit > slot.commit_seen {
                    slot.commit_seen = st.commit;
                    self.trace.record(self.now_us, EventKind::Commit, &[st.id, st.commit, st.term]);
                    // `term` is the node's current term, not the entry's.
                    debug!(
                        target: TARGET,
                        t_us = self.now_us,
                        node = st.id,
                        index = st.commit,
                        term = st.term,
                        "commit"
                    );
                }
            }
            Err(v) => {
                if self.violation.is_none() {
                    warn!(target: TARGET, t_us = self.now_us, node = v.node, violation = %v, "violation");
                    self.violation = Some(v);
                }
            }
        }
    }
}
