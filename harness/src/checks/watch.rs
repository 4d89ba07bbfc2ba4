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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEventRecord {
    pub revision: i64,
    pub key: Bytes,
    pub delete: bool,
    pub value: Bytes,
}

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
    /// What it received while settled after the liveness phase, if it asked for
    /// notices and stayed on one member through it.
    pub notify_window: Option<super::watch_notify::NotifyWindow>,
    /// Periodic notices it received though it did not ask for them.
    pub unasked: Vec<super::watch_notify::Unasked>,
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
            notify_window: None,
            unasked: Vec::new(),
        }
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
