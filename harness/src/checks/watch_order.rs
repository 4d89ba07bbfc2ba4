//! The order of events within one revision. A txn that writes several keys makes
//! several events at one revision, and etcd gives them in the txn's order of
//! operations (each write has the next sub-revision). A watch that catches up from a
//! member's history gets them in the order that member's store recorded; so every
//! source of a revision's events must agree with the order the write made them: the
//! write log (read from the member furthest ahead while the run went on), each running
//! member's store at the end (what a watch catching up there, or on a member restored
//! from a snapshot, is given), and each watch stream.

use super::watch::{WatchEventRecord, WatchStreamRecord};
use crate::history::text;
use crate::report::{check_names::WATCH, CheckResult};
use bytes::Bytes;
use std::collections::BTreeMap;

/// The events of each revision that has more than one, as (key, deletion) in the
/// order the write log read them.
pub type WriteOrder = BTreeMap<i64, Vec<(Bytes, bool)>>;

/// `got`, some of the events of revision `revision` as one source gave them, must come
/// in the order `written` has for those keys.
fn in_write_order(
    who: &str,
    revision: i64,
    written: &[(Bytes, bool)],
    got: &[&WatchEventRecord],
) -> Result<(), String> {
    if got.len() < 2 {
        return Ok(());
    }
    let want: Vec<&(Bytes, bool)> =
        written.iter().filter(|(k, _)| got.iter().any(|e| e.key == *k)).collect();
    let same = want.len() == got.len()
        && want.iter().zip(got).all(|((k, d), e)| *k == e.key && *d == e.delete);
    if same {
        return Ok(());
    }
    let words = |it: &mut dyn Iterator<Item = (&Bytes, bool)>| {
        it.map(|(k, d)| format!("{} {}", if d { "delete" } else { "put" }, text(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "{who}: the events of revision {revision} came as [{}], the write made them as [{}] (sub-revision order)",
        words(&mut got.iter().map(|e| (&e.key, e.delete))),
        words(&mut want.iter().map(|(k, d)| (k, *d)))
    ))
}

/// One source's events by revision (a member's store).
pub fn check_source<'a>(
    who: &str,
    written: &WriteOrder,
    events: impl IntoIterator<Item = (i64, &'a [WatchEventRecord])>,
) -> Result<usize, String> {
    let mut checked = 0;
    for (revision, events) in events {
        let Some(w) = written.get(&revision) else { continue };
        let got: Vec<&WatchEventRecord> = events.iter().collect();
        in_write_order(who, revision, w, &got)?;
        checked += 1;
    }
    Ok(checked)
}

/// Every watch stream's events, a revision at a time (the watch check holds a revision's
/// events to one response).
pub fn check_streams(streams: &[WatchStreamRecord], written: &WriteOrder) -> Result<usize, String> {
    let mut checked = 0;
    for (n, stream) in streams.iter().enumerate() {
        let who = format!("watch stream {n} of client {}", stream.client);
        for response in &stream.responses {
            for run in response.chunk_by(|a, b| a.revision == b.revision) {
                let revision = run[0].revision;
                if let Some(w) = written.get(&revision) {
                    let got: Vec<&WatchEventRecord> = run.iter().collect();
                    in_write_order(&who, revision, w, &got)?;
                    checked += 1;
                }
            }
        }
    }
    Ok(checked)
}

/// The order check as one result of the watch check: `sources` are the members' stores.
pub fn check_order(
    written: &WriteOrder,
    sources: &[(String, BTreeMap<i64, Vec<WatchEventRecord>>)],
    streams: &[WatchStreamRecord],
) -> CheckResult {
    let mut checked = 0;
    for (who, events) in sources {
        match check_source(who, written, events.iter().map(|(r, e)| (*r, e.as_slice()))) {
            Ok(n) => checked += n,
            Err(why) => return CheckResult::fail(WATCH, why),
        }
    }
    match check_streams(streams, written) {
        Ok(n) => checked += n,
        Err(why) => return CheckResult::fail(WATCH, why),
    }
    CheckResult::pass(
        WATCH,
        format!("{checked} multi-event revision(s) in write order ({} written)", written.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn ev(revision: i64, key: &str, delete: bool) -> WatchEventRecord {
        WatchEventRecord {
            revision,
            key: Bytes::copy_from_slice(key.as_bytes()),
            delete,
            value: Bytes::new(),
            prev: None,
        }
    }

    /// Revision 3 wrote k/b, then deleted k/a, then wrote k/c (not key order).
    fn written() -> WriteOrder {
        let k = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        BTreeMap::from([(3, vec![(k("k/b"), false), (k("k/a"), true), (k("k/c"), false)])])
    }

    fn store(events: Vec<WatchEventRecord>) -> Vec<(String, BTreeMap<i64, Vec<WatchEventRecord>>)> {
        vec![("member 1".into(), BTreeMap::from([(2, vec![ev(2, "k/a", false)]), (3, events)]))]
    }

    fn stream(responses: Vec<Vec<WatchEventRecord>>) -> WatchStreamRecord {
        WatchStreamRecord { client: 1, responses, ..WatchStreamRecord::default() }
    }

    #[test]
    fn the_write_order_passes() {
        let in_order = vec![ev(3, "k/b", false), ev(3, "k/a", true), ev(3, "k/c", false)];
        // A stream over part of the keys sees that part in the same order.
        let part =
            stream(vec![vec![ev(2, "k/a", false), ev(3, "k/b", false), ev(3, "k/c", false)]]);
        let r = check_order(&written(), &store(in_order), &[part]);
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
        assert!(r.evidence.starts_with("2 multi-event"), "{}", r.evidence);
    }

    #[test]
    fn another_order_is_caught() {
        // Key order, as a store that lost the sub-revisions rebuilds it.
        let sorted = vec![ev(3, "k/a", true), ev(3, "k/b", false), ev(3, "k/c", false)];
        let r = check_order(&written(), &store(sorted.clone()), &[]);
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(
            r.evidence.contains(
                "member 1: the events of revision 3 came as [delete k/a, put k/b, put k/c], the write made them as [put k/b, delete k/a, put k/c]"
            ),
            "{}",
            r.evidence
        );
        let in_order = vec![ev(3, "k/b", false), ev(3, "k/a", true), ev(3, "k/c", false)];
        let r = check_order(&written(), &store(in_order.clone()), &[stream(vec![sorted])]);
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.evidence.contains("watch stream 0 of client 1"), "{}", r.evidence);
        // A put reported as a deletion is out of order too.
        let mut flipped = in_order;
        flipped[1].delete = false;
        let r = check_order(&written(), &store(flipped), &[]);
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.evidence);
        // Two of the keys swapped inside one response of a stream.
        let swapped = stream(vec![vec![ev(3, "k/c", false), ev(3, "k/b", false)]]);
        let r = check_order(&written(), &[], &[swapped]);
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.evidence);
    }
}
