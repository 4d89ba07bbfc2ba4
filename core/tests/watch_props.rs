//! Watch guarantees under random writes, compactions, cancellations and restarts:
//! ordered, exactly once, whole revisions per response, reliable (equal to the store's
//! history from the start revision), resumable from last revision + 1.

use bytes::Bytes;
use detcd_core::api::*;
use detcd_core::mvcc::{KeyRange, Store};
use detcd_core::watch::{StreamId, WatchHub};
use proptest::prelude::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn create_errors_progress_and_cancel() {
    let mut s = Store::new();
    let mut hub = WatchHub::new(100);
    let req = WatchCreateRequest { key: b("a"), watch_id: 5, ..Default::default() };
    assert_eq!(hub.create(1, &req, &s), Ok(5));
    assert_eq!(hub.create(1, &req, &s), Err(WatchError::DuplicateId));
    assert_eq!(hub.create(2, &req, &s), Ok(5), "ids are per stream");
    let empty = WatchCreateRequest { key: b("b"), range_end: b("a"), ..Default::default() };
    assert_eq!(hub.create(1, &empty, &s), Err(WatchError::EmptyRange));
    let auto = WatchCreateRequest { key: b("a"), ..Default::default() };
    assert_eq!(hub.create(1, &auto, &s), Ok(0), "server-picked ids start at 0");
    assert_eq!(hub.create(1, &auto, &s), Ok(1));
    let out = hub.drain(1);
    assert_eq!(out.len(), 5);
    assert!(out[1].created && out[1].canceled);
    assert_eq!(out[1].watch_id, INVALID_WATCH_ID);
    assert_eq!(out[1].cancel_reason, "mvcc: duplicate watch ID provided on the WatchStream");
    assert_eq!(out[2].cancel_reason, "mvcc: watcher range is empty");

    s.put(&PutRequest { key: b("a"), value: b("1"), ..Default::default() }, &|_| false)
        .expect("put");
    hub.handle(1, &WatchRequest::Progress(WatchProgressRequest {}), &s);
    // The progress answer waits until every watcher has been sent revision 2.
    assert!(hub.drain(1).is_empty());
    hub.sync(&s);
    let out = hub.drain(1);
    assert_eq!(out.len(), 4);
    assert!(out[..3].iter().all(|r| r.events.len() == 1 && r.events[0].prev_kv.is_none()));
    assert_eq!((out[3].watch_id, out[3].header.revision, out[3].events.len()), (-1, 2, 0));

    hub.handle(1, &WatchRequest::Cancel(WatchCancelRequest { watch_id: 0 }), &s);
    let out = hub.drain(1);
    assert!(out[0].canceled && out[0].watch_id == 0);
    hub.handle(1, &WatchRequest::Cancel(WatchCancelRequest { watch_id: 99 }), &s);
    assert!(hub.drain(1).is_empty(), "unknown ids are ignored");

    // A start revision below the compaction revision: created, then canceled.
    s.put(&PutRequest { key: b("a"), value: b("2"), ..Default::default() }, &|_| false)
        .expect("put");
    s.compact(3).expect("compact");
    let old = WatchCreateRequest { key: b("a"), start_revision: 2, ..Default::default() };
    let id = hub.create(1, &old, &s).expect("created");
    let out = hub.drain(1);
    assert!(out[0].created && !out[0].canceled);
    assert!(out[1].canceled && out[1].watch_id == id);
    assert_eq!(out[1].compact_revision, 3);
    // Starting at the compaction revision works and sees its event.
    let at =
        WatchCreateRequest { key: b("a"), start_revision: 3, prev_kv: true, ..Default::default() };
    hub.create(1, &at, &s).expect("created");
    let out = hub.drain(1);
    assert_eq!(out[1].events[0].kv.mod_revision, 3);
    assert_eq!(out[1].events[0].prev_kv.as_ref().map(|p| p.value.clone()), Some(b("1")));
}

#[derive(Clone, Debug)]
enum Op {
    Put(&'static str, u8),
    Delete(&'static str, &'static str),
    Txn(&'static str, &'static str),
    Compact(i64),
    Watch {
        stream: StreamId,
        key: &'static str,
        end: &'static str,
        back: i64,
        filter: u8,
        prev_kv: bool,
    },
    Cancel(usize),
    Restart(usize),
    Progress(StreamId),
}

const KEYS: &[&str] = &["a", "b", "c", "d"];
const ENDS: &[&str] = &["", "\0", "c", "e"];

fn op() -> impl Strategy<Value = Op> {
    let k = prop::sample::select(KEYS);
    let e = prop::sample::select(ENDS);
    prop_oneof![
        5 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (k.clone(), e.clone()).prop_map(|(k, e)| Op::Delete(k, e)),
        2 => (k.clone(), k.clone()).prop_map(|(a, b)| Op::Txn(a, b)),
        1 => (0i64..6).prop_map(Op::Compact),
        3 => (1u64..3, k, e, 0i64..8, 0u8..4, any::<bool>())
            .prop_map(|(stream, key, end, back, filter, prev_kv)| Op::Watch { stream, key, end, back, filter, prev_kv }),
        1 => (0usize..8).prop_map(Op::Cancel),
        1 => (0usize..8).prop_map(Op::Restart),
        1 => (1u64..3).prop_map(Op::Progress),
    ]
}

#[derive(Debug, PartialEq)]
enum State {
    Live,
    UserCanceled,
    Compacted,
}

/// One logical watch as a client sees it, possibly across restarts.
struct Logical {
    stream: StreamId,
    id: WatchId,
    range: KeyRange,
    filter: u8,
    prev_kv: bool,
    start: i64,
    got: Vec<Event>,
    state: State,
}

impl Logical {
    fn wants(&self, e: &Event) -> bool {
        self.range.contains(&e.kv.key)
            && !(self.filter & 1 == 1 && e.r#type == EventType::Put)
            && !(self.filter & 2 == 2 && e.r#type == EventType::Delete)
    }

    fn request(&self, start_revision: i64) -> WatchCreateRequest {
        let mut filters = Vec::new();
        if self.filter & 1 == 1 {
            filters.push(FilterType::NoPut);
        }
        if self.filter & 2 == 2 {
            filters.push(FilterType::NoDelete);
        }
        let (key, range_end) = match &self.range {
            KeyRange::Single(k) => (k.clone(), Bytes::new()),
            KeyRange::Span { start, end } => (start.clone(), end.clone().unwrap_or(b("\0"))),
        };
        WatchCreateRequest {
            key,
            range_end,
            start_revision,
            filters,
            prev_kv: self.prev_kv,
            ..Default::default()
        }
    }
}

fn deliver(hub: &mut WatchHub, watches: &mut [Logical]) -> Result<(), TestCaseError> {
    for stream in 1..3 {
        for resp in hub.drain(stream) {
            if resp.watch_id == INVALID_WATCH_ID || resp.created {
                continue;
            }
            let Some(w) = watches
                .iter_mut()
                .find(|w| w.stream == stream && w.id == resp.watch_id && w.state == State::Live)
            else {
                continue;
            };
            if resp.compact_revision != 0 {
                prop_assert!(resp.canceled);
                w.state = State::Compacted;
                continue;
            }
            // Whole revisions only: a response never starts with a revision the previous
            // one already delivered.
            if let (Some(last), Some(first)) = (w.got.last(), resp.events.first()) {
                prop_assert!(
                    first.kv.mod_revision > last.kv.mod_revision,
                    "revision split or reordered"
                );
            }
            for e in &resp.events {
                prop_assert!(e.kv.mod_revision <= resp.header.revision);
            }
            w.got.extend(resp.events.iter().cloned());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn watch_guarantees(ops in prop::collection::vec(op(), 1..60)) {
        let mut s = Store::new();
        let mut hub = WatchHub::new(2);
        let mut history: Vec<Event> = Vec::new();
        let mut watches: Vec<Logical> = Vec::new();
        for op in &ops {
            let written = match op {
                Op::Put(k, v) => Some(s.put(&PutRequest { key: b(k), value: Bytes::from(vec![*v]), ..Default::default() }, &|_| false).expect("put").events),
                Op::Delete(k, e) => s.delete_range(&DeleteRangeRequest { key: b(k), range_end: b(e), ..Default::default() }).ok().map(|w| w.events),
                Op::Txn(a, c) => {
                    let ops = vec![
                        RequestOp::Put(PutRequest { key: b(a), value: b("t"), ..Default::default() }),
                        RequestOp::DeleteRange(DeleteRangeRequest { key: b(c), ..Default::default() }),
                    ];
                    s.txn(&TxnRequest { success: ops, ..Default::default() }, &|_| false).ok().map(|w| w.events)
                }
                Op::Compact(back) => {
                    let _ = s.compact(s.current_revision() - back);
                    None
                }
                Op::Watch { stream, key, end, back, filter, prev_kv } => {
                    let start = if *back == 0 { 0 } else { (s.current_revision() + 1 - back).max(1) };
                    let mut w = Logical {
                        stream: *stream,
                        id: 0,
                        range: KeyRange::new(&b(key), &b(end)),
                        filter: *filter,
                        prev_kv: *prev_kv,
                        start: if start == 0 { s.current_revision() + 1 } else { start },
                        got: Vec::new(),
                        state: State::Live,
                    };
                    match hub.create(*stream, &w.request(start), &s) {
                        Ok(id) => {
                            w.id = id;
                            watches.push(w);
                        }
                        Err(e) => prop_assert_eq!(e, WatchError::EmptyRange),
                    }
                    None
                }
                Op::Cancel(i) => {
                    if let Some(w) = watches.get_mut(*i).filter(|w| w.state == State::Live) {
                        prop_assert!(hub.cancel(w.stream, w.id, &s));
                        w.state = State::UserCanceled;
                    }
                    None
                }
                Op::Restart(i) => {
                    deliver(&mut hub, &mut watches)?;
                    if let Some(w) = watches.get_mut(*i).filter(|w| w.state == State::Live) {
                        prop_assert!(hub.cancel(w.stream, w.id, &s));
                        let from = w.got.last().map_or(w.start, |e| e.kv.mod_revision + 1);
                        w.id = hub.create(w.stream, &w.request(from), &s).expect("restart");
                    }
                    None
                }
                Op::Progress(stream) => {
                    hub.request_progress(*stream, &s);
                    None
                }
            };
            if let Some(events) = written {
                history.extend(events.iter().cloned());
            }
            hub.sync(&s);
            deliver(&mut hub, &mut watches)?;
        }
        for w in &watches {
            let want: Vec<Event> = history
                .iter()
                .filter(|e| e.kv.mod_revision >= w.start && w.wants(e))
                .map(|e| Event { prev_kv: if w.prev_kv { e.prev_kv.clone() } else { None }, ..e.clone() })
                .collect();
            if w.state == State::Live {
                prop_assert_eq!(&w.got, &want);
            } else {
                prop_assert!(w.got.len() <= want.len() && w.got[..] == want[..w.got.len()], "not a prefix");
            }
        }
    }
}
