//! The driver contract every detcd node type implements, so that one simulator and
//! one tokio adapter can drive the bare Raft node and the full etcd server alike.
//!
//! A driver owns the I/O. It feeds a process inputs (`tick`, `receive`, `request`,
//! `persisted`) and after each input calls `drain` and carries out the effects in the
//! order they come:
//!
//! 1. `Persist` requests go to stable storage; when one is durable the driver calls
//!    `persisted(sync)` (acknowledging it and every earlier one).
//! 2. `Send { after: Some(s) }` may be put on the wire only once persist request `s`
//!    is durable (vote grants, append acknowledgements: Raft Figure 2, "respond to RPCs
//!    only after updating stable storage"). `after: None` may go at once. Every
//!    driver keeps this rule with one [`Outbox`](crate::outbox::Outbox).
//! 3. `Respond` answers the client request with that id, exactly once. One exception:
//!    a request that opens a stream (the etcd server's watch create) stays open and
//!    receives a `Respond` per stream message until one that closes it (for watches, a
//!    response with `canceled` set); the node type documents which requests do.
//!
//! After a crash a driver rebuilds the process with `restore` from what it had made
//! durable, and nothing else: volatile state is lost, as on a real machine. What a
//! disk hands back is input, not our own invariant: `restore` refuses a state it cannot
//! use with a [`RestoreError`] rather than panicking, so a real node can report it and
//! refuse to start.

use crate::raft::{Message, Status};
use crate::types::{
    ConfState, DurableState, Entry, Index, NodeId, PersistOp, RequestId, SyncId, Term,
};

/// What a process asks its driver to do.
#[derive(Clone, Debug)]
pub enum Effect<R> {
    /// Deliver `msg` to `msg.to`; hold it until persist request `after` is durable.
    Send { msg: Message, after: Option<SyncId> },
    /// Make this durable, then acknowledge with `persisted(op.sync)`.
    Persist(PersistOp),
    /// The answer to client request `id` (several, in order, for a stream request).
    Respond { id: RequestId, response: R },
}

/// A deterministic node: a pure function of its construction and its inputs.
pub trait Process: Sized {
    /// How the process is set up (ids, peers, timeouts, seed).
    type Config: Clone;
    /// What a client may ask.
    type Request: Clone + std::fmt::Debug;
    /// What a client gets back.
    type Response: Clone + std::fmt::Debug;

    /// Builds the process from its configuration and everything it made durable
    /// (an empty `DurableState` for a brand-new member), or says why that state cannot
    /// be used.
    fn restore(config: Self::Config, durable: DurableState) -> Result<Self, RestoreError>;
    /// `restore` for durable state this program wrote itself and kept in memory (the
    /// simulator's disks, tests): a refusal there is a bug, so it panics.
    fn restore_own(config: Self::Config, durable: DurableState) -> Self {
        Self::restore(config, durable)
            .unwrap_or_else(|e| panic!("our own durable state does not restore: {e}"))
    }
    /// One logical clock tick. The process never reads a clock.
    fn tick(&mut self);
    /// A message from a peer.
    fn receive(&mut self, msg: Message);
    /// A client request; the answer comes later as `Effect::Respond` with this id.
    fn request(&mut self, id: RequestId, request: Self::Request);
    /// Every persist request up to and including `sync` is durable.
    fn persisted(&mut self, sync: SyncId);
    /// Moves the pending effects into `out`, in the order they must be carried out.
    fn drain(&mut self, out: &mut Vec<Effect<Self::Response>>);

    /// The Raft state inside, for inspection (safety checks, traces, status).
    fn status(&self) -> Status;
    /// The log entry at `index`, if the node still holds it (not compacted, not beyond
    /// its last index). Used by checkers for log matching and durability checks.
    fn entry(&self, index: Index) -> Option<&Entry>;
    /// A hash of the applied application state, to compare replicas at equal
    /// `status().applied`.
    fn state_hash(&self) -> u64;
    /// This node's id.
    fn id(&self) -> NodeId {
        self.status().id
    }
    /// The Raft configuration in force here and whether a membership change is under
    /// way (its entries uncommitted, or the configuration joint). None for process
    /// types without membership changes.
    fn membership(&self) -> Option<(&ConfState, bool)> {
        None
    }
    /// A client request this process holds that no input will answer before its
    /// deadline, and why (a request it lost track of: one it should have answered at
    /// once, say). None on a correct process; simulators check it after every input.
    fn stranded_request(&self) -> Option<(RequestId, &'static str)> {
        None
    }
}

/// Why durable state handed to [`Process::restore`] cannot be used. Each names what a
/// person needs to find the damage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The snapshot's application image does not decode.
    SnapshotImage { index: Index, reason: String },
    /// The payload of the log entry at `index` does not decode.
    EntryPayload { index: Index, reason: String },
    /// The log does not continue where it should: the snapshot (or the start of the
    /// log) is followed by `found` where `expected` belongs.
    LogGap { expected: Index, found: Index },
    /// The entry at `index` has a lower term than the one before it.
    LogTermDecreases { index: Index, term: Term, previous: Term },
    /// The hard state's commit index lies beyond the last durable entry.
    CommitBeyondLog { commit: Index, last_index: Index },
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreError::SnapshotImage { index, reason } => {
                write!(f, "snapshot at index {index}: image does not decode: {reason}")
            }
            RestoreError::EntryPayload { index, reason } => {
                write!(f, "log entry {index}: payload does not decode: {reason}")
            }
            RestoreError::LogGap { expected, found } => {
                write!(f, "durable log is not contiguous: entry {found} where {expected} belongs")
            }
            RestoreError::LogTermDecreases { index, term, previous } => write!(
                f,
                "durable log terms decrease: entry {index} has term {term} after term {previous}"
            ),
            RestoreError::CommitBeyondLog { commit, last_index } => write!(
                f,
                "durable commit index {commit} is beyond the last durable entry {last_index}"
            ),
        }
    }
}

impl std::error::Error for RestoreError {}
