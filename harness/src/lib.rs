//! detcd-harness: workloads, running scenarios in the simulator, checking every run,
//! sweeps over seeds, replay, shrinking and traces.

pub mod auth;
pub mod checks;
pub mod history;
pub mod keys;
pub mod lock;
pub mod nemesis;
pub mod range_filter;
pub mod report;
pub mod run;
pub mod shrink;
mod side_driver;
pub mod sweep;
pub mod trace;
pub mod txn;
pub mod workload;
pub mod workload_validation;

pub use report::{CheckResult, RunReport, Verdict};
