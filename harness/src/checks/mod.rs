//! The checks a run makes besides the simulator's own Raft safety checks: watch
//! guarantees, serializable reads, auth revocation, membership refusals, transfer
//! answers and log compaction here; linearizability through the checker crate.

pub mod auth;
pub mod compaction;
pub mod membership;
pub mod serializable;
pub mod transfer;
pub mod watch;
