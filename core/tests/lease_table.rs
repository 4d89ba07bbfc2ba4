//! Leases: grant/revoke/keep-alive/time-to-live, expiry from ticks on the leader only,
//! checkpoints and promotion across leader changes, attachment of keys via store events.

use bytes::Bytes;
use detcd_core::api::*;
use detcd_core::lease::{LeaseTable, Lessor, LessorConfig, MAX_LEASE_TTL_SECS};
use detcd_core::mvcc::Store;

fn cfg() -> LessorConfig {
    LessorConfig {
        min_ttl_secs: 2,
        ticks_per_second: 10,
        checkpoint_interval_ticks: 10,
        promote_grace_ticks: 10,
        expired_retry_ticks: 30,
    }
}

fn grant(l: &mut Lessor, ttl: i64, id: LeaseId, seed: u64, now: u64) -> LeaseGrantResponse {
    l.grant(&LeaseGrantRequest { ttl, id }, seed, now).expect("grant")
}

#[test]
fn grant_picks_ids_raises_min_ttl_and_rejects_bad_requests() {
    let mut l = Lessor::new(cfg());
    let a = grant(&mut l, 1, 0, 7, 0);
    assert!(a.id > 0);
    assert_eq!(a.ttl, 2, "TTL below the minimum is raised");
    let b = grant(&mut l, 60, 0, 8, 0);
    assert!(b.id > 0 && b.id != a.id);
    // Same seed on another replica gives the same id: the choice is deterministic.
    let mut other = Lessor::new(cfg());
    assert_eq!(grant(&mut other, 1, 0, 7, 99).id, a.id);
    // A seed whose id is taken picks another.
    let c = grant(&mut l, 5, 0, 7, 0);
    assert_ne!(c.id, a.id);

    let e = l.grant(&LeaseGrantRequest { ttl: 5, id: a.id }, 0, 0).expect_err("exists");
    assert_eq!((e, e.code()), (EtcdError::LeaseExists, Code::FailedPrecondition));
    assert_eq!(e.message(), "etcdserver: lease already exists");
    let big = LeaseGrantRequest { ttl: MAX_LEASE_TTL_SECS + 1, id: 0 };
    let e = l.grant(&big, 1, 0).expect_err("too large");
    assert_eq!((e, e.code()), (EtcdError::LeaseTtlTooLarge, Code::OutOfRange));
    assert_eq!(e.message(), "etcdserver: too large lease TTL");
    grant(&mut l, MAX_LEASE_TTL_SECS, 42, 0, 0);

    let ids: Vec<_> = l.leases().leases.iter().map(|s| s.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 4);
}

#[test]
fn revoke_returns_attached_keys_for_one_delete_revision() {
    let mut l = Lessor::new(cfg());
    let mut s = Store::new();
    let id = grant(&mut l, 10, 0, 1, 0).id;
    for k in ["a", "b", "c"] {
        let req = PutRequest {
            key: Bytes::from(k),
            value: Bytes::from("v"),
            lease: id,
            ..Default::default()
        };
        let w = s.put(&req, &|x| l.exists(x)).expect("put");
        l.apply_events(&w.events);
    }
    // Re-putting b without a lease detaches it.
    let w = s
        .put(&PutRequest { key: Bytes::from("b"), ..Default::default() }, &|_| false)
        .expect("put");
    l.apply_events(&w.events);
    // Deleting c detaches it.
    let w = s
        .delete_range(&DeleteRangeRequest { key: Bytes::from("c"), ..Default::default() })
        .expect("del");
    l.apply_events(&w.events);
    let ttl = l.time_to_live(id, true, 0);
    assert_eq!(ttl.keys, vec![Bytes::from("a")]);
    assert_eq!(ttl.granted_ttl, 10);

    let keys = l.revoke(id).expect("revoke");
    let before = s.current_revision();
    let events = s.delete_keys(&keys);
    l.apply_events(&events);
    assert_eq!(s.current_revision(), before + 1);
    assert!(s.get(b"a").is_none());
    assert!(s.get(b"b").is_some());
    assert!(!l.exists(id));

    let e = l.revoke(id).expect_err("gone");
    assert_eq!((e, e.code()), (EtcdError::LeaseNotFound, Code::NotFound));
    assert_eq!(e.message(), "etcdserver: requested lease not found");
    assert_eq!(l.time_to_live(id, false, 0).ttl, -1, "unknown lease: TTL -1, not an error");
}

#[test]
fn only_the_leader_expires_and_keep_alive_extends() {
    let mut leader = Lessor::new(cfg());
    let mut follower = Lessor::new(cfg());
    leader.promote(0);
    let id = grant(&mut leader, 5, 0, 1, 0).id; // 50 ticks
    grant(&mut follower, 5, 0, 1, 0);
    assert!(leader.expired(49, 100).is_empty());
    assert_eq!(leader.time_to_live(id, false, 20).ttl, 3);
    assert_eq!(leader.renew(id, 2, 40).ttl, 5);
    assert_eq!(follower.renew(id, 2, 40).ttl, 5, "every replica applies the renewal");
    assert!(leader.expired(89, 100).is_empty());
    assert_eq!(leader.expired(90, 100), vec![id]);
    assert!(leader.expired(91, 100).is_empty(), "not named again while the revoke is in flight");
    assert_eq!(leader.expired(120, 100), vec![id], "named again after the retry interval");
    assert!(follower.expired(1_000_000, 100).is_empty(), "followers never expire leases");
    assert_eq!(leader.renew(12345, 3, 0).ttl, 0, "an unknown lease answers TTL 0");
}

/// The race the `leases` check found (lossy-network seed 104): the leader finds a lease
/// expired with index 10 applied and proposes the expiry; a keep-alive already in the
/// log at index 11 applies first and tells its client the lease lives. The expiry at
/// index 12 must then leave the lease alone, on every replica alike, and one decided
/// after the renewal (index 11 applied) still expires it.
#[test]
fn an_expiry_decided_before_a_renewal_is_skipped() {
    let mut leader = Lessor::new(cfg());
    leader.promote(0);
    let id = grant(&mut leader, 5, 0, 1, 0).id; // 50 ticks
    assert_eq!(leader.expired(50, 10), vec![id]);
    let stale = LeaseExpireRequest { id, decided_index: Some(10) };
    assert_eq!(leader.renew(id, 11, 52).ttl, 5);
    assert!(leader.outlives(&stale), "renewed at 11, after the finding at 10");
    let fresh = LeaseExpireRequest { id, decided_index: Some(11) };
    assert!(!leader.outlives(&fresh));
    let old_entry = LeaseExpireRequest { id, decided_index: None };
    assert!(!leader.outlives(&old_entry), "an expiry written without an index applies");
    assert!(leader.expired(101, 10).is_empty(), "the renewal moved the expiry to 102");
    assert_eq!(leader.expired(102, 10), vec![id]);
    // After the expiry applied, a keep-alive finds no lease.
    leader.revoke(id).expect("granted");
    assert_eq!(leader.renew(id, 13, 103).ttl, 0);
}

/// A checkpoint computed before a keep-alive but applied after it carries the remaining
/// TTL from before the renewal; it is skipped for that lease, so a follower promoted
/// next honours the renewal. Replayed after a restart (every entry applied at one tick)
/// the same entries give the same table.
#[test]
fn a_checkpoint_decided_before_a_renewal_is_skipped() {
    let mut follower = Lessor::new(cfg());
    let id = grant(&mut follower, 10, 0, 7, 0).id; // 100 ticks
    let checkpoint = |remaining_ticks, at| LeaseCheckpointRequest {
        checkpoints: vec![LeaseCheckpoint { id, remaining_ticks }],
        decided_index: Some(at),
    };
    // Tick 50: the keep-alive at index 9 renews it (ends at tick 150).
    follower.renew(id, 9, 50);
    // Tick 52: the leader's checkpoint from before the renewal (index 8 applied).
    follower.checkpoint(&checkpoint(55, 8), 52);
    assert_eq!(follower.get(id).expect("lease").remaining_ticks, 100, "stale: skipped");
    let mut promoted = follower.clone();
    promoted.promote(60);
    assert!(promoted.expired(149, 8).is_empty(), "expired before the renewal's end");
    assert_eq!(promoted.expired(150, 8), vec![id]);
    // A checkpoint decided after the renewal applies: the lease's end moves earlier.
    follower.checkpoint(&checkpoint(30, 9), 60);
    follower.promote(70);
    assert!(follower.expired(89, 8).is_empty());
    assert_eq!(follower.expired(90, 8), vec![id]);
}

/// Applies the same replicated operations to every replica.
struct Cluster {
    nodes: Vec<Lessor>,
    leader: usize,
}

impl Cluster {
    fn apply_checkpoints(&mut self, now: u64) {
        if let Some(cp) = self.nodes[self.leader].checkpoints(now, 3) {
            for n in &mut self.nodes {
                n.checkpoint(&cp, now);
            }
        }
    }

    fn change_leader(&mut self, now: u64) {
        self.nodes[self.leader].demote();
        self.leader = (self.leader + 1) % self.nodes.len();
        self.nodes[self.leader].promote(now);
    }
}

#[test]
fn repeated_leader_changes_do_not_keep_a_lease_alive() {
    let mut c = Cluster { nodes: (0..3).map(|_| Lessor::new(cfg())).collect(), leader: 0 };
    c.nodes[0].promote(0);
    let mut id = 0;
    for n in &mut c.nodes {
        id = grant(n, 10, 0, 3, 0).id; // 100 ticks
    }
    // A new leader every 15 ticks (longer than the grace period), nobody renews.
    let mut expired_at = None;
    for now in 1..1000u64 {
        c.apply_checkpoints(now);
        if now % 15 == 0 {
            c.change_leader(now);
        }
        if c.nodes[c.leader].expired(now, 10).contains(&id) {
            expired_at = Some(now);
            break;
        }
    }
    let at = expired_at.expect("the lease must expire despite leader changes");
    assert!(
        at <= 100 + cfg().promote_grace_ticks + cfg().checkpoint_interval_ticks,
        "expired late: {at}"
    );
    assert!(at >= 100, "expired early: {at}");
}

#[test]
fn promotion_uses_the_checkpointed_remaining_ttl() {
    let mut a = Lessor::new(cfg());
    let mut b = Lessor::new(cfg());
    a.promote(0);
    let id = grant(&mut a, 30, 0, 5, 0).id;
    grant(&mut b, 30, 0, 5, 0);
    // Checkpoint at tick 200: 10 s left.
    let cp = a.checkpoints(200, 5).expect("checkpoint due");
    assert_eq!(cp.checkpoints, vec![LeaseCheckpoint { id, remaining_ticks: 100 }]);
    a.checkpoint(&cp, 200);
    b.checkpoint(&cp, 200);
    assert_eq!(b.get(id).expect("lease").remaining_ticks, 100);
    assert_eq!(b.time_to_live(id, false, 230).ttl, 7, "follower counts from the checkpoint");
    // b restarts from a snapshot of the table at tick 250, then becomes leader.
    let mut b = Lessor::from_table(b.table().clone(), cfg(), 250);
    assert_eq!(&b, &a, "replicated tables agree");
    b.promote(260);
    assert!(b.expired(349, 10).is_empty());
    assert_eq!(b.expired(350, 10), vec![id], "expires 10 s after it learned the checkpoint");

    // A table round-trips through serde.
    let json = serde_json::to_string(a.table()).expect("ser");
    let t: LeaseTable = serde_json::from_str(&json).expect("de");
    assert_eq!(&t, a.table());
}

#[test]
fn malformed_lease_snapshots_are_rejected() {
    let mut l = Lessor::new(cfg());
    grant(&mut l, 10, 7, 0, 0);
    let mut v = serde_json::to_value(l.table()).expect("ser");
    assert!(serde_json::from_value::<LeaseTable>(v.clone()).is_ok());
    let entry = v["leases"].as_object_mut().map(|m| m.values_mut().next().expect("lease"));
    match entry {
        Some(lease) => lease["id"] = serde_json::json!(8),
        None => v["leases"][0][1]["id"] = serde_json::json!(8),
    }
    assert!(serde_json::from_value::<LeaseTable>(v).is_err());
}
