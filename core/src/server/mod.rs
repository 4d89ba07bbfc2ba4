//! The etcd server state machine: requests in, Raft proposals, applies, responses out.
//!
//! [`EtcdNode`] joins a Raft node with the MVCC store, the lease table and the watch
//! registry, and implements [`Process`](crate::process::Process) so that the simulator
//! and the real node drive it like any other process (its driver contract is on
//! [`EtcdNode`]'s module, `node`).
//!
//! Files, one concern each:
//! - `config`: [`Config`], the member's identity and limits;
//! - `request`: the client-facing [`Request`] / [`Response`] enums;
//! - `validate`: etcd's checks before anything is proposed;
//! - `proposal`: what a log entry carries ([`Proposal`], [`Op`], [`ProposalId`]);
//! - `pending`: requests accepted and not yet answered, with deadlines;
//! - `state`: the replicated store and lease table, applying and serving;
//! - `watches`: routing watch responses to the client streams of this member;
//! - `members`: the replicated member list and etcd's reconfiguration checks;
//! - `auth`: [`AuthStore`], users, roles, permissions and tokens, and the checks;
//! - `sliced`: applying one large entry in slices between other inputs;
//! - `node`: [`EtcdNode`], the Raft pump and the `Process` impl.

mod auth;
mod config;
mod members;
mod node;
mod pending;
mod proposal;
mod request;
mod sliced;
mod state;
mod validate;
mod watches;

pub use auth::{AuthStore, Credential, TokenClock, ROOT, TOKENS_MAX};
pub use config::{
    Config, APPLY_GAP_ENTRIES_MAX_DEFAULT, APPLY_SLICE_KEYS_DEFAULT, LEASE_TTL_MAX_SECS,
    PENDING_REQUESTS_MAX_DEFAULT, REQUEST_BYTES_MAX_DEFAULT, TXN_OPS_MAX_DEFAULT,
};
pub use members::{
    derive_member_id, learner_in_sync, Member, MemberOp, MembersResponse, LEARNERS_MAX,
    LEARNER_READY_PER_MILLE,
};
pub use node::EtcdNode;
pub use proposal::{Op, PayloadError, Proposal, ProposalId, TXN_DEPTH_MAX};
pub use request::{MoveLeaderResponse, Request, Response, StatusResponse, StreamId};
pub use validate::{txn_writes, validate, wire_bytes};
