//! The checks a run makes besides the simulator's own Raft safety checks: watch
//! guarantees and serializable reads here; linearizability through the checker crate.

pub mod serializable;
pub mod watch;
