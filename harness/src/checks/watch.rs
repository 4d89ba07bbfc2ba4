//! Checks of etcd's watch guarantees on each logical watch stream a client kept open
//! (resumed from `last revision + 1` on another member when its stream broke):
//!
//! - ordered: events arrive in revision order;
//! - unique: no event (revision, key) arrives twice;
//! - atomic: all events of one revision arrive in one response;
//! - reliable: between the stream's start and the last revision it saw, it missed no
//!   event of the cluster's history that matches the watched range;
//! - resumable: all of the above hold across the resumptions;
//! - live: a stream still open when the run ends received every matching event up to
//!   the revision its member had applied a while before the end (`must_reach`), so a
//!   stream that silently stops delivering while the cluster writes is caught, not
//!   only one that skips.

use crate::report::{check_names::WATCH, CheckResult};
use bytes::Bytes;
use std::collections::BTreeMap;

/// An event as a watcher saw it, or as the cluster's history holds it.
#[derive(Clone, Debug)]
pub struct WatchEventRecord {
    pub revision: i64,
    pub key: Bytes,
    pub delete: bool,
    pub value: Bytes,
    /// The key's version before the event (`prev_kv`): its mod revision and value.
    pub prev: Option<(i64, Bytes)>,
}

/// Events are compared without `prev`: the history's copy comes from the same code as
/// the stream's, so only the stream's own sequence can judge it (`prev_kv_wrong`).
impl PartialEq for WatchEventRecord {
    fn eq(&self, other: &Self) -> bool {
        (self.revision, &self.key, self.delete, &self.value)
            == (other.revision, &other.key, other.delete, &other.value)
    }
}

impl Eq for WatchEventRecord {}

/// One logical watch stream over `[key, range_end)` (etcd's range rules).
#[derive(Clone, Debug, Default)]
pub struct WatchStreamRecord {
    pub client: u64,
    pub key: Bytes,
    pub range_end: Bytes,
    /// The first revision the stream asked for.
    pub start_revision: i64,
    /// Each response's events, in arrival order.
    pub responses: Vec<Vec<WatchEventRecord>>,
    /// The stream was cancelled because its start was compacted: reliability below
    /// this revision cannot be asked of it.
    pub compacted_at: Option<i64>,
    /// The stream was open at the end of the run on a member that had applied this
    /// revision long enough before the end for its events to arrive.
    pub must_reach: Option<i64>,
    /// Every answer of every request that carried the stream, in arrival order.
    pub answers: Vec<super::watch_answers::WatchAnswerRecord>,
    /// The answers to progress requests about the stream, and its periodic notices.
    pub progress: super::watch_progress::StreamProgress,
    /// Its watches asked for periodic progress notices (`progress_notify`).
    pub progress_notify: bool,
    /// Its watches asked for each event's previous version (`prev_kv`).
    pub prev_kv: bool,
    /// What it received while settled after the liveness phase, if it asked for
    /// notices and stayed on one member through it.
    pub notify_window: Option<super::watch_notify::NotifyWindow>,
    /// Periodic notices it received though it did not ask for them.
    pub unasked: Vec<super::watch_notify::Unasked>,
}

/// With `prev_kv` asked, an event carries the key's version before it. The stream
/// itself says what that is once it delivered an earlier event of the key: that put
/// (mod revision and value), or nothing after a delete. A delete always has one, since
/// only a key that exists is deleted. A key's first event in the stream is otherwise
/// not judged: its earlier versions came before the stream's start. Nor is any event of
/// a stream a compaction cancelled: it resumed past the compacted revisions, so its
/// earlier events leave a gap.
fn prev_kv_wrong(stream: &WatchStreamRecord) -> Option<String> {
    if !stream.prev_kv {
        return None;
    }
    let whole = stream.compacted_at.is_none();
    let mut last: BTreeMap<&Bytes, &WatchEventRecord> = BTreeMap::new();
    for event in stream.responses.iter().flatten() {
        let expected = match last.get(&event.key) {
            Some(p) if p.delete => Some(None),
            Some(p) => Some(Some((p.revision, p.value.clone()))),
            None => None,
        };
        let shown = |p: &Option<(i64, Bytes)>| match p {
            Some((rev, value)) => format!("the put at revision {rev} ({})", text(value)),
            None => "none".to_string(),
        };
        let kind = if event.delete { "delete" } else { "put" };
        if event.delete && expected.is_none() && event.prev.is_none() {
            return Some(format!(
                "the {kind} of {} at revision {} carries no previous version, though a \
                 delete only removes a key that exists",
                text(&event.key),
                event.revision
            ));
        }
        if let Some(expected) = expected.filter(|_| whole) {
            if expected != event.prev {
                return Some(format!(
                    "the {kind} of {} at revision {} carries previous version {}, where the \
                     stream's own earlier events make it {}",
                    text(&event.key),
                    event.revision,
                    shown(&event.prev),
                    shown(&expected)
                ));
            }
        }
        last.insert(&event.key, event);
    }
    None
}

fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        key == start
    } else if end == [0] {
        key >= start
    } else {
        key >= start && key < end
    }
}

/// Checks every stream against the cluster's history: `history` maps each revision to
/// its events (from a converged member); it is complete from `history_from` on.
pub fn check_watch_streams(
    streams: &[WatchStreamRecord],
    history: &BTreeMap<i64, Vec<WatchEventRecord>>,
    history_from: i64,
) -> CheckResult {
    let mut events_checked = 0usize;
    for (n, stream) in streams.iter().enumerate() {
        let who = format!("watch stream {n} of client {}", stream.client);
        if let Some(why) = prev_kv_wrong(stream) {
            return CheckResult::fail(WATCH, format!("{who}: {why}"));
        }
        let mut last: Option<(i64, Bytes)> = None;
        let mut delivered: std::collections::BTreeSet<(i64, Bytes)> = Default::default();
        let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
        let mut received: BTreeMap<i64, Vec<&WatchEventRecord>> = BTreeMap::new();
        for (r, response) in stream.responses.iter().enumerate() {
            for event in response {
                events_checked += 1;
                if let Some((rev, _)) = &last {
                    let twice = delivered.contains(&(event.revision, event.key.clone()));
                    if event.revision < *rev || twice {
                        let what = if twice { "twice" } else { "out of order" };
                        return CheckResult::fail(
                            WATCH,
                            format!(
                                "{who}: event at revision {} on key {} arrived {what} (after revision {rev})",
                                event.revision,
                                text(&event.key)
                            ),
                        );
                    }
                }
                if let Some(first_response) = seen.get(&event.revision) {
                    if *first_response != r {
                        return CheckResult::fail(
                            WATCH,
                            format!(
                                "{who}: revision {} was split across responses {first_response} and {r} (not atomic)",
                                event.revision
                            ),
                        );
                    }
                }
                if !in_range(&event.key, &stream.key, &stream.range_end) {
                    return CheckResult::fail(
                        WATCH,
                        format!(
                            "{who}: event for key {} outside the watched range",
                            text(&event.key)
                        ),
                    );
                }
                delivered.insert((event.revision, event.key.clone()));
                seen.insert(event.revision, r);
                received.entry(event.revision).or_default().push(event);
                last = Some((event.revision, event.key.clone()));
            }
        }
        let received_through = last.as_ref().map(|(rev, _)| *rev);
        let Some(last_revision) = received_through.max(stream.must_reach) else { continue };
        let from = stream.start_revision.max(history_from).max(stream.compacted_at.unwrap_or(0));
        if from > last_revision {
            continue;
        }
        if stream.must_reach.is_some_and(|m| received_through.is_none_or(|r| r < m)) {
            let after = received_through.unwrap_or(from - 1);
            let missed: usize = history
                .range(after + 1..=last_revision)
                .map(|(_, events)| {
                    events
                        .iter()
                        .filter(|e| in_range(&e.key, &stream.key, &stream.range_end))
                        .count()
                })
                .sum();
            if missed > 0 {
                return CheckResult::fail(
                    WATCH,
                    format!(
                        "{who}: stopped delivering: nothing after revision {after}, though the stream was open and its member had applied revision {last_revision} with {missed} matching event(s) since"
                    ),
                );
            }
        }
        for (revision, events) in history.range(from..=last_revision) {
            let expected: Vec<&WatchEventRecord> = events
                .iter()
                .filter(|e| in_range(&e.key, &stream.key, &stream.range_end))
                .collect();
            let got = received.get(revision).cloned().unwrap_or_default();
            if expected != got {
                return CheckResult::fail(
                    WATCH,
                    format!(
                        "{who}: at revision {revision} expected {} event(s) [{}], received [{}] (not reliable)",
                        expected.len(),
                        events_words(&expected),
                        events_words(&got)
                    ),
                );
            }
        }
    }
    CheckResult::pass(
        WATCH,
        format!(
            "{} stream(s), {events_checked} event(s): ordered, unique, atomic, reliable",
            streams.len()
        ),
    )
}

/// A key or value as text (keys and values in these workloads are text).
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Watch events in words: `put k=v` or `delete k`.
fn events_words(events: &[&WatchEventRecord]) -> String {
    let words: Vec<String> = events
        .iter()
        .map(|e| {
            if e.delete {
                format!("delete {}", text(&e.key))
            } else {
                format!("put {}={}", text(&e.key), text(&e.value))
            }
        })
        .collect();
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn ev(revision: i64, key: &str) -> WatchEventRecord {
        WatchEventRecord {
            revision,
            key: Bytes::copy_from_slice(key.as_bytes()),
            delete: false,
            value: Bytes::from_static(b"v"),
            prev: None,
        }
    }

    fn history() -> BTreeMap<i64, Vec<WatchEventRecord>> {
        BTreeMap::from([
            (2, vec![ev(2, "a")]),
            (3, vec![ev(3, "a"), ev(3, "b")]),
            (4, vec![ev(4, "z")]),
            (5, vec![ev(5, "b")]),
        ])
    }

    fn stream(responses: Vec<Vec<WatchEventRecord>>) -> WatchStreamRecord {
        WatchStreamRecord {
            client: 1,
            key: Bytes::from_static(b"a"),
            range_end: Bytes::from_static(b"c"),
            start_revision: 2,
            responses,
            compacted_at: None,
            must_reach: None,
            answers: Vec::new(),
            progress: Default::default(),
            progress_notify: false,
            prev_kv: false,
            notify_window: None,
            unasked: Vec::new(),
        }
    }

    /// With prev_kv, each event of a key carries the stream's previous event of it:
    /// a later put the earlier put, a put after a delete nothing, a delete a version.
    #[test]
    fn previous_versions_follow_the_stream() {
        let with = |revision, key: &str, delete, prev: Option<i64>| WatchEventRecord {
            delete,
            prev: prev.map(|r| (r, Bytes::from_static(b"v"))),
            ..ev(revision, key)
        };
        let judged = |events: Vec<WatchEventRecord>| {
            let mut s = stream(vec![events]);
            s.prev_kv = true;
            prev_kv_wrong(&s)
        };
        let faithful = vec![
            with(2, "a", false, Some(1)), // its earlier versions precede the stream
            with(3, "a", false, Some(2)),
            with(3, "b", false, None),
            with(4, "a", true, Some(3)),
            with(5, "a", false, None),
            with(6, "b", true, Some(3)),
        ];
        assert_eq!(judged(faithful), None);
        let why = judged(vec![with(2, "a", false, None), with(3, "a", false, None)]);
        assert!(
            why.as_deref().is_some_and(|w| w.contains("make it the put at revision 2")),
            "{why:?}"
        );
        assert!(judged(vec![with(2, "a", false, None), with(3, "a", false, Some(1))]).is_some());
        assert!(judged(vec![with(2, "a", true, Some(1)), with(3, "a", false, Some(2))]).is_some());
        assert!(judged(vec![with(4, "a", true, None)]).is_some(), "a delete of nothing");
        let mut cut = stream(vec![vec![with(2, "a", false, None), with(9, "a", false, Some(8))]]);
        (cut.prev_kv, cut.compacted_at) = (true, Some(5));
        assert_eq!(prev_kv_wrong(&cut), None, "a compaction's gap");
        cut.responses.push(vec![with(10, "b", true, None)]);
        assert!(prev_kv_wrong(&cut).is_some(), "a delete of nothing, gap or not");
        let mut unasked = stream(vec![vec![with(4, "a", true, None)]]);
        unasked.prev_kv = false;
        assert_eq!(prev_kv_wrong(&unasked), None);
    }

    #[test]
    fn a_faithful_stream_passes() {
        let s = stream(vec![vec![ev(2, "a")], vec![ev(3, "a"), ev(3, "b")], vec![ev(5, "b")]]);
        let r = check_watch_streams(&[s], &history(), 1);
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
    }

    #[test]
    fn each_broken_guarantee_is_caught() {
        let cases = [
            (vec![vec![ev(3, "a"), ev(3, "b")], vec![ev(2, "a")]], "out of order"),
            (vec![vec![ev(2, "a")], vec![ev(2, "a")]], "twice"),
            (vec![vec![ev(2, "a")], vec![ev(3, "a")], vec![ev(3, "b")]], "not atomic"),
            (vec![vec![ev(2, "a")], vec![ev(5, "b")]], "not reliable"),
            (vec![vec![ev(2, "a"), ev(4, "z")]], "outside the watched range"),
        ];
        let mut stalled = stream(vec![vec![ev(2, "a")]]);
        stalled.must_reach = Some(5);
        let r = check_watch_streams(&[stalled.clone()], &history(), 1);
        assert_eq!(r.verdict, Verdict::Fail, "a silent stall not caught");
        assert!(
            r.evidence.contains("stopped delivering: nothing after revision 2"),
            "{}",
            r.evidence
        );
        // The same stream is fine if its member had applied only revision 2.
        stalled.must_reach = Some(2);
        let r = check_watch_streams(&[stalled], &history(), 1);
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
        for (responses, why) in cases {
            let r = check_watch_streams(&[stream(responses)], &history(), 1);
            assert_eq!(r.verdict, Verdict::Fail, "{why} not caught");
            assert!(r.evidence.contains(why), "{why}: {}", r.evidence);
        }
    }
}
