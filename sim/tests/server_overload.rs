//! A member under more load than it can serve refuses new work at once with etcd's
//! `too many requests` instead of queueing it: when too many requests already wait
//! there, and (for proposals, as etcd) when applying lags far behind the commit index.

mod server_net;

use detcd_core::api::{EtcdError, RangeRequest};
use detcd_core::process::Process;
use detcd_core::server::{Config, Request, Response};
use detcd_core::types::NodeId;
use server_net::{config, err, put, range, Cluster};

fn cluster(adjust: impl Fn(&mut Config)) -> Cluster {
    Cluster::with_configs(
        (1..=3)
            .map(|id| {
                let mut c = config(id, 3);
                adjust(&mut c);
                c
            })
            .collect(),
    )
}

fn answer(c: &Cluster, id: u64) -> Option<Response> {
    c.answers.get(&id).map(|(_, r)| r.clone())
}

fn linearizable(key: &str) -> Request {
    Request::Range(RangeRequest { serializable: false, ..range(key) })
}

#[test]
fn a_full_member_refuses_requests_that_would_wait() {
    let mut c = cluster(|c| c.pending_requests_max = 2);
    let l = c.elect();
    // Submitted but not delivered: both proposals wait for a quorum.
    let first = c.submit(l, Request::Put(put("a", "1")));
    let second = c.submit(l, Request::Put(put("b", "2")));
    assert_eq!(c.node(l).pending_requests(), 2);
    let third = c.submit(l, Request::Put(put("c", "3")));
    let read = c.submit(l, linearizable("a"));
    for id in [third, read] {
        let r = answer(&c, id).expect("answered at once");
        assert_eq!(err(&r), EtcdError::TooManyRequests);
    }
    // Requests that do not wait are still served.
    let local = c.submit(l, Request::Range(RangeRequest { serializable: true, ..range("a") }));
    assert!(matches!(answer(&c, local), Some(Response::Range(_))));
    let status = c.submit(l, Request::Status);
    assert!(matches!(answer(&c, status), Some(Response::Status(_))));
    // Once the waiting requests are answered, new ones are accepted again.
    c.deliver();
    for id in [first, second] {
        assert!(matches!(c.wait(id), Response::Put(_)));
    }
    assert_eq!(c.node(l).pending_requests(), 0);
    assert!(matches!(c.put(l, "c", "3"), Response::Put(_)));
}

/// Makes `ids`' pending writes durable and delivers what follows, a few rounds.
fn sync_and_deliver(c: &mut Cluster, ids: &[NodeId]) {
    for _ in 0..10 {
        for &id in ids {
            c.persist(id);
        }
        c.deliver();
    }
}

#[test]
fn proposals_are_refused_while_applying_lags_the_commit_index() {
    const GAP: u64 = 3;
    let mut c = cluster(|c| c.apply_gap_entries_max = GAP);
    let l = c.elect();
    let f = c.followers()[0];
    let g = c.followers()[1];
    // `f` learns what commits but never makes its log durable, so it cannot apply it.
    c.set_auto_persist(false);
    let mut puts = Vec::new();
    for i in 0..=GAP {
        puts.push(c.submit(l, Request::Put(put(&format!("k{i}"), "v"))));
        sync_and_deliver(&mut c, &[l, g]);
    }
    for id in puts {
        assert!(matches!(answer(&c, id), Some(Response::Put(_))), "committed without f");
    }
    // A heartbeat brings f the leader's commit index.
    c.tick();
    sync_and_deliver(&mut c, &[l, g]);
    let s = c.node(f).status();
    assert!(s.commit > s.applied + GAP, "f lags: {s:?}");
    let refused = c.submit(f, Request::Put(put("late", "v")));
    let r = answer(&c, refused).expect("answered at once");
    assert_eq!(err(&r), EtcdError::TooManyRequests);
    // Reads are not proposals: a linearizable read still waits for its index.
    let read = c.submit(f, linearizable("k0"));
    assert!(answer(&c, read).is_none(), "the read waits");
    // Once f catches up, it takes proposals again.
    c.set_auto_persist(true);
    sync_and_deliver(&mut c, &[f, l, g]);
    assert!(matches!(c.wait(read), Response::Range(_)));
    assert!(matches!(c.put(f, "late", "v"), Response::Put(_)));
}
