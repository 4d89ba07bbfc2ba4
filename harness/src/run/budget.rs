//! The budget of one run: how many simulated events it may take, how many may wait at
//! once (the world's memory), how long its history may grow, and how many steps and
//! how much memory the linearizability search may spend on it. A run that goes over
//! any of them ends with the verdict `budget` on the check it could not finish, never
//! an unbounded search; `detcd sim` gives such runs their own exit status.

use serde::Serialize;

/// Limits on one run. The defaults sit far above what a healthy run of any built-in
/// scenario uses (a swarm seed takes about 20 thousand events, a few thousand pending,
/// a few hundred operations, and well under a million search steps), and low enough
/// that a sweep of pathological runs stays within a couple of gigabytes and finishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RunBudget {
    /// Simulated events over the whole run (both phases).
    pub events_max: u64,
    /// Events waiting in the world's queue at once.
    pub pending_events_max: u64,
    /// Client operations recorded in the history; past it clients stop issuing.
    pub history_ops_max: u64,
    /// Search steps of the linearizability checker.
    pub check_steps_max: u64,
    /// Memory of the checker's memo and states, bytes (as the checker estimates it).
    pub check_memory_bytes_max: usize,
}

impl Default for RunBudget {
    fn default() -> Self {
        RunBudget {
            events_max: 2_000_000,
            pending_events_max: 200_000,
            history_ops_max: 50_000,
            check_steps_max: 5_000_000,
            check_memory_bytes_max: 1 << 28,
        }
    }
}
