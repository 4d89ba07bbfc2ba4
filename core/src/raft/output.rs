//! What a [`RaftNode`](super::RaftNode) asks its driver to do, and the typed errors of
//! its client-facing calls.

use super::ConfChangeInvalid;
use super::{Message, Role};
use crate::types::{ConfState, Entry, Index, NodeId, PersistOp, Snapshot, SyncId, Term};

/// One effect of a Raft node, drained with `RaftNode::drain` and carried out in order.
///
/// # Ordering contract
///
/// - `Persist(op)` requests go to stable storage in the order they come; the driver calls
///   `persisted(op.sync)` once an op (and so every earlier one) is durable.
/// - `Send { after: Some(s) }` may go on the wire only once persist request `s` is
///   durable. The node tags every message whose truth depends on local state being
///   durable: vote grants (term and vote), append and snapshot acknowledgements (the
///   entries, term and snapshot they acknowledge). The `Persist` carrying that state is
///   always drained before the tagged `Send`. `after: None` may go at once: a leader
///   replicates to followers in parallel with writing its own log (Raft thesis §10.2.1).
/// - A leader counts its own log toward the commit index only up to what the driver
///   acknowledged as durable, and a candidate counts its own vote only once its term
///   and vote are durable. A crash therefore never loses anything a quorum relied on.
/// - `Apply` hands out committed entries only: contiguous, in index order, each
///   exactly once per incarnation, and only entries that are durable locally. After a
///   restart the node re-applies from its snapshot (announced with `RestoreSnapshot`
///   first) up to its durable commit index.
/// - `RestoreSnapshot` replaces the application state; the next `Apply` continues
///   at the snapshot's index + 1.
/// - `ReadReady { index }` may be served once the application has applied `index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaftOutput {
    /// Deliver `msg` to `msg.to`, but not before persist request `after` is durable.
    Send { msg: Message, after: Option<SyncId> },
    /// Make this durable, then acknowledge with `persisted(op.sync)`.
    Persist(PersistOp),
    /// Committed entries to apply, contiguous and in order.
    Apply(Vec<Entry>),
    /// Replace the application state with this snapshot.
    RestoreSnapshot(Snapshot),
    /// The read `ctx` may be served once the application applied `index`.
    ReadReady { ctx: u64, index: Index },
    /// The read `ctx` cannot be served here; retry elsewhere or later.
    ReadFailed { ctx: u64, error: ProposeError },
    /// The role, term or known leader changed.
    RoleChanged { role: Role, term: Term, leader: Option<NodeId> },
    /// The configuration in force changed: a configuration entry at `index` was
    /// appended (or one was truncated away, or a snapshot installed). It is not
    /// necessarily committed; committed ones also reach the application in `Apply`.
    ConfChanged { conf: ConfState, index: Index },
}

/// Why a proposal, read or transfer was refused. All of these are normal in a cluster
/// (elections, partitions); a client retries, possibly at another node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// No leader is known (an election is under way or this node is cut off).
    NoLeader,
    /// This node is not the leader and does not forward; `leader` is the one it knows.
    NotLeader { leader: Option<NodeId> },
    /// The leader is handing over leadership and accepts no proposals meanwhile.
    TransferInProgress,
    /// The named node is not a voter of the current configuration.
    NotVoter { id: NodeId },
    /// A membership change is under way (or this leader has not yet committed an
    /// entry of its term); one change at a time.
    ConfChangePending,
    /// The membership change does not fit the current configuration.
    ConfChangeInvalid(ConfChangeInvalid),
}

impl std::fmt::Display for ProposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProposeError::NoLeader => write!(f, "no leader"),
            ProposeError::NotLeader { leader: Some(l) } => write!(f, "not leader (leader is {l})"),
            ProposeError::NotLeader { leader: None } => write!(f, "not leader"),
            ProposeError::TransferInProgress => write!(f, "leader transfer in progress"),
            ProposeError::NotVoter { id } => write!(f, "{id} is not a voter"),
            ProposeError::ConfChangePending => write!(f, "a membership change is under way"),
            ProposeError::ConfChangeInvalid(why) => write!(f, "invalid membership change: {why}"),
        }
    }
}

impl std::error::Error for ProposeError {}
