//! Watch: events of a prefix in revision order, resuming from a past revision with no
//! event lost or repeated, a compacted start revision, progress requests, cancel.

use crate::put;
use detcd_etcd_client_tests::{run, within, Ctx};
use etcd_client::{EventType, WatchOptions, WatchResponse, WatchStream};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);

/// The next response on the stream; panics if the stream ends or fails.
async fn next(stream: &mut WatchStream) -> WatchResponse {
    within(WAIT, "next watch response", stream.message())
        .await
        .expect("watch stream error")
        .expect("watch stream ended")
}

/// Waits for the `created` response of a new watch; returns its id.
async fn created(stream: &mut WatchStream) -> i64 {
    let resp = next(stream).await;
    assert!(resp.created(), "expected a created response, got {resp:?}");
    assert!(!resp.canceled(), "watch canceled at creation: {resp:?}");
    resp.watch_id()
}

/// (type, key, value, mod revision) of one event.
type Ev = (EventType, String, String, i64);

/// Reads responses until `n` events have come, and no more; panics on a cancel.
async fn events(stream: &mut WatchStream, n: usize) -> Vec<Ev> {
    let got = at_least(stream, n).await;
    assert_eq!(got.len(), n, "more events than expected: {got:?}");
    got
}

/// Reads responses until `n` events or more have come; panics on a cancel.
async fn at_least(stream: &mut WatchStream, n: usize) -> Vec<Ev> {
    let mut got = Vec::new();
    while got.len() < n {
        let resp = next(stream).await;
        assert!(!resp.canceled(), "watch canceled: {resp:?}");
        for e in resp.events() {
            let kv = e.kv().expect("event kv");
            got.push((
                e.event_type(),
                kv.key_str().unwrap().to_string(),
                kv.value_str().unwrap().to_string(),
                kv.mod_revision(),
            ));
        }
    }
    got
}

#[test]
fn prefix_puts_and_deletes_in_order() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let mut w = ctx.client().await;
        let mut stream =
            w.watch("w/", Some(WatchOptions::new().with_prefix().with_prev_key())).await.unwrap();
        created(&mut stream).await;
        let r1 = put(&mut c, "w/a", "1").await;
        put(&mut c, "outside", "x").await;
        let r2 = put(&mut c, "w/b", "2").await;
        let r3 = put(&mut c, "w/a", "3").await;
        let r4 = c.delete("w/a", None).await.unwrap().header().unwrap().revision();
        let got = events(&mut stream, 4).await;
        let s = |x: &str| x.to_string();
        assert_eq!(
            got,
            vec![
                (EventType::Put, s("w/a"), s("1"), r1),
                (EventType::Put, s("w/b"), s("2"), r2),
                (EventType::Put, s("w/a"), s("3"), r3),
                // A delete carries the key, no value, and the revision of the delete.
                (EventType::Delete, s("w/a"), s(""), r4),
            ]
        );
        assert!(r1 < r2 && r2 < r3 && r3 < r4);
    });
}

#[test]
fn prev_kv_and_versions_in_events() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let mut w = ctx.client().await;
        let mut stream = w.watch("p", Some(WatchOptions::new().with_prev_key())).await.unwrap();
        created(&mut stream).await;
        let r1 = put(&mut c, "p", "one").await;
        let r2 = put(&mut c, "p", "two").await;
        let r3 = c.delete("p", None).await.unwrap().header().unwrap().revision();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let resp = next(&mut stream).await;
            assert!(resp.header().unwrap().revision() >= r1);
            seen.extend(resp.events().iter().cloned());
        }
        let first = seen[0].kv().unwrap();
        assert_eq!((first.version(), first.create_revision()), (1, r1));
        assert!(seen[0].prev_kv().is_none(), "a create has no previous value");
        let second = seen[1].kv().unwrap();
        assert_eq!(
            (second.version(), second.create_revision(), second.mod_revision()),
            (2, r1, r2)
        );
        assert_eq!(seen[1].prev_kv().unwrap().value_str().unwrap(), "one");
        assert_eq!(seen[2].event_type(), EventType::Delete);
        assert_eq!(seen[2].kv().unwrap().mod_revision(), r3);
        let prev = seen[2].prev_kv().expect("prev_kv of a delete");
        assert_eq!((prev.value_str().unwrap(), prev.mod_revision()), ("two", r2));
    });
}

/// A writer puts r/00..r/29 while a first watch reads some events and is closed; a second
/// watch from (last seen revision + 1) must see exactly the rest, in order.
#[test]
fn resume_from_past_revision() {
    run(3, LIMIT, |ctx: Ctx| async move {
        const N: usize = 30;
        let mut w = ctx.client().await;
        let mut stream = w.watch("r/", Some(WatchOptions::new().with_prefix())).await.unwrap();
        created(&mut stream).await;
        let mut writer_client = ctx.client().await;
        let writer = tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..N {
                revs.push(put(&mut writer_client, &format!("r/{i:02}"), &i.to_string()).await);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            revs
        });
        let first = at_least(&mut stream, 8).await;
        drop(stream);
        let last = first.last().unwrap().3;
        // Let the writer go on while nobody watches.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut stream = w
            .watch("r/", Some(WatchOptions::new().with_prefix().with_start_revision(last + 1)))
            .await
            .unwrap();
        created(&mut stream).await;
        let revs = within(WAIT, "writer", writer).await.unwrap();
        let rest = events(&mut stream, N - first.len()).await;
        let all: Vec<_> = first.iter().chain(&rest).collect();
        for (i, e) in all.iter().enumerate() {
            assert_eq!((&e.1, e.3), (&format!("r/{i:02}"), revs[i]), "event {i} of {all:?}");
        }
        // Nothing more comes: a progress response is the next message.
        stream.request_progress().await.unwrap();
        let resp = next(&mut stream).await;
        assert!(resp.events().is_empty(), "unexpected events after the last put: {resp:?}");
    });
}

#[test]
fn compacted_start_revision_cancels_the_watch() {
    run(3, LIMIT, |ctx: Ctx| async move {
        // One member for all of it: a compaction is answered once the member that took
        // it applied it, and another member may not have yet (etcd alike), so a watch
        // there could still replay the compacted history.
        let mut c = ctx.client_of(0).await;
        let mut revs = Vec::new();
        for i in 0..5 {
            revs.push(put(&mut c, "c/k", &i.to_string()).await);
        }
        let compacted = revs[3];
        c.compact(compacted, None).await.unwrap();
        let mut w = ctx.client_of(0).await;
        let mut stream = w
            .watch("c/", Some(WatchOptions::new().with_prefix().with_start_revision(revs[0])))
            .await
            .unwrap();
        // etcd answers `created`, then cancels the watch with the compact revision.
        let resp = loop {
            let resp = next(&mut stream).await;
            assert!(resp.events().is_empty(), "events from a compacted revision: {resp:?}");
            if resp.canceled() {
                break resp;
            }
            assert!(resp.created(), "expected created or canceled, got {resp:?}");
        };
        assert_eq!(resp.compact_revision(), compacted, "{resp:?}");

        // A watch from the compact revision itself is fine and replays from there.
        let mut stream = w
            .watch("c/", Some(WatchOptions::new().with_prefix().with_start_revision(compacted)))
            .await
            .unwrap();
        created(&mut stream).await;
        let got = events(&mut stream, 2).await;
        assert_eq!((got[0].3, got[1].3), (revs[3], revs[4]));
    });
}

#[test]
fn progress_request_gets_a_response() {
    run(3, LIMIT, |ctx: Ctx| async move {
        // One member for both: a put is answered once applied on the member it went
        // through, and another member's progress header may still be behind it.
        let mut c = ctx.client_of(0).await;
        let mut w = ctx.client_of(0).await;
        let mut stream = w.watch("quiet", None).await.unwrap();
        created(&mut stream).await;
        let rev = put(&mut c, "elsewhere", "1").await;
        stream.request_progress().await.unwrap();
        let resp = next(&mut stream).await;
        assert!(resp.events().is_empty() && !resp.created() && !resp.canceled(), "{resp:?}");
        assert_eq!(resp.watch_id(), -1, "a progress response is for no watch in particular");
        assert!(resp.header().unwrap().revision() >= rev, "{resp:?}");
        // Still a working watch afterwards.
        let r = put(&mut c, "quiet", "now").await;
        assert_eq!(events(&mut stream, 1).await[0].3, r);
    });
}

#[test]
fn cancel_one_watch_and_keep_the_others() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let mut w = ctx.client().await;
        let mut stream = w.watch("x", None).await.unwrap();
        let x = created(&mut stream).await;
        stream.watch("y", None).await.unwrap();
        let y = created(&mut stream).await;
        assert_ne!(x, y);
        stream.cancel(x).await.unwrap();
        let resp = next(&mut stream).await;
        assert!(resp.canceled(), "expected the cancel response, got {resp:?}");
        assert_eq!(resp.watch_id(), x);
        // x's put comes first in revision order: had x's watch survived, it would be seen
        // before y's event.
        put(&mut c, "x", "1").await;
        let ry = put(&mut c, "y", "1").await;
        let resp = next(&mut stream).await;
        assert_eq!(resp.watch_id(), y, "{resp:?}");
        let e = &resp.events()[0];
        assert_eq!((e.kv().unwrap().key(), e.kv().unwrap().mod_revision()), (&b"y"[..], ry));
        // A third watch on the same stream still works.
        stream.watch("x", None).await.unwrap();
        let x2 = created(&mut stream).await;
        assert!(x2 != x && x2 != y);
        let rx = put(&mut c, "x", "2").await;
        let resp = next(&mut stream).await;
        assert_eq!((resp.watch_id(), resp.events()[0].kv().unwrap().mod_revision()), (x2, rx));
    });
}
