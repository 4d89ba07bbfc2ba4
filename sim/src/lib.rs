//! detcd-sim: the deterministic world. Virtual time, a simulated network, disks and
//! clocks, and fault injection, all driven by one seed, running whole clusters of any
//! node type that implements `detcd_core::process::Process`.
//!
//! Start with [`World`]: build it from [`WorldOptions`] (or from a seed with
//! [`swarm::generate`]), submit client requests, schedule faults, step it, and finish
//! with [`World::liveness`]. Every event goes to `tracing` (target `detcd_sim`, the
//! message is the event name: `send`, `deliver`, `drop`, `duplicate`, `tick`,
//! `role_change`, `persist`, `persisted`, `crash`, `restart`, `partition`, `heal`,
//! `clock_skew`, `clock_jump`, `client_invoke`, `client_complete`, `client_timeout`, ...)
//! and into the world's running trace hash.

pub mod client;
pub mod clock;
pub mod disk;
pub mod kv_run;
pub mod liveness;
pub mod nemesis;
pub mod network;
pub mod options;
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
pub use safety::{Violation, ViolationKind};
pub use types_ext::ClientId;
pub use world::{
    LivenessFailure, LivenessReport, NodeSetup, SimError, Stats, World, LIVENESS_CLIENT,
};
