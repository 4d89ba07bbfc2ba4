//! The liveness phase: every fault ended, the cluster must elect a leader, commit a new
//! write and converge (every node at the same applied index with the same state hash)
//! within a bound of true time. Failing to is a typed result, never a hang.

use super::{SimError, World, LIVENESS_CLIENT};
use crate::client::Outcome;
use crate::types_ext::{Index, NodeId, Term};
use detcd_core::process::Process;
use detcd_core::types::RequestId;

/// How far the liveness phase got before its bound ran out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LivenessFailure {
    /// No leader was elected.
    NoLeader { at_us: u64 },
    /// A leader existed but no probe write was acknowledged.
    NoCommit { at_us: u64, leader: Option<NodeId> },
    /// Writes committed but the nodes did not reach the same applied index and state.
    NotConverged { at_us: u64, applied: Vec<(NodeId, Index, u64)> },
}

fn secs(us: u64) -> String {
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

/// In plain words, for check evidence.
impl std::fmt::Display for LivenessFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LivenessFailure::NoLeader { at_us } => {
                write!(f, "no leader elected by {} after the faults healed", secs(*at_us))
            }
            LivenessFailure::NoCommit { at_us, leader } => {
                let who = leader.map_or("a leader".to_string(), |l| format!("node {l} led"));
                write!(f, "{who}, but no probe write was acknowledged by {}", secs(*at_us))
            }
            LivenessFailure::NotConverged { at_us, applied } => {
                let members: Vec<String> = applied
                    .iter()
                    .map(|(id, index, hash)| {
                        format!("node {id} at index {index} (store hash {hash:016x})")
                    })
                    .collect();
                write!(
                    f,
                    "the members did not reach one applied index and store by {}: {}",
                    secs(*at_us),
                    members.join(", ")
                )
            }
        }
    }
}

/// A converged cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LivenessReport {
    pub leader: NodeId,
    pub term: Term,
    pub applied: Index,
    pub state_hash: u64,
    /// True time the liveness phase took.
    pub elapsed_us: u64,
}

impl<P: Process> World<P> {
    /// Heals everything, then runs until the cluster has converged or `bound_us` of true
    /// time has passed. `probe(n)` makes the n-th write to propose; `accepted` says
    /// whether an answer means the write committed.
    pub fn liveness(
        &mut self,
        bound_us: u64,
        mut probe: impl FnMut(u64) -> P::Request,
        accepted: impl Fn(&P::Response) -> bool,
    ) -> Result<LivenessReport, SimError> {
        let start_us = self.now_us();
        let deadline_us = start_us + bound_us;
        let step_us = self.tick_us();
        let probe_timeout_us = 30 * step_us;
        self.heal_all();
        let mut written = false;
        let mut open: Option<RequestId> = None;
        let mut probes = 0;
        // Each turn advances true time by `step_us`, so the loop ends by the deadline.
        while self.now_us() < deadline_us {
            self.run_for(step_us)?;
            for r in self.take_results_of(LIVENESS_CLIENT) {
                if open == Some(r.id) {
                    open = None;
                }
                if matches!(&r.outcome, Outcome::Ok(resp) if accepted(resp)) {
                    written = true;
                }
            }
            if !written && open.is_none() {
                if let Some(leader) = self.leader() {
                    open =
                        Some(self.submit(LIVENESS_CLIENT, leader, probe(probes), probe_timeout_us));
                    probes += 1;
                }
            }
            if written {
                if let Some(report) = self.converged(start_us) {
                    return Ok(report);
                }
            }
        }
        let at_us = self.now_us();
        let failure = match self.leader() {
            None => LivenessFailure::NoLeader { at_us },
            Some(leader) if !written => LivenessFailure::NoCommit { at_us, leader: Some(leader) },
            Some(_) => LivenessFailure::NotConverged {
                at_us,
                applied: self
                    .node_ids()
                    .into_iter()
                    .map(|id| match self.process(id) {
                        Some(p) => (id, p.status().applied, p.state_hash()),
                        None => (id, 0, 0),
                    })
                    .collect(),
            },
        };
        Err(SimError::Liveness(failure))
    }

    /// The report if every node runs, a leader exists and every node has applied the
    /// leader's commit index with the same state hash.
    fn converged(&self, start_us: u64) -> Option<LivenessReport> {
        let leader = self.leader()?;
        let lst = self.status(leader)?;
        let hash = self.process(leader)?.state_hash();
        for id in self.node_ids() {
            let p = self.process(id)?;
            let st = p.status();
            if st.applied != lst.commit || st.commit != lst.commit || p.state_hash() != hash {
                return None;
            }
        }
        Some(LivenessReport {
            leader,
            term: lst.term,
            applied: lst.commit,
            state_hash: hash,
            elapsed_us: self.now_us() - start_us,
        })
    }
}
