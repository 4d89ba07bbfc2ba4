//! The story `detcd replay lock-unfenced -v` tells, and the pause fault in the trace.
//! One test in its own binary: traced runs also capture `tracing` events through a
//! thread-local subscriber, and an untraced run on another thread at the same time can
//! leave an event's callsite disabled.

use detcd_harness::trace::steplog::{step_log, StepLogOptions};
use detcd_harness::trace::timeline::Mark;
use detcd_harness::trace::{marks, traced};
use detcd_scenarios::builtin;
use detcd_sim::SimEvent;

#[test]
fn lock_runs_tell_their_story() {
    pauses_happen_and_fenced_writes_are_refused();
    the_step_log_tells_the_unfenced_story();
}

fn pauses_happen_and_fenced_writes_are_refused() {
    let scenario = builtin("lock-fenced").expect("built-in");
    let traced = traced::traced_run(&scenario, 1);
    let events = &traced.artifacts.events;
    let pauses = events.iter().filter(|e| matches!(e.event, SimEvent::ClientPause { .. })).count();
    assert!(pauses >= 2, "{pauses} pause(s)");
    let lines =
        step_log(&traced.artifacts.events, &traced.artifacts.records, &StepLogOptions::default());
    assert!(lines.iter().any(|l| l.contains("the resource REFUSED its exit write")), "{lines:#?}");
    let timeline =
        marks::timeline(events, &traced.artifacts.records, 3, String::new(), String::new());
    let drawn = timeline
        .marks
        .iter()
        .filter(|m| matches!(m, Mark::Fault { what, .. } if what.contains("paused")))
        .count();
    assert_eq!(drawn, pauses, "every pause is drawn on the time line");
}

fn the_step_log_tells_the_unfenced_story() {
    let scenario = builtin("lock-unfenced").expect("built-in");
    let traced = traced::traced_run(&scenario, 1);
    assert!(!traced.report.passed(&detcd_scenarios::Expect::Pass));
    let lines =
        step_log(&traced.artifacts.events, &traced.artifacts.records, &StepLogOptions::default());
    let position = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in {lines:#?}"))
    };
    let paused = position("PAUSED for");
    let expired = position("LEASE EXPIRED DURING ITS PAUSE");
    let second = lines[expired..].iter().position(|l| l.contains("ACQUIRES the lock")).unwrap();
    let resumed = position("RESUMES after its pause, still believing it holds the lock");
    let anyway = position("WRITES ANYWAY");
    assert!(paused < expired && expired + second < resumed && resumed < anyway, "{lines:#?}");
    assert!(lines.iter().all(|l| !l.contains("Holding") && !l.contains("Purpose")));
}
