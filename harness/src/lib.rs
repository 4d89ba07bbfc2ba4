//! detcd-harness: workloads, running scenarios in the simulator, checking every run,
//! sweeps over seeds, replay, shrinking and traces.

pub mod report;
pub mod sweep;

pub use report::{CheckResult, RunReport, Verdict};
