//! Watches through the etcd server state machine: created on any member, fed from that
//! member's applied state, events in revision order, history replay from a start
//! revision, cancel, progress, and compaction.

mod server_net;

use bytes::Bytes;
use detcd_core::api::{CompactionRequest, EventType, WatchCreateRequest, WatchResponse};
use detcd_core::server::{Request, Response};
use server_net::Cluster;

fn b(s: &str) -> Bytes {
    Bytes::from(s.as_bytes().to_vec())
}

fn prefix(p: &str, start_revision: i64) -> WatchCreateRequest {
    let mut end = p.as_bytes().to_vec();
    *end.last_mut().expect("non-empty prefix") += 1;
    WatchCreateRequest { key: b(p), range_end: end.into(), start_revision, ..Default::default() }
}

/// (revision, type, key, value) of every event a watch stream received.
fn events(stream: &[WatchResponse]) -> Vec<(i64, EventType, String, String)> {
    stream
        .iter()
        .flat_map(|r| r.events.iter())
        .map(|e| {
            (
                e.kv.mod_revision,
                e.r#type,
                String::from_utf8_lossy(&e.kv.key).into_owned(),
                String::from_utf8_lossy(&e.kv.value).into_owned(),
            )
        })
        .collect()
}

#[test]
fn a_watch_on_a_follower_sees_every_event_in_order() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = c.followers()[0];
    let w = c.send(f, Request::WatchCreate { stream: 1, create: prefix("w/", 0) });
    let created = &c.watch[&w][0];
    assert!(created.created && !created.canceled);
    let watch_id = created.watch_id;
    for i in 0..5 {
        let node = if i % 2 == 0 { l } else { f };
        c.put(node, &format!("w/{i}"), &i.to_string());
    }
    c.put(l, "other", "x");
    c.call(
        l,
        Request::DeleteRange(detcd_core::api::DeleteRangeRequest {
            key: b("w/0"),
            ..Default::default()
        }),
    );
    c.run(5);
    let got = events(&c.watch[&w]);
    let want: Vec<_> = (0..5)
        .map(|i| (2 + i as i64, EventType::Put, format!("w/{i}"), i.to_string()))
        .chain([(8, EventType::Delete, "w/0".to_string(), String::new())])
        .collect();
    assert_eq!(got, want);
    assert!(c.watch[&w].iter().all(|r| r.watch_id == watch_id));
    assert!(
        !c.answers.contains_key(&w),
        "a watch create stays open: its responses are stream messages"
    );

    let cancel = c.send(f, Request::WatchCancel { stream: 1, watch_id });
    let last = c.watch[&w].last().expect("a final response");
    assert!(last.canceled, "the watcher's stream is closed with a canceled response");
    assert!(c.watch[&cancel][0].canceled);
    c.put(l, "w/late", "x");
    c.run(3);
    assert!(!events(&c.watch[&w]).iter().any(|e| e.2 == "w/late"), "no events after cancel");
}

#[test]
fn start_revision_replays_history_and_compaction_cancels() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for i in 0..4 {
        c.put(l, "h", &i.to_string());
    }
    c.run(3);
    // Revisions 2..=5. Replay from 3 on a follower.
    let f = c.followers()[1];
    let w = c.send(f, Request::WatchCreate { stream: 9, create: prefix("h", 3) });
    let got: Vec<i64> = events(&c.watch[&w]).iter().map(|e| e.0).collect();
    assert_eq!(got, vec![3, 4, 5]);
    c.call(l, Request::Compact(CompactionRequest { revision: 5, physical: false }));
    c.run(3);
    let old = c.send(f, Request::WatchCreate { stream: 9, create: prefix("h", 2) });
    let last = c.watch[&old].last().expect("responses");
    assert!(last.canceled, "a watch from a compacted revision is canceled");
    assert_eq!(last.compact_revision, 5);
    // The live watcher goes on.
    c.put(l, "h", "after");
    c.run(3);
    assert_eq!(events(&c.watch[&w]).last().map(|e| e.0), Some(6), "compaction takes no revision");
}

#[test]
fn progress_and_refused_creates_are_answered_once() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let mine = WatchCreateRequest { watch_id: 7, ..prefix("p", 0) };
    let w = c.send(l, Request::WatchCreate { stream: 4, create: mine });
    let id = c.watch[&w][0].watch_id;
    assert_eq!(id, 7, "a client-chosen watch id is kept");
    c.put(l, "p1", "v");
    let p = c.send(l, Request::WatchProgress { stream: 4 });
    assert_eq!(c.watch[&p].len(), 1);
    assert_eq!(c.watch[&p][0].watch_id, -1);
    assert_eq!(c.watch[&p][0].header.revision, 2);
    let dup = WatchCreateRequest { watch_id: id, ..prefix("p", 0) };
    let d = c.send(l, Request::WatchCreate { stream: 4, create: dup });
    assert_eq!(c.watch[&d].len(), 1);
    assert!(c.watch[&d][0].created && c.watch[&d][0].canceled, "{:?}", c.watch[&d]);
    assert_eq!(
        c.watch[&d][0].cancel_reason,
        "mvcc: duplicate watch ID provided on the WatchStream"
    );
    let empty = WatchCreateRequest { key: b("b"), range_end: b("a"), ..Default::default() };
    let e = c.send(l, Request::WatchCreate { stream: 4, create: empty });
    assert_eq!(c.watch[&e][0].cancel_reason, "mvcc: watcher range is empty");
    // The good watcher is untouched.
    assert!(!c.watch[&w].iter().any(|r| r.canceled));
    assert!(matches!(c.answers.get(&w), None | Some((_, Response::Watch(_)))));
}

#[test]
fn progress_notify_watchers_get_periodic_notices() {
    let configs = (1..=3)
        .map(|id| {
            let mut cfg = server_net::config(id, 3);
            cfg.watch_progress_ticks = 10;
            cfg
        })
        .collect();
    let mut c = Cluster::with_configs(configs);
    let l = c.elect();
    let notify = WatchCreateRequest { progress_notify: true, ..prefix("n", 0) };
    let w = c.send(l, Request::WatchCreate { stream: 2, create: notify });
    let quiet = c.send(l, Request::WatchCreate { stream: 2, create: prefix("q", 0) });
    c.put(l, "other", "v");
    c.run(30);
    let notices: Vec<_> = c.watch[&w].iter().skip(1).collect();
    assert!(notices.len() >= 2, "{notices:?}");
    assert!(notices.iter().all(|r| r.events.is_empty() && !r.canceled));
    assert_eq!(notices.last().map(|r| r.header.revision), Some(2));
    assert_eq!(c.watch[&quiet].len(), 1, "only watchers that asked get notices");
}

#[test]
fn closing_a_stream_cancels_its_watchers_and_no_other() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let a = c.send(l, Request::WatchCreate { stream: 5, create: prefix("c", 0) });
    let b = c.send(l, Request::WatchCreate { stream: 5, create: prefix("d", 0) });
    let other = c.send(l, Request::WatchCreate { stream: 6, create: prefix("c", 0) });
    let close = c.send(l, Request::WatchClose { stream: 5 });
    assert_eq!(c.watch[&close].len(), 1);
    assert!(c.watch[&close][0].canceled);
    for w in [a, b] {
        assert!(c.watch[&w].last().is_some_and(|r| r.canceled), "watcher {w} not closed");
    }
    c.put(l, "c1", "v");
    c.run(3);
    assert_eq!(c.watch[&a].iter().filter(|r| !r.events.is_empty()).count(), 0);
    assert_eq!(c.watch[&other].iter().map(|r| r.events.len()).sum::<usize>(), 1);
    assert_eq!(c.node(l).watchers(), 1);
}
