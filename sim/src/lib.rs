//! detcd-sim: the deterministic world. Virtual time, a simulated network, disks and
//! clocks, and fault injection, all driven by one seed, running whole clusters of any
//! node type that implements `detcd_core::process::Process`.
//!
//! # Using it
//!
//! ```
//! use detcd_sim::raft_process::{KvRequest, KvResponse, RaftProcess, RaftProcessConfig};
//! use detcd_sim::{swarm, Outcome, World};
//!
//! // Options, a fault schedule and a fault profile, all drawn from the seed.
//! let (options, schedule, profile) = swarm::generate(42, 3, 1_000_000);
//! // The banner (seed and every option) is the world's first event.
//! let mut world: World<RaftProcess> =
//!     World::new_swarm(options, profile, RaftProcessConfig::for_setup);
//! println!("{}", world.banner());
//! world.set_transfer_hook(RaftProcess::transfer_hook);
//! world.schedule(&schedule);
//!
//! // Safety phase: a client talks to node 1 while the faults happen.
//! world.submit(1, 1, KvRequest::Put { key: 7, value: 1 }, 300_000);
//! while world.run_until_result(1_000_000).unwrap() {
//!     for r in world.drain_results() {
//!         assert!(r.complete_us >= r.invoke_us);
//!         if let Outcome::Ok(KvResponse::Put { .. }) = r.outcome { /* record it */ }
//!     }
//! }
//! world.run_until(1_000_000).unwrap();
//!
//! // Liveness phase: everything healed, the cluster must converge within 10 s.
//! let probe = |n| KvRequest::Put { key: u64::MAX, value: n };
//! let report = world.liveness(10_000_000, probe, |r| matches!(r, KvResponse::Put { .. }));
//! assert!(report.is_ok(), "{:?}", report);
//! println!("trace hash {:016x}", world.trace_hash());
//! ```
//!
//! For tests that must choose every step themselves (deliver, drop or duplicate the
//! i-th message, persist up to a sync, tick, crash, restart), `step::StepCluster` runs
//! any `Process` with nothing happening on its own; `sim/tests/interaction.rs` reads
//! golden `testdata/*.txt` files over it.
//!
//! The world runs any `Process`; what it runs in sim's own tests, benches and the
//! example above (the bare-Raft key-value application `raft_process` and its small
//! runner `kv_run`) sits behind the `test-kit` feature, which sim's dev-dependencies
//! turn on.
//!
//! Errors are values: a broken Raft property stops the run with
//! `SimError::Safety(Violation { at_us, node, kind, .. })`, a liveness phase that does not
//! converge returns `SimError::Liveness`, and `WorldOptions::events_max` bounds every run.
//!
//! # Observability
//!
//! Every event is one typed `SimEvent`, recorded once (`World::emit`) into three
//! readers: the running trace hash (`World::trace_hash`, so determinism is testable
//! without a subscriber); `tracing` under target `detcd_sim`, the message being the
//! event's name (`SimEvent::name`: `send`, `deliver`, `drop`, `role_change`, `crash`,
//! ...; ticks at trace level) with structured fields (`t_us`, `node`, `peer`, `kind`,
//! `term`, ...); and, when `WorldOptions::event_log_max` is set, the world's event log
//! (`World::events`) that the harness's step log and time line read.

pub mod client;
pub mod clock;
pub mod disk;
#[cfg(feature = "test-kit")]
pub mod kv_run;
pub mod nemesis;
pub mod network;
pub mod options;
pub mod pauses;
pub mod pre_vote;
pub mod promises;
pub mod queue;
#[cfg(feature = "test-kit")]
pub mod raft_process;
pub mod rng;
pub mod safety;
pub mod step;
pub mod swarm;
pub mod trace;
pub mod types_ext;
pub mod world;

pub use client::{ClientResult, Outcome};
pub use nemesis::{
    FaultAction, FaultSchedule, MemberChange, Moment, PartitionShape, Target, TimedFault,
};
pub use options::{Banner, ClockOptions, DiskOptions, LatencyDist, NetworkOptions, WorldOptions};
pub use pauses::ClientTarget;
pub use safety::{Violation, ViolationKind};
pub use step::StepCluster;
pub use types_ext::ClientId;
pub use world::{
    DropReason, LivenessFailure, LivenessReport, MembershipHook, MembershipRecord, MsgHead,
    NodeSetup, OperatorLog, RoleRecord, SimError, SimEvent, Stamped, Stats, TransferRecord,
    TransferRequest, World, LIVENESS_CLIENT, OPERATOR_CLIENT, OPERATOR_LOG_MAX,
};
