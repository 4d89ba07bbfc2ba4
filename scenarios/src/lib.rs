//! detcd-scenarios: the scenario file format and the built-in scenario library.
//!
//! A scenario is a TOML document that names everything a simulated run needs besides
//! its seed: the cluster, the workload, the network, the faults, the phase lengths and
//! the outcome expected. The format is documented field by field on the types in
//! [`format`]; `scenarios/library/*.toml` are the built-in scenarios, embedded in the
//! binary by [`library`].

pub mod auth;
pub mod format;
pub mod guide;
pub mod library;
pub mod lock;

pub use auth::AuthSpec;
pub use format::{
    ClusterSpec, Expect, FaultAction, FaultKind, FaultSpec, KeyDistribution, MixKind, NetworkSpec,
    OpMix, PhaseSpec, RandomFaults, Scenario, ScenarioError, ScheduledFault, WorkloadSpec,
    CHECK_NAMES,
};
pub use guide::FORMAT_GUIDE;
pub use library::{builtin, builtin_names, builtin_toml, builtins, suggest, BuiltinScenario};
pub use lock::{LockSpec, Recipe};
