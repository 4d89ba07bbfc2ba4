//! Shrinking a failing run: greedy delta debugging over one scenario at one seed.
//! Random faults are first written out as the explicit schedule the seed draws (so
//! removing one fault leaves the others where they were), then faults are removed in
//! chunks, and the workload and phases are cut down knob by knob, keeping every change
//! after which the run still fails the same way. Each try is one full run, so the
//! number of tries is bounded.

use crate::nemesis;
use crate::run::run;
use crate::RunReport;
use detcd_scenarios::{Expect, FaultAction as Fault, MixKind, Scenario, ScheduledFault};
use detcd_sim::{ClientTarget, FaultAction, MemberChange, PartitionShape, Target};
use std::collections::BTreeSet;

/// What counts as "still failing".
#[derive(Clone, Debug)]
pub enum Failure {
    /// A negative control: its expected violation is still found.
    Caught(Expect),
    /// A positive scenario: one of these checks still fails.
    Checks(BTreeSet<String>),
}

impl Failure {
    /// The failure `report` shows for `scenario`, or `None` when the run is fine (a
    /// negative control that was not caught is not something to shrink).
    pub fn of(scenario: &Scenario, report: &RunReport) -> Option<Failure> {
        match &scenario.expect {
            Expect::Fail(_) => {
                report.passed(&scenario.expect).then(|| Failure::Caught(scenario.expect.clone()))
            }
            Expect::Pass => {
                let names: BTreeSet<String> =
                    report.failures().map(|c| c.name.to_string()).collect();
                (!names.is_empty()).then_some(Failure::Checks(names))
            }
        }
    }

    pub fn matches(&self, report: &RunReport) -> bool {
        match self {
            Failure::Caught(expect) => report.passed(expect),
            Failure::Checks(names) => report.failures().any(|c| names.contains(c.name)),
        }
    }
}

/// The result of shrinking.
pub struct Shrunk {
    pub scenario: Scenario,
    /// What was taken away, in words, in the order it was.
    pub removed: Vec<String>,
    /// Runs made, the first (original) one included.
    pub attempts: u32,
    /// The report of the smallest scenario's run.
    pub report: RunReport,
}

/// Why nothing could be shrunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShrinkError {
    /// The run at this seed does not fail, so there is nothing to keep failing.
    DoesNotFail { scenario: String, seed: u64 },
}

impl std::fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShrinkError::DoesNotFail { scenario, seed } => write!(
                f,
                "{scenario} at seed {seed} does not fail (a negative control must catch its violation), so there is nothing to shrink"
            ),
        }
    }
}

impl std::error::Error for ShrinkError {}

/// The scenario form of one simulator fault, when there is an exact one.
fn scenario_fault(action: &FaultAction) -> Option<Fault> {
    let fault = match action {
        FaultAction::Partition { shape } => match shape {
            PartitionShape::Isolate { node: Target::Node(n) } => Fault::IsolateNode { node: *n },
            PartitionShape::Isolate { node: Target::Leader } | PartitionShape::IsolateLeader => {
                Fault::IsolateLeader
            }
            PartitionShape::MajorityMinority => Fault::SplitMajority,
            PartitionShape::Bridge => Fault::Bridge,
            PartitionShape::Ring => Fault::Ring,
            PartitionShape::Groups { groups } => Fault::Partition { groups: groups.clone() },
            PartitionShape::OneWay { from, to } if from.len() == 1 && to.len() == 1 => {
                Fault::OneWay { from: from[0], to: to[0] }
            }
            PartitionShape::LeaderDeaf => Fault::OneWayLeaderDeaf,
            _ => return None,
        },
        FaultAction::Heal => Fault::Heal,
        FaultAction::Crash { node: Target::Node(n) } => Fault::Crash { node: *n },
        FaultAction::Crash { node: Target::Leader } => Fault::CrashLeader,
        FaultAction::Restart { node: Target::Node(n) } => Fault::Restart { node: *n },
        FaultAction::RestartAll => Fault::RestartAll,
        FaultAction::ClockSkew { node: Target::Node(n), rate_permille } => {
            Fault::ClockSkew { node: *n, rate: f64::from(*rate_permille) / 1000.0 }
        }
        FaultAction::ClockSkew { node: Target::Leader, rate_permille } => {
            Fault::ClockSkewLeader { rate: f64::from(*rate_permille) / 1000.0 }
        }
        FaultAction::ClockJump { node: Target::Node(n), ticks } => {
            Fault::ClockJump { node: *n, ticks: *ticks }
        }
        FaultAction::ClockReset => Fault::ClockReset,
        FaultAction::Network { drop_rate, duplicate_rate, reorder_rate, latency: None } => {
            Fault::Network { drop: *drop_rate, duplicate: *duplicate_rate, reorder: *reorder_rate }
        }
        FaultAction::TransferLeader { to: Target::Node(n) } => Fault::TransferLeader { to: *n },
        FaultAction::TransferLeader { to: Target::Random } => Fault::TransferLeader { to: 0 },
        FaultAction::Membership { change } => match change {
            MemberChange::AddLearner { node } => Fault::AddLearner { node: *node },
            MemberChange::AddVoter { node } => Fault::AddVoter { node: *node },
            MemberChange::AddVoters { nodes } => Fault::AddVoters { nodes: nodes.clone() },
            MemberChange::Promote { node } => Fault::Promote { node: *node },
            MemberChange::Remove { node: Target::Node(n) } => Fault::RemoveMember { node: *n },
            MemberChange::Remove { node: Target::Leader } => Fault::RemoveLeader,
            MemberChange::Replace { remove: Target::Node(n), add } => {
                Fault::ReplaceMember { remove: *n, add: *add }
            }
            MemberChange::Replace { remove: Target::Leader, add } => {
                Fault::ReplaceMember { remove: 0, add: *add }
            }
            _ => return None,
        },
        FaultAction::PauseClient { client, duration_us } => match client {
            ClientTarget::Client(c) => Fault::PauseClient { client: *c, ms: duration_us / 1_000 },
            ClientTarget::LockHolder => Fault::PauseLockHolder { ms: duration_us / 1_000 },
        },
        _ => return None,
    };
    Some(fault)
}

/// `scenario` with its random faults written out as the schedule `seed` draws, or
/// `None` when that cannot be done exactly (swarm mode, or a fault with no scenario
/// form). Exact means: the simulator gets the very same fault schedule.
pub fn explicit_faults(scenario: &Scenario, seed: u64) -> Option<Scenario> {
    if scenario.faults.swarm {
        return None;
    }
    if scenario.faults.random.is_none() {
        return Some(scenario.clone());
    }
    let drawn = nemesis::schedule(scenario, seed);
    let mut schedule = Vec::new();
    for f in &drawn.faults {
        if f.at_us % 1_000 != 0 {
            return None;
        }
        schedule
            .push(ScheduledFault { at_ms: f.at_us / 1_000, action: scenario_fault(&f.action)? });
    }
    let mut explicit = scenario.clone();
    explicit.faults.random = None;
    explicit.faults.schedule = schedule;
    (nemesis::schedule(&explicit, seed) == drawn).then_some(explicit)
}

/// A fault as the scenario file spells it (`crash node=2 at 300 ms`), the unit of the
/// file's `at_ms`.
fn describe_fault(f: &ScheduledFault) -> String {
    let words = match serde_json::to_value(&f.action) {
        Ok(serde_json::Value::Object(fields)) => {
            let mut words: Vec<String> = fields
                .get("action")
                .and_then(|a| a.as_str())
                .map(str::to_string)
                .into_iter()
                .collect();
            words.extend(
                fields.iter().filter(|(k, _)| *k != "action").map(|(k, v)| format!("{k}={v}")),
            );
            words.join(" ")
        }
        _ => "a fault".to_string(),
    };
    format!("{words} at {} ms", f.at_ms)
}

/// Tries candidates while the budget lasts, keeping each one that still fails.
struct Shrinker<'a> {
    seed: u64,
    failure: Failure,
    attempts: u32,
    attempts_max: u32,
    best: Scenario,
    report: RunReport,
    removed: Vec<String>,
    progress: &'a mut dyn FnMut(&str),
}

impl Shrinker<'_> {
    /// Runs `candidate`; keeps it if it still fails. Returns whether it was kept.
    fn try_candidate(&mut self, candidate: Scenario, what: String) -> bool {
        if self.attempts >= self.attempts_max || candidate.validate().is_err() {
            return false;
        }
        self.attempts += 1;
        let (report, _) = run(&candidate, self.seed);
        let kept = self.failure.matches(&report);
        (self.progress)(&format!(
            "try {:>3}: {what}: {}",
            self.attempts,
            if kept { "still fails, kept" } else { "no longer fails" }
        ));
        if kept {
            self.best = candidate;
            self.report = report;
            self.removed.push(what);
        }
        kept
    }

    fn budget_left(&self) -> bool {
        self.attempts < self.attempts_max
    }

    /// Removes chunks of the fault schedule, halving the chunk size down to one fault.
    fn shrink_faults(&mut self) {
        let mut chunk = self.best.faults.schedule.len().div_ceil(2).max(1);
        while !self.best.faults.schedule.is_empty() && self.budget_left() {
            let mut start = 0;
            while start < self.best.faults.schedule.len() && self.budget_left() {
                let len = self.best.faults.schedule.len();
                let end = (start + chunk).min(len);
                let mut candidate = self.best.clone();
                let cut: Vec<ScheduledFault> =
                    candidate.faults.schedule.drain(start..end).collect();
                let what = if cut.len() == 1 {
                    format!("fault {}", describe_fault(&cut[0]))
                } else {
                    format!(
                        "{} faults from {} ms to {} ms",
                        cut.len(),
                        cut[0].at_ms,
                        cut[cut.len() - 1].at_ms
                    )
                };
                if !self.try_candidate(candidate, what) {
                    start = end;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }

    /// One pass over the workload and phase knobs: for each knob, its smaller values
    /// are tried from the boldest down and the first that still fails is kept.
    /// Returns whether anything was kept.
    fn shrink_knobs(&mut self) -> bool {
        let mut progress = false;
        for knob in Knob::ALL {
            for (candidate, what) in knob.candidates(&self.best) {
                if !self.budget_left() {
                    return progress;
                }
                if self.try_candidate(candidate, what) {
                    progress = true;
                    break;
                }
            }
        }
        progress
    }
}

/// The workload and phase settings shrinking cuts down.
#[derive(Clone, Copy, Debug)]
enum Knob {
    Operations,
    Clients,
    Keys,
    SafetyPhase,
    NetworkNoise,
    /// One operation kind of the mix.
    Mix(MixKind),
}

/// Smaller values to try for a count, boldest first, never below `min`.
fn smaller(value: u64, min: u64) -> Vec<u64> {
    let mut out: Vec<u64> = [value / 2, value * 3 / 4, value.saturating_sub(1)]
        .into_iter()
        .filter(|&v| v >= min && v < value)
        .collect();
    out.dedup();
    out
}

impl Knob {
    const ALL: [Knob; 20] = [
        Knob::Operations,
        Knob::Clients,
        Knob::Keys,
        Knob::SafetyPhase,
        Knob::NetworkNoise,
        // The rarer, more specialised kinds are dropped first.
        Knob::Mix(MixKind::Bulk),
        Knob::Mix(MixKind::Validate),
        Knob::Mix(MixKind::List),
        Knob::Mix(MixKind::Count),
        Knob::Mix(MixKind::RangeAt),
        Knob::Mix(MixKind::Txn),
        Knob::Mix(MixKind::Lease),
        Knob::Mix(MixKind::Watch),
        Knob::Mix(MixKind::Compact),
        Knob::Mix(MixKind::Range),
        Knob::Mix(MixKind::Delete),
        Knob::Mix(MixKind::SerializableGet),
        Knob::Mix(MixKind::Cas),
        Knob::Mix(MixKind::Get),
        Knob::Mix(MixKind::Put),
    ];

    /// Smaller versions of `s` along this knob, boldest first, each with what it took.
    fn candidates(self, s: &Scenario) -> Vec<(Scenario, String)> {
        let with = |edit: &dyn Fn(&mut Scenario), what: String| {
            let mut c = s.clone();
            edit(&mut c);
            (c, what)
        };
        // A lock workload has its own clients and no KV operations, keys or mix.
        if let Some(lock) = &s.lock {
            return match self {
                Knob::Clients => {
                    let now = u64::from(lock.clients);
                    smaller(now, 1)
                        .into_iter()
                        .map(|v| {
                            with(
                                &|c| c.lock.as_mut().expect("a lock workload").clients = v as u32,
                                format!("lock.clients {now} -> {v}"),
                            )
                        })
                        .collect()
                }
                Knob::Operations | Knob::Keys | Knob::Mix(_) => Vec::new(),
                _ => self.kv_candidates(s),
            };
        }
        // Neither has an auth workload: its clients are fixed by its users.
        if s.auth.is_some() {
            return match self {
                Knob::Clients | Knob::Operations | Knob::Keys | Knob::Mix(_) => Vec::new(),
                _ => self.kv_candidates(s),
            };
        }
        self.kv_candidates(s)
    }

    fn kv_candidates(self, s: &Scenario) -> Vec<(Scenario, String)> {
        let with = |edit: &dyn Fn(&mut Scenario), what: String| {
            let mut c = s.clone();
            edit(&mut c);
            (c, what)
        };
        match self {
            Knob::Operations => {
                let now = u64::from(s.workload.operations);
                // Three-quarter and minus-one steps only pay off on small counts.
                let values = if now > 16 { vec![now / 2, now * 3 / 4] } else { smaller(now, 1) };
                values
                    .into_iter()
                    .map(|v| {
                        with(
                            &|c| c.workload.operations = v as u32,
                            format!("workload.operations {now} -> {v}"),
                        )
                    })
                    .collect()
            }
            Knob::Clients => {
                let now = u64::from(s.workload.clients);
                smaller(now, 1)
                    .into_iter()
                    .map(|v| {
                        with(
                            &|c| c.workload.clients = v as u32,
                            format!("workload.clients {now} -> {v}"),
                        )
                    })
                    .collect()
            }
            Knob::Keys => {
                let now = u64::from(s.workload.keys);
                smaller(now, 1)
                    .into_iter()
                    .map(|v| {
                        with(&|c| c.workload.keys = v as u32, format!("workload.keys {now} -> {v}"))
                    })
                    .collect()
            }
            Knob::SafetyPhase => {
                let now = s.phases.safety_ms;
                [now / 2, now * 3 / 4]
                    .into_iter()
                    .filter(|&v| v >= 200)
                    .map(|v| {
                        with(
                            &|c| {
                                c.phases.safety_ms = v;
                                c.faults.schedule.retain(|f| f.at_ms < v);
                            },
                            format!("phases.safety_ms {now} -> {v} (and the faults after it)"),
                        )
                    })
                    .collect()
            }
            Knob::NetworkNoise => {
                let n = &s.network;
                if n.drop == 0.0 && n.duplicate == 0.0 && n.reorder == 0.0 {
                    return Vec::new();
                }
                vec![with(
                    &|c| {
                        c.network.drop = 0.0;
                        c.network.duplicate = 0.0;
                        c.network.reorder = 0.0;
                    },
                    "background message loss, duplication and reordering".to_string(),
                )]
            }
            Knob::Mix(kind) => {
                let mix = &s.workload.mix;
                let weight = mix.weight(kind);
                if weight == 0 || mix.total() == weight {
                    return Vec::new();
                }
                vec![with(
                    &|c| *c.workload.mix.weight_mut(kind) = 0,
                    format!("{} operations from the mix", kind.name()),
                )]
            }
        }
    }
}

/// Shrinks `scenario` at `seed` while its run keeps failing, making at most
/// `attempts_max` runs. `progress` hears about every try.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    attempts_max: u32,
    progress: &mut dyn FnMut(&str),
) -> Result<Shrunk, ShrinkError> {
    let (report, _) = run(scenario, seed);
    let Some(failure) = Failure::of(scenario, &report) else {
        return Err(ShrinkError::DoesNotFail { scenario: scenario.name.clone(), seed });
    };
    let mut best = scenario.clone();
    let mut removed = Vec::new();
    if let Some(explicit) = explicit_faults(scenario, seed) {
        if explicit.faults.random.is_none() && scenario.faults.random.is_some() {
            removed.push(format!(
                "random faults, written out as the {} scheduled fault(s) seed {seed} draws",
                explicit.faults.schedule.len()
            ));
        }
        best = explicit;
    } else {
        progress("swarm or inexact random faults: shrinking the workload and phases only");
    }
    best.name = format!("{}-shrunk", scenario.name);
    best.description = format!("{} at seed {seed}, shrunk by detcd shrink.", scenario.name);
    best.default_seeds = 1;
    let mut shrinker = Shrinker {
        seed,
        failure,
        attempts: 1,
        attempts_max: attempts_max.max(1),
        best,
        report,
        removed,
        progress,
    };
    loop {
        let faults_before = shrinker.best.faults.schedule.len();
        shrinker.shrink_faults();
        let knobs = shrinker.shrink_knobs();
        let faults_progress = shrinker.best.faults.schedule.len() < faults_before;
        if !(knobs || faults_progress) || !shrinker.budget_left() {
            break;
        }
    }
    Ok(Shrunk {
        scenario: shrinker.best,
        removed: shrinker.removed,
        attempts: shrinker.attempts,
        report: shrinker.report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_described_as_the_scenario_file_spells_them() {
        let crash = ScheduledFault { at_ms: 300, action: Fault::Crash { node: 2 } };
        assert_eq!(describe_fault(&crash), "crash node=2 at 300 ms");
        let isolate = ScheduledFault { at_ms: 5, action: Fault::IsolateLeader };
        assert_eq!(describe_fault(&isolate), "isolate_leader at 5 ms");
    }

    #[test]
    fn random_faults_become_the_same_explicit_schedule() {
        let s = detcd_scenarios::builtin("lying-fsync").expect("built-in");
        for seed in 1..=4 {
            let explicit = explicit_faults(&s, seed).expect("crash faults have a scenario form");
            assert!(explicit.faults.random.is_none());
            assert!(!explicit.faults.schedule.is_empty());
            assert_eq!(nemesis::schedule(&explicit, seed), nemesis::schedule(&s, seed));
            let reread = Scenario::from_toml(&explicit.to_toml(), "explicit").expect("valid");
            assert_eq!(nemesis::schedule(&reread, seed), nemesis::schedule(&s, seed));
        }
    }

    /// The sizes shrinking can cut, in one comparable tuple.
    fn size(s: &Scenario) -> [u64; 5] {
        [
            s.faults.schedule.len() as u64,
            u64::from(s.workload.operations),
            u64::from(s.workload.clients),
            u64::from(s.workload.keys),
            s.phases.safety_ms,
        ]
    }

    #[test]
    fn shrinking_a_caught_negative_control_keeps_it_caught() {
        let original = detcd_scenarios::builtin("lease-read-clock-skew").expect("built-in");
        let seed = (1..=4)
            .find(|&seed| run(&original, seed).0.passed(&original.expect))
            .expect("the negative control is caught at one of seeds 1 to 4");
        let mut tries = Vec::new();
        let shrunk = shrink(&original, seed, 24, &mut |line| tries.push(line.to_string()))
            .expect("a caught negative control can be shrunk");
        assert!(shrunk.attempts <= 24);
        assert!(!shrunk.removed.is_empty(), "nothing removed: {tries:?}");
        let (before, after) = (size(&original), size(&shrunk.scenario));
        assert!(before.iter().zip(&after).all(|(b, a)| a <= b), "{before:?} -> {after:?}");
        assert_ne!(before, after);
        // What `detcd shrink` writes is what `detcd sim FILE --seed S` runs.
        let file = Scenario::from_toml(&shrunk.scenario.to_toml(), "shrunk.toml").expect("valid");
        let (report, _) = run(&file, seed);
        assert!(report.passed(&file.expect), "{}", report.failure_summary(&file.expect));
        assert_eq!(report.trace_hash, shrunk.report.trace_hash);
    }

    #[test]
    fn a_lock_run_shrinks_its_pauses_and_lock_clients_only() {
        let original = detcd_scenarios::builtin("lock-unfenced").expect("built-in");
        let shrunk = shrink(&original, 1, 40, &mut |_| {}).expect("caught at seed 1");
        assert_eq!(shrunk.scenario.workload, original.workload, "the KV workload is not run");
        assert!(shrunk.scenario.faults.schedule.len() <= 2, "{:?}", shrunk.scenario.faults);
        assert!(shrunk.removed.iter().all(|r| !r.contains("workload.")), "{:?}", shrunk.removed);
        let file = Scenario::from_toml(&shrunk.scenario.to_toml(), "shrunk.toml").expect("valid");
        assert_eq!(run(&file, 1).0.trace_hash, shrunk.report.trace_hash);
    }

    #[test]
    fn a_run_that_does_not_fail_cannot_be_shrunk() {
        let s = detcd_scenarios::builtin("happy-path").expect("built-in");
        let mut quick = s.clone();
        quick.workload.operations = 40;
        quick.phases.safety_ms = 500;
        let err = shrink(&quick, 1, 5, &mut |_| {}).err().expect("happy path passes");
        assert!(matches!(err, ShrinkError::DoesNotFail { seed: 1, .. }));
    }

    #[test]
    fn swarm_faults_have_no_exact_schedule() {
        let s = detcd_scenarios::builtin("swarm").expect("built-in");
        assert!(explicit_faults(&s, 1).is_none());
    }
}
