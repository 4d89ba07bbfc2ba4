//! The etcd server state machine: requests in, Raft proposals, applies, responses out.
//!
//! [`EtcdNode`] joins a Raft node with the MVCC store, the lease table and the watch
//! registry, and implements [`Process`](crate::process::Process) so that the simulator
//! and the real node drive it like any other process.

mod config;
mod node;
mod pending;
mod proposal;
mod request;
mod state;
mod validate;
mod watches;

pub use config::{Config, LEASE_TTL_MAX_SECS, REQUEST_BYTES_MAX_DEFAULT, TXN_OPS_MAX_DEFAULT};
pub use node::EtcdNode;
pub use pending::Read;
pub use proposal::{Op, Proposal, ProposalId};
pub use request::{MoveLeaderResponse, Request, Response, StatusResponse, StreamId};
pub use validate::{txn_writes, validate, wire_bytes};
