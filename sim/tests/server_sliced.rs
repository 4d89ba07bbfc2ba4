//! A DeleteRange over more keys than `apply_slice_keys` is applied in slices, one per
//! tick: the member keeps stepping Raft between slices, nobody sees a half-applied
//! entry (reads are served from the state before it, linearizable ones wait for it),
//! the applied index moves only when it is done, the result is the one-step apply's,
//! and a member that crashes mid-entry applies it again from its log.

mod server_net;

use detcd_core::api::{DeleteRangeRequest, RangeRequest};
use detcd_core::process::Process;
use detcd_core::server::{Config, Request, Response};
use detcd_core::types::NodeId;
use server_net::{config, Cluster};

const KEYS: usize = 40;
const SLICE_KEYS: usize = 3;

fn cluster(slice_keys: usize) -> Cluster {
    Cluster::with_configs(
        (1..=3)
            .map(|id| {
                let mut c: Config = config(id, 3);
                c.apply_slice_keys = slice_keys;
                c
            })
            .collect(),
    )
}

fn key(i: usize) -> String {
    format!("k{i:03}")
}

/// `KEYS` keys under "k", two of them written twice, and one key outside the range.
fn load(c: &mut Cluster, l: NodeId) {
    for i in 0..KEYS {
        assert!(matches!(c.put(l, &key(i), "v"), Response::Put(_)));
    }
    for i in [5, 17] {
        assert!(matches!(c.put(l, &key(i), "w"), Response::Put(_)));
    }
    assert!(matches!(c.put(l, "z", "outside"), Response::Put(_)));
}

fn delete_all_k() -> Request {
    Request::DeleteRange(DeleteRangeRequest {
        key: "k".into(),
        range_end: "l".into(),
        prev_kv: true,
    })
}

fn count_k(serializable: bool) -> Request {
    Request::Range(RangeRequest {
        key: "k".into(),
        range_end: "l".into(),
        count_only: true,
        serializable,
        ..RangeRequest::default()
    })
}

fn count_of(r: &Response) -> i64 {
    match r {
        Response::Range(r) => r.count,
        other => panic!("not a range answer: {other:?}"),
    }
}

/// Runs the delete on a fresh cluster; returns the answer and the converged hash.
fn delete_on(slice_keys: usize) -> (Response, u64) {
    let mut c = cluster(slice_keys);
    let l = c.elect();
    load(&mut c, l);
    let del = c.send(l, delete_all_k());
    let answer = c.wait(del);
    (answer, c.converge())
}

#[test]
fn a_sliced_delete_gives_the_one_step_result() {
    let (sliced, sliced_hash) = delete_on(SLICE_KEYS);
    let (whole, whole_hash) = delete_on(0);
    let Response::DeleteRange(d) = &sliced else { panic!("not a delete answer: {sliced:?}") };
    assert_eq!(d.deleted, KEYS as i64);
    assert_eq!(d.prev_kvs.len(), KEYS);
    assert_eq!(d.prev_kvs[5].value.as_ref(), b"w");
    assert_eq!(sliced, whole, "the answers differ");
    assert_eq!(sliced_hash, whole_hash, "the states differ");
}

#[test]
fn reads_during_a_sliced_delete_see_the_state_before_it() {
    let mut c = cluster(SLICE_KEYS);
    let l = c.elect();
    load(&mut c, l);
    let before = c.node(l).applied_index();
    let revision = c.node(l).store().current_revision();
    let del = c.send(l, delete_all_k());
    assert!(c.node(l).applying_slices(), "the delete did not start in slices");
    assert_eq!(c.node(l).applied_index(), before, "applied moved before the entry is done");
    // Raft runs on: the commit index is past the entry being applied.
    assert!(c.node(l).status().commit > before);
    assert_eq!(c.node(l).store().current_revision(), revision);
    let mut ticks = 0;
    let mut linearizable = None;
    while c.node(l).applying_slices() {
        // A serializable read is served at once, from the state before the delete.
        let r = c.call(l, count_k(true));
        assert_eq!(count_of(&r), KEYS as i64, "a serializable read saw a half-applied delete");
        // A linearizable read waits until the delete applied.
        if linearizable.is_none() {
            linearizable = Some(c.send(l, count_k(false)));
            assert!(!c.answers.contains_key(&linearizable.unwrap()), "answered mid-entry");
        }
        c.tick();
        ticks += 1;
        assert!(ticks < 100, "the sliced delete never finished");
    }
    assert!(
        ticks >= KEYS / SLICE_KEYS - 2,
        "{ticks} ticks for {KEYS} keys in slices of {SLICE_KEYS}"
    );
    let Response::DeleteRange(d) = c.wait(del) else { panic!("not a delete answer") };
    assert_eq!(d.deleted, KEYS as i64);
    assert_eq!(c.node(l).store().current_revision(), revision + 1);
    let r = c.wait(linearizable.expect("a linearizable read was sent"));
    assert_eq!(count_of(&r), 0, "the linearizable read did not wait for the delete");
    // Writes committed behind the sliced entry applied after it, in order.
    assert!(matches!(c.put(l, &key(1), "after"), Response::Put(_)));
    assert_eq!(count_of(&c.call(l, count_k(false))), 1);
    c.converge();
}

#[test]
fn a_member_that_crashes_mid_delete_applies_it_again_from_its_log() {
    let mut c = cluster(SLICE_KEYS);
    let l = c.elect();
    load(&mut c, l);
    let f = c.followers()[0];
    let del = c.send(l, delete_all_k());
    assert!(c.node(f).applying_slices(), "the follower did not start the delete in slices");
    c.tick();
    assert!(c.node(f).applying_slices(), "one tick finished the delete");
    c.crash(f);
    let Response::DeleteRange(d) = c.wait(del) else { panic!("not a delete answer") };
    assert_eq!(d.deleted, KEYS as i64);
    c.restart(f);
    let hash = c.converge();
    let (_, one_step) = delete_on(0);
    assert_eq!(hash, one_step, "the restarted member's state is not the one-step delete's");
    assert_eq!(count_of(&c.call(f, count_k(true))), 0);
}

#[test]
fn a_delete_within_one_slice_applies_at_once() {
    let mut c = cluster(KEYS);
    let l = c.elect();
    load(&mut c, l);
    let del = c.send(l, delete_all_k());
    assert!(!c.node(l).applying_slices());
    assert!(c.answers.contains_key(&del), "a delete of {KEYS} keys waited for a tick");
}
