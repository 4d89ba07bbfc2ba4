//! One run with its events kept: the same run a sweep makes, with the world's typed
//! event log on (for the step log and time line) and its `tracing` events captured (for
//! the JSON-lines trace), so a replay shows exactly the run a sweep reported.

use super::capture::{CaptureLayer, TraceRecord};
use crate::run::{run_with, RunArtifacts, RunOptions, EVENT_LOG_MAX};
use crate::RunReport;
use detcd_scenarios::Scenario;
use tracing::Level;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// A run, its typed events in `artifacts.events`, and every `tracing` event it emitted
/// at DEBUG or above (ticks, at TRACE, are left out of both: there are too many to be
/// useful).
pub struct TracedRun {
    pub report: RunReport,
    pub artifacts: RunArtifacts,
    pub records: Vec<TraceRecord>,
}

/// Runs `scenario` at `seed` exactly as a sweep does, keeping its events.
pub fn traced_run(scenario: &Scenario, seed: u64) -> TracedRun {
    traced_run_with(scenario, seed, RunOptions::default())
}

/// Like `traced_run`, with run options (e.g. going on after a safety violation); the
/// event log is always on.
pub fn traced_run_with(scenario: &Scenario, seed: u64, options: RunOptions) -> TracedRun {
    let options = RunOptions { event_log_max: EVENT_LOG_MAX, ..options };
    let layer = CaptureLayer::new(Level::DEBUG);
    let subscriber =
        tracing_subscriber::registry().with(layer.clone().with_filter(LevelFilter::DEBUG));
    let (report, artifacts) =
        tracing::subscriber::with_default(subscriber, || run_with(scenario, seed, options));
    TracedRun { report, artifacts, records: layer.take() }
}

/// The captured events as JSON lines: one object per event, in the order emitted.
pub fn to_json_lines(records: &[TraceRecord]) -> String {
    let mut out = String::new();
    for r in records {
        out.push_str(&serde_json::to_string(r).expect("a trace record always serializes"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::run;

    #[test]
    fn a_traced_run_is_the_sweeps_run() {
        let scenario = detcd_scenarios::builtin("leader-transfer").expect("built-in");
        let (plain, _) = run(&scenario, 3);
        let traced = traced_run(&scenario, 3);
        assert_eq!(traced.report.trace_hash, plain.trace_hash);
        assert!(traced.records.iter().any(|r| r.name() == "role_change"));
        let typed = traced.artifacts.events.iter().filter(|e| e.event.name() == "role_change");
        let traced_roles = traced.records.iter().filter(|r| r.name() == "role_change");
        assert_eq!(typed.count(), traced_roles.count(), "one event, written once to both");
        assert!(
            traced.records.iter().all(|r| r.level != "TRACE"),
            "ticks are left out of the capture"
        );
        let lines = to_json_lines(&traced.records);
        assert_eq!(lines.lines().count(), traced.records.len());
        let first: serde_json::Value =
            serde_json::from_str(lines.lines().next().expect("events")).expect("JSON");
        assert_eq!(first["target"], "detcd_sim");
    }
}
