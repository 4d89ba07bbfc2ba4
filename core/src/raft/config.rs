//! How a Raft node is set up. Limits carry their unit last (`_ticks`, `_bytes`).

use crate::types::NodeId;

/// Raft settings. Peers are not here: membership is a value in the log and snapshot
/// (`ConfState`), given to a brand-new node through `initial_voters`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id; never 0.
    pub id: NodeId,
    /// The voters of a brand-new cluster; ignored when durable state has a snapshot or log.
    pub initial_voters: Vec<NodeId>,
    /// Seed for this node's randomized election timeouts.
    pub seed: u64,
    /// An election timeout is drawn from `[election_ticks, 2 * election_ticks)`.
    pub election_ticks: u32,
    /// A leader sends heartbeats every `heartbeat_ticks`; must be below `election_ticks`.
    pub heartbeat_ticks: u32,
    /// Run a pre-election that does not disrupt a healthy leader (thesis §9.6).
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum for an election timeout steps down.
    pub check_quorum: bool,
    /// Followers forward proposals to the leader instead of refusing them.
    pub forward_proposals: bool,
    /// Serve reads from the leader's lease instead of a heartbeat round. UNSAFE under
    /// clock skew: a leader whose clock runs slow may believe in a lease that has ended.
    pub lease_reads: bool,
    /// Most entries in one append message.
    pub append_entries_max: usize,
    /// Most payload bytes in one append message (at least one entry is always sent).
    pub append_bytes_max: usize,
    /// Most append messages in flight to one follower before waiting for acks.
    pub inflight_appends_max: usize,
    /// UNSAFE, for a negative control only: a membership change goes straight from
    /// C_old to C_new in one entry, without the joint phase. Changing two voters at
    /// once that way lets disjoint majorities of C_old and C_new each elect a leader
    /// and commit (split brain).
    pub unsafe_single_step_conf_change: bool,
    /// Check the Raft and server invariants after every input, in builds that compile
    /// the checks in (debug, or the `invariants` feature). On by default: the simulator,
    /// the harness and the tests hunt bugs with them. A real member turns them off, as
    /// one binary holds both the simulator (which enables the feature) and `serve`.
    pub check_invariants: bool,
}

impl Config {
    /// Defaults in the spirit of etcd (CheckQuorum on, PreVote on as in etcd 3.5).
    pub fn new(id: NodeId, initial_voters: Vec<NodeId>, seed: u64) -> Self {
        Config {
            id,
            initial_voters,
            seed,
            election_ticks: 10,
            heartbeat_ticks: 1,
            pre_vote: true,
            check_quorum: true,
            forward_proposals: true,
            lease_reads: false,
            append_entries_max: 4096,
            append_bytes_max: 1 << 20,
            inflight_appends_max: 256,
            unsafe_single_step_conf_change: false,
            check_invariants: true,
        }
    }
}
