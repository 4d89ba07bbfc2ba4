//! Messages between Raft peers. Every field a peer sends is untrusted: the node must
//! handle any value without panicking.

use crate::types::{Entry, Index, NodeId, Snapshot, Term};
use serde::{Deserialize, Serialize};

/// One message on the wire between two members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's term (for `PreVote`, the term it would campaign in).
    pub term: Term,
    pub body: MessageBody,
}

/// What a message says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageBody {
    /// "Would you vote for me?" (thesis §9.6); changes no state on the receiver.
    PreVote {
        last_index: Index,
        last_term: Term,
    },
    PreVoteResponse {
        reject: bool,
    },
    /// RequestVote (§5.2). `transfer` marks a campaign started by TimeoutNow, which
    /// may disturb a live leader (§3.10).
    Vote {
        last_index: Index,
        last_term: Term,
        transfer: bool,
    },
    VoteResponse {
        reject: bool,
    },
    /// AppendEntries (§5.3).
    Append {
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    },
    /// Success: `index` is the last index now matching the leader. Rejection: the
    /// follower's hint for fast backtracking (`reject_hint`: an index at or below
    /// which the leader should retry, with the follower's term there).
    AppendResponse {
        index: Index,
        reject: bool,
        reject_hint: Index,
        hint_term: Term,
    },
    /// Leader liveness and commit propagation; `ctx` ties it to pending ReadIndex rounds.
    Heartbeat {
        commit: Index,
        ctx: u64,
    },
    HeartbeatResponse {
        ctx: u64,
    },
    /// InstallSnapshot (§7).
    InstallSnapshot {
        snapshot: Snapshot,
    },
    /// A follower forwards client proposals to its leader.
    Propose {
        entries: Vec<Entry>,
    },
    /// A follower asks the leader for a read index on behalf of request `ctx`.
    ReadIndex {
        ctx: u64,
    },
    /// The leader's answer: reads for `ctx` may be served once applied ≥ `index`.
    /// `index == 0` means the leader refused (not ready); the follower fails the read.
    ReadIndexResponse {
        ctx: u64,
        index: Index,
    },
    /// Leader transfer: start an election now (§3.10).
    TimeoutNow,
}

impl Message {
    /// A short name of the message kind, for traces.
    pub fn kind(&self) -> &'static str {
        match self.body {
            MessageBody::PreVote { .. } => "pre_vote",
            MessageBody::PreVoteResponse { .. } => "pre_vote_response",
            MessageBody::Vote { .. } => "vote",
            MessageBody::VoteResponse { .. } => "vote_response",
            MessageBody::Append { .. } => "append",
            MessageBody::AppendResponse { .. } => "append_response",
            MessageBody::Heartbeat { .. } => "heartbeat",
            MessageBody::HeartbeatResponse { .. } => "heartbeat_response",
            MessageBody::InstallSnapshot { .. } => "install_snapshot",
            MessageBody::Propose { .. } => "propose",
            MessageBody::ReadIndex { .. } => "read_index",
            MessageBody::ReadIndexResponse { .. } => "read_index_response",
            MessageBody::TimeoutNow => "timeout_now",
        }
    }
}
