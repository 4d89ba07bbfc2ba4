//! Leases: grant, revoke, keep-alive, time-to-live and expiry decided by the leader.
//!
//! Two kinds of state live here:
//! - the replicated lease table ([`LeaseTable`]: id, granted TTL, checkpointed remaining
//!   TTL, attached keys), changed only by applied Raft entries and therefore identical
//!   on every replica and part of snapshots;
//! - local timing: the tick at which this replica last learned a lease's remaining TTL
//!   (grant or checkpoint applied), and, on the leader only, each lease's expiry tick.
//!
//! Time is ticks handed in by the caller. Only the leader (the "primary") expires
//! leases: [`Lessor::expired`] names leases whose expiry passed and the leader proposes
//! their revocation through Raft. Followers never expire anything.
//!
//! What a new leader does with a lease's TTL ([`Lessor::promote`]): it sets the expiry
//! to `learned_at + remaining`, where `remaining` is the last checkpointed remaining TTL
//! (or the granted TTL if never checkpointed) and `learned_at` is the tick at which this
//! replica applied that checkpoint (or the grant). Checkpoints count ticks, not seconds,
//! so no rounding error accumulates across leaders. The leader proposes checkpoints of
//! every lease's remaining TTL every `checkpoint_interval_ticks`
//! ([`Lessor::checkpoints`]), so that figure is never older than one interval. Restarting
//! the full TTL on every leader change instead would let a lease whose owner is gone
//! live forever under repeated elections; counting from the checkpoint makes real
//! time elapse across leaders. The expiry is raised to at least `now +
//! promote_grace_ticks` so clients get time to find the new leader and renew (a renewal
//! newer than the last checkpoint is unknown to the new leader).
//!
//! Renewals and the leader's decisions race through the log. A keep-alive is a log
//! entry; applying it renews the lease on every member and answers its client with the
//! TTL. The leader decides an expiry or computes a checkpoint from what it has applied,
//! but its proposal lands behind entries already in flight, keep-alives among them. So
//! both proposals carry the leader's applied index at the decision, and each lease
//! records the index of its grant or last renewal (`Lease::refreshed_index`, replicated):
//! an expiry or checkpoint decided before that renewal is stale for the lease and is
//! skipped. Whether it applies depends on replicated state only, so every member, and
//! a member replaying its log after a restart, decides alike. A keep-alive applied after
//! the expiry removed the lease finds no lease and answers TTL 0, as etcd's lessor
//! answers a lease it has found expired.

mod table;

pub use table::{Lease, LeaseTable};

use crate::api::{
    EtcdError, Event, LeaseCheckpoint, LeaseCheckpointRequest, LeaseExpireRequest,
    LeaseGrantRequest, LeaseGrantResponse, LeaseId, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseStatus, LeaseTimeToLiveResponse, ResponseHeader,
};
use bytes::Bytes;
use std::collections::BTreeMap;

/// etcd's largest lease TTL, in seconds.
pub const MAX_LEASE_TTL_SECS: i64 = 9_000_000_000;

/// Tuning; all times in ticks except TTLs (seconds, as the API has them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LessorConfig {
    /// TTLs below this are raised to it (etcd: ceil(1.5 x election timeout) = 2 s).
    pub min_ttl_secs: i64,
    pub ticks_per_second: u64,
    /// How often the leader checkpoints remaining TTLs.
    pub checkpoint_interval_ticks: u64,
    /// Time a new leader leaves clients to renew before expiring anything.
    pub promote_grace_ticks: u64,
    /// After naming a lease as expired, wait this long before naming it again (its
    /// revocation may still be in flight through Raft).
    pub expired_retry_ticks: u64,
}

impl Default for LessorConfig {
    fn default() -> Self {
        LessorConfig {
            min_ttl_secs: 2,
            ticks_per_second: 10,
            checkpoint_interval_ticks: 10,
            promote_grace_ticks: 10,
            expired_retry_ticks: 30,
        }
    }
}

/// The lease manager of one replica. See the module docs.
#[derive(Clone, Debug)]
pub struct Lessor {
    config: LessorConfig,
    table: LeaseTable,
    /// Tick at which this replica last learned each lease's remaining TTL.
    learned_at: BTreeMap<LeaseId, u64>,
    /// Leader only: expiry tick of every lease. Empty when not primary.
    expiry: BTreeMap<LeaseId, u64>,
    primary: bool,
    next_checkpoint: u64,
}

impl PartialEq for Lessor {
    /// Replicas are equal when their replicated tables are.
    fn eq(&self, other: &Self) -> bool {
        self.table == other.table
    }
}

impl Lessor {
    pub fn new(config: LessorConfig) -> Lessor {
        Lessor::from_table(LeaseTable::default(), config, 0)
    }

    /// A lessor restored from a snapshot's table at tick `now`; as a follower.
    pub fn from_table(table: LeaseTable, config: LessorConfig, now: u64) -> Lessor {
        let learned_at = table.leases.keys().map(|id| (*id, now)).collect();
        Lessor {
            config,
            table,
            learned_at,
            expiry: BTreeMap::new(),
            primary: false,
            next_checkpoint: 0,
        }
    }

    /// The replicated state, for snapshots and comparisons.
    pub fn table(&self) -> &LeaseTable {
        &self.table
    }

    pub fn is_primary(&self) -> bool {
        self.primary
    }

    pub fn exists(&self, id: LeaseId) -> bool {
        self.table.leases.contains_key(&id)
    }

    pub fn get(&self, id: LeaseId) -> Option<&Lease> {
        self.table.leases.get(&id)
    }

    fn ttl_ticks(&self, secs: i64) -> u64 {
        (secs.max(0) as u64).saturating_mul(self.config.ticks_per_second)
    }

    /// The id a grant without one gets: derived from `seed` (the Raft index of the
    /// entry, identical on every replica), positive, and unused.
    fn pick_id(&self, seed: u64) -> LeaseId {
        // splitmix64, so ids look unrelated to each other like etcd's do.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let mut id = (z & (i64::MAX as u64)) as i64;
        // Among one more distinct ids than there are leases one is free, so the search
        // is bounded; past that bound the table contradicts its own size, a bug that
        // must stop this member rather than spin through 2^63 ids.
        let candidates = self.table.leases.len() + 2;
        for _ in 0..candidates {
            if id > 0 && !self.exists(id) {
                return id;
            }
            id = if id == i64::MAX { 1 } else { id + 1 };
        }
        panic!("no free lease id among {candidates} candidates from {seed}: the lease table says every one is taken");
    }

    /// Applies a grant. `index` is the entry's log index: it picks the id when the
    /// request has none, and is the lease's first refresh; `now` is this replica's tick.
    pub fn grant(
        &mut self,
        req: &LeaseGrantRequest,
        index: u64,
        now: u64,
    ) -> Result<LeaseGrantResponse, EtcdError> {
        if req.ttl > MAX_LEASE_TTL_SECS {
            return Err(EtcdError::LeaseTtlTooLarge);
        }
        if req.id != 0 && self.exists(req.id) {
            return Err(EtcdError::LeaseExists);
        }
        let id = if req.id == 0 { self.pick_id(index) } else { req.id };
        let ttl = req.ttl.max(self.config.min_ttl_secs);
        let lease =
            Lease { id, ttl, remaining_ticks: 0, keys: im::OrdSet::new(), refreshed_index: index };
        self.table.leases.insert(id, lease);
        self.learned_at.insert(id, now);
        if self.primary {
            self.expiry.insert(id, now + self.ttl_ticks(ttl));
        }
        Ok(LeaseGrantResponse { header: ResponseHeader::default(), id, ttl, error: String::new() })
    }

    /// Applies a revoke: forgets the lease and returns its keys, which the caller must
    /// delete from the store in one revision.
    pub fn revoke(&mut self, id: LeaseId) -> Result<Vec<Bytes>, EtcdError> {
        let lease = self.table.leases.remove(&id).ok_or(EtcdError::LeaseNotFound)?;
        self.learned_at.remove(&id);
        self.expiry.remove(&id);
        Ok(lease.keys.into_iter().collect())
    }

    /// Applies checkpoints of remaining TTLs. The leader's own expiries are left alone:
    /// it already knows them, and the checkpoint is for its successors. A lease renewed
    /// after the leader computed the checkpoint keeps its renewal (see the module docs).
    pub fn checkpoint(&mut self, req: &LeaseCheckpointRequest, now: u64) {
        for cp in &req.checkpoints {
            if let Some(l) = self.table.leases.get_mut(&cp.id) {
                if req.decided_index.is_some_and(|at| l.refreshed_index > at) {
                    continue;
                }
                l.remaining_ticks = cp.remaining_ticks;
                self.learned_at.insert(cp.id, now);
            }
        }
    }

    /// Whether an expiry must be skipped: the lease is gone, or was granted or kept
    /// alive after the leader found it expired (see the module docs).
    pub fn outlives(&self, req: &LeaseExpireRequest) -> bool {
        match (self.table.leases.get(&req.id), req.decided_index) {
            (Some(l), Some(at)) => l.refreshed_index > at,
            _ => false,
        }
    }

    /// Keeps attachments in step with the store: call with the events of every applied
    /// revision.
    pub fn apply_events(&mut self, events: &[Event]) {
        for e in events {
            if let Some(prev) = &e.prev_kv {
                if prev.lease != 0 {
                    if let Some(l) = self.table.leases.get_mut(&prev.lease) {
                        l.keys.remove(&prev.key);
                    }
                }
            }
            if e.r#type == crate::api::EventType::Put && e.kv.lease != 0 {
                if let Some(l) = self.table.leases.get_mut(&e.kv.lease) {
                    l.keys.insert(e.kv.key.clone());
                }
            }
        }
    }

    /// Applies a keep-alive, the log entry at `index`, at this replica's tick `now`:
    /// every replica restarts the lease's full TTL from here (a checkpoint of the whole
    /// TTL) and records the renewal's index; the leader also moves its expiry. An
    /// unknown lease (never granted, revoked, or expired by an earlier entry) answers
    /// TTL 0, as etcd's keep-alive stream does for a lease it does not know.
    pub fn renew(&mut self, id: LeaseId, index: u64, now: u64) -> LeaseKeepAliveResponse {
        let Some(l) = self.table.leases.get_mut(&id) else {
            return LeaseKeepAliveResponse { header: ResponseHeader::default(), id, ttl: 0 };
        };
        let ttl = l.ttl;
        let ttl_ticks = (ttl.max(0) as u64).saturating_mul(self.config.ticks_per_second);
        l.remaining_ticks = ttl_ticks;
        l.refreshed_index = index;
        self.learned_at.insert(id, now);
        if self.primary {
            self.expiry.insert(id, now + ttl_ticks);
        }
        LeaseKeepAliveResponse { header: ResponseHeader::default(), id, ttl }
    }

    /// Ticks a lease has known to be left as of `learned_at`.
    fn known_ticks(&self, l: &Lease) -> u64 {
        if l.remaining_ticks > 0 {
            l.remaining_ticks
        } else {
            self.ttl_ticks(l.ttl)
        }
    }

    /// Ticks left: exact on the leader, from the last checkpoint elsewhere.
    fn remaining_ticks(&self, l: &Lease, now: u64) -> u64 {
        match self.expiry.get(&l.id) {
            Some(&at) if self.primary => at.saturating_sub(now),
            _ => {
                let learned = self.learned_at.get(&l.id).copied().unwrap_or(now);
                self.known_ticks(l).saturating_sub(now.saturating_sub(learned))
            }
        }
    }

    fn remaining_secs(&self, l: &Lease, now: u64) -> i64 {
        self.remaining_ticks(l, now).div_ceil(self.config.ticks_per_second.max(1)) as i64
    }

    /// LeaseTimeToLive; an unknown lease answers TTL -1 (not an error).
    pub fn time_to_live(&self, id: LeaseId, keys: bool, now: u64) -> LeaseTimeToLiveResponse {
        match self.table.leases.get(&id) {
            None => LeaseTimeToLiveResponse { id, ttl: -1, ..LeaseTimeToLiveResponse::default() },
            Some(l) => LeaseTimeToLiveResponse {
                header: ResponseHeader::default(),
                id,
                ttl: self.remaining_secs(l, now),
                granted_ttl: l.ttl,
                keys: if keys { l.keys.iter().cloned().collect() } else { Vec::new() },
            },
        }
    }

    /// LeaseLeases, ids ascending.
    pub fn leases(&self) -> LeaseLeasesResponse {
        LeaseLeasesResponse {
            header: ResponseHeader::default(),
            leases: self.table.leases.keys().map(|&id| LeaseStatus { id }).collect(),
        }
    }

    /// This replica became leader at `now`: start expiring leases. See the module docs.
    pub fn promote(&mut self, now: u64) {
        self.primary = true;
        self.expiry.clear();
        let floor = now + self.config.promote_grace_ticks;
        for l in self.table.leases.values() {
            let learned = self.learned_at.get(&l.id).copied().unwrap_or(now);
            let at = (learned + self.known_ticks(l)).max(floor);
            self.expiry.insert(l.id, at);
        }
        self.next_checkpoint = now + self.config.checkpoint_interval_ticks;
    }

    /// This replica stopped being leader: it no longer expires leases.
    pub fn demote(&mut self) {
        self.primary = false;
        self.expiry.clear();
    }

    /// Leader only: leases whose expiry has passed, at most `max`, earliest first. Each
    /// is named again only after `expired_retry_ticks` if it is still granted then.
    pub fn expired(&mut self, now: u64, max: usize) -> Vec<LeaseId> {
        #[cfg(feature = "mutants")]
        if !self.primary && crate::mutants::active(crate::mutants::Mutant::LeaseExpiryOnFollower) {
            // A follower judges from what it learned, blind to the leader's keep-alives.
            for l in self.table.leases.values() {
                let learned = self.learned_at.get(&l.id).copied().unwrap_or(now);
                let at = learned + self.known_ticks(l);
                self.expiry.entry(l.id).or_insert(at);
            }
            self.expiry.retain(|id, _| self.table.leases.contains_key(id));
        } else if !self.primary {
            return Vec::new();
        }
        #[cfg(not(feature = "mutants"))]
        if !self.primary {
            return Vec::new();
        }
        let mut due: Vec<(u64, LeaseId)> =
            self.expiry.iter().filter(|(_, &at)| at <= now).map(|(&id, &at)| (at, id)).collect();
        due.sort_unstable();
        due.truncate(max);
        let retry = now + self.config.expired_retry_ticks;
        for (_, id) in &due {
            self.expiry.insert(*id, retry);
        }
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// Leader only: when a checkpoint interval has passed, the remaining TTL of every
    /// lease, to be proposed through Raft. `applied` is this replica's applied index.
    pub fn checkpoints(&mut self, now: u64, applied: u64) -> Option<LeaseCheckpointRequest> {
        if !self.primary || now < self.next_checkpoint || self.table.leases.is_empty() {
            return None;
        }
        self.next_checkpoint = now + self.config.checkpoint_interval_ticks;
        let checkpoints = self
            .table
            .leases
            .values()
            .map(|l| LeaseCheckpoint { id: l.id, remaining_ticks: self.remaining_ticks(l, now) })
            .collect();
        Some(LeaseCheckpointRequest { checkpoints, decided_index: Some(applied) })
    }
}
