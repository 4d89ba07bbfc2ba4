//! The harness's own checks on a simulated run's records: the checker's etcd model
//! (values and revisions; the final reads make "acknowledged writes survive" part of
//! it) and the watch guarantees against the cluster's history.

use super::client::Reference;
use detcd_checker::models::etcd::Etcd;
use detcd_checker::search::Budget;
use detcd_harness::checks::watch::{check_watch_streams, WatchStreamRecord};
use detcd_harness::report::Verdict;
use detcd_harness::workload::{OpOutcome, OpRecord};

const CHECK_STEPS_MAX: u64 = 20_000_000;

/// Panics, failing the seed, on any violation.
pub fn all(
    records: &[OpRecord],
    streams: &[WatchStreamRecord],
    reference: &Reference,
    faults: &str,
) {
    let end_us = records.iter().map(|r| r.complete_us).max().unwrap_or(0);
    // Unknown outcomes are resolved from the cluster's own history, as in `detcd sim`.
    let log = detcd_harness::history::WriteLog::from_events(reference);
    let history = detcd_harness::history::etcd_history(records, Some(&log), end_us, end_us);
    let ok = records.iter().filter(|r| matches!(r.outcome, OpOutcome::Ok(_))).count();
    let unknown = records.iter().filter(|r| matches!(r.outcome, OpOutcome::Unknown(_))).count();
    let model = Etcd;
    let budget =
        Budget { steps_max: Some(CHECK_STEPS_MAX), memory_bytes_max: 1 << 28, expired: None };
    let result = detcd_checker::check(&model, &history, &budget);
    match result.verdict {
        detcd_checker::Verdict::Linearizable => {}
        detcd_checker::Verdict::NotLinearizable => {
            let report = detcd_checker::report::Report::new(&model, &history, &result);
            panic!(
                "not linearizable under the etcd model (faults: {faults}):\n{}",
                report.to_text()
            );
        }
        detcd_checker::Verdict::Unknown => {
            panic!(
                "the linearizability search ran out of its {CHECK_STEPS_MAX} steps ({} operations)",
                history.len()
            )
        }
    }
    let watch = check_watch_streams(streams, reference, 1);
    assert!(
        watch.verdict == Verdict::Pass,
        "watch guarantees (faults: {faults}): {}",
        watch.evidence
    );
    let events: usize =
        streams.iter().map(|s| s.responses.iter().map(Vec::len).sum::<usize>()).sum();
    eprintln!(
        "  {} operations ({ok} ok, {unknown} unknown), {} linearizable; {} watch streams, {events} events: ok",
        records.len(),
        history.len(),
        streams.len()
    );
}
