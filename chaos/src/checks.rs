//! The checks of a chaos run, each giving the harness's `CheckResult`:
//! - linearizability: the checker's etcd model (values and revisions) on the clients'
//!   history, unknown outcomes resolved from the cluster's own history;
//! - watch: etcd's watch guarantees on every client's logical stream;
//! - serializable reads: only written values, monotonic per member incarnation;
//! - acknowledged writes: every write a client saw succeed is in every member's
//!   history, at the revision it was acknowledged with;
//! - revisions: no revision is served with different contents by two members;
//! - convergence: HashKV equal on every member at the same revision;
//! - liveness: every member answers again within the bound after the heal.

use crate::final_state::{Events, FinalState};
use detcd_checker::history::History;
use detcd_checker::models::etcd::{Etcd, Request, Response as ModelResponse};
use detcd_checker::search::Budget;
use detcd_core::api::ResponseOp;
use detcd_core::server::Response;
use detcd_harness::checks::serializable::{check_serializable_reads, SerializableRead};
use detcd_harness::checks::watch::{check_watch_streams, WatchStreamRecord};
use detcd_harness::history::{etcd_history, WriteLog};
use detcd_harness::report::{check_names, CheckResult};
use detcd_harness::workload::{OpKind, OpOutcome, OpRecord};
use std::collections::BTreeSet;

pub const ACKNOWLEDGED: &str = "acknowledged-writes";
pub const REVISIONS: &str = "revisions";
const CHECK_STEPS_MAX: u64 = 50_000_000;

/// What the linearizability check leaves for the report files.
pub struct Linearizability {
    pub result: CheckResult,
    pub history: History<Request, ModelResponse>,
    pub report: Option<detcd_checker::report::Report>,
}

pub fn linearizability(records: &[OpRecord], reference: Option<&Events>) -> Linearizability {
    let end_us = records.iter().map(|r| r.complete_us).max().unwrap_or(0);
    let log = reference.map(WriteLog::from_events);
    let history = etcd_history(records, log.as_ref(), end_us, end_us);
    let budget =
        Budget { steps_max: Some(CHECK_STEPS_MAX), memory_bytes_max: 1 << 30, expired: None };
    let checked = detcd_checker::check(&Etcd, &history, &budget);
    let report = detcd_checker::report::Report::new(&Etcd, &history, &checked);
    let name = check_names::LINEARIZABILITY;
    let result = match checked.verdict {
        detcd_checker::Verdict::Linearizable => CheckResult::pass(
            name,
            format!("{} operations linearizable under the etcd model", history.len()),
        ),
        detcd_checker::Verdict::NotLinearizable => CheckResult::fail(name, report.to_text()),
        detcd_checker::Verdict::Unknown => CheckResult {
            name,
            verdict: detcd_harness::report::Verdict::Unknown,
            evidence: format!(
                "the search ran out of its {CHECK_STEPS_MAX} steps on {} operations",
                history.len()
            ),
        },
    };
    Linearizability { result, history, report: Some(report) }
}

pub fn watch(streams: &[WatchStreamRecord], reference: Option<&Events>) -> CheckResult {
    match reference {
        Some(r) => check_watch_streams(streams, r, 1),
        None => CheckResult::fail(check_names::WATCH, "no member's history could be read back"),
    }
}

pub fn serializable(records: &[OpRecord]) -> CheckResult {
    let b = |s: &str| bytes::Bytes::copy_from_slice(s.as_bytes());
    let written: BTreeSet<(bytes::Bytes, bytes::Bytes)> = records
        .iter()
        .filter_map(|r| match &r.kind {
            OpKind::Put { key, value }
            | OpKind::LeasePut { key, value, .. }
            | OpKind::Cas { key, value, .. } => Some((b(key), b(value))),
            _ => None,
        })
        .collect();
    let reads: Vec<SerializableRead> = records
        .iter()
        .filter_map(|r| match (&r.kind, &r.outcome) {
            (OpKind::SerializableGet { key }, OpOutcome::Ok(Response::Range(rr))) => {
                Some(SerializableRead {
                    client: r.client,
                    member: r.node,
                    incarnation: r.incarnation,
                    complete_us: r.complete_us,
                    key: b(key),
                    header_revision: rr.header.revision,
                    value: rr.kvs.first().map(|kv| kv.value.clone()),
                })
            }
            _ => None,
        })
        .collect();
    check_serializable_reads(&reads, &written)
}

/// (key, value, revision) of every write acknowledged as applied.
fn acknowledged_writes(records: &[OpRecord]) -> Vec<(String, String, i64)> {
    records
        .iter()
        .filter_map(|r| match (&r.kind, &r.outcome) {
            (
                OpKind::Put { key, value } | OpKind::LeasePut { key, value, .. },
                OpOutcome::Ok(Response::Put(p)),
            ) => Some((key.clone(), value.clone(), p.header.revision)),
            (OpKind::Cas { key, value, .. }, OpOutcome::Ok(Response::Txn(t)))
                if t.succeeded && matches!(t.responses.first(), Some(ResponseOp::Put(_))) =>
            {
                Some((key.clone(), value.clone(), t.header.revision))
            }
            _ => None,
        })
        .collect()
}

pub fn acknowledged_count(records: &[OpRecord]) -> usize {
    acknowledged_writes(records).len()
}

pub fn acknowledged(records: &[OpRecord], fin: &FinalState) -> CheckResult {
    let writes = acknowledged_writes(records);
    for (m, h) in fin.histories.iter().enumerate() {
        let Some(h) = h else {
            return CheckResult::fail(
                ACKNOWLEDGED,
                format!("member m{m}'s history could not be read back"),
            );
        };
        for (key, value, rev) in &writes {
            let found = h.get(rev).is_some_and(|evs| {
                evs.iter()
                    .any(|e| !e.delete && e.key == key.as_bytes() && e.value == value.as_bytes())
            });
            if !found {
                return CheckResult::fail(
                    ACKNOWLEDGED,
                    format!("put {key}={value} was acknowledged at revision {rev}, but member m{m}'s revision {rev} is {:?}", h.get(rev)),
                );
            }
        }
    }
    CheckResult::pass(
        ACKNOWLEDGED,
        format!(
            "{} acknowledged writes present on all {} members",
            writes.len(),
            fin.histories.len()
        ),
    )
}

pub fn revisions(fin: &FinalState) -> CheckResult {
    let Some(Some(first)) = fin.histories.first() else {
        return CheckResult::fail(REVISIONS, "member m0's history could not be read back");
    };
    for (m, h) in fin.histories.iter().enumerate().skip(1) {
        let Some(h) = h else {
            return CheckResult::fail(
                REVISIONS,
                format!("member m{m}'s history could not be read back"),
            );
        };
        for rev in 2..=fin.top {
            if first.get(&rev) != h.get(&rev) {
                return CheckResult::fail(
                    REVISIONS,
                    format!(
                        "revision {rev}: m0 serves {:?}, m{m} serves {:?}",
                        first.get(&rev),
                        h.get(&rev)
                    ),
                );
            }
        }
    }
    CheckResult::pass(
        REVISIONS,
        format!("revisions 2..={} identical on all {} members", fin.top, fin.histories.len()),
    )
}

pub fn convergence(fin: &FinalState) -> CheckResult {
    let name = check_names::CONVERGENCE;
    let mut seen: Option<u32> = None;
    for (m, h) in fin.hashes.iter().enumerate() {
        let Some((_, hash)) = h else {
            return CheckResult::fail(
                name,
                format!("m{m} did not answer HashKV at revision {}", fin.top),
            );
        };
        match seen {
            None => seen = Some(*hash),
            Some(s) if s != *hash => {
                return CheckResult::fail(
                    name,
                    format!("HashKV at revision {}: m0 {s:#010x}, m{m} {hash:#010x}", fin.top),
                )
            }
            Some(_) => {}
        }
    }
    CheckResult::pass(name, format!("HashKV at revision {} equal on every member", fin.top))
}

pub fn liveness(fin: &FinalState, limit_secs: u64) -> CheckResult {
    let name = check_names::LIVENESS;
    match fin.recovery {
        Some(d) => CheckResult::pass(
            name,
            format!("every member answered {} ms after the heal", d.as_millis()),
        ),
        None => CheckResult::fail(
            name,
            format!(
                "members {:?} did not answer linearizable reads within {limit_secs} s of the heal",
                fin.unresponsive
            ),
        ),
    }
}
