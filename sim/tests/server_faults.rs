//! The etcd server state machine under faults: restarts rebuild identical state from
//! the durable snapshot and log, snapshots catch up a lagging member, and requests whose
//! fate is unknown when leadership is lost fail with etcd's errors, exactly once.

mod server_net;

use detcd_core::api::EtcdError;
use detcd_core::process::Process;
use detcd_core::server::{Request, Response};
use server_net::{config, err, put, values, Cluster};

#[test]
fn a_restarted_member_rebuilds_the_same_state() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for i in 0..20 {
        c.put(l, &format!("k{}", i % 7), &i.to_string());
    }
    let before = c.converge();
    let f = c.followers()[0];
    c.crash(f);
    c.restart(f);
    assert_eq!(c.node(f).state_hash(), before, "rebuilt from the durable log alone");
    c.put(l, "after", "restart");
    c.converge();
    assert_eq!(values(&c.get(f, "after", false)), vec!["restart"]);
    // The whole cluster restarts too.
    for id in c.ids() {
        c.crash(id);
        c.restart(id);
    }
    let l = c.elect();
    assert_eq!(values(&c.get(l, "k3", false)), vec!["17"]);
    c.converge();
}

#[test]
fn snapshots_compact_the_log_and_catch_up_a_lagging_member() {
    let configs = (1..=3)
        .map(|id| {
            let mut cfg = config(id, 3);
            cfg.snapshot_entries = 8;
            cfg
        })
        .collect();
    let mut c = Cluster::with_configs(configs);
    let l = c.elect();
    let lagging = c.followers()[0];
    c.isolate(lagging);
    for i in 0..40 {
        c.put(l, &format!("s{}", i % 5), &i.to_string());
    }
    c.run(3);
    assert!(c.node(l).status().snapshot_index > 0, "the leader took a snapshot");
    c.heal();
    let hash = c.converge();
    assert_eq!(c.node(lagging).state_hash(), hash);
    assert!(c.node(lagging).status().snapshot_index > 0, "caught up through a snapshot");
    assert_eq!(values(&c.get(lagging, "s4", true)), vec!["39"]);
    // A restart from a durable snapshot plus log gives the same state.
    c.crash(lagging);
    c.restart(lagging);
    assert_eq!(c.node(lagging).state_hash(), hash);
    c.crash(l);
    c.restart(l);
    assert_eq!(c.node(l).state_hash(), hash);
    let l = c.elect();
    c.put(l, "s0", "new");
    c.converge();
}

#[test]
fn losing_the_leader_fails_pending_writes_exactly_once() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.put(l, "a", "0");
    c.isolate(l);
    // Accepted by the old leader, which can no longer commit it.
    let stuck = c.send(l, Request::Put(put("a", "lost?")));
    let f = c.followers()[0];
    let stuck_on_follower = c.send(f, Request::Put(put("b", "maybe")));
    c.run(40);
    let new = c.leader().expect("the majority elects a leader");
    assert_ne!(new, l);
    c.heal();
    c.run(30);
    let r = c.answers.get(&stuck).map(|(_, r)| r.clone()).expect("answered");
    assert!(
        matches!(r.err(), Some(EtcdError::LeaderChanged | EtcdError::Timeout)),
        "an unknown outcome, got {r:?}"
    );
    assert!(c.answers.contains_key(&stuck_on_follower), "never left unanswered");
    // The old leader's entry never committed: the value is from before.
    assert_eq!(values(&c.get(new, "a", false)), vec!["0"]);
    for id in c.ids() {
        assert_eq!(c.node(id).pending_requests(), 0, "node {id} still holds requests");
    }
    c.converge();
}

#[test]
fn a_request_nobody_can_serve_times_out() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = c.followers()[0];
    // The follower still believes in a leader it cannot reach: its forwarded write and
    // its read index request are lost on the wire.
    c.cut_one_way(f, l);
    let w = c.send(f, Request::Put(put("t", "1")));
    let r = c.send(f, Request::Range(server_net::range("t")));
    c.run(5);
    assert!(!c.answers.contains_key(&w));
    let mut answered = None;
    for t in 0..60 {
        c.tick();
        if let (Some(a), Some(b)) = (c.answers.get(&w), c.answers.get(&r)) {
            answered = Some((t, a.1.clone(), b.1.clone()));
            break;
        }
    }
    let (_, a, b) = answered.expect("both answered within the request timeout");
    for resp in [a, b] {
        assert!(
            matches!(resp.err(), Some(EtcdError::Timeout | EtcdError::LeaderChanged)),
            "{resp:?}"
        );
    }
    assert_eq!(EtcdError::Timeout.message(), "etcdserver: request timed out");
    assert_eq!(EtcdError::LeaderChanged.message(), "etcdserver: leader changed");
}

#[test]
fn move_leader_hands_over_and_refuses_bad_targets() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = c.followers()[0];
    let r = c.call(f, Request::MoveLeader { target: l });
    assert_eq!(err(&r), EtcdError::NotLeader);
    let r = c.call(l, Request::MoveLeader { target: 99 });
    assert_eq!(err(&r), EtcdError::BadLeaderTransferee);
    let r = c.call(l, Request::MoveLeader { target: f });
    assert!(matches!(r, Response::MoveLeader(_)), "{r:?}");
    assert_eq!(c.leader(), Some(f));
    let s = c.call(f, Request::Status);
    let Response::Status(s) = s else { panic!("{s:?}") };
    assert_eq!(s.leader, f);
}
