//! The checks a run makes besides the simulator's own Raft safety checks: watch
//! guarantees, serializable reads and auth revocation here; linearizability through
//! the checker crate.

pub mod auth;
pub mod serializable;
pub mod watch;
