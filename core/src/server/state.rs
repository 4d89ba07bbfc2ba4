//! The replicated application state of one member: the MVCC store and the lease table,
//! changed only by applying committed log entries in order. Owns applying an [`Op`],
//! serving reads from local state, the snapshot image and the state hash replicas are
//! compared by.

use super::auth::AuthStore;
use super::members::{Member, Members};
use super::pending::Read;
use super::proposal::{Op, ProposalId};
use super::request::Response;
use crate::api::{AuthInfo, AuthResponse, EtcdError, Event, LeaseRevokeResponse};
use crate::lease::{LeaseTable, Lessor, LessorConfig};
use crate::mvcc::Store;
use crate::types::{NodeId, SnapshotData, SnapshotImage};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The store and the leases, applied in log order.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub lessor: Lessor,
    pub auth: AuthStore,
    /// The member list.
    pub members: Members,
    /// The configured initial cluster: the member list until a change applies. Not
    /// replicated; the node sets it (`with_initial_members`).
    initial_members: Vec<Member>,
    /// Per proposing member and incarnation, the highest proposal sequence number
    /// applied. A proposal can reach the log twice (a forwarded proposal duplicated or
    /// retransmitted on the way to the leader); applying it twice would write twice,
    /// so only a sequence number above this one applies (at-most-once, thesis §6.3).
    /// A proposal overtaken by a later one of the same member is dropped too: its
    /// client times out and treats the outcome as unknown, which it is.
    applied_seqs: BTreeMap<NodeId, BTreeMap<u64, u64>>,
}

/// What a snapshot carries: only replicated state (no lease expiry ticks).
#[derive(Serialize, Deserialize)]
struct Image {
    store: Store,
    leases: LeaseTable,
    #[serde(default)]
    applied_seqs: BTreeMap<NodeId, BTreeMap<u64, u64>>,
    /// Left out while auth was never used, so such images are as they were.
    #[serde(default, skip_serializing_if = "AuthStore::is_empty")]
    auth: AuthStore,
    /// Left out while no membership change applied, so such images are as they were.
    #[serde(default, skip_serializing_if = "Members::is_initial")]
    members: Members,
}

impl SnapshotImage for Image {
    fn encode_into(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        ciborium::into_writer(self, out).map_err(|e| match e {
            ciborium::ser::Error::Io(e) => e,
            ciborium::ser::Error::Value(why) => panic!("a state image always serializes: {why}"),
        })
    }
}

/// The local moment an entry applies at: this member's tick and the entry's index.
#[derive(Clone, Copy, Debug)]
pub struct ApplyAt {
    pub now_ticks: u64,
    pub index: u64,
}

impl AppState {
    pub fn new(lessor: LessorConfig) -> AppState {
        AppState {
            store: Store::new(),
            lessor: Lessor::new(lessor),
            auth: AuthStore::default(),
            members: Members::default(),
            initial_members: Vec::new(),
            applied_seqs: BTreeMap::new(),
        }
    }

    /// Sets the configured initial cluster.
    pub fn with_initial_members(mut self, initial: Vec<Member>) -> AppState {
        self.initial_members = initial;
        self
    }

    /// The member list as applied here.
    pub fn member_list(&self) -> Vec<Member> {
        self.members.list(&self.initial_members)
    }

    /// Whether proposal `id` applies now: true the first time, false for a copy or for
    /// a proposal overtaken by a later one of the same member and incarnation.
    pub fn first_application(&mut self, id: ProposalId) -> bool {
        let last =
            self.applied_seqs.entry(id.origin).or_default().entry(id.incarnation).or_default();
        if id.seq <= *last {
            return false;
        }
        *last = id.seq;
        true
    }

    /// Whether proposal `id` (or a later one of its member and incarnation) already
    /// applied: what [`AppState::first_application`] would say, without recording it.
    pub fn applied_before(&self, id: ProposalId) -> bool {
        let last = self.applied_seqs.get(&id.origin).and_then(|i| i.get(&id.incarnation));
        last.is_some_and(|&last| id.seq <= last)
    }

    /// Whether `caller` may carry out `op` now (always, with auth off).
    pub fn permits(&self, op: &Op, caller: Option<&AuthInfo>) -> bool {
        self.check(op, caller).is_ok()
    }

    /// Ends a DeleteRange applied in slices: `store` (the copy the slices wrote)
    /// becomes the store, and lease attachments follow its events, as `apply` does.
    pub fn adopt_delete(
        &mut self,
        store: Store,
        written: crate::mvcc::Written<crate::api::DeleteRangeResponse>,
    ) -> Response {
        self.store = store;
        self.lessor.apply_events(&written.events);
        Response::DeleteRange(written.response)
    }

    /// The state a snapshot describes, as of tick `now_ticks` on this member, or why
    /// the image does not decode.
    pub fn from_snapshot(
        data: &SnapshotData,
        lessor: LessorConfig,
        now_ticks: u64,
    ) -> Result<AppState, String> {
        let data = data.to_bytes();
        if data.is_empty() {
            return Ok(AppState::new(lessor));
        }
        let image: Image = ciborium::from_reader(&data[..]).map_err(|e| e.to_string())?;
        Ok(AppState {
            store: image.store,
            lessor: Lessor::from_table(image.leases, lessor, now_ticks),
            auth: image.auth,
            members: image.members,
            initial_members: Vec::new(),
            applied_seqs: image.applied_seqs,
        })
    }

    /// The replicated state as a snapshot image, held by reference: the persistent
    /// maps share their structure with this state, so taking it copies almost nothing,
    /// and it is encoded only by whoever needs its bytes.
    pub fn image(&self) -> SnapshotData {
        SnapshotData::Image(Arc::new(Image {
            store: self.store.clone(),
            leases: self.lessor.table().clone(),
            applied_seqs: self.applied_seqs.clone(),
            auth: self.auth.clone(),
            members: self.members.clone(),
        }))
    }

    /// The snapshot image of the replicated state, encoded.
    pub fn snapshot(&self) -> Bytes {
        self.image().to_bytes()
    }

    /// A hash of everything replicated: store history, revisions and the lease table.
    pub fn hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.int(self.store.hash(0).expect("the current revision is always readable") as i64);
        h.int(self.store.current_revision());
        h.int(self.store.compact_revision());
        for (id, lease) in self.lessor.table().leases.iter() {
            h.int(*id);
            h.int(lease.ttl);
            h.int(lease.remaining_ticks as i64);
            h.int(lease.refreshed_index as i64);
            for key in lease.keys.iter() {
                h.bytes(key);
            }
        }
        for (origin, incarnations) in &self.applied_seqs {
            for (incarnation, seq) in incarnations {
                h.int(*origin as i64);
                h.int(*incarnation as i64);
                h.int(*seq as i64);
            }
        }
        if !self.auth.is_empty() {
            let mut bytes = Vec::new();
            let mut ints = Vec::new();
            self.auth.hash_into(|i| ints.push(i), |b| bytes.push(b.to_vec()));
            for i in ints {
                h.int(i);
            }
            for b in bytes {
                h.bytes(&b);
            }
        }
        h.0
    }

    /// Applies one committed operation. Every replica gets the same response and the
    /// same state; only lease expiry ticks (local timing) differ. `None` for operations
    /// nobody waits for. With auth enabled, `caller` (as resolved when it was proposed)
    /// must still hold the permissions the operation needs, at an unchanged auth
    /// revision.
    pub fn apply(&mut self, op: &Op, at: ApplyAt, caller: Option<&AuthInfo>) -> Option<Response> {
        if let Err(e) = self.check(op, caller) {
            return Some(Response::Err(e));
        }
        let response = match op {
            Op::Put(req) => {
                let lessor = &self.lessor;
                match self.store.put(req, &|id| lessor.exists(id)) {
                    Ok(w) => {
                        self.lessor.apply_events(&w.events);
                        Response::Put(w.response)
                    }
                    Err(e) => Response::Err(e),
                }
            }
            Op::DeleteRange(req) => match self.store.delete_range(req) {
                Ok(w) => {
                    self.lessor.apply_events(&w.events);
                    Response::DeleteRange(w.response)
                }
                Err(e) => Response::Err(e),
            },
            Op::Txn(req) => {
                let lessor = &self.lessor;
                match self.store.txn(req, &|id| lessor.exists(id)) {
                    Ok(w) => {
                        self.lessor.apply_events(&w.events);
                        Response::Txn(w.response)
                    }
                    Err(e) => Response::Err(e),
                }
            }
            Op::Compact(req) => match self.store.compact(req.revision) {
                Ok(r) => Response::Compact(r),
                Err(e) => Response::Err(e),
            },
            Op::LeaseGrant(req) => match self.lessor.grant(req, at.index, at.now_ticks) {
                Ok(r) => Response::LeaseGrant(r),
                Err(e) => Response::Err(e),
            },
            Op::LeaseRevoke(req) => match self.revoke(req.id) {
                Ok(()) => Response::LeaseRevoke(LeaseRevokeResponse::default()),
                Err(e) => Response::Err(e),
            },
            Op::LeaseExpire(req) => {
                // Renewed after the leader found it expired: that client was answered
                // with the TTL, so the lease lives (see `crate::lease`).
                if self.lessor.outlives(req) {
                    return None;
                }
                match self.revoke(req.id) {
                    Ok(()) => Response::LeaseRevoke(LeaseRevokeResponse::default()),
                    Err(e) => Response::Err(e),
                }
            }
            Op::LeaseCheckpoint(req) => {
                self.lessor.checkpoint(req, at.now_ticks);
                return None;
            }
            Op::LeaseKeepAlive(req) => {
                Response::LeaseKeepAlive(self.lessor.renew(req.id, at.index, at.now_ticks))
            }
            Op::Auth(req) => match self.auth.apply(req, caller, at.index) {
                Ok(body) => Response::Auth(AuthResponse { body, ..AuthResponse::default() }),
                Err(e) => Response::Err(e),
            },
            Op::Member(m) => match self.members.apply(&self.initial_members, m) {
                Ok(r) => Response::Members(r),
                Err(e) => Response::Err(e),
            },
        };
        Some(response)
    }

    /// The permission checks of a KV operation or lease revocation (auth operations
    /// check their own); nothing with auth off.
    fn check(&self, op: &Op, caller: Option<&AuthInfo>) -> Result<(), EtcdError> {
        if !self.auth.enabled() {
            return Ok(());
        }
        match op {
            Op::Put(p) => {
                self.auth.check_put(caller, p)?;
                // As etcd: attaching a lease needs write permission on every key the
                // lease already holds, or the lease could grow keys its revoker may
                // not delete.
                self.check_lease_keys(caller, p.lease)
            }
            Op::DeleteRange(d) => self.auth.check_delete(caller, d),
            Op::Txn(t) => self.auth.check_txn(caller, t),
            Op::LeaseRevoke(r) => self.check_lease_keys(caller, r.id),
            Op::Compact(_)
            | Op::LeaseGrant(_)
            | Op::LeaseExpire(_)
            | Op::LeaseCheckpoint(_)
            | Op::LeaseKeepAlive(_)
            | Op::Auth(_)
            | Op::Member(_) => Ok(()),
        }
    }

    /// Whether `caller` may write every key attached to lease `id` (none: an unknown
    /// lease or 0).
    fn check_lease_keys(&self, caller: Option<&AuthInfo>, id: i64) -> Result<(), EtcdError> {
        let Some(lease) = self.lessor.table().leases.get(&id) else { return Ok(()) };
        for key in lease.keys.iter() {
            self.auth.check_range(caller, key, b"", true)?;
        }
        Ok(())
    }

    /// Revokes a lease and deletes its keys in one revision.
    fn revoke(&mut self, id: i64) -> Result<(), EtcdError> {
        let keys = self.lessor.revoke(id)?;
        let events: std::sync::Arc<[Event]> = self.store.delete_keys(&keys);
        self.lessor.apply_events(&events);
        Ok(())
    }

    /// Serves a read from local state (its read index, if any, has been applied).
    pub fn serve(&self, read: &Read, now_ticks: u64) -> Response {
        let (caller, read) = match read {
            Read::Checked(caller, read) => (caller.as_ref(), &**read),
            Read::Prechecked(read) => return self.serve_unchecked(read, now_ticks),
            read => (None, read),
        };
        if self.auth.enabled() {
            let checked = match read {
                Read::Range(r) => self.auth.check_range(caller, &r.key, &r.range_end, false),
                Read::Txn(t) => self.auth.check_txn(caller, t),
                Read::LeaseTimeToLive(_)
                | Read::LeaseLeases
                | Read::Checked(..)
                | Read::Prechecked(_) => Ok(()),
            };
            if let Err(e) = checked {
                return Response::Err(e);
            }
        }
        self.serve_unchecked(read, now_ticks)
    }

    fn serve_unchecked(&self, read: &Read, now_ticks: u64) -> Response {
        match read {
            Read::Range(req) => match self.store.range(req) {
                Ok(r) => Response::Range(r),
                Err(e) => Response::Err(e),
            },
            Read::Txn(req) => {
                // A txn without writes changes nothing, but the store only evaluates
                // txns as writes: run it on an O(1) copy.
                let mut scratch = self.store.clone();
                let lessor = &self.lessor;
                match scratch.txn(req, &|id| lessor.exists(id)) {
                    Ok(w) => {
                        debug_assert!(w.events.is_empty(), "a read-only txn wrote");
                        Response::Txn(w.response)
                    }
                    Err(e) => Response::Err(e),
                }
            }
            Read::LeaseTimeToLive(req) => {
                Response::LeaseTimeToLive(self.lessor.time_to_live(req.id, req.keys, now_ticks))
            }
            Read::LeaseLeases => Response::LeaseLeases(self.lessor.leases()),
            Read::Checked(..) | Read::Prechecked(_) => {
                unreachable!("a checked read is unwrapped in `serve`, once")
            }
        }
    }
}

/// 64-bit FNV-1a, written out so the state hash never depends on a library version.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn int(&mut self, n: i64) {
        n.to_le_bytes().into_iter().for_each(|b| self.byte(b));
    }

    fn bytes(&mut self, b: &[u8]) {
        self.int(b.len() as i64);
        b.iter().for_each(|&x| self.byte(x));
    }
}
