//! Every built-in scenario at a fixed seed: positive scenarios pass every check,
//! negative controls are caught.

use detcd_harness::run::run;

fn run_named(name: &str, seed: u64) -> detcd_harness::RunReport {
    let scenario = detcd_scenarios::builtin(name).expect("built-in scenario");
    let (report, _) = run(&scenario, seed);
    for c in &report.checks {
        eprintln!("{name} seed {seed}: {} {:?}: {}", c.name, c.verdict, c.evidence);
    }
    eprintln!(
        "{name} seed {seed}: {} ops, {} checked, {} events, {} µs wall",
        report.operations, report.operations_checked, report.events, report.wall_us
    );
    assert!(
        report.passed(&scenario.expect),
        "{name} seed {seed}: {}",
        report.failure_summary(&scenario.expect)
    );
    report
}

#[test]
fn happy_path() {
    run_named("happy-path", 1);
}
