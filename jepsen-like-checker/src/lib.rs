//! detcd-checker: histories, models, the linearizability search, reports and importers
//! for Jepsen and Porcupine histories.
//!
//! A [`History`] lists what clients saw: operations with a client, an input, a call
//! time, and a return time with an output, or an unknown outcome (timeout, crash), in
//! which case the operation may take effect at any point after its call, or never. A
//! [`Model`] is a sequential specification given as a pure `step`. [`check()`] decides
//! whether some order of the operations, each taking effect at one instant between its
//! call and return, explains every output: [`Verdict::Linearizable`],
//! [`Verdict::NotLinearizable`] (with the longest partial linearization found and the
//! operations that could not come next) or [`Verdict::Unknown`] when the [`Budget`] runs
//! out. The crate is deterministic: no clock, no threads, no hash-ordered iteration.
//!
//! # detcd's JSON history format
//!
//! ```json
//! {
//!   "model": "cas-register",
//!   "operations": [
//!     {"client": 0, "call": 0, "return": 3, "input": {"op": "write", "value": 1}, "output": "written"},
//!     {"client": 1, "call": 1, "return": 4, "input": {"op": "read"}, "output": {"read": 1}},
//!     {"client": 2, "call": 2, "return": null, "input": {"op": "cas", "expected": 1, "new": 2}, "output": null}
//!   ]
//! }
//! ```
//!
//! `model` is `register`, `cas-register`, `kv` or `etcd`. Each operation has a `client`
//! (an integer), `call` and `return` times (integers; intervals are closed, so equal
//! times overlap), an `input` and an `output`. `"return": null` (with `"output": null`)
//! marks an unknown outcome. Inputs and outputs per model:
//!
//! - `register`: input `{"op":"read"}` or `{"op":"write","value":N}`; output
//!   `{"read":N}` / `{"read":null}` (absent) or `"written"`.
//! - `cas-register`: as `register`, plus input `{"op":"cas","expected":A,"new":B}` with
//!   output `{"cas":true}` (applied) or `{"cas":false}` (compare failed).
//! - `kv`: input `{"op":"get","key":K}`, `{"op":"put","key":K,"value":V}`,
//!   `{"op":"append","key":K,"value":V}` or `{"op":"delete","key":K}`; output
//!   `{"value":V}` for a get (`""` when absent) or `"ok"`.
//! - `etcd`: input is a [`models::etcd::Request`], e.g. `{"op":"put","key":"a","value":"1"}`,
//!   `{"op":"range","range":{"prefix":"a"}}`, `{"op":"delete_range","range":{"key":"a"}}`,
//!   `{"op":"txn","compare":[{"key":"a","target":{"mod_revision":2},"result":"equal"}],
//!   "success":[...],"failure":[...]}`; output is a [`models::etcd::Response`],
//!   `{"revision":R,"body":{"op":"range","kvs":[{"key":"a","value":"1",
//!   "create_revision":2,"mod_revision":2,"version":1}]}}`, `{"op":"put"}` (with
//!   `"prev_kv"` when asked), `{"op":"delete_range","deleted":N}`,
//!   `{"op":"txn","succeeded":true,"responses":[...]}`.

pub mod bitset;
pub mod check;
pub mod hash;
pub mod history;
pub mod import;
pub mod model;
pub mod models;
pub mod report;
pub mod run;
pub mod search;
pub mod tables;

pub use check::{check, check_parts, CheckResult, PartResult, Prepared, Verdict};
pub use history::{Event, EventError, EventLog, History, HistoryError, Operation};
pub use model::{Model, NondeterministicModel, Powerset};
pub use search::{Budget, Candidate, Failure, Outcome, Stats};
