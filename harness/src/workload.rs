//! Simulated etcd clients. Each client issues one operation at a time to a member of
//! its choice (any member, as real clients do), waits for the answer or its timeout,
//! thinks, and goes on; some also keep a watch stream open. Every operation is
//! recorded with its invoke and completion times and its outcome for the checks.
//!
//! Learners: while the cluster has one, one request in `LEARNER_SHARE` goes to a
//! learner, as from a client given a learner among its endpoints. A learner serves
//! serializable reads (as stale as a follower's) and refuses the rest as not supported
//! for a learner, a refusal the client retries elsewhere.
//!
//! Leases: a client grants a lease, puts one key with it, half the time puts the key
//! again with `ignore_lease` (a new value on the lease it has, as a Kubernetes
//! endpoint update does), then revokes it, lets it expire, or keeps it alive for two
//! to three TTLs (a keep-alive every third of the TTL) before revoking it or letting
//! it expire. A lease left to expire at once is asked its TimeToLive with its keys
//! late in its life, when its remaining TTL is well under the granted one.
//! Keep-alives and TimeToLive probes are paced by the clock, so only a caller that
//! passes the time (`next_op_at`) gets them.
//!
//! Retries: a request refused before it was proposed (`no leader`, a follower that
//! could not reach a leader, a learner) is definitely not applied, so the client retries it once
//! on another member as a new operation. A request that timed out or failed with
//! `leader changed` / `request timed out` has an unknown outcome and is never retried
//! (a retried write could apply twice).

use crate::keys::KeyChooser;
use crate::range_filter::RevisionFilter;
use crate::txn::{to_api, TxnDraw};
use crate::workload_validation::{granted_lease_id, missing_lease_id, Case, Validation};
use bytes::Bytes;
use detcd_checker::models::etcd::Request as ModelRequest;
use detcd_core::api::{
    CompactionRequest, Compare, CompareResult, CompareTarget, DeleteRangeRequest, EtcdError,
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest,
    PutRequest, RangeRequest, RequestOp, ResponseOp, TargetUnion, TxnRequest, WatchCreateRequest,
};
use detcd_core::server::{Request, Response};
use detcd_scenarios::{KeyDistribution, MixKind, OpMix, WorkloadSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The prefix of the keys the workload reads and writes; `KEYS_END` ends its range.
pub const KEY_PREFIX: &str = "k/";
pub const KEYS_END: &str = "k0";
/// Keys attached to leases live apart, one key per lease, written once.
pub const LEASE_KEY_PREFIX: &str = "l/";
pub const LEASE_KEYS_END: &str = "l0";
/// The keys of the `bulk` mix: under the workload's prefix (ranges, counts and watches
/// see them), apart from the keys single-key operations pick.
pub const BULK_PREFIX: &str = "k/b";
/// While the cluster has a learner, one request in this many goes to one.
const LEARNER_SHARE: u32 = 8;
/// How many keys one bulk fill puts, at least and at most (a txn holds at most 128
/// operations).
const BULK_FILL_KEYS: [usize; 2] = [24, 120];

/// What a client meant by a request, for the checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    Put {
        key: String,
        value: String,
    },
    Get {
        key: String,
    },
    SerializableGet {
        key: String,
    },
    Range,
    Delete {
        key: String,
    },
    /// Put `value` if the key's mod revision is still `expected_mod` (0: absent).
    Cas {
        key: String,
        expected_mod: i64,
        value: String,
    },
    LeaseGrant,
    /// A put of `key` with `lease`; with `ignore_lease`, a put of the key that keeps
    /// the lease it has (the request carries lease 0, as etcd demands).
    LeasePut {
        lease: i64,
        key: String,
        value: String,
        ignore_lease: bool,
    },
    LeaseRevoke {
        lease: i64,
        key: String,
    },
    Compact {
        revision: i64,
    },
    WatchCreate {
        stream: u64,
    },
    /// A txn drawn by `txn::TxnDraw`, in the checker model's form.
    Txn {
        request: ModelRequest,
    },
    /// Linearizable read of every key at `revision`, keeping those `filter` passes.
    RangeAt {
        revision: i64,
        filter: RevisionFilter,
    },
    /// One page of a paged list of every key from `start` on: the first page at the
    /// current revision (`revision` 0), the later ones at the first page's revision.
    ListPage {
        revision: i64,
        start: String,
        limit: i64,
    },
    /// Count-only linearizable range of every key.
    Count,
    /// One keep-alive of `lease`, whose key `key` the client put.
    LeaseKeepAlive {
        lease: i64,
        key: String,
    },
    /// TimeToLive of `lease`, with its keys (`key`, the one the client put).
    LeaseTimeToLive {
        lease: i64,
        key: String,
    },
    /// A request at or past one of etcd's limits (`workload_validation`).
    Validate(Validation),
    /// DeleteRange of every key under `prefix`.
    DeletePrefix {
        prefix: String,
    },
    /// Maintenance Status of the member it is sent to.
    Status,
    /// A progress request on watch stream `stream`, sent to the member carrying it.
    WatchProgress {
        stream: u64,
    },
}

impl OpKind {
    /// A short description for reports and time lines.
    pub fn describe(&self) -> String {
        match self {
            OpKind::Put { key, value } => format!("put {key}={value}"),
            OpKind::Get { key } => format!("get {key}"),
            OpKind::SerializableGet { key } => format!("get {key} (serializable)"),
            OpKind::Range => format!("range {KEY_PREFIX}*"),
            OpKind::Delete { key } => format!("delete {key}"),
            OpKind::Cas { key, expected_mod, value } => {
                format!("txn if mod({key})=={expected_mod} then put {key}={value} else get {key}")
            }
            OpKind::LeaseGrant => "lease grant".to_string(),
            OpKind::LeasePut { lease, key, value, ignore_lease: false } => {
                format!("put {key}={value} lease {lease:x}")
            }
            OpKind::LeasePut { lease, key, value, ignore_lease: true } => {
                format!("put {key}={value} ignore_lease (keeps lease {lease:x})")
            }
            OpKind::LeaseRevoke { lease, .. } => format!("lease revoke {lease:x}"),
            OpKind::Compact { revision } => format!("compact {revision}"),
            OpKind::WatchCreate { stream } => format!("watch {KEY_PREFIX}* (stream {stream})"),
            OpKind::Txn { request } => detcd_checker::models::etcd::describe_request(request),
            OpKind::RangeAt { revision, filter } => {
                format!("range {KEY_PREFIX}* at revision {revision}{}", filter.describe())
            }
            OpKind::ListPage { revision, start, limit } => {
                format!("list from {start} limit {limit} at revision {revision}")
            }
            OpKind::Count => format!("count {KEY_PREFIX}*"),
            OpKind::LeaseKeepAlive { lease, .. } => format!("lease keep-alive {lease:x}"),
            OpKind::LeaseTimeToLive { lease, .. } => format!("lease timetolive {lease:x} --keys"),
            OpKind::Validate(v) => v.describe(),
            OpKind::DeletePrefix { prefix } => format!("delete {prefix}*"),
            OpKind::Status => "status".to_string(),
            OpKind::WatchProgress { stream } => format!("progress of watch stream {stream}"),
        }
    }

    /// Whether the operation could change the store.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            OpKind::Get { .. }
                | OpKind::SerializableGet { .. }
                | OpKind::Range
                | OpKind::WatchCreate { .. }
                | OpKind::RangeAt { .. }
                | OpKind::ListPage { .. }
                | OpKind::Count
                | OpKind::LeaseKeepAlive { .. }
                | OpKind::LeaseTimeToLive { .. }
                | OpKind::Status
                | OpKind::WatchProgress { .. }
        )
    }
}

/// How an operation ended.
#[derive(Clone, Debug)]
pub enum OpOutcome {
    Ok(Response),
    /// A definite failure: the operation did not take effect.
    Failed(EtcdError),
    /// The member was down (connection refused): the request never reached it.
    Refused,
    /// No answer, or an answer that leaves the effect open.
    Unknown(Option<EtcdError>),
}

impl OpOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            OpOutcome::Ok(_) => "ok",
            OpOutcome::Failed(_) | OpOutcome::Refused => "fail",
            OpOutcome::Unknown(_) => "unknown",
        }
    }
}

/// One finished operation.
#[derive(Clone, Debug)]
pub struct OpRecord {
    pub client: u64,
    pub node: u64,
    /// How many times `node` had restarted when it answered (an operation never
    /// answered: when it was sent).
    pub incarnation: u64,
    pub kind: OpKind,
    pub invoke_us: u64,
    pub complete_us: u64,
    pub outcome: OpOutcome,
}

/// Errors that mean "never proposed": safe to retry elsewhere.
pub fn is_definite_refusal(e: &EtcdError) -> bool {
    matches!(
        e,
        EtcdError::NoLeader
            | EtcdError::NotLeader
            | EtcdError::TooManyRequests
            | EtcdError::NotSupportedForLearner
    )
}

/// Errors that leave the outcome open.
pub fn is_unknown_outcome(e: &EtcdError) -> bool {
    matches!(e, EtcdError::LeaderChanged | EtcdError::Timeout)
}

/// Classifies an answer to a request.
pub fn classify(kind: &OpKind, response: Option<Response>) -> OpOutcome {
    match response {
        None => OpOutcome::Unknown(None),
        Some(Response::Err(e)) if is_unknown_outcome(&e) && kind.is_write() => {
            OpOutcome::Unknown(Some(e))
        }
        Some(Response::Err(e)) => OpOutcome::Failed(e),
        Some(other) => OpOutcome::Ok(other),
    }
}

/// A lease flow in progress: grant, put a key with it, then revoke it or let it expire.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LeaseStep {
    None,
    Granted {
        lease: i64,
    },
    /// The key is on the lease; `reput` once it was put again with `ignore_lease`.
    Attached {
        lease: i64,
        key: String,
        reput: bool,
    },
}

/// A TimeToLive to ask of a lease left to expire, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Probe {
    lease: i64,
    key: String,
    at_us: u64,
}

/// A lease the client keeps alive, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KeptLease {
    lease: i64,
    key: String,
    next_us: u64,
    until_us: u64,
    /// Revoke it when done keeping it alive (otherwise let it expire).
    then_revoke: bool,
}

/// A paged list in progress: its revision and where the next page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ListInProgress {
    revision: i64,
    start: String,
}

/// Whether the watches of stream `stream` ask for periodic progress notices: those
/// of odd-numbered clients do, so every watch workload has streams of both kinds.
pub fn asks_progress_notify(stream: u64) -> bool {
    stream % 2 == 1
}

/// One client's memory between operations.
#[derive(Clone, Debug)]
pub struct ClientState {
    pub id: u64,
    seq: u64,
    /// The mod revision this client last saw for each key (0: absent).
    last_mod: BTreeMap<String, i64>,
    /// Highest revision this client has seen in any header.
    pub last_revision: i64,
    lease: LeaseStep,
    kept: Option<KeptLease>,
    probe: Option<Probe>,
    list: Option<ListInProgress>,
    /// The lease of the maximum TTL this client granted itself (validation), once
    /// granted, and whether its TimeToLive was asked since.
    max_lease: Option<(i64, bool)>,
    /// A request refused before proposal, to try once more on another member.
    retry: Option<OpKind>,
    pub has_watch: bool,
}

/// Draws operations for every client of a workload.
pub struct Workload {
    spec: WorkloadSpec,
    keys: KeyChooser,
    rng: ChaCha8Rng,
    pub clients: Vec<ClientState>,
    /// Operations issued so far (counting retries).
    pub issued: u32,
    lease_ttl_secs: i64,
    /// The highest revision any client compacted to (0: none yet).
    compacted: i64,
}

/// Keys per page of a paged list.
const LIST_PAGE_KEYS: i64 = 2;

impl Workload {
    pub fn new(spec: &WorkloadSpec, rng: ChaCha8Rng, lease_ttl_secs: i64) -> Self {
        let keys = match spec.key_distribution {
            KeyDistribution::Uniform => KeyChooser::uniform(spec.keys),
            KeyDistribution::Zipf => KeyChooser::zipf(spec.keys, spec.zipf_s),
        };
        let clients = (1..=u64::from(spec.clients))
            .map(|id| ClientState {
                id,
                seq: 0,
                last_mod: BTreeMap::new(),
                last_revision: 1,
                lease: LeaseStep::None,
                kept: None,
                probe: None,
                list: None,
                max_lease: None,
                retry: None,
                has_watch: false,
            })
            .collect();
        Workload { spec: spec.clone(), keys, rng, clients, issued: 0, lease_ttl_secs, compacted: 0 }
    }

    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }

    /// Whether the workload still has operations to issue.
    pub fn wants_more(&self) -> bool {
        self.issued < self.spec.operations
    }

    /// A think time, microseconds.
    pub fn think_us(&mut self) -> u64 {
        let [lo, hi] = self.spec.think_ms;
        self.rng.gen_range(lo * 1_000..=hi * 1_000)
    }

    /// A member to talk to, other than `avoid` when there is a choice: now and then
    /// one of `learners` (the members that are learners now), otherwise one of the
    /// `nodes` initial members. With no learner it draws just as `pick_node` does.
    pub fn pick_target(&mut self, nodes: u64, learners: &[u64], avoid: Option<u64>) -> u64 {
        let open: Vec<u64> = learners.iter().copied().filter(|&l| Some(l) != avoid).collect();
        if !open.is_empty() && self.rng.gen_ratio(1, LEARNER_SHARE) {
            return open[self.rng.gen_range(0..open.len())];
        }
        self.pick_node(nodes, avoid)
    }

    /// A member to talk to, other than `avoid` when there is a choice.
    pub fn pick_node(&mut self, nodes: u64, avoid: Option<u64>) -> u64 {
        let node = self.rng.gen_range(1..=nodes);
        match avoid {
            Some(a) if a == node && nodes > 1 => node % nodes + 1,
            _ => node,
        }
    }

    fn key(&mut self) -> String {
        format!("{KEY_PREFIX}{}", self.keys.pick(&mut self.rng))
    }

    fn value(client: &mut ClientState) -> String {
        client.seq += 1;
        format!("c{}-{}", client.id, client.seq)
    }

    fn pick_kind(&mut self, mix: &OpMix) -> MixKind {
        let mut x = self.rng.gen_range(0..mix.total().max(1));
        for kind in MixKind::ALL {
            let w = mix.weight(kind);
            if x < w {
                return kind;
            }
            x -= w;
        }
        MixKind::Put
    }

    /// The next operation of client `c` (index into `clients`), with no clock: leases
    /// are never kept alive.
    pub fn next_op(&mut self, c: usize) -> OpKind {
        self.next_op_at(c, None)
    }

    /// The next operation of client `c` at `now_us` (when known: keep-alives are paced
    /// by it).
    pub fn next_op_at(&mut self, c: usize, now_us: Option<u64>) -> OpKind {
        const KIND_DRAWS_MAX: usize = 1024;
        self.issued += 1;
        if let Some(retry) = self.clients[c].retry.take() {
            return retry;
        }
        if let (Some(now), Some(kept)) = (now_us, self.clients[c].kept.clone()) {
            if now >= kept.until_us {
                self.clients[c].kept = None;
                if kept.then_revoke {
                    return OpKind::LeaseRevoke { lease: kept.lease, key: kept.key };
                }
            } else if now >= kept.next_us {
                let interval = self.keep_alive_interval_us();
                if let Some(k) = &mut self.clients[c].kept {
                    k.next_us = now + interval;
                }
                return OpKind::LeaseKeepAlive { lease: kept.lease, key: kept.key };
            }
        }
        if let (Some(now), Some(probe)) = (now_us, self.clients[c].probe.clone()) {
            if now >= probe.at_us {
                self.clients[c].probe = None;
                return OpKind::LeaseTimeToLive { lease: probe.lease, key: probe.key };
            }
        }
        if let Some(list) = self.clients[c].list.clone() {
            return OpKind::ListPage {
                revision: list.revision,
                start: list.start,
                limit: LIST_PAGE_KEYS,
            };
        }
        match self.clients[c].lease.clone() {
            LeaseStep::Granted { lease } => {
                let value = Self::value(&mut self.clients[c]);
                let key = format!("{LEASE_KEY_PREFIX}{lease:x}");
                return OpKind::LeasePut { lease, key, value, ignore_lease: false };
            }
            LeaseStep::Attached { lease, key, reput } => {
                self.clients[c].lease = LeaseStep::None;
                if !reput && self.rng.gen_bool(0.5) {
                    let value = Self::value(&mut self.clients[c]);
                    return OpKind::LeasePut { lease, key, value, ignore_lease: true };
                }
                match (self.rng.gen_range(0..3), now_us) {
                    (0, _) => return OpKind::LeaseRevoke { lease, key },
                    (1, Some(now)) if self.clients[c].kept.is_none() => {
                        let ttl_us = self.lease_ttl_us();
                        let then_revoke = self.rng.gen_bool(0.5);
                        let until_us = now + self.rng.gen_range(2 * ttl_us..=3 * ttl_us);
                        let next_us = now + self.keep_alive_interval_us();
                        let kept = KeptLease { lease, key, next_us, until_us, then_revoke };
                        self.clients[c].kept = Some(kept);
                    }
                    // Left to expire, asked its TimeToLive between 0.6 and 0.95 of its
                    // TTL from now: past the grant by more than half its TTL, so a
                    // member that counts from the granted TTL instead of what is left
                    // answers too much.
                    (_, Some(now)) if self.clients[c].probe.is_none() => {
                        let ttl_us = self.lease_ttl_us();
                        let at_us = now + self.rng.gen_range(ttl_us * 6 / 10..=ttl_us * 95 / 100);
                        self.clients[c].probe = Some(Probe { lease, key, at_us });
                    }
                    _ => {}
                }
            }
            LeaseStep::None => {}
        }
        let mix = self.spec.mix.clone();
        // A mix can hold only kinds that cannot be issued now (only `watch` once the
        // client watches, only `compact` before revision 2): after this many draws the
        // client reads instead, so a valid scenario never spins.
        for _ in 0..KIND_DRAWS_MAX {
            let kind = match self.pick_kind(&mix) {
                MixKind::Put => {
                    let key = self.key();
                    OpKind::Put { key, value: Self::value(&mut self.clients[c]) }
                }
                MixKind::Get => OpKind::Get { key: self.key() },
                MixKind::SerializableGet => OpKind::SerializableGet { key: self.key() },
                MixKind::Range => OpKind::Range,
                MixKind::Delete => OpKind::Delete { key: self.key() },
                MixKind::Cas => {
                    let key = self.key();
                    let expected_mod = self.clients[c].last_mod.get(&key).copied().unwrap_or(0);
                    OpKind::Cas { key, expected_mod, value: Self::value(&mut self.clients[c]) }
                }
                MixKind::Lease => OpKind::LeaseGrant,
                MixKind::Watch if !self.clients[c].has_watch => {
                    OpKind::WatchCreate { stream: self.clients[c].id }
                }
                MixKind::Watch => continue,
                MixKind::Compact => {
                    let revision = self.clients[c].last_revision - self.rng.gen_range(0..8);
                    if revision < 2 {
                        continue;
                    }
                    OpKind::Compact { revision }
                }
                MixKind::Txn => self.txn(c),
                MixKind::RangeAt => {
                    // Reads right at the compaction boundary: one below it must fail as
                    // compacted, at and above it must show the store as it was.
                    let revision = if self.compacted > 1 && self.rng.gen_bool(0.75) {
                        self.compacted + self.rng.gen_range(-1..=1)
                    } else {
                        self.clients[c].last_revision - self.rng.gen_range(0..4)
                    };
                    let revision = revision.max(1);
                    // Half of them filtered, as etcdctl get's --min-mod-rev and the like:
                    // each bound set with even odds, anywhere up to the read's revision.
                    let mut filter = RevisionFilter::default();
                    if self.rng.gen_bool(0.5) {
                        for bound in [
                            &mut filter.min_mod,
                            &mut filter.max_mod,
                            &mut filter.min_create,
                            &mut filter.max_create,
                        ] {
                            if self.rng.gen_bool(0.5) {
                                *bound = self.rng.gen_range(1..=revision);
                            }
                        }
                    }
                    OpKind::RangeAt { revision, filter }
                }
                MixKind::List => OpKind::ListPage {
                    revision: 0,
                    start: KEY_PREFIX.to_string(),
                    limit: LIST_PAGE_KEYS,
                },
                MixKind::Count => OpKind::Count,
                MixKind::Validate => self.validation(c),
                MixKind::Bulk => self.bulk(c),
                MixKind::Status => OpKind::Status,
                MixKind::Progress if self.clients[c].has_watch => {
                    OpKind::WatchProgress { stream: self.clients[c].id }
                }
                MixKind::Progress => continue,
            };
            return kind;
        }
        OpKind::Get { key: self.key() }
    }

    fn keep_alive_interval_us(&self) -> u64 {
        self.lease_ttl_us() / 3
    }

    /// The TTL the workload's leases are granted, in microseconds (at least a second).
    fn lease_ttl_us(&self) -> u64 {
        self.lease_ttl_secs.max(1) as u64 * 1_000_000
    }

    fn txn(&mut self, c: usize) -> OpKind {
        let keys: Vec<String> =
            (0..self.spec.keys.max(1)).map(|i| format!("{KEY_PREFIX}{i}")).collect();
        let client = &mut self.clients[c];
        let last_mod = client.last_mod.clone();
        let lookup = move |k: &str| last_mod.get(k).copied().unwrap_or(0);
        let last_revision = client.last_revision;
        let mut fresh = || Self::value(client);
        let request = TxnDraw {
            rng: &mut self.rng,
            keys: &keys,
            last_mod: &lookup,
            last_revision,
            fresh_value: &mut fresh,
        }
        .txn();
        OpKind::Txn { request }
    }

    /// A bulk write: a txn that puts a run of keys under `BULK_PREFIX`, or a
    /// DeleteRange of all of them.
    fn bulk(&mut self, c: usize) -> OpKind {
        if self.rng.gen_bool(0.5) {
            return OpKind::DeletePrefix { prefix: BULK_PREFIX.to_string() };
        }
        let [lo, hi] = BULK_FILL_KEYS;
        let n = self.rng.gen_range(lo..=hi);
        let client = &mut self.clients[c];
        let success = (0..n)
            .map(|i| ModelRequest::Put {
                key: format!("{BULK_PREFIX}{i:03}"),
                value: Self::value(client),
                prev_kv: false,
            })
            .collect();
        OpKind::Txn {
            request: ModelRequest::Txn { compare: Vec::new(), success, failure: Vec::new() },
        }
    }

    /// A validation request: the TimeToLive of this client's maximum-TTL lease once it
    /// was granted, else a case drawn from all the others.
    fn validation(&mut self, c: usize) -> OpKind {
        let client = &mut self.clients[c];
        client.seq += 1;
        let tag = format!("c{}-{}", client.id, client.seq);
        if let Some((lease, false)) = client.max_lease {
            client.max_lease = Some((lease, true));
            return OpKind::Validate(Validation { case: Case::LeaseTimeToLiveGranted, lease, tag });
        }
        let (id, seq) = (client.id, client.seq);
        let case = Case::DRAWN[self.rng.gen_range(0..Case::DRAWN.len())];
        let lease = match case {
            Case::LeaseGrantTtlMax | Case::LeaseGrantTtlOverMax => granted_lease_id(id, seq),
            _ => missing_lease_id(id, seq),
        };
        OpKind::Validate(Validation { case, lease, tag })
    }

    /// The etcd request for an operation.
    pub fn request(&self, kind: &OpKind) -> Request {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let get = |key: &str, serializable| RangeRequest {
            key: b(key),
            serializable,
            ..RangeRequest::default()
        };
        match kind {
            OpKind::Put { key, value } => {
                Request::Put(PutRequest { key: b(key), value: b(value), ..PutRequest::default() })
            }
            OpKind::Get { key } => Request::Range(get(key, false)),
            OpKind::SerializableGet { key } => Request::Range(get(key, true)),
            OpKind::Range => Request::Range(RangeRequest {
                key: b(KEY_PREFIX),
                range_end: b(KEYS_END),
                ..RangeRequest::default()
            }),
            OpKind::Delete { key } => Request::DeleteRange(DeleteRangeRequest {
                key: b(key),
                ..DeleteRangeRequest::default()
            }),
            OpKind::Cas { key, expected_mod, value } => Request::Txn(TxnRequest {
                compare: vec![Compare {
                    result: CompareResult::Equal,
                    target: CompareTarget::Mod,
                    key: b(key),
                    range_end: Bytes::new(),
                    target_union: TargetUnion::ModRevision(*expected_mod),
                }],
                success: vec![RequestOp::Put(PutRequest {
                    key: b(key),
                    value: b(value),
                    ..PutRequest::default()
                })],
                failure: vec![RequestOp::Range(get(key, false))],
            }),
            OpKind::LeaseGrant => {
                Request::LeaseGrant(LeaseGrantRequest { ttl: self.lease_ttl_secs, id: 0 })
            }
            OpKind::LeasePut { lease, key, value, ignore_lease } => Request::Put(PutRequest {
                key: b(key),
                value: b(value),
                lease: if *ignore_lease { 0 } else { *lease },
                ignore_lease: *ignore_lease,
                ..PutRequest::default()
            }),
            OpKind::LeaseRevoke { lease, .. } => {
                Request::LeaseRevoke(LeaseRevokeRequest { id: *lease })
            }
            OpKind::Compact { revision } => {
                Request::Compact(CompactionRequest { revision: *revision, physical: false })
            }
            OpKind::WatchCreate { stream } => Request::WatchCreate {
                stream: *stream,
                create: WatchCreateRequest {
                    key: b(KEY_PREFIX),
                    range_end: b(KEYS_END),
                    progress_notify: asks_progress_notify(*stream),
                    // Each event with the key's version before it, as Kubernetes asks.
                    prev_kv: true,
                    ..WatchCreateRequest::default()
                },
            },
            OpKind::Txn { request } => match to_api(request) {
                RequestOp::Txn(t) => Request::Txn(t),
                _ => unreachable!("the txn draw makes txns"),
            },
            OpKind::RangeAt { revision, filter } => {
                let mut req = RangeRequest {
                    key: b(KEY_PREFIX),
                    range_end: b(KEYS_END),
                    revision: *revision,
                    ..RangeRequest::default()
                };
                filter.apply(&mut req);
                Request::Range(req)
            }
            OpKind::ListPage { revision, start, limit } => Request::Range(RangeRequest {
                key: b(start),
                range_end: b(KEYS_END),
                revision: *revision,
                limit: *limit,
                ..RangeRequest::default()
            }),
            OpKind::Count => Request::Range(RangeRequest {
                key: b(KEY_PREFIX),
                range_end: b(KEYS_END),
                count_only: true,
                ..RangeRequest::default()
            }),
            OpKind::LeaseKeepAlive { lease, .. } => {
                Request::LeaseKeepAlive(LeaseKeepAliveRequest { id: *lease })
            }
            OpKind::LeaseTimeToLive { lease, .. } => {
                Request::LeaseTimeToLive(LeaseTimeToLiveRequest { id: *lease, keys: true })
            }
            OpKind::Validate(v) => v.request(),
            OpKind::DeletePrefix { prefix } => {
                let range = detcd_checker::models::etcd::KeyRange::Prefix(prefix.clone());
                match to_api(&ModelRequest::DeleteRange { range, prev_kv: false }) {
                    RequestOp::DeleteRange(d) => Request::DeleteRange(d),
                    _ => unreachable!("a model delete is an API delete"),
                }
            }
            OpKind::Status => Request::Status,
            OpKind::WatchProgress { stream } => Request::WatchProgress { stream: *stream },
        }
    }

    /// A linearizable read of one key: what a client sends when its draws yield only
    /// requests that do not occupy it.
    pub fn read(&mut self) -> OpKind {
        OpKind::Get { key: self.key() }
    }

    /// Learns from a finished operation of client `c`: revisions seen, lease flow, and
    /// whether to retry it.
    pub fn complete(&mut self, c: usize, kind: &OpKind, outcome: &OpOutcome) {
        let client = &mut self.clients[c];
        match outcome {
            OpOutcome::Ok(response) => {
                if let Some(rev) = header_revision(response) {
                    client.last_revision = client.last_revision.max(rev);
                }
                match (kind, response) {
                    (OpKind::Get { key } | OpKind::SerializableGet { key }, Response::Range(r)) => {
                        let m = r.kvs.first().map_or(0, |kv| kv.mod_revision);
                        client.last_mod.insert(key.clone(), m);
                    }
                    (OpKind::Cas { key, .. }, Response::Txn(t)) => {
                        // Success wrote the key at the header's revision; failure read
                        // it, so the next compare can use what is there now.
                        let m = match t.responses.first() {
                            _ if t.succeeded => t.header.revision,
                            Some(ResponseOp::Range(r)) => {
                                r.kvs.first().map_or(0, |kv| kv.mod_revision)
                            }
                            _ => return,
                        };
                        client.last_mod.insert(key.clone(), m);
                    }
                    (OpKind::Put { key, .. }, Response::Put(p)) => {
                        client.last_mod.insert(key.clone(), p.header.revision);
                    }
                    (OpKind::LeaseGrant, Response::LeaseGrant(g)) => {
                        client.lease = LeaseStep::Granted { lease: g.id };
                    }
                    (OpKind::LeasePut { lease, key, ignore_lease, .. }, Response::Put(_)) => {
                        client.lease = LeaseStep::Attached {
                            lease: *lease,
                            key: key.clone(),
                            reput: *ignore_lease,
                        };
                    }
                    (OpKind::Compact { revision }, Response::Compact(_)) => {
                        self.compacted = self.compacted.max(*revision);
                    }
                    (OpKind::ListPage { revision, .. }, Response::Range(r)) => {
                        // Later pages read at the first page's revision, from just past
                        // its last key.
                        let at = if *revision > 0 { *revision } else { r.header.revision };
                        client.list = match r.kvs.last() {
                            Some(kv) if r.more => {
                                let mut start = kv.key.to_vec();
                                start.push(0);
                                let start = String::from_utf8_lossy(&start).into_owned();
                                Some(ListInProgress { revision: at, start })
                            }
                            _ => None,
                        };
                    }
                    (OpKind::LeaseKeepAlive { .. }, Response::LeaseKeepAlive(k)) if k.ttl <= 0 => {
                        client.kept = None;
                    }
                    (OpKind::Validate(v), Response::LeaseGrant(g))
                        if v.case == Case::LeaseGrantTtlMax && client.max_lease.is_none() =>
                    {
                        client.max_lease = Some((g.id, false));
                    }
                    _ => {}
                }
            }
            OpOutcome::Refused => {
                if !matches!(kind, OpKind::WatchCreate { .. }) {
                    client.retry = Some(kind.clone());
                }
            }
            OpOutcome::Failed(e) if is_definite_refusal(e) => {
                if !matches!(kind, OpKind::WatchCreate { .. }) {
                    client.retry = Some(kind.clone());
                }
            }
            _ => {
                match kind {
                    OpKind::LeasePut { .. } => client.lease = LeaseStep::None,
                    // A list that failed (its revision compacted, say) is given up.
                    OpKind::ListPage { .. } => client.list = None,
                    _ => {}
                }
            }
        }
    }
}

/// The header revision of a response, if it has one.
pub fn header_revision(response: &Response) -> Option<i64> {
    Some(match response {
        Response::Range(r) => r.header.revision,
        Response::Put(r) => r.header.revision,
        Response::DeleteRange(r) => r.header.revision,
        Response::Txn(r) => r.header.revision,
        Response::Compact(r) => r.header.revision,
        Response::Watch(r) => r.header.revision,
        _ => return None,
    })
}

#[cfg(test)]
mod single_kind_tests {
    use super::*;
    use rand::SeedableRng;

    /// Every mix of a single kind, including those that can rarely or never be issued
    /// (`watch` after the first, `compact` on a new store), yields operations.
    #[test]
    fn every_single_kind_mix_yields_operations() {
        for (i, kind) in MixKind::ALL.into_iter().enumerate() {
            let spec = WorkloadSpec { mix: OpMix::only(kind), ..WorkloadSpec::default() };
            let mut w = Workload::new(&spec, ChaCha8Rng::seed_from_u64(i as u64), 10);
            for _ in 0..100 {
                let op = w.next_op(0);
                if let OpKind::WatchCreate { .. } = op {
                    w.clients[0].has_watch = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod bulk_tests {
    use super::*;
    use rand::SeedableRng;

    /// The bulk mix fills runs of keys under `BULK_PREFIX` with one txn and deletes all
    /// of them with one DeleteRange over the prefix.
    #[test]
    fn bulk_fills_and_deletes_the_bulk_prefix() {
        let spec = WorkloadSpec { mix: OpMix::only(MixKind::Bulk), ..WorkloadSpec::default() };
        let mut w = Workload::new(&spec, ChaCha8Rng::seed_from_u64(3), 10);
        let (mut fills, mut deletes) = (0, 0);
        for _ in 0..40 {
            match w.next_op(0) {
                OpKind::Txn { request: ModelRequest::Txn { compare, success, failure } } => {
                    fills += 1;
                    assert!(compare.is_empty() && failure.is_empty());
                    let [lo, hi] = BULK_FILL_KEYS;
                    assert!((lo..=hi).contains(&success.len()), "{} puts", success.len());
                    for op in &success {
                        let ModelRequest::Put { key, .. } = op else { panic!("{op:?}") };
                        assert!(key.starts_with(BULK_PREFIX), "{key}");
                    }
                }
                OpKind::DeletePrefix { prefix } => {
                    deletes += 1;
                    let Request::DeleteRange(d) = w.request(&OpKind::DeletePrefix { prefix })
                    else {
                        panic!("not a delete");
                    };
                    assert_eq!((&d.key[..], &d.range_end[..]), (&b"k/b"[..], &b"k/c"[..]));
                }
                other => panic!("not a bulk operation: {other:?}"),
            }
        }
        assert!(fills > 5 && deletes > 5, "{fills} fills, {deletes} deletes");
    }
}
