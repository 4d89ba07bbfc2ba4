//! `detcd shrink`: cut a failing run down to a smaller scenario that still fails at
//! the same seed, and write it as a scenario file `detcd sim FILE --seed S` reproduces.

use super::load::{bad_input, load, shell_word};
use clap::Args;
use detcd_harness::shrink::shrink;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  detcd shrink lying-fsync --seed 3
  detcd shrink ./my-scenario.toml --seed 17 --out small.toml --attempts 200

What \"fails\" means: for a negative control (expect = \"fail:<check>\"), its violation
is still caught; for any other scenario, a check that failed originally still fails.
Random faults are first written out as the explicit schedule the seed draws; then
faults are removed in chunks, and operations, clients, keys, the safety phase, network
noise and operation kinds are cut down while the run keeps failing.
Exit status: 0 shrunk (or already minimal), 1 the run does not fail, 2 bad input.")]
pub struct ShrinkArgs {
    /// A built-in scenario name (see `detcd scenarios`) or the path of a scenario TOML
    /// file, e.g. `lying-fsync`.
    pub scenario: String,
    /// The failing seed, as printed by `detcd sim`, e.g. `--seed 3`.
    #[arg(long, value_name = "S", allow_hyphen_values = true,
          value_parser = super::load::parse_count)]
    pub seed: u64,
    /// Where to write the smallest scenario (default: NAME-seed-S-shrunk.toml in the
    /// current directory), e.g. `--out small.toml`.
    #[arg(long, value_name = "FILE.toml")]
    pub out: Option<PathBuf>,
    /// Most runs to make while shrinking (each is one full simulated run),
    /// e.g. `--attempts 200`.
    #[arg(long, value_name = "N", default_value_t = 80,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub attempts: u32,
}

pub fn run(args: ShrinkArgs) -> ExitCode {
    let loaded = match load(&args.scenario) {
        Ok(l) => l,
        Err(e) => return bad_input(&e),
    };
    let mut progress = |line: &str| eprintln!("{line}");
    let shrunk = match shrink(&loaded.scenario, args.seed, args.attempts, &mut progress) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(format!("{}-seed-{}-shrunk.toml", loaded.scenario.name, args.seed))
    });
    if let Err(e) = std::fs::write(&out, shrunk.scenario.to_toml()) {
        return bad_input(&format!("cannot write {}: {e}", out.display()));
    }
    println!("shrunk {} at seed {} in {} run(s)", loaded.arg, args.seed, shrunk.attempts);
    if shrunk.removed.is_empty() {
        println!("nothing could be removed: the scenario is already minimal for this seed");
    } else {
        println!("removed:");
        for what in &shrunk.removed {
            println!("  - {what}");
        }
    }
    let w = &shrunk.scenario.workload;
    match &shrunk.scenario.lock {
        Some(lock) => println!(
            "left: {} scheduled fault(s), {} lock client(s), safety phase {} ms",
            shrunk.scenario.faults.schedule.len(),
            lock.clients,
            shrunk.scenario.phases.safety_ms
        ),
        None => println!(
            "left: {} scheduled fault(s), {} operation(s), {} client(s), {} key(s), safety phase {} ms",
            shrunk.scenario.faults.schedule.len(),
            w.operations,
            w.clients,
            w.keys,
            shrunk.scenario.phases.safety_ms
        ),
    }
    let failing: Vec<String> =
        shrunk.report.failures().map(|c| format!("{}: {}", c.name, c.evidence)).collect();
    println!("still fails with: {}", failing.join("; "));
    println!("wrote {}", out.display());
    println!(
        "reproduce: detcd sim {} --seed {}",
        shell_word(&out.display().to_string()),
        args.seed
    );
    ExitCode::SUCCESS
}
