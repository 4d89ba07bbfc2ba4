//! How an etcd server node is set up: its Raft settings, its identity in the cluster
//! and the limits it enforces on clients. Limits carry their unit last.

use super::members::Member;
use crate::raft;

/// etcd's `--max-request-bytes` default: 1.5 MiB.
pub const REQUEST_BYTES_MAX_DEFAULT: usize = 1_572_864;
/// etcd's `--max-txn-ops` default.
pub const TXN_OPS_MAX_DEFAULT: usize = 128;
/// Default `pending_requests_max`: twice etcd's apply gap below. A member that keeps
/// up holds far fewer; one that holds this many answers each only after thousands
/// ahead of it, likely past its timeout, so refusing at once lets the client back off
/// or go elsewhere, and it bounds the memory waiting requests take (each holds its
/// operation; at a typical size under 1 KiB, about 10 MiB).
pub const PENDING_REQUESTS_MAX_DEFAULT: usize = 10_000;
/// etcd's `maxGapBetweenApplyAndCommitIndex`.
pub const APPLY_GAP_ENTRIES_MAX_DEFAULT: u64 = 5_000;
/// Default `apply_slice_keys`: at a few microseconds per deleted key, a slice holds
/// the member for a few tens of milliseconds, well inside a heartbeat interval.
pub const APPLY_SLICE_KEYS_DEFAULT: usize = 4096;
/// etcd's `--auth-token-ttl` default, in seconds.
pub const AUTH_TOKEN_TTL_SECS_DEFAULT: u64 = 300;
/// etcd's largest lease TTL, in seconds.
pub const LEASE_TTL_MAX_SECS: i64 = 9_000_000_000;

/// Settings of one etcd server node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The Raft node inside (its `id` is this member's id).
    pub raft: raft::Config,
    /// Reported in every response header.
    pub cluster_id: u64,
    /// Must differ between two runs of the same member: drivers MUST change it at
    /// every restart (the simulator passes a restart counter, the real node a value it
    /// bumps on disk at every start). Proposal and read identifiers carry it (mixed
    /// with the durable state), so an entry proposed or a read index asked for before a
    /// crash can never be mistaken for one of the restarted process.
    pub incarnation: u64,
    /// How many ticks make one second: converts lease TTLs (seconds in the API) to ticks.
    pub ticks_per_second: u64,
    /// A request to be proposed whose encoded size exceeds this is refused (`request is
    /// too large`); reads are not held to it, as etcd holds only its raft requests.
    pub request_bytes_max: usize,
    /// Most operations in one txn branch, counted as etcd does.
    pub txn_ops_max: usize,
    /// Shortest lease TTL, in ticks; shorter grants are raised to it (rounded up to
    /// whole seconds). etcd uses 1.5 election timeouts so that a lease cannot expire
    /// during the election that follows a leader's death.
    pub lease_ttl_min_ticks: u64,
    /// The leader proposes a checkpoint of every lease's remaining TTL this often, so
    /// a chain of leader changes cannot keep a lease alive forever.
    pub lease_checkpoint_ticks: u64,
    /// A new leader leaves clients this long to renew before it expires any lease (a
    /// renewal newer than the last checkpoint is unknown to it). etcd: one election timeout.
    pub lease_promote_grace_ticks: u64,
    /// Progress notices for watchers that asked for them go out this often (0 = never).
    pub watch_progress_ticks: u64,
    /// A request not answered within this many ticks fails with `request timed out`.
    pub request_timeout_ticks: u64,
    /// Take a snapshot and compact the Raft log after this many applied entries.
    pub snapshot_entries: u64,
    /// Most client requests waiting here at once (proposals, linearizable reads and
    /// leader transfers; open watch streams do not count). Beyond it a request that
    /// would wait is refused with `too many requests`.
    pub pending_requests_max: usize,
    /// New proposals are refused with `too many requests` while the commit index is
    /// more than this many entries ahead of the applied index, as etcd does.
    pub apply_gap_entries_max: u64,
    /// A DeleteRange that deletes more keys than this is applied in slices of this
    /// many keys, one per tick or driver turn, so the member keeps answering its peers
    /// while it applies it (see `super::sliced`). 0: every entry in one go.
    pub apply_slice_keys: usize,
    /// The initial cluster (etcd's `--initial-cluster`): the member list until the
    /// first membership change applies. Empty: the initial voters, without names or
    /// URLs. A member joining a running cluster is given the same list as the others.
    pub initial_members: Vec<Member>,
    /// UNSAFE, for a negative control only: with auth enabled, check a linearizable
    /// read's permission when it arrives, against this member's auth state of that
    /// moment, instead of when it is served. A revocation this member applies while
    /// the read waits for its read index does not refuse it.
    pub unsafe_auth_check_reads_on_receipt: bool,
    /// A simple token not used on this member for this long is refused here
    /// (`invalid auth token`); etcd's `--auth-token-ttl`. 0: never.
    pub auth_token_ttl_secs: u64,
}

impl Config {
    /// etcd-like defaults around a Raft configuration: 10 ticks per second (a 100 ms
    /// heartbeat), a 5 s request timeout, a lease checkpoint every 5 s (etcd: 5 minutes; shorter so that even short
    /// leaderships move TTLs forward), watch progress every 10 minutes as etcd.
    pub fn new(raft: raft::Config, cluster_id: u64) -> Self {
        let election = u64::from(raft.election_ticks);
        Config {
            raft,
            cluster_id,
            incarnation: 0,
            ticks_per_second: 10,
            request_bytes_max: REQUEST_BYTES_MAX_DEFAULT,
            txn_ops_max: TXN_OPS_MAX_DEFAULT,
            lease_ttl_min_ticks: (3 * election).div_ceil(2),
            lease_checkpoint_ticks: 50,
            lease_promote_grace_ticks: election,
            watch_progress_ticks: 6000,
            request_timeout_ticks: 50,
            snapshot_entries: 10_000,
            pending_requests_max: PENDING_REQUESTS_MAX_DEFAULT,
            apply_gap_entries_max: APPLY_GAP_ENTRIES_MAX_DEFAULT,
            apply_slice_keys: APPLY_SLICE_KEYS_DEFAULT,
            initial_members: Vec::new(),
            unsafe_auth_check_reads_on_receipt: false,
            auth_token_ttl_secs: AUTH_TOKEN_TTL_SECS_DEFAULT,
        }
    }

    /// This member's id.
    pub fn member_id(&self) -> u64 {
        self.raft.id
    }

    /// The initial member list: `initial_members`, or the initial voters.
    pub fn initial_member_list(&self) -> Vec<Member> {
        if !self.initial_members.is_empty() {
            return self.initial_members.clone();
        }
        let voters = self.raft.initial_voters.iter();
        voters.map(|&id| Member { id, ..Member::default() }).collect()
    }

    /// The shortest TTL a lease is granted, in whole seconds (never below 1).
    pub fn lease_ttl_min_secs(&self) -> i64 {
        let secs = self.lease_ttl_min_ticks.div_ceil(self.ticks_per_second.max(1)).max(1);
        i64::try_from(secs).unwrap_or(i64::MAX)
    }
}
