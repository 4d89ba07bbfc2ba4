//! Raft consensus as a sans-IO state machine (the extended Raft paper and Ongaro's
//! thesis; structure after etcd-io/raft): elections with PreVote and CheckQuorum, log
//! replication, snapshots, ReadIndex, leader transfer.
//!
//! The driver-facing types live here; the node itself is in `node` (state, API, the
//! `step` entry point), its behaviour in one file per concern:
//!
//! - `election`: timeouts, PreVote, votes, CheckQuorum, role changes, leader transfer;
//! - `replication`: appends, flow control, the commit rule, heartbeats, forwarding;
//! - `progress`: the leader's view of each follower (probe / replicate / snapshot);
//! - `log`: the in-memory log and its cursors;
//! - `durability`: persist requests, acknowledgements and the stable index;
//! - `snapshot`: compaction and InstallSnapshot;
//! - `conf_change`: membership changes as joint-consensus log entries;
//! - `quorum`: majorities of a (possibly joint) configuration;
//! - `read_index`: ReadIndex, forwarded reads and lease reads;
//! - `invariants`: the checks run after every input in debug builds and with the
//!   `invariants` feature;
//! - `output`: [`RaftOutput`] with the ordering contract, and [`ProposeError`].

mod conf_change;
mod config;
mod describe;
mod durability;
mod election;
mod invariants;
mod log;
mod msg;
mod node;
mod output;
mod progress;
mod quorum;
mod read_index;
mod replication;
mod snapshot;

pub use conf_change::{enter_joint, leave_joint, ConfChangeInvalid, ConfChangeOp, ConfEntry};
pub use config::Config;
pub use msg::{Message, MessageBody};
pub use node::RaftNode;
pub use output::{ProposeError, RaftOutput};

use crate::types::{Index, NodeId, Term};
use serde::{Deserialize, Serialize};

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// Why a node took its current role, for logs that tell an election's story.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RoleReason {
    /// It started (or restarted) as a follower.
    Started,
    /// No leader was heard within its randomized election timeout.
    ElectionTimeout,
    /// It was told to campaign: `campaign` called by its host.
    Campaign,
    /// The leader handed leadership to it (TimeoutNow).
    Transfer,
    /// A quorum granted its pre-vote.
    PreVoteWon,
    /// A quorum granted its vote.
    ElectionWon,
    /// A quorum rejected its (pre-)vote.
    ElectionLost,
    /// A message of a higher term arrived.
    HigherTerm,
    /// As leader, CheckQuorum found no quorum active within an election timeout.
    CheckQuorumLost,
    /// It heard from the leader of its term.
    LeaderHeard,
    /// Its host lost the connection to its leader (`RaftNode::leader_unreachable`).
    LeaderUnreachable,
    /// As leader, a committed configuration no longer counts it as a voter.
    Removed,
}

impl RoleReason {
    /// In plain words, e.g. "election timeout".
    pub fn words(self) -> &'static str {
        match self {
            RoleReason::Started => "started",
            RoleReason::ElectionTimeout => "election timeout",
            RoleReason::Campaign => "told to campaign",
            RoleReason::Transfer => "leader transfer",
            RoleReason::PreVoteWon => "pre-vote won",
            RoleReason::ElectionWon => "election won",
            RoleReason::ElectionLost => "election lost",
            RoleReason::HigherTerm => "higher term seen",
            RoleReason::CheckQuorumLost => "CheckQuorum lost",
            RoleReason::LeaderHeard => "heard the leader",
            RoleReason::LeaderUnreachable => "lost the link to the leader",
            RoleReason::Removed => "removed from the configuration",
        }
    }
}

/// A snapshot of a node's Raft state, for inspection by drivers and checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    /// Why it took that role.
    pub role_reason: RoleReason,
    pub term: Term,
    pub vote: Option<NodeId>,
    pub leader: Option<NodeId>,
    /// Highest index known committed.
    pub commit: Index,
    /// Highest index handed to the application to apply.
    pub applied: Index,
    /// Index of the last entry in the (possibly not yet durable) log.
    pub last_index: Index,
    /// Index of the last entry covered by the snapshot (0 without one).
    pub snapshot_index: Index,
}
