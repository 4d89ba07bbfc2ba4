//! The auth-churn scenario: permissions, roles and users revoked and restored and
//! passwords changed under partitions, crashes and clock skew, with clients acting as
//! those users. Every served request must have been allowed when it began
//! (`auth-revocation`); with members that check a read's permission when it arrives
//! instead of when it is served (the UNSAFE negative control), the check must catch a
//! read served under a permission revoked before it began.

use detcd_harness::run::run;
use detcd_harness::{CheckResult, RunReport, Verdict};
use detcd_scenarios::builtin;

fn auth_check(report: &RunReport) -> &CheckResult {
    report.checks.iter().find(|c| c.name == "auth-revocation").expect("the auth check runs")
}

#[test]
fn auth_churn_serves_nothing_under_a_revoked_permission() {
    let scenario = builtin("auth-churn").expect("built-in");
    for seed in 1..=4 {
        let (report, _) = run(&scenario, seed);
        assert!(report.passed(&scenario.expect), "seed {seed}: {report:?}");
        let check = auth_check(&report);
        // The churn had teeth: requests were served and others refused by auth.
        assert!(check.evidence.contains("served requests were all allowed"), "{check:?}");
        assert!(!check.evidence.starts_with("0 served"), "{check:?}");
        assert!(!check.evidence.contains("(0 requests refused"), "{check:?}");
    }
}

#[test]
fn checking_reads_on_receipt_is_caught() {
    let mut scenario = builtin("auth-churn").expect("built-in");
    scenario.auth.as_mut().expect("an auth workload").unsafe_check_reads_on_receipt = true;
    let mut caught = Vec::new();
    // The stale window is short (a member catching up after a crash or a partition,
    // before a revocation is restored), so only some seeds hit it.
    for seed in 1..=40 {
        let (report, _) = run(&scenario, seed);
        let check = auth_check(&report);
        if check.verdict == Verdict::Fail {
            assert!(check.evidence.contains("read"), "{check:?}");
            caught.push(seed);
        }
    }
    assert!(!caught.is_empty(), "the stale check was never caught");
    eprintln!("the stale check was caught at seeds {caught:?}");
}

#[test]
fn an_auth_run_is_a_function_of_scenario_and_seed() {
    let scenario = builtin("auth-churn").expect("built-in");
    let (a, _) = run(&scenario, 3);
    let (b, _) = run(&scenario, 3);
    let (c, _) = run(&scenario, 4);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.operations, b.operations);
    assert_ne!(a.trace_hash, c.trace_hash);
}

/// Seed 97 once failed on a healthy build: faults in a row refused or lost setup
/// steps, and each retry waited an administrator's pause of up to 1.5 s, until the
/// safety phase was over with auth never enabled. A retry now backs off briefly.
#[test]
fn setup_under_faults_finishes_at_seed_97() {
    let scenario = builtin("auth-churn").expect("built-in");
    let (report, _) = run(&scenario, 97);
    assert!(report.passed(&scenario.expect), "{report:?}");
    let check = auth_check(&report);
    assert_eq!(check.verdict, Verdict::Pass, "{check:?}");
    assert!(!check.evidence.starts_with("0 served"), "{check:?}");
}
