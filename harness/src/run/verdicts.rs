//! The checks made once a run is over, each turned into a `CheckResult` with its
//! evidence: Raft safety, liveness and convergence (from the simulator), linearizability
//! (through the checker's etcd model), watch guarantees and serializable reads.

use super::driver::watch_event;
use super::lost_write;
use super::RunBudget;
use crate::checks::compaction::{check_compaction, MemberLog};
use crate::checks::member_list::{check_member_list, AcceptedChange, MemberListAnswer};
use crate::checks::membership::{check_membership, MembershipBounds};
use crate::checks::serializable::{check_serializable_reads, SerializableRead};
use crate::checks::status::{check_status, StatusAnswer};
use crate::checks::transfer::{check_transfers, TransferAnswer, TransferContext};
use crate::checks::watch::{check_watch_streams, WatchEventRecord, WatchStreamRecord};
use crate::checks::watch_answers::{check_watch_answers, WatchAnswerRecord};
use crate::checks::watch_notify::{check_notify, NotifyStream};
use crate::checks::watch_order::{check_order, WriteOrder};
use crate::checks::watch_progress::{check_progress, ProgressStream};
use crate::history::{etcd_history, WriteLog, PROBE_CLIENT};
use crate::report::{check_names, CheckResult, Verdict};
use crate::workload::{OpKind, OpOutcome, OpRecord};
use bytes::Bytes;
use detcd_checker::models::etcd::{Etcd, Request as ModelRequest};
use detcd_checker::search::Budget;
use detcd_core::api::EtcdError;
use detcd_core::server::{EtcdNode, Response};
use detcd_sim::{LivenessReport, SimError, Violation, World};
use std::collections::{BTreeMap, BTreeSet};

/// Raft safety, liveness and convergence, from how the simulation ended. `went_on`:
/// the first violation of a run that went on after it (`--keep-going`), with how many
/// came after it. `records` name the client write a violation lost.
pub(crate) fn simulation(
    liveness: &Result<LivenessReport, SimError>,
    went_on: Option<(&Violation, u64)>,
    records: &[OpRecord],
) -> Vec<CheckResult> {
    let mut checks = Vec::new();
    let violation = match liveness {
        Err(SimError::Safety(v)) => Some((v, 0)),
        _ => went_on,
    };
    match violation {
        Some((v, later)) => {
            let mut evidence = lost_write::describe(v, records);
            if later > 0 {
                evidence.push_str(&format!(" (the run went on: {later} more violation(s) after it)"));
            }
            checks.push(CheckResult::fail(check_names::RAFT_SAFETY, evidence));
        }
        None => checks.push(CheckResult::pass(
            check_names::RAFT_SAFETY,
            "one leader per term, log matching, committed entries durable, same state per index: checked after every event",
        )),
    }
    match liveness {
        Ok(l) => {
            checks.push(CheckResult::pass(
                check_names::LIVENESS,
                format!(
                    "after healing: leader {} in term {}, a write committed within {} ms",
                    l.leader,
                    l.term,
                    l.elapsed_us / 1_000
                ),
            ));
            checks.push(CheckResult::pass(
                check_names::CONVERGENCE,
                format!(
                    "every member at applied index {} with store hash {:016x}",
                    l.applied, l.state_hash
                ),
            ));
        }
        Err(SimError::Liveness(f)) => {
            checks.push(CheckResult::fail(check_names::LIVENESS, f.to_string()));
        }
        Err(e @ (SimError::EventLimit { .. } | SimError::QueueLimit { .. })) => {
            checks.push(CheckResult::over_budget(
                check_names::LIVENESS,
                format!("over budget: {e}; the run was cut short there"),
            ))
        }
        Err(SimError::Safety(_)) => {}
    }
    checks
}

/// In a run without faults, once a write has been answered (a leader is known) and
/// half a second has passed, no
/// request may be turned away for want of a leader: a follower forwards what it
/// cannot do itself, as etcd's do. A member that refused instead would pass every
/// other check, since its clients retry elsewhere. The liveness check fails with
/// the first such refusal (`None` when there is none, or the run had faults).
pub(super) fn refusals_without_faults(
    records: &[OpRecord],
    fault_free: bool,
) -> Option<CheckResult> {
    if !fault_free {
        return None;
    }
    let served_from = records
        .iter()
        .filter(|r| r.kind.is_write() && matches!(r.outcome, OpOutcome::Ok(_)))
        .map(|r| r.complete_us)
        .min()?;
    // Half a second on, every member has heard from the leader in a healthy network.
    let judged_from = served_from + 500_000;
    let refused = records.iter().find(|r| {
        r.invoke_us > judged_from
            && matches!(r.outcome, OpOutcome::Failed(EtcdError::NoLeader | EtcdError::NotLeader))
    })?;
    let error = match &refused.outcome {
        OpOutcome::Failed(e) => e.to_string(),
        _ => String::new(),
    };
    Some(CheckResult::fail(
        check_names::LIVENESS,
        format!(
            "a run without faults turned client {}'s {} away at {} ms on member {} ({error}), though a write had been answered at {} ms: a member must forward what it cannot serve itself",
            refused.client,
            refused.kind.describe(),
            refused.invoke_us / 1_000,
            refused.node,
            served_from / 1_000
        ),
    ))
}

/// A client as the checker's report names it: the liveness phase's probe writes enter
/// the history as a client of their own, which is the harness, not the workload.
fn client_name(client: u64) -> String {
    if client == PROBE_CLIENT {
        "liveness probe (the harness's own write)".to_string()
    } else {
        format!("client {client}")
    }
}

/// What the linearizability check found.
pub(super) struct Linearizability {
    pub check: CheckResult,
    pub operations_checked: u64,
    /// The checker's report, when the history was not linearizable.
    pub report: Option<detcd_checker::report::Report>,
}

/// Linearizability of the KV history under the etcd model, unknown outcomes resolved
/// where the cluster's write history can tell.
pub(super) fn linearizability(
    records: &[OpRecord],
    log: Option<&WriteLog>,
    liveness_start_us: u64,
    end_us: u64,
    run_budget: &RunBudget,
) -> Linearizability {
    let history = etcd_history(records, log, liveness_start_us, end_us);
    let operations_checked = history.len() as u64;
    let model = Etcd;
    let budget = Budget {
        steps_max: Some(run_budget.check_steps_max),
        memory_bytes_max: run_budget.check_memory_bytes_max,
        expired: None,
    };
    let result = detcd_checker::check(&model, &history, &budget);
    let mut report = None;
    let check = match result.verdict {
        detcd_checker::Verdict::Linearizable => CheckResult::pass(
            check_names::LINEARIZABILITY,
            format!("{operations_checked} operation(s) linearizable under the etcd model (values and revisions)"),
        ),
        detcd_checker::Verdict::NotLinearizable => {
            let r = detcd_checker::report::Report::with_client_names(
                &model,
                &history,
                &result,
                client_name,
            );
            let text = r.to_text();
            report = Some(r);
            CheckResult::fail(check_names::LINEARIZABILITY, first_lines(&text, 12))
        }
        detcd_checker::Verdict::Unknown => CheckResult::over_budget(
            check_names::LINEARIZABILITY,
            format!(
                "over budget: the search of {operations_checked} operation(s) ran out of its {} steps or {} MiB",
                run_budget.check_steps_max,
                run_budget.check_memory_bytes_max >> 20
            ),
        ),
    };
    Linearizability { check, operations_checked, report }
}

/// Watch guarantees: the answers that open and close each watch; the order of each
/// multi-event revision in every member's store and every stream against the write
/// log's; progress answers and periodic notices (due within `notice_due_us`); the events against the history of the member that leads after the run. One
/// result, the first that fails.
pub(super) fn watches(
    world: &World<EtcdNode>,
    streams: &[WatchStreamRecord],
    write_order: &WriteOrder,
    notice_due_us: u64,
) -> Option<CheckResult> {
    let named: Vec<(String, &[WatchAnswerRecord])> = streams
        .iter()
        .enumerate()
        .map(|(n, s)| (format!("watch stream {n} of client {}", s.client), s.answers.as_slice()))
        .collect();
    let answers = check_watch_answers(&named);
    let sources: Vec<(String, BTreeMap<i64, Vec<WatchEventRecord>>)> = world
        .node_ids()
        .into_iter()
        .filter_map(|id| world.process(id).map(|p| (id, p)))
        .map(|(id, p)| {
            let store = p.store();
            let events = store
                .events(store.compact_revision() + 1, store.current_revision())
                .filter(|(_, events)| events.len() > 1)
                .map(|(rev, events)| (rev, events.iter().map(watch_event).collect()))
                .collect();
            (format!("member {id}'s store"), events)
        })
        .collect();
    let order = check_order(write_order, &sources, streams);
    let revisions: Vec<ProgressStream> = streams
        .iter()
        .enumerate()
        .map(|(n, s)| ProgressStream {
            name: format!("watch stream {n} of client {}", s.client),
            responses: s.responses.iter().map(|r| r.iter().map(|e| e.revision).collect()).collect(),
            answers: &s.answers,
            progress: &s.progress,
        })
        .collect();
    let progress = check_progress(&revisions);
    let notify: Vec<NotifyStream> = streams
        .iter()
        .enumerate()
        .map(|(n, s)| NotifyStream {
            name: format!("watch stream {n} of client {}", s.client),
            asked: s.progress_notify,
            window: s.notify_window.as_ref(),
            unasked: &s.unasked,
        })
        .collect();
    let unasked: Vec<(u64, u64)> = world
        .node_ids()
        .into_iter()
        .filter_map(|id| world.process(id).map(|p| (id, p.unasked_progress_notices())))
        .collect();
    let notify = check_notify(&notify, &unasked, notice_due_us);
    let events = watch_events(world, streams);
    let failed =
        [&answers, &order, &progress, &notify].into_iter().find(|r| r.verdict == Verdict::Fail);
    if let Some(failed) = failed {
        return Some(failed.clone());
    }
    // Without a converged member and without streams there is no watch verdict.
    let events = events?;
    if events.verdict == Verdict::Fail {
        return Some(events);
    }
    let evidence = format!(
        "{}; {}; {}; {}; {}",
        events.evidence, answers.evidence, order.evidence, progress.evidence, notify.evidence
    );
    Some(CheckResult { evidence, ..events })
}

/// Watch events against the history of the member that leads after the run.
fn watch_events(world: &World<EtcdNode>, streams: &[WatchStreamRecord]) -> Option<CheckResult> {
    let Some(reference) = world.leader().and_then(|l| world.process(l)) else {
        return (!streams.is_empty()).then(|| {
            CheckResult::fail(
                check_names::WATCH,
                "no converged member to compare watch streams with",
            )
        });
    };
    let store = reference.store();
    let from = store.compact_revision() + 1;
    let mut history: BTreeMap<i64, Vec<WatchEventRecord>> = BTreeMap::new();
    for (rev, events) in store.events(from, store.current_revision()) {
        history.insert(rev, events.iter().map(watch_event).collect());
    }
    Some(check_watch_streams(streams, &history, from))
}

/// The operator's requests: membership changes refused only for a reason, leader
/// transfers answered OK once they succeeded.
pub(super) fn operator(
    world: &World<EtcdNode>,
    scenario: &detcd_scenarios::Scenario,
    transfer_answers: &[TransferAnswer],
) -> Vec<CheckResult> {
    let log = world.operator_log();
    let c = &scenario.cluster;
    let bounds = MembershipBounds::for_timing(c.election_ticks, c.tick_us);
    vec![
        check_membership(&log.membership, log.cut, bounds),
        check_transfers(
            &log.transfers,
            transfer_answers,
            &TransferContext {
                roles: &log.roles,
                upsets_us: &log.upsets_us,
                quiet_min_us: bounds.quiet_min_us,
                cut: log.cut,
            },
        ),
    ]
}

/// Status answers name a leader of the term they give, and a quiet cluster's members
/// name the leader that has led undisturbed for `stable_us`.
pub(super) fn status(
    world: &World<EtcdNode>,
    answers: &[StatusAnswer],
    stable_us: u64,
) -> CheckResult {
    let log = world.operator_log();
    check_status(answers, &log.roles, log.cut, stable_us)
}

/// MemberList answers list the initial cluster and what accepted changes made of it.
pub(super) fn member_list(
    world: &World<EtcdNode>,
    scenario: &detcd_scenarios::Scenario,
    answers: &[MemberListAnswer],
) -> CheckResult {
    let log = world.operator_log();
    let initial: Vec<u64> = (1..=scenario.cluster.size).collect();
    let changes: Vec<AcceptedChange> = log
        .membership
        .iter()
        .filter(|r| r.refused.is_none())
        .filter_map(|r| {
            let (op, _) = super::member_ops(&r.change).ok()?;
            Some(AcceptedChange { at_us: r.at_us, op })
        })
        .collect();
    // A cut log may have lost later changes: judge only what came before its last.
    let cut_after_us = log.cut.then(|| log.membership.last().map_or(0, |r| r.at_us));
    check_member_list(answers, &initial, &changes, cut_after_us)
}

/// Every running member's Raft log is compacted behind its applied index.
pub(super) fn log_compaction(
    world: &World<EtcdNode>,
    scenario: &detcd_scenarios::Scenario,
) -> CheckResult {
    let members: Vec<MemberLog> = world
        .node_ids()
        .into_iter()
        .filter_map(|id| world.status(id))
        .map(|st| MemberLog { node: st.id, applied: st.applied, snapshot_index: st.snapshot_index })
        .collect();
    check_compaction(&members, scenario.cluster.snapshot_entries)
}

/// Serializable reads return only written values and never go back on one member.
pub(super) fn serializable_reads(records: &[OpRecord]) -> CheckResult {
    let mut written = BTreeSet::new();
    let mut reads = Vec::new();
    for r in records {
        match (&r.kind, &r.outcome) {
            (OpKind::Put { key, value } | OpKind::Cas { key, value, .. }, _)
            | (OpKind::LeasePut { key, value, .. }, _) => {
                written.insert((Bytes::from(key.clone()), Bytes::from(value.clone())));
            }
            (OpKind::Txn { request }, _) => txn_puts(request, &mut written),
            (OpKind::SerializableGet { key }, OpOutcome::Ok(Response::Range(resp))) => {
                reads.push(SerializableRead {
                    client: r.client,
                    member: r.node,
                    incarnation: r.incarnation,
                    complete_us: r.complete_us,
                    key: Bytes::from(key.clone()),
                    header_revision: resp.header.revision,
                    value: resp.kvs.first().map(|kv| kv.value.clone()),
                });
            }
            _ => {}
        }
    }
    check_serializable_reads(&reads, &written)
}

/// Every (key, value) a txn may put, in any branch.
fn txn_puts(request: &ModelRequest, written: &mut BTreeSet<(Bytes, Bytes)>) {
    match request {
        ModelRequest::Put { key, value, .. } => {
            written.insert((Bytes::from(key.clone()), Bytes::from(value.clone())));
        }
        ModelRequest::Txn { success, failure, .. } => {
            for r in success.iter().chain(failure) {
                txn_puts(r, written);
            }
        }
        ModelRequest::Range { .. } | ModelRequest::DeleteRange { .. } => {}
    }
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use detcd_core::api::{PutResponse, ResponseHeader};

    fn put(at_us: u64, outcome: OpOutcome) -> OpRecord {
        OpRecord {
            client: 1,
            node: 2,
            incarnation: 0,
            kind: OpKind::Put { key: "k/0".into(), value: format!("v{at_us}") },
            invoke_us: at_us,
            complete_us: at_us + 10_000,
            outcome,
        }
    }

    /// What a follower that stopped forwarding proposals does.
    #[test]
    fn a_refusal_once_a_leader_is_known_fails_a_run_without_faults() {
        let ok = OpOutcome::Ok(Response::Put(PutResponse {
            header: ResponseHeader::default(),
            prev_kv: None,
        }));
        let records = vec![
            put(0, OpOutcome::Failed(EtcdError::NoLeader)),
            put(100_000, ok),
            put(900_000, OpOutcome::Failed(EtcdError::NotLeader)),
        ];
        let fail = refusals_without_faults(&records, true).expect("the refusal at 900 ms");
        assert!(fail.evidence.contains("at 900 ms on member 2"), "{}", fail.evidence);
        assert!(refusals_without_faults(&records, false).is_none(), "faults excuse it");
        // Before a leader was known, and soon after, a refusal is expected.
        assert!(refusals_without_faults(&records[..2], true).is_none());
    }
}
