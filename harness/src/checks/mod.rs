//! The checks a run makes besides the simulator's own Raft safety checks: watch
//! guarantees, serializable reads, reads at a revision, lease lifetimes and auth
//! revocation here; linearizability through the checker crate.

pub mod auth;
pub mod lease;
pub mod revision_reads;
pub mod serializable;
pub mod watch;
