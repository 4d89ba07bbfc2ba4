//! Leases through the etcd server state machine: grant and revoke through Raft, expiry
//! decided by the leader's ticks and replicated as a revoke that deletes attached keys,
//! keep-alives on the leader and on followers, and checkpoints that make a lease expire
//! even when the leader changes every few ticks.

mod server_net;

use detcd_core::api::{
    EtcdError, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseLeasesRequest, LeaseRevokeRequest,
    LeaseTimeToLiveRequest, PutRequest,
};
use detcd_core::server::{Request, Response};
use server_net::{err, put, values, Cluster};

fn grant(c: &mut Cluster, node: u64, ttl: i64) -> i64 {
    let r = c.call(node, Request::LeaseGrant(LeaseGrantRequest { ttl, id: 0 }));
    let Response::LeaseGrant(g) = &r else { panic!("{r:?}") };
    assert!(g.id > 0);
    g.id
}

fn ttl(c: &mut Cluster, node: u64, id: i64) -> i64 {
    let r = c.call(node, Request::LeaseTimeToLive(LeaseTimeToLiveRequest { id, keys: false }));
    let Response::LeaseTimeToLive(t) = &r else { panic!("{r:?}") };
    t.ttl
}

#[test]
fn grant_list_revoke_and_errors() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = c.followers()[0];
    let id = grant(&mut c, f, 1);
    let r = c.call(l, Request::LeaseTimeToLive(LeaseTimeToLiveRequest { id, keys: true }));
    let Response::LeaseTimeToLive(t) = &r else { panic!("{r:?}") };
    assert_eq!(t.granted_ttl, 2, "a TTL below the minimum is raised to it");
    let r = c.call(f, Request::LeaseLeases(LeaseLeasesRequest {}));
    let Response::LeaseLeases(ls) = &r else { panic!("{r:?}") };
    assert_eq!(ls.leases.iter().map(|s| s.id).collect::<Vec<_>>(), vec![id]);

    let dup = c.call(l, Request::LeaseGrant(LeaseGrantRequest { ttl: 5, id }));
    assert_eq!(err(&dup), EtcdError::LeaseExists);
    let huge = c.call(l, Request::LeaseGrant(LeaseGrantRequest { ttl: 9_000_000_001, id: 0 }));
    assert_eq!(err(&huge), EtcdError::LeaseTtlTooLarge);

    c.call(l, Request::Put(PutRequest { lease: id, ..put("owned", "v") }));
    let left = ttl(&mut c, f, id);
    assert!((1..=2).contains(&left), "a follower estimates the TTL left: {left}");
    let r = c.call(f, Request::LeaseTimeToLive(LeaseTimeToLiveRequest { id, keys: true }));
    let Response::LeaseTimeToLive(t) = &r else { panic!("{r:?}") };
    assert_eq!(t.keys, vec![bytes::Bytes::from("owned")], "attached keys are listed");
    let r = c.call(f, Request::LeaseRevoke(LeaseRevokeRequest { id }));
    assert!(matches!(r, Response::LeaseRevoke(_)), "{r:?}");
    assert!(values(&c.get(l, "owned", false)).is_empty(), "revoking deletes attached keys");
    assert_eq!(ttl(&mut c, l, id), -1, "an unknown lease has TTL -1");
    let again = c.call(l, Request::LeaseRevoke(LeaseRevokeRequest { id }));
    assert_eq!(err(&again), EtcdError::LeaseNotFound);
    for node in [l, f] {
        let r = c.call(node, Request::LeaseKeepAlive(LeaseKeepAliveRequest { id }));
        let Response::LeaseKeepAlive(k) = &r else { panic!("{r:?}") };
        assert_eq!(k.ttl, 0, "keep-alive of an unknown lease answers TTL 0");
    }
    c.converge();
}

#[test]
fn expiry_is_replicated_as_a_revoke_that_deletes_keys() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let id = grant(&mut c, l, 2);
    c.call(l, Request::Put(PutRequest { lease: id, ..put("ephemeral", "v") }));
    c.put(l, "durable", "v");
    c.run(10);
    assert_eq!(values(&c.get(l, "ephemeral", false)), vec!["v"], "alive within its TTL");
    // 2 s = 20 ticks from the grant; give the revoke time to commit.
    c.run(25);
    for id in c.ids() {
        assert!(values(&c.get(id, "ephemeral", true)).is_empty(), "node {id} still has the key");
        assert_eq!(values(&c.get(id, "durable", true)), vec!["v"]);
    }
    assert_eq!(ttl(&mut c, l, id), -1);
    c.converge();
}

#[test]
fn keep_alives_on_leader_and_followers_keep_a_lease() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = c.followers()[0];
    let id = grant(&mut c, l, 2);
    c.call(l, Request::Put(PutRequest { lease: id, ..put("kept", "v") }));
    for round in 0..12 {
        c.run(5);
        let node = if round % 2 == 0 { l } else { f };
        let r = c.call(node, Request::LeaseKeepAlive(LeaseKeepAliveRequest { id }));
        let Response::LeaseKeepAlive(k) = &r else { panic!("{r:?}") };
        assert_eq!(k.ttl, 2);
    }
    assert_eq!(values(&c.get(l, "kept", false)), vec!["v"], "60 ticks with keep-alives");
    c.run(40);
    assert!(values(&c.get(l, "kept", false)).is_empty(), "expired once keep-alives stopped");
}

#[test]
fn a_lease_expires_despite_frequent_leader_transfers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let id = grant(&mut c, l, 3);
    c.call(l, Request::Put(PutRequest { lease: id, ..put("lk", "v") }));
    // Move leadership every ~10 ticks, well under the 30-tick TTL. A new leader that
    // restarted the full TTL would keep the lease alive forever.
    let mut changes = 0;
    for _ in 0..12 {
        c.run(10);
        let leader = c.leader().expect("a leader");
        let target = c.followers()[0];
        let r = c.call(leader, Request::MoveLeader { target });
        if r.err().is_none() {
            changes += 1;
        }
        if values(&c.get(leader, "lk", true)).is_empty() {
            break;
        }
    }
    assert!(changes >= 3, "the leader must actually change ({changes} changes)");
    c.run(5);
    let leader = c.elect();
    assert!(values(&c.get(leader, "lk", false)).is_empty(), "lease survived leader changes");
    assert_eq!(ttl(&mut c, leader, id), -1);
}

#[test]
fn followers_never_expire_leases_on_their_own() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let id = grant(&mut c, l, 2);
    c.call(l, Request::Put(PutRequest { lease: id, ..put("f", "v") }));
    c.run(3);
    // The leader is cut off: nobody may expire the lease until a new leader has waited
    // at least the remaining TTL (from the last checkpoint).
    c.isolate(l);
    c.run(12);
    for f in c.ids().into_iter().filter(|&x| x != l) {
        assert_eq!(values(&c.get(f, "f", true)), vec!["v"], "follower {f} expired a lease");
    }
}

#[test]
fn checkpoints_expire_a_lease_despite_repeated_cluster_restarts() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let id = grant(&mut c, l, 3);
    c.call(l, Request::Put(PutRequest { lease: id, ..put("rk", "v") }));
    // Restart every member whenever a leader has served for a few ticks, more often
    // than the 30-tick TTL. A restarted member learns the lease anew when it re-applies
    // its log; only the checkpointed remaining TTL in the log tells it how much of the
    // TTL already ran out, so without checkpoints the lease would never expire.
    let mut gone = false;
    for _ in 0..20 {
        let leader = c.elect();
        c.run(8);
        if values(&c.get(leader, "rk", false)).is_empty() {
            gone = true;
            break;
        }
        for id in c.ids() {
            c.crash(id);
            c.restart(id);
        }
    }
    assert!(gone, "the lease outlived 20 cluster restarts");
    let leader = c.elect();
    assert_eq!(ttl(&mut c, leader, id), -1);
    c.converge();
}

#[test]
fn a_renewal_just_before_the_leader_is_lost_is_honoured_by_its_successor() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let id = grant(&mut c, l, 2);
    c.call(l, Request::Put(PutRequest { lease: id, ..put("renewed", "v") }));
    c.run(16);
    let r = c.call(l, Request::LeaseKeepAlive(LeaseKeepAliveRequest { id }));
    let Response::LeaseKeepAlive(k) = &r else { panic!("{r:?}") };
    assert_eq!(k.ttl, 2);
    // The client was just promised 2 s (20 ticks). The leader is cut off now; whoever
    // leads next must not expire the lease before that promise ends.
    c.isolate(l);
    let others: Vec<u64> = c.ids().into_iter().filter(|&x| x != l).collect();
    for t in 0..19 {
        c.tick();
        for &f in &others {
            let v = values(&c.get(f, "renewed", true));
            assert_eq!(v, vec!["v"], "member {f} lost the renewed lease {t} ticks after renewal");
        }
    }
    assert!(c.leader().is_some_and(|x| x != l), "a new leader took over");
}
