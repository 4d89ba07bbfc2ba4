//! detcd-harness: workloads, running scenarios in the simulator, checking every run,
//! sweeps over seeds, replay, shrinking and traces.

pub mod checks;
pub mod keys;
pub mod report;
pub mod sweep;
pub mod trace;

pub use report::{CheckResult, RunReport, Verdict};
