//! detcd-core: the sans-IO heart of detcd.
//!
//! Everything here is a plain state machine driven by its caller: Raft consensus
//! (`raft`), the multi-version key-value store (`mvcc`), leases (`lease`), watches
//! (`watch`) and the etcd server state machine that joins them (`server`). Nothing in
//! this crate performs I/O, reads a clock, spawns a thread or draws unseeded
//! randomness; time arrives as ticks, randomness from a seed, and durability is an
//! explicit output that the driver acknowledges. The same code therefore runs inside
//! the deterministic simulator (`detcd-sim`) and inside the real node (`detcd-node`).
//!
//! The driver contract shared by every node type is [`process::Process`]; the
//! driver's half of it, holding sends until their persist is durable, is
//! [`outbox::Outbox`].

pub mod api;
pub mod lease;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod mvcc;
pub mod outbox;
pub mod process;
pub mod raft;
pub mod server;
pub mod types;
pub mod watch;
