//! One run with its `tracing` events captured: the same `run` a sweep makes, wrapped in
//! a capturing subscriber, so a replay shows exactly the run a sweep reported.

use super::capture::{CaptureLayer, TraceRecord};
use crate::run::{run_with, RunArtifacts, RunOptions};
use crate::RunReport;
use detcd_scenarios::Scenario;
use tracing::Level;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// A run and every event it emitted at DEBUG or above (ticks, at TRACE, are left out:
/// there are too many to be useful).
pub struct TracedRun {
    pub report: RunReport,
    pub artifacts: RunArtifacts,
    pub records: Vec<TraceRecord>,
}

/// Runs `scenario` at `seed` exactly as a sweep does, capturing its events.
pub fn traced_run(scenario: &Scenario, seed: u64) -> TracedRun {
    traced_run_with(scenario, seed, RunOptions::default())
}

/// Like `traced_run`, with run options (e.g. going on after a safety violation).
pub fn traced_run_with(scenario: &Scenario, seed: u64, options: RunOptions) -> TracedRun {
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
