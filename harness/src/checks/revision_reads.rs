//! Reads at a given revision, checked against the committed write log: ranges at an
//! old revision (right at the compaction boundary above all), the pages of a paged
//! list, and count-only ranges.
//!
//! - A read answered at revision R shows exactly the keys the committed history holds
//!   at R: values, create and mod revisions, versions; a page shows the first `limit`
//!   of them from its start key, `more` when there are others, and `count` of all.
//! - A read with revision filters (`--min-mod-rev` and the like) keeps only the keys
//!   within every bound, and still counts all of them, as etcd does.
//! - etcd keeps the compaction revision itself readable: a read at R fails with
//!   `mvcc: required revision has been compacted` only once a compaction above R was
//!   asked for, and a linearizable read at R never succeeds after a compaction above R
//!   completed (that would be a read of history etcd said is gone).
//!
//! The linearizability check cannot see these: its model holds the current store
//! only, and a read at a fixed revision is not ordered by its call time.

use crate::history::{text, WriteLog};
use crate::range_filter::RevisionFilter;
use crate::report::{check_names::REVISION_READS, CheckResult};
use crate::workload::{OpKind, OpOutcome, OpRecord, KEYS_END, KEY_PREFIX};
use detcd_core::api::{EtcdError, RangeResponse};
use detcd_core::server::Response;

/// What a read at a revision asked for.
struct Shape<'a> {
    /// The revision (0: the current one).
    revision: i64,
    start: &'a str,
    /// The page size (0: none).
    limit: i64,
    count_only: bool,
    filter: RevisionFilter,
}

/// A read's shape; `None` for other operations.
fn read_shape(kind: &OpKind) -> Option<Shape<'_>> {
    let shape = |revision, start, limit, count_only, filter| {
        Some(Shape { revision, start, limit, count_only, filter })
    };
    match kind {
        OpKind::RangeAt { revision, filter } => shape(*revision, KEY_PREFIX, 0, false, *filter),
        OpKind::ListPage { revision, start, limit } => {
            shape(*revision, start, *limit, false, RevisionFilter::default())
        }
        OpKind::Count => shape(0, KEY_PREFIX, 0, true, RevisionFilter::default()),
        _ => None,
    }
}

/// Checks every read at a revision in `records` against `log` (the converged cluster's
/// history; `None` when the run did not converge: only the compaction rules are checked).
pub fn check_revision_reads(records: &[OpRecord], log: Option<&WriteLog>) -> CheckResult {
    // Compactions: (revision, call time, completion time when it succeeded).
    let compactions: Vec<(i64, u64, Option<u64>)> = records
        .iter()
        .filter_map(|r| match (&r.kind, &r.outcome) {
            (OpKind::Compact { .. }, OpOutcome::Failed(_) | OpOutcome::Refused) => None,
            (OpKind::Compact { revision }, OpOutcome::Ok(_)) => {
                Some((*revision, r.invoke_us, Some(r.complete_us)))
            }
            (OpKind::Compact { revision }, _) => Some((*revision, r.invoke_us, None)),
            _ => None,
        })
        .collect();
    let (mut checked, mut compacted, mut unchecked) = (0u64, 0u64, 0u64);
    for r in records {
        let Some(shape) = read_shape(&r.kind) else { continue };
        let asked = shape.revision;
        let who = format!("client {} ({} on member {})", r.client, r.kind.describe(), r.node);
        match &r.outcome {
            OpOutcome::Failed(EtcdError::Compacted) if asked > 0 => {
                compacted += 1;
                let asked_above =
                    compactions.iter().any(|&(c, call, _)| c > asked && call <= r.complete_us);
                if !asked_above {
                    return CheckResult::fail(
                        REVISION_READS,
                        format!(
                            "{who}: failed with `mvcc: required revision has been compacted` at revision {asked}, but no compaction above {asked} had been asked for (the compaction revision itself stays readable)"
                        ),
                    );
                }
            }
            OpOutcome::Ok(Response::Range(resp)) => {
                if asked > 0 {
                    let done_above = compactions
                        .iter()
                        .find(|&&(c, _, done)| c > asked && done.is_some_and(|d| d < r.invoke_us));
                    if let Some((c, _, _)) = done_above {
                        return CheckResult::fail(
                            REVISION_READS,
                            format!(
                                "{who}: answered at revision {asked} although a compaction to {c} had completed before it was sent (expected `mvcc: required revision has been compacted`)"
                            ),
                        );
                    }
                }
                let at = if asked > 0 { asked } else { resp.header.revision };
                match log.filter(|l| l.complete_through(at)) {
                    Some(log) => {
                        if let Err(why) = compare(resp, log, at, &shape) {
                            return CheckResult::fail(
                                REVISION_READS,
                                format!("{who}: at revision {at} {why}"),
                            );
                        }
                        checked += 1;
                    }
                    None => unchecked += 1,
                }
            }
            _ => {}
        }
    }
    CheckResult::pass(
        REVISION_READS,
        format!(
            "{checked} read(s) at a revision match the committed history, {compacted} compacted as asked; {unchecked} not comparable (history incomplete)"
        ),
    )
}

/// Whether `resp` is what the history holds at `at`: `Err` says what differs.
fn compare(resp: &RangeResponse, log: &WriteLog, at: i64, shape: &Shape) -> Result<(), String> {
    let all = log.keys_at(shape.start, KEYS_END, at);
    // etcd counts before it filters.
    let total = all.len() as i64;
    if resp.count != total {
        return Err(format!("counted {} key(s), the history holds {total}", resp.count));
    }
    let expected: Vec<_> = all
        .into_iter()
        .filter(|(_, k)| shape.filter.keeps(k.create_revision, k.mod_revision))
        .collect();
    let total = expected.len() as i64;
    let limit = shape.limit;
    if shape.count_only {
        return match resp.kvs.is_empty() {
            true => Ok(()),
            false => Err("a count-only range returned keys".to_string()),
        };
    }
    let shown = if limit > 0 { total.min(limit) } else { total } as usize;
    let more = (shown as i64) < total;
    if resp.more != more {
        return Err(format!("said more={} with {} of {total} key(s) shown", resp.more, shown));
    }
    if resp.kvs.len() != shown {
        return Err(format!(
            "returned {} key(s), the history holds {shown} here{}",
            resp.kvs.len(),
            if shape.filter.is_none() { String::new() } else { " within the filter".to_string() }
        ));
    }
    for (kv, (key, want)) in resp.kvs.iter().zip(&expected) {
        let got = (text(&kv.key), text(&kv.value), kv.create_revision, kv.mod_revision, kv.version);
        let wanted = (
            key.clone(),
            want.value.clone(),
            want.create_revision,
            want.mod_revision,
            want.version,
        );
        if got != wanted {
            return Err(format!(
                "returned {}={} (create {}, mod {}, v{}), the history holds {}={} (create {}, mod {}, v{})",
                got.0, got.1, got.2, got.3, got.4, wanted.0, wanted.1, wanted.2, wanted.3, wanted.4
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::watch::WatchEventRecord;
    use crate::report::Verdict;
    use bytes::Bytes;
    use detcd_core::api::{KeyValue, ResponseHeader};
    use std::collections::BTreeMap;

    fn ev(revision: i64, key: &str, value: Option<&str>) -> WatchEventRecord {
        WatchEventRecord {
            revision,
            key: Bytes::copy_from_slice(key.as_bytes()),
            delete: value.is_none(),
            value: Bytes::copy_from_slice(value.unwrap_or("").as_bytes()),
            prev: None,
        }
    }

    /// k/0 put at 2 and 4, k/1 put at 3 and deleted at 5, k/2 put at 6.
    fn log() -> WriteLog {
        let events = BTreeMap::from([
            (2, vec![ev(2, "k/0", Some("a"))]),
            (3, vec![ev(3, "k/1", Some("b"))]),
            (4, vec![ev(4, "k/0", Some("c"))]),
            (5, vec![ev(5, "k/1", None)]),
            (6, vec![ev(6, "k/2", Some("d"))]),
        ]);
        WriteLog::from_events(&events)
    }

    fn kv(key: &str, value: &str, create: i64, modified: i64, version: i64) -> KeyValue {
        KeyValue {
            key: Bytes::copy_from_slice(key.as_bytes()),
            value: Bytes::copy_from_slice(value.as_bytes()),
            create_revision: create,
            mod_revision: modified,
            version,
            lease: 0,
        }
    }

    fn op(kind: OpKind, at: u64, outcome: OpOutcome) -> OpRecord {
        OpRecord {
            client: 1,
            node: 1,
            incarnation: 0,
            kind,
            invoke_us: at,
            complete_us: at + 10,
            outcome,
        }
    }

    fn range(kvs: Vec<KeyValue>, count: i64, more: bool) -> OpOutcome {
        let header = ResponseHeader { revision: 6, ..ResponseHeader::default() };
        OpOutcome::Ok(Response::Range(RangeResponse { header, kvs, more, count }))
    }

    fn compact(revision: i64, at: u64) -> OpRecord {
        let header = ResponseHeader { revision: 6, ..ResponseHeader::default() };
        let resp = detcd_core::api::CompactionResponse { header };
        op(OpKind::Compact { revision }, at, OpOutcome::Ok(Response::Compact(resp)))
    }

    fn verdict(records: &[OpRecord]) -> CheckResult {
        check_revision_reads(records, Some(&log()))
    }

    #[test]
    fn faithful_reads_pass() {
        let page = |start: &str| OpKind::ListPage { revision: 4, start: start.into(), limit: 1 };
        let records = vec![
            compact(4, 0),
            op(
                OpKind::RangeAt { revision: 4, filter: RevisionFilter::default() },
                100,
                range(vec![kv("k/0", "c", 2, 4, 2), kv("k/1", "b", 3, 3, 1)], 2, false),
            ),
            op(page("k/"), 200, range(vec![kv("k/0", "c", 2, 4, 2)], 2, true)),
            op(page("k/0\0"), 300, range(vec![kv("k/1", "b", 3, 3, 1)], 1, false)),
            op(OpKind::Count, 400, range(vec![], 2, false)),
            op(
                OpKind::RangeAt { revision: 3, filter: RevisionFilter::default() },
                500,
                OpOutcome::Failed(EtcdError::Compacted),
            ),
        ];
        let r = verdict(&records);
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
        assert!(r.evidence.starts_with("4 read(s)"), "{}", r.evidence);
    }

    /// At revision 6: k/0 (create 2, mod 4) and k/2 (create 6); k/1 was deleted at 5.
    #[test]
    fn a_filtered_read_keeps_what_passes_and_counts_everything() {
        let filter = RevisionFilter { min_create: 3, ..RevisionFilter::default() };
        let read = |kvs, count| {
            vec![op(OpKind::RangeAt { revision: 6, filter }, 100, range(kvs, count, false))]
        };
        let r = verdict(&read(vec![kv("k/2", "d", 6, 6, 1)], 2));
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
        // A filter that let everything through (a bound's `&&` read as `||`).
        let r = verdict(&read(vec![kv("k/0", "c", 2, 4, 2), kv("k/2", "d", 6, 6, 1)], 2));
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.evidence);
        assert!(r.evidence.contains("within the filter"), "{}", r.evidence);
        // etcd counts before it filters.
        let r = verdict(&read(vec![kv("k/2", "d", 6, 6, 1)], 1));
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.evidence);
    }

    /// What compact-off-by-one does: the version live at the compaction revision is
    /// lost, so a read there misses the key.
    #[test]
    fn a_read_at_the_compaction_revision_missing_a_key_fails() {
        let records = vec![
            compact(3, 0),
            op(
                OpKind::RangeAt { revision: 3, filter: RevisionFilter::default() },
                100,
                range(vec![kv("k/1", "b", 3, 3, 1)], 1, false),
            ),
        ];
        let r = verdict(&records);
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.evidence);
        assert!(r.evidence.contains("the history holds 2"), "{}", r.evidence);
    }

    #[test]
    fn each_broken_rule_is_caught() {
        let cases = [
            (
                vec![op(
                    OpKind::RangeAt { revision: 4, filter: RevisionFilter::default() },
                    0,
                    OpOutcome::Failed(EtcdError::Compacted),
                )],
                "no compaction above 4",
            ),
            (
                vec![
                    compact(4, 0),
                    op(
                        OpKind::RangeAt { revision: 4, filter: RevisionFilter::default() },
                        5,
                        OpOutcome::Failed(EtcdError::Compacted),
                    ),
                ],
                "no compaction above 4",
            ),
            (
                vec![
                    compact(5, 0),
                    op(
                        OpKind::RangeAt { revision: 4, filter: RevisionFilter::default() },
                        100,
                        range(vec![kv("k/0", "c", 2, 4, 2), kv("k/1", "b", 3, 3, 1)], 2, false),
                    ),
                ],
                "had completed before it was sent",
            ),
            (
                vec![op(
                    OpKind::RangeAt { revision: 2, filter: RevisionFilter::default() },
                    0,
                    range(vec![kv("k/0", "c", 2, 4, 2)], 1, false),
                )],
                "the history holds k/0=a",
            ),
            (
                vec![op(
                    OpKind::ListPage { revision: 4, start: "k/".into(), limit: 1 },
                    0,
                    range(vec![kv("k/0", "c", 2, 4, 2)], 2, false),
                )],
                "said more=false",
            ),
            (vec![op(OpKind::Count, 0, range(vec![], 3, false))], "counted 3 key(s)"),
        ];
        for (records, why) in cases {
            let r = verdict(&records);
            assert_eq!(r.verdict, Verdict::Fail, "{why} not caught: {}", r.evidence);
            assert!(r.evidence.contains(why), "{why}: {}", r.evidence);
        }
    }
}
