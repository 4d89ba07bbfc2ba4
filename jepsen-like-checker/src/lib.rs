//! detcd-checker: histories, models, the linearizability search, reports and importers
//! for Jepsen and Porcupine histories.
