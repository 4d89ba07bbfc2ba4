//! detcd-scenarios: the scenario file format and the built-in scenario library.
