//! The test that decides for `cargo mutants` (see .cargo/mutants.toml and
//! docs/mutants.md): a quick sweep of every positive scenario of the library. A mutant of
//! the core is caught when any seed of any scenario fails a check; the healthy build
//! passes every seed. Not part of the normal test run (`test = false` in Cargo.toml: it is
//! the mutation tool's job, and `detcd sim` sweeps the same library with more seeds); run
//! it with `cargo test --release -p detcd-harness --test mutants_sweep`.
//!
//! DETCD_MUTANTS_SEEDS sets the seeds per scenario (default 20). The sweep stops at the
//! first failure, so a caught mutant costs little.

use detcd_harness::run::run;
use detcd_scenarios::{builtins, Expect};

const SEEDS_DEFAULT: u64 = 20;
const SEEDS_MAX: u64 = 10_000;

#[test]
fn quick_sweep_of_the_scenario_library() {
    let seeds = match std::env::var("DETCD_MUTANTS_SEEDS") {
        Ok(v) => v.parse::<u64>().expect("DETCD_MUTANTS_SEEDS is a number of seeds"),
        Err(_) => SEEDS_DEFAULT,
    }
    .clamp(1, SEEDS_MAX);
    let positive: Vec<_> =
        builtins().into_iter().filter(|s| matches!(s.expect, Expect::Pass)).collect();
    assert!(positive.len() >= 10, "the library lost its scenarios: {}", positive.len());
    // Seed-major, so every scenario gets its first seeds before any gets many.
    for seed in 1..=seeds {
        for scenario in &positive {
            let (report, _) = run(scenario, seed);
            assert!(
                report.passed(&scenario.expect),
                "{} seed {seed}: {}",
                scenario.name,
                report.failure_summary(&scenario.expect)
            );
        }
    }
}
