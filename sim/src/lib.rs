//! detcd-sim: the deterministic world. Virtual time, a simulated network, disks and
//! clocks, and fault injection, all driven by one seed, running whole clusters of any
//! node type that implements `detcd_core::process::Process`.
