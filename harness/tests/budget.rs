//! Every run is bounded whatever the build does: a pathological configuration (the
//! UNSAFE message storm, where every message arrives many times) ends on its budget
//! with the verdict `budget` instead of running away, its events and pending events
//! within the bounds and the process's memory far below the sweep's 2 GB; the same
//! scenario without the storm stays well inside the budget.

use detcd_harness::run::{run_with, RunBudget, RunOptions};
use detcd_harness::Verdict;
use detcd_scenarios::Scenario;

/// The sweep's memory bound.
const SWEEP_MEMORY_BYTES_MAX: u64 = 2 << 30;

fn scenario(storm_copies: u32) -> Scenario {
    let mut s = detcd_scenarios::builtin("happy-path").expect("built-in");
    s.name = "storm".into();
    s.cluster.size = 5;
    s.network.storm_copies = storm_copies;
    s
}

fn budget() -> RunBudget {
    RunBudget { events_max: 300_000, pending_events_max: 50_000, ..RunBudget::default() }
}

/// The peak resident memory of this process, from the kernel's own account.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kb * 1024
}

#[test]
fn a_message_storm_ends_on_its_budget() {
    let options = RunOptions { budget: budget(), ..RunOptions::default() };
    for seed in 1..4 {
        let (report, _) = run_with(&scenario(8), seed, options);
        assert!(report.over_budget(), "seed {seed}: {report:?}");
        assert!(!report.passed(&detcd_scenarios::Expect::Pass));
        assert!(report.events <= options.budget.events_max, "seed {seed}: {}", report.events);
        let c = report.checks.iter().find(|c| c.verdict == Verdict::Budget).expect("a budget");
        assert!(c.evidence.starts_with("over budget:"), "{}", c.evidence);
    }
    assert!(peak_rss_bytes() < SWEEP_MEMORY_BYTES_MAX, "{} bytes", peak_rss_bytes());
}

#[test]
fn a_healthy_run_stays_inside_the_budget() {
    let options = RunOptions { budget: budget(), ..RunOptions::default() };
    let (report, _) = run_with(&scenario(0), 1, options);
    assert!(!report.over_budget(), "{report:?}");
    assert!(report.passed(&detcd_scenarios::Expect::Pass), "{report:?}");
    assert!(report.events * 3 < options.budget.events_max, "{} events", report.events);
}

#[test]
fn a_search_or_a_history_over_budget_is_said_so() {
    let steps = RunBudget { check_steps_max: 10, ..RunBudget::default() };
    let (report, _) =
        run_with(&scenario(0), 1, RunOptions { budget: steps, ..RunOptions::default() });
    let lin = report.checks.iter().find(|c| c.name == "linearizability").expect("checked");
    assert_eq!(lin.verdict, Verdict::Budget, "{lin:?}");
    assert!(report.over_budget());

    let history = RunBudget { history_ops_max: 20, ..RunBudget::default() };
    let (report, _) =
        run_with(&scenario(0), 1, RunOptions { budget: history, ..RunOptions::default() });
    assert!(report.over_budget(), "{report:?}");
    assert!(report.operations <= 20 + 6, "{} operations", report.operations);
    // The history's budget has its own entry; linearizability is reported once.
    let budget = report.checks.iter().find(|c| c.name == "budget").expect("a budget entry");
    assert_eq!(budget.verdict, Verdict::Budget, "{budget:?}");
    assert!(budget.evidence.contains("history reached 20 operations"), "{}", budget.evidence);
    let lin = report.checks.iter().filter(|c| c.name == "linearizability").count();
    assert_eq!(lin, 1, "{:?}", report.checks);
}
