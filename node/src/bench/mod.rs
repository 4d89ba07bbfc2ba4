//! `detcd bench`: a load generator that speaks etcd's v3 gRPC API to any endpoints —
//! detcd's or etcd's — in the spirit of etcd's own benchmark tool: puts, ranges,
//! txn-puts, watches or lease keep-alives from many clients over a few connections, each
//! latency into a histogram, and a summary (requests/s, errors by message, percentiles
//! and a latency histogram) as text or JSON, with a progress bar on a terminal.
//!
//! [`args`] checks the command line, [`run`](run::run) drives the unary loads and
//! `streams` the streaming ones, `pace` holds the unary loads to a --rate, `progress`
//! draws the bar, [`summary`] does the arithmetic. Every run is bounded: by a request count, a duration, or both.

pub mod args;
mod pace;
mod progress;
mod run;
mod streams;
pub mod summary;

pub use args::{BenchArgs, BenchConfig};
pub use run::{run, BenchError};
pub use summary::Summary;

/// Runs one benchmark on a runtime of its own, for the command line.
#[cfg(not(madsim))]
pub fn run_blocking(cfg: BenchConfig) -> Result<Summary, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("detcd-bench")
        .build()
        .map_err(|e| BenchError::Client(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(run(cfg))
}
