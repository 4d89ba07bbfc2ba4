//! The lock scenarios: without fencing, a holder paused past its lease TTL overlaps
//! with the next holder and the check catches it; with a fencing Txn the resource is
//! safe under the same pauses; the election keeps one leader per term; and runs are a
//! function of their seed. (The traced
//! story is in `lock_story.rs`.)

use detcd_harness::run::run;
use detcd_harness::Verdict;
use detcd_scenarios::builtin;

const SEEDS: std::ops::RangeInclusive<u64> = 1..=6;

fn lock_check(report: &detcd_harness::RunReport) -> &detcd_harness::CheckResult {
    report.checks.iter().find(|c| c.name == "lock-exclusion").expect("the lock check runs")
}

#[test]
fn unfenced_lock_overlap_is_caught() {
    let scenario = builtin("lock-unfenced").expect("built-in");
    for seed in SEEDS {
        let (report, _) = run(&scenario, seed);
        let check = lock_check(&report);
        assert_eq!(check.verdict, Verdict::Fail, "seed {seed}: {check:?}");
        assert!(check.evidence.contains("two lock holders at once"), "{check:?}");
        assert!(report.passed(&scenario.expect), "seed {seed}: {report:?}");
    }
}

#[test]
fn fenced_lock_passes_under_the_same_pauses() {
    let scenario = builtin("lock-fenced").expect("built-in");
    for seed in SEEDS {
        let (report, _) = run(&scenario, seed);
        assert!(report.passed(&scenario.expect), "seed {seed}: {report:?}");
        let check = lock_check(&report);
        assert!(check.evidence.contains("no two holders interleaved"), "{check:?}");
    }
}

#[test]
fn election_has_one_leader_per_term_and_ordered_observers() {
    let scenario = builtin("election").expect("built-in");
    for seed in SEEDS {
        let (report, _) = run(&scenario, seed);
        assert!(report.passed(&scenario.expect), "seed {seed}: {report:?}");
        let check = report.checks.iter().find(|c| c.name == "election").expect("election check");
        assert!(check.evidence.contains("2 observer(s) saw"), "{check:?}");
        assert!(!check.evidence.contains("saw 0 leadership"), "{check:?}");
    }
}

#[test]
fn a_lock_run_is_a_function_of_scenario_and_seed() {
    let scenario = builtin("lock-unfenced").expect("built-in");
    let (a, _) = run(&scenario, 4);
    let (b, _) = run(&scenario, 4);
    let (c, _) = run(&scenario, 5);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.operations, b.operations);
    assert_ne!(a.trace_hash, c.trace_hash);
}
