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
//! Errors are values: a broken Raft property stops the run with
//! `SimError::Safety(Violation { at_us, node, kind, .. })`, a liveness phase that does not
//! converge returns `SimError::Liveness`, and `WorldOptions::events_max` bounds every run.
//!
//! # Observability
//!
//! Every event goes to `tracing` under target `detcd_sim`; the event's message is its
//! name in plain words (`send`, `deliver`, `drop`, `duplicate`, `reorder`, `tick` (trace
//! level), `role_change`, `persist`, `persisted`, `crash`, `restart`, `partition`, `heal`,
//! `clock_skew`, `clock_jump`, `network_rates`, `transfer_leader`, `faults_cancelled`, `client_pause`,
//! `client_invoke`, `client_complete`, `client_timeout`, `banner`, `violation`) with
//! structured fields
//! (`t_us`, `node`, `peer`, `kind`, `term`, ...). The world also keeps a running trace
//! hash of the same events (`World::trace_hash`), so determinism is testable without a
//! subscriber.

pub mod client;
pub mod clock;
pub mod disk;
pub mod kv_run;
pub mod liveness;
pub mod nemesis;
pub mod network;
pub mod options;
pub mod pauses;
pub mod queue;
pub mod raft_process;
pub mod rng;
pub mod safety;
pub mod swarm;
pub mod trace;
pub mod types_ext;
pub mod world;

pub use client::{ClientResult, Outcome};
pub use nemesis::{FaultAction, FaultSchedule, PartitionShape, Target, TimedFault};
pub use options::{Banner, ClockOptions, DiskOptions, LatencyDist, NetworkOptions, WorldOptions};
pub use pauses::ClientTarget;
pub use safety::{Violation, ViolationKind};
pub use types_ext::ClientId;
pub use world::{
    LivenessFailure, LivenessReport, NodeSetup, SimError, Stats, World, LIVENESS_CLIENT,
};
