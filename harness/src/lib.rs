//! detcd-harness: workloads, running scenarios in the simulator, checking every run,
//! sweeps over seeds, replay, shrinking and traces.
