//! The scenario TOML format: one document per scenario. Every table and field is
//! documented here; unknown fields are refused so a typo cannot silently change a run.
//!
//! ```toml
//! name = "leader-isolation"
//! description = "The leader is cut off; a new one takes over and no write is lost."
//! expect = "pass"                 # or "fail:<check>" for a negative control
//! default_seeds = 16              # seeds `detcd sim` runs when --seeds is not given
//!
//! [cluster]
//! size = 3
//! election_ticks = 10
//! heartbeat_ticks = 1
//! tick_us = 10000                 # true time of one tick at clock rate 1.0
//!
//! [workload]
//! clients = 4
//! operations = 300
//! keys = 6
//! [workload.mix]
//! put = 30
//! get = 30
//!
//! [phases]
//! safety_ms = 4000                # faults active
//! liveness_ms = 4000              # faults healed: the cluster must recover in this bound
//!
//! [[faults.schedule]]
//! at_ms = 1000
//! action = "isolate_leader"
//! [[faults.schedule]]
//! at_ms = 2500
//! action = "heal"
//! ```
//!
//! A `[lock]` table (see [`LockSpec`]) replaces the KV workload with etcd's lock recipe;
//! its clients can be paused (`pause_client`, `pause_lock_holder`, and the random kinds
//! `client_pause` and `lock_holder_pause`). An `[auth]` table (see [`AuthSpec`])
//! replaces it with users, roles and permissions changing under the clients' feet.

use crate::auth::AuthSpec;
use crate::lock::LockSpec;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short kebab-case name, used on the command line.
    pub name: String,
    /// One sentence for `detcd scenarios`.
    pub description: String,
    /// What a correct run of this scenario looks like.
    #[serde(default)]
    pub expect: Expect,
    /// How many seeds `detcd sim` runs when `--seeds` is not given.
    #[serde(default = "default_seeds")]
    pub default_seeds: u64,
    #[serde(default)]
    pub cluster: ClusterSpec,
    #[serde(default)]
    pub workload: WorkloadSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub faults: FaultSpec,
    #[serde(default)]
    pub phases: PhaseSpec,
    /// Run etcd's lock or election recipe instead of the KV workload (see [`LockSpec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockSpec>,
    /// Change users, roles and permissions under clients acting as those users,
    /// instead of the KV workload (see [`AuthSpec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
}

fn default_seeds() -> u64 {
    8
}

/// The checks a run makes, as `expect = "fail:<check>"` names them (the harness makes
/// them; a harness test keeps the two lists equal).
pub const CHECK_NAMES: &[&str] = &[
    "linearizability",
    "watch",
    "raft-safety",
    "convergence",
    "liveness",
    "serializable-reads",
    "lock-exclusion",
    "election",
    "auth-revocation",
    "membership",
    "leader-transfer",
    "log-compaction",
    "revision-reads",
    "leases",
    "validation",
    "status",
    "learner-requests",
    "member-list",
    "panic",
];

/// The expected outcome. `pass`: every check passes. `fail:<check>`: a negative
/// control; the run passes only when that check fails (its violation was found).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Expect {
    #[default]
    Pass,
    Fail(String),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Pass => f.write_str("pass"),
            Expect::Fail(check) => write!(f, "fail:{check}"),
        }
    }
}

impl Serialize for Expect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "pass" => Ok(Expect::Pass),
            other => match other.strip_prefix("fail:") {
                Some(checks) if !checks.is_empty() => {
                    if let Some(bad) = checks.split('|').find(|c| !CHECK_NAMES.contains(c)) {
                        return Err(serde::de::Error::custom(format!(
                            "expect names the check {bad:?}, which no run makes; the checks are {}",
                            CHECK_NAMES.join(", ")
                        )));
                    }
                    Ok(Expect::Fail(checks.to_string()))
                }
                _ => Err(serde::de::Error::custom(format!(
                    "expect must be \"pass\" or \"fail:<check>\", not {other:?}"
                ))),
            },
        }
    }
}

/// The cluster and its Raft settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Number of voting members (1 to 9).
    pub size: u64,
    pub election_ticks: u32,
    pub heartbeat_ticks: u32,
    /// True time of one tick at clock rate 1.0, in microseconds.
    pub tick_us: u64,
    pub pre_vote: bool,
    pub check_quorum: bool,
    /// Leader lease reads: UNSAFE under clock skew (used by a negative control).
    pub lease_reads: bool,
    /// Acknowledge fsyncs before the data is durable: UNSAFE with crashes (a negative
    /// control).
    pub lying_fsync: bool,
    /// Range of fsync latency, microseconds.
    pub fsync_us: [u64; 2],
    /// Take a state machine snapshot and compact the Raft log every this many entries.
    pub snapshot_entries: u64,
    /// Spare hosts (ids `size + 1 ..= size + spares`) that membership faults add.
    #[serde(skip_serializing_if = "is_zero")]
    pub spares: u64,
    /// Membership changes skip the joint phase: UNSAFE when two voters change at once
    /// (a negative control).
    #[serde(skip_serializing_if = "is_false")]
    pub unsafe_single_step_membership: bool,
    /// Apply a DeleteRange over more live keys than this in slices of this many keys
    /// (one per tick); 0: the core's default (4,096). A small value makes the `bulk`
    /// mix's deletes run in slices under the scenario's faults.
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub apply_slice_keys: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            size: 3,
            election_ticks: 10,
            heartbeat_ticks: 1,
            tick_us: 10_000,
            pre_vote: true,
            check_quorum: true,
            lease_reads: false,
            lying_fsync: false,
            fsync_us: [100, 2_000],
            snapshot_entries: 200,
            spares: 0,
            unsafe_single_step_membership: false,
            apply_slice_keys: 0,
        }
    }
}

/// Which keys clients pick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyDistribution {
    #[default]
    Uniform,
    Zipf,
}

/// Relative weights of the operations clients issue (0 = never).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpMix {
    /// Put of a unique value.
    pub put: u32,
    /// Linearizable single-key get.
    pub get: u32,
    /// Serializable (member-local) single-key get.
    pub serializable_get: u32,
    /// Linearizable prefix range over all keys.
    pub range: u32,
    /// Delete of one key.
    pub delete: u32,
    /// Txn: if the key's mod revision is what was last read, put a new value.
    pub cas: u32,
    /// Lease grant, put with the lease, then revoke or let it expire.
    pub lease: u32,
    /// Open a watch stream over all keys from the current revision.
    pub watch: u32,
    /// Compact to a recent revision.
    pub compact: u32,
    /// Txn with random compares (every target and operator) and branches that may
    /// nest a txn.
    pub txn: u32,
    /// Linearizable read of all keys at an old revision: the newest compaction
    /// revision, one either side of it, or a recent one.
    pub range_at: u32,
    /// A paged list of all keys (Kubernetes' list): pages of `limit` keys, the later
    /// ones at the first page's revision.
    pub list: u32,
    /// Count-only range over all keys.
    pub count: u32,
    /// A request at or just past one of etcd's limits, or one etcd must refuse (empty
    /// key, `ignore_value` with a value, a lease TTL past the maximum, a request past
    /// the size limit, ...), on keys of its own: its answer must be etcd's, and it may
    /// change nothing.
    pub validate: u32,
    /// Bulk writes: a txn that puts a run of 24 to 120 keys under `k/b` (half the
    /// time), or one DeleteRange of every key under `k/b` (the other half), which a
    /// small `cluster.apply_slice_keys` applies in slices.
    pub bulk: u32,
    /// Maintenance Status of a member (`etcdctl endpoint status`); does not occupy the
    /// client.
    pub status: u32,
    /// A progress request on the client's watch stream, sent to the member carrying
    /// it (Kubernetes' watch cache asks for progress); does not occupy the client.
    pub progress: u32,
}

impl Default for OpMix {
    fn default() -> Self {
        OpMix {
            put: 30,
            get: 25,
            serializable_get: 10,
            range: 5,
            delete: 5,
            cas: 15,
            lease: 3,
            watch: 2,
            compact: 0,
            txn: 0,
            range_at: 0,
            list: 0,
            count: 0,
            validate: 0,
            bulk: 0,
            status: 0,
            progress: 0,
        }
    }
}

/// One kind of operation in a mix: names a weight of `OpMix` without index tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MixKind {
    Put,
    Get,
    SerializableGet,
    Range,
    Delete,
    Cas,
    Lease,
    Watch,
    Compact,
    Txn,
    RangeAt,
    List,
    Count,
    Validate,
    Bulk,
    Status,
    Progress,
}

impl MixKind {
    /// Every kind, in the order a workload draws them by weight.
    pub const ALL: [MixKind; 17] = [
        MixKind::Put,
        MixKind::Get,
        MixKind::SerializableGet,
        MixKind::Range,
        MixKind::Delete,
        MixKind::Cas,
        MixKind::Lease,
        MixKind::Watch,
        MixKind::Compact,
        MixKind::Txn,
        MixKind::RangeAt,
        MixKind::List,
        MixKind::Count,
        MixKind::Validate,
        MixKind::Bulk,
        MixKind::Status,
        MixKind::Progress,
    ];

    /// Its key in a scenario's `[workload.mix]`.
    pub fn name(self) -> &'static str {
        match self {
            MixKind::Put => "put",
            MixKind::Get => "get",
            MixKind::SerializableGet => "serializable_get",
            MixKind::Range => "range",
            MixKind::Delete => "delete",
            MixKind::Cas => "cas",
            MixKind::Lease => "lease",
            MixKind::Watch => "watch",
            MixKind::Compact => "compact",
            MixKind::Txn => "txn",
            MixKind::RangeAt => "range_at",
            MixKind::List => "list",
            MixKind::Count => "count",
            MixKind::Validate => "validate",
            MixKind::Bulk => "bulk",
            MixKind::Status => "status",
            MixKind::Progress => "progress",
        }
    }
}

impl OpMix {
    pub fn total(&self) -> u32 {
        MixKind::ALL.iter().map(|&k| self.weight(k)).sum()
    }

    pub fn weight(&self, kind: MixKind) -> u32 {
        match kind {
            MixKind::Put => self.put,
            MixKind::Get => self.get,
            MixKind::SerializableGet => self.serializable_get,
            MixKind::Range => self.range,
            MixKind::Delete => self.delete,
            MixKind::Cas => self.cas,
            MixKind::Lease => self.lease,
            MixKind::Watch => self.watch,
            MixKind::Compact => self.compact,
            MixKind::Txn => self.txn,
            MixKind::RangeAt => self.range_at,
            MixKind::List => self.list,
            MixKind::Count => self.count,
            MixKind::Validate => self.validate,
            MixKind::Bulk => self.bulk,
            MixKind::Status => self.status,
            MixKind::Progress => self.progress,
        }
    }

    pub fn weight_mut(&mut self, kind: MixKind) -> &mut u32 {
        match kind {
            MixKind::Put => &mut self.put,
            MixKind::Get => &mut self.get,
            MixKind::SerializableGet => &mut self.serializable_get,
            MixKind::Range => &mut self.range,
            MixKind::Delete => &mut self.delete,
            MixKind::Cas => &mut self.cas,
            MixKind::Lease => &mut self.lease,
            MixKind::Watch => &mut self.watch,
            MixKind::Compact => &mut self.compact,
            MixKind::Txn => &mut self.txn,
            MixKind::RangeAt => &mut self.range_at,
            MixKind::List => &mut self.list,
            MixKind::Count => &mut self.count,
            MixKind::Validate => &mut self.validate,
            MixKind::Bulk => &mut self.bulk,
            MixKind::Status => &mut self.status,
            MixKind::Progress => &mut self.progress,
        }
    }

    /// A mix of one kind only, weight 1.
    pub fn only(kind: MixKind) -> OpMix {
        let mut mix = OpMix {
            put: 0,
            get: 0,
            serializable_get: 0,
            range: 0,
            delete: 0,
            cas: 0,
            lease: 0,
            watch: 0,
            compact: 0,
            txn: 0,
            range_at: 0,
            list: 0,
            count: 0,
            validate: 0,
            bulk: 0,
            status: 0,
            progress: 0,
        };
        *mix.weight_mut(kind) = 1;
        mix
    }
}

/// What clients do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadSpec {
    /// Concurrent clients; each has at most one request in flight.
    pub clients: u32,
    /// Operations issued in the safety phase, over all clients.
    pub operations: u32,
    /// Distinct keys.
    pub keys: u32,
    pub key_distribution: KeyDistribution,
    /// Zipf exponent when `key_distribution = "zipf"`.
    pub zipf_s: f64,
    /// Pause between a client's operations, milliseconds, drawn uniformly.
    pub think_ms: [u64; 2],
    /// A request with no answer after this long has an unknown outcome.
    pub request_timeout_ms: u64,
    pub mix: OpMix,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            clients: 4,
            operations: 300,
            keys: 6,
            key_distribution: KeyDistribution::Uniform,
            zipf_s: 1.1,
            think_ms: [10, 60],
            request_timeout_ms: 1_000,
            mix: OpMix::default(),
        }
    }
}

/// The network outside of scheduled faults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// One-way message latency range, microseconds.
    pub latency_us: [u64; 2],
    /// Probability that a message is lost.
    pub drop: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back so later ones overtake it.
    pub reorder: f64,
    /// Extra copies of every message: a message storm. UNSAFE, for the negative control
    /// that proves a pathological run ends on its budget.
    pub storm_copies: u32,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency_us: [200, 2_000],
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            storm_copies: 0,
        }
    }
}

/// One fault the nemesis can cause. Node numbers are 1-based member ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Cut one member off from all others, both ways.
    IsolateNode { node: u64 },
    /// Cut the current leader off from all others, both ways.
    IsolateLeader,
    /// Split into a majority and a minority that holds the current leader.
    SplitMajority,
    /// Two halves joined by one member that talks to both.
    Bridge,
    /// Every member reaches only its two ring neighbours.
    Ring,
    /// Arbitrary groups; members of different groups cannot talk.
    Partition { groups: Vec<Vec<u64>> },
    /// Messages from `from` to `to` are lost; the other direction still works.
    OneWay { from: u64, to: u64 },
    /// The current leader can send but hears nothing back.
    OneWayLeaderDeaf,
    /// Remove every partition.
    Heal,
    /// Stop a member; every write it had not fsynced is lost.
    Crash { node: u64 },
    /// Crash the current leader.
    CrashLeader,
    /// Every member crashes at once (a power loss in the whole cluster).
    PowerLoss,
    /// Start a crashed member again from its durable state.
    Restart { node: u64 },
    /// Start every crashed member again.
    RestartAll,
    /// A member's clock runs at `rate` times true time.
    ClockSkew { node: u64, rate: f64 },
    /// The current leader's clock runs at `rate` times true time.
    ClockSkewLeader { rate: f64 },
    /// A member's clock jumps ahead by `ticks`.
    ClockJump { node: u64, ticks: u32 },
    /// Every clock runs at true rate again.
    ClockReset,
    /// Change the network's loss, duplication and reordering.
    Network { drop: f64, duplicate: f64, reorder: f64 },
    /// Ask the leader to hand leadership to another member (any when `to` is 0).
    TransferLeader { to: u64 },
    /// Stop client `client` (1-based) for `ms` milliseconds: a stop-the-world pause.
    PauseClient { client: u64, ms: u64 },
    /// Stop whichever client holds the lock now for `ms` milliseconds (lock workloads).
    PauseLockHolder { ms: u64 },
    /// Ask the leader to add spare host `node` as a learner (it starts empty).
    AddLearner { node: u64 },
    /// Ask the leader to add spare host `node` as a voter.
    AddVoter { node: u64 },
    /// Ask the leader to add several spare hosts as voters in one change.
    AddVoters { nodes: Vec<u64> },
    /// Ask the leader to promote learner `node`.
    Promote { node: u64 },
    /// Ask the leader to remove member `node`.
    RemoveMember { node: u64 },
    /// Ask the leader to remove itself.
    RemoveLeader,
    /// Ask the leader to remove `remove` (0: the leader) and add spare `add` as a voter,
    /// in one joint change.
    ReplaceMember { remove: u64, add: u64 },
}

/// A fault at a fixed point of the safety phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// When, in milliseconds of simulated time from the start.
    pub at_ms: u64,
    #[serde(flatten)]
    pub action: FaultAction,
}

/// Kinds of fault the random nemesis and the swarm draw from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Partition,
    OneWay,
    IsolateLeader,
    Crash,
    ClockSkew,
    ClockJump,
    Lossy,
    TransferLeader,
    PowerLoss,
    /// A stop-the-world pause of a random client, lasting `duration_ms`.
    ClientPause,
    /// A stop-the-world pause of the client holding the lock, lasting `duration_ms`.
    LockHolderPause,
}

impl FaultKind {
    pub const ALL: [FaultKind; 11] = [
        FaultKind::Partition,
        FaultKind::OneWay,
        FaultKind::IsolateLeader,
        FaultKind::Crash,
        FaultKind::ClockSkew,
        FaultKind::ClockJump,
        FaultKind::Lossy,
        FaultKind::TransferLeader,
        FaultKind::PowerLoss,
        FaultKind::ClientPause,
        FaultKind::LockHolderPause,
    ];
}

/// Faults drawn at random times from the seed: each fault lasts a while, then is undone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFaults {
    pub kinds: Vec<FaultKind>,
    /// Gap between the end of one fault and the start of the next, milliseconds.
    #[serde(default = "default_gap")]
    pub gap_ms: [u64; 2],
    /// How long one fault lasts, milliseconds.
    #[serde(default = "default_duration")]
    pub duration_ms: [u64; 2],
}

fn default_gap() -> [u64; 2] {
    [100, 800]
}

fn default_duration() -> [u64; 2] {
    [200, 1_500]
}

/// The nemesis: a fixed schedule, random faults, or a swarm profile (the kinds and
/// their rates are themselves drawn from each seed). They may be combined.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default)]
    pub schedule: Vec<ScheduledFault>,
    #[serde(default)]
    pub random: Option<RandomFaults>,
    /// Draw a fault profile per seed from every kind.
    #[serde(default)]
    pub swarm: bool,
}

/// How long each phase lasts in simulated time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhaseSpec {
    /// Faults active, workload running.
    pub safety_ms: u64,
    /// Faults healed, clocks fixed, crashed members restarted: within this bound the
    /// cluster must elect a leader, commit a write and converge.
    pub liveness_ms: u64,
}

impl Default for PhaseSpec {
    fn default() -> Self {
        PhaseSpec { safety_ms: 4_000, liveness_ms: 5_000 }
    }
}

/// Why a scenario could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioError {
    /// The TOML could not be read as a scenario (syntax, unknown field, wrong type).
    Parse { source: String, message: String },
    /// The scenario reads but makes no sense (a field out of range).
    Invalid { name: String, message: String },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Parse { source, message } => {
                write!(f, "cannot read scenario {source}: {message}")
            }
            ScenarioError::Invalid { name, message } => {
                write!(f, "scenario {name} is invalid: {message}")
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Reads and validates a scenario. `source` names it in errors (a file path).
    pub fn from_toml(text: &str, source: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            source: source.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The scenario as TOML (what `detcd shrink` writes).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario always serializes")
    }

    /// Checks every field is in range.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid { name: self.name.clone(), message };
        let c = &self.cluster;
        if self.name.is_empty() {
            return Err(invalid("name is empty".into()));
        }
        if !(1..=9).contains(&c.size) {
            return Err(invalid(format!("cluster.size must be 1 to 9, not {}", c.size)));
        }
        if c.heartbeat_ticks == 0 || c.election_ticks <= c.heartbeat_ticks {
            return Err(invalid(
                "cluster.election_ticks must exceed cluster.heartbeat_ticks (at least 1)".into(),
            ));
        }
        if c.tick_us == 0 {
            return Err(invalid("cluster.tick_us must be positive".into()));
        }
        check_range(&invalid, "cluster.fsync_us", c.fsync_us)?;
        if c.snapshot_entries == 0 {
            return Err(invalid("cluster.snapshot_entries must be positive".into()));
        }
        let w = &self.workload;
        if w.clients == 0 || w.keys == 0 {
            return Err(invalid("workload.clients and workload.keys must be positive".into()));
        }
        if w.mix.total() == 0 && w.operations > 0 {
            return Err(invalid("workload.mix gives every operation weight 0".into()));
        }
        if w.key_distribution == KeyDistribution::Zipf
            && w.zipf_s.partial_cmp(&0.0).is_none_or(|o| o.is_le())
        {
            return Err(invalid("workload.zipf_s must be positive".into()));
        }
        check_range(&invalid, "workload.think_ms", w.think_ms)?;
        if w.request_timeout_ms == 0 {
            return Err(invalid("workload.request_timeout_ms must be positive".into()));
        }
        let n = &self.network;
        check_range(&invalid, "network.latency_us", n.latency_us)?;
        for (name, p) in [("drop", n.drop), ("duplicate", n.duplicate), ("reorder", n.reorder)] {
            check_probability(&invalid, &format!("network.{name}"), p)?;
        }
        for fault in &self.faults.schedule {
            if fault.at_ms > self.phases.safety_ms {
                return Err(invalid(format!(
                    "a fault at {} ms lies beyond the safety phase ({} ms)",
                    fault.at_ms, self.phases.safety_ms
                )));
            }
            self.validate_action(&fault.action).map_err(invalid)?;
        }
        if let Some(random) = &self.faults.random {
            if random.kinds.is_empty() {
                return Err(invalid("faults.random.kinds is empty".into()));
            }
            check_range(&invalid, "faults.random.gap_ms", random.gap_ms)?;
            check_range(&invalid, "faults.random.duration_ms", random.duration_ms)?;
        }
        if let Some(problem) = self.lock.as_ref().and_then(LockSpec::problem) {
            return Err(invalid(problem));
        }
        if let Some(problem) = self.auth.as_ref().and_then(AuthSpec::problem) {
            return Err(invalid(problem));
        }
        if self.lock.is_some() && self.auth.is_some() {
            return Err(invalid("a scenario has a [lock] or an [auth] table, not both".into()));
        }
        if self.phases.liveness_ms == 0 {
            return Err(invalid("phases.liveness_ms must be positive".into()));
        }
        Ok(())
    }

    fn validate_action(&self, action: &FaultAction) -> Result<(), String> {
        // Spare hosts count: membership faults add them, then other faults may hit them.
        let size = self.cluster.size + self.cluster.spares;
        let member = |node: u64| {
            if (1..=size).contains(&node) {
                Ok(())
            } else {
                Err(format!("node {node} is not a member (members are 1 to {size})"))
            }
        };
        let spare = |node: u64| {
            let (first, last) = (self.cluster.size + 1, size);
            if (first..=last).contains(&node) {
                Ok(())
            } else {
                Err(format!("node {node} is not a spare host (spares are {first} to {last})"))
            }
        };
        match action {
            FaultAction::IsolateNode { node }
            | FaultAction::Crash { node }
            | FaultAction::Restart { node }
            | FaultAction::ClockJump { node, .. } => member(*node),
            FaultAction::ClockSkew { node, rate } => {
                member(*node)?;
                check_rate(*rate)
            }
            FaultAction::ClockSkewLeader { rate } => check_rate(*rate),
            FaultAction::OneWay { from, to } => {
                member(*from)?;
                member(*to)
            }
            FaultAction::Partition { groups } => {
                groups.iter().flatten().try_for_each(|n| member(*n))
            }
            FaultAction::TransferLeader { to } if *to != 0 => member(*to),
            FaultAction::AddLearner { node } | FaultAction::AddVoter { node } => spare(*node),
            FaultAction::AddVoters { nodes } => nodes.iter().try_for_each(|n| spare(*n)),
            FaultAction::Promote { node } | FaultAction::RemoveMember { node } => member(*node),
            FaultAction::ReplaceMember { remove, add } => {
                if *remove != 0 {
                    member(*remove)?;
                }
                spare(*add)
            }
            FaultAction::Network { drop, duplicate, reorder } => {
                for p in [drop, duplicate, reorder] {
                    if !(0.0..=1.0).contains(p) {
                        return Err(format!("network probability {p} is not within 0 to 1"));
                    }
                }
                Ok(())
            }
            FaultAction::PauseClient { client, .. } => {
                let clients = match (&self.lock, &self.auth) {
                    (Some(l), _) => l.clients,
                    (None, Some(a)) => a.clients() + 1,
                    (None, None) => self.workload.clients,
                };
                if (1..=u64::from(clients)).contains(client) {
                    Ok(())
                } else {
                    Err(format!("client {client} does not exist (clients are 1 to {clients})"))
                }
            }
            _ => Ok(()),
        }
    }
}

fn check_rate(rate: f64) -> Result<(), String> {
    if rate > 0.0 && rate <= 10.0 {
        Ok(())
    } else {
        Err(format!("clock rate {rate} must be above 0 and at most 10"))
    }
}

fn check_range(
    invalid: &dyn Fn(String) -> ScenarioError,
    field: &str,
    range: [u64; 2],
) -> Result<(), ScenarioError> {
    if range[0] > range[1] {
        return Err(invalid(format!(
            "{field} = [{}, {}] has its bounds reversed",
            range[0], range[1]
        )));
    }
    Ok(())
}

fn check_probability(
    invalid: &dyn Fn(String) -> ScenarioError,
    field: &str,
    p: f64,
) -> Result<(), ScenarioError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(invalid(format!("{field} = {p} is not a probability between 0 and 1")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_scenario_takes_defaults() {
        let s = Scenario::from_toml("name = \"x\"\ndescription = \"d\"\n", "x.toml").unwrap();
        assert_eq!(s.cluster.size, 3);
        assert_eq!(s.expect, Expect::Pass);
    }

    #[test]
    fn unknown_field_is_refused_with_its_name() {
        let err = Scenario::from_toml(
            "name = \"x\"\ndescription = \"d\"\n[cluster]\nsise = 3\n",
            "x.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("sise"), "{err}");
    }

    #[test]
    fn out_of_range_member_is_invalid() {
        let text = "name = \"x\"\ndescription = \"d\"\n[[faults.schedule]]\nat_ms = 10\naction = \"crash\"\nnode = 7\n";
        let err = Scenario::from_toml(text, "x.toml").unwrap_err();
        assert!(err.to_string().contains("node 7 is not a member"), "{err}");
    }

    #[test]
    fn expect_round_trips() {
        let text = "name = \"x\"\ndescription = \"d\"\nexpect = \"fail:linearizability\"\n";
        let s = Scenario::from_toml(text, "x.toml").unwrap();
        assert_eq!(s.expect, Expect::Fail("linearizability".into()));
        let again = Scenario::from_toml(&s.to_toml(), "again").unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn bad_expect_is_refused() {
        let err =
            Scenario::from_toml("name = \"x\"\ndescription = \"d\"\nexpect = \"maybe\"\n", "x")
                .unwrap_err();
        assert!(err.to_string().contains("fail:<check>"), "{err}");
    }

    #[test]
    fn expect_of_an_unknown_check_is_refused_with_the_known_ones() {
        let text = "name = \"x\"\ndescription = \"d\"\nexpect = \"fail:linearisability\"\n";
        let err = Scenario::from_toml(text, "x").unwrap_err().to_string();
        assert!(err.contains("\"linearisability\"") && err.contains("raft-safety"), "{err}");
        let text = "name = \"x\"\ndescription = \"d\"\nexpect = \"fail:raft-safety|watch\"\n";
        assert!(Scenario::from_toml(text, "x").is_ok());
    }
}
