//! Re-exports of the core identifiers the simulator speaks in.

pub use detcd_core::types::{Index, NodeId, RequestId, SyncId, Term};

/// A simulated client (one sequence of requests, as a history checker sees it).
pub type ClientId = u64;
