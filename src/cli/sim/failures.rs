//! Failing seeds: each gets the command that replays it, the failed checks and its
//! trace hash; up to a cap per scenario are replayed with tracing to write their HTML
//! time line and checker report, and the replay's trace hash is compared with the
//! sweep's (a difference is a determinism bug).

use super::super::load::{shell_word, Loaded};
use super::super::replay::write_html;
use super::result::FailingSeed;
use super::Summary;
use detcd_harness::sweep::run_parallel;
use detcd_harness::trace::traced::traced_run;
use detcd_harness::RunReport;
use detcd_scenarios::Expect;
use std::path::{Path, PathBuf};

fn html_path(out: &Path, loaded: &Loaded, seed: u64) -> PathBuf {
    out.join(format!("{}-seed-{seed}.html", loaded.scenario.name))
}

/// The command that replays `seed` and writes its time line to `html`. A run of a
/// hand-written mutant names it: without `--mutant` the replay would run the correct
/// code and pass.
fn replay_command(loaded: &Loaded, seed: u64, html: &Path, mutant: Option<&str>) -> String {
    let mutant = mutant.map(|m| format!(" --mutant {}", shell_word(m))).unwrap_or_default();
    format!(
        "detcd replay {} --seed {seed} --html {}{mutant}",
        shell_word(&loaded.arg),
        shell_word(&html.display().to_string())
    )
}

/// The hand-written mutant this process runs, if any (builds with `--features mutants`).
fn selected_mutant() -> Option<&'static str> {
    #[cfg(feature = "mutants")]
    {
        detcd_core::mutants::selected().map(|m| m.name())
    }
    #[cfg(not(feature = "mutants"))]
    {
        None
    }
}

/// The checks behind a failing run: those that failed, or for a negative control not
/// caught, those it expected to fail.
fn failed_checks(r: &RunReport, expect: &Expect) -> Vec<String> {
    match expect {
        Expect::Pass => r.failures().map(|c| c.name.to_string()).collect(),
        Expect::Fail(names) => names.split('|').map(str::to_string).collect(),
    }
}

fn verdict_word(over_budget: bool) -> String {
    if over_budget { "budget" } else { "fail" }.to_string()
}

/// Failing seeds per scenario whose replay and HTML reports `sim` writes; each replay
/// costs another run, and past this many a reader wants the replay commands only.
const REPORTS_PER_SCENARIO_MAX: usize = 10;

/// Gives every failing seed its replay command, and (unless `write_reports` is off:
/// an interrupted sweep has no time for it) replays up to the cap per scenario with
/// tracing and writes their reports into `out`.
pub(super) fn replay_failures(
    summaries: &mut [Summary],
    out: &Path,
    jobs: usize,
    write_reports: bool,
) {
    let mut todo = Vec::new();
    let mut skipped = Vec::new();
    for (i, s) in summaries.iter().enumerate() {
        let expect = &s.loaded.scenario.expect;
        for (n, r) in s.runs.iter().filter_map(|r| r.failed.as_deref()).enumerate() {
            let failing = (
                i,
                r.seed,
                r.trace_hash,
                r.failure_summary(expect),
                failed_checks(r, expect),
                r.over_budget(),
            );
            // A run over budget is not replayed here: the replay would spend the whole
            // budget again; its replay command is enough.
            if write_reports && n < REPORTS_PER_SCENARIO_MAX && !r.over_budget() {
                todo.push(failing);
            } else {
                skipped.push(failing);
            }
        }
    }
    let summaries_ref = &*summaries;
    let results = run_parallel(
        &todo,
        jobs,
        |(i, seed, hash, _, _, _)| {
            let s = &summaries_ref[*i];
            let html = html_path(out, &s.loaded, *seed);
            let traced = traced_run(&s.loaded.scenario, *seed);
            let mismatch = (traced.report.trace_hash != *hash).then(|| {
                format!(
                    "replay gave trace hash {:016x}, the sweep {hash:016x}: the run is not deterministic",
                    traced.report.trace_hash
                )
            });
            let reports = write_html(&s.loaded.scenario, &traced, &html).unwrap_or_else(|e| {
                eprintln!("warning: cannot write {}: {e}", html.display());
                Vec::new()
            });
            (html, reports, mismatch)
        },
        |_, _| {},
    );
    for ((i, seed, hash, summary, checks, budget), (html, reports, mismatch)) in
        todo.into_iter().zip(results)
    {
        let s = &mut summaries[i];
        s.failing.push(FailingSeed {
            seed,
            verdict: verdict_word(budget),
            summary,
            checks,
            trace_hash: format!("{hash:016x}"),
            replay: replay_command(&s.loaded, seed, &html, selected_mutant()),
            reports: reports.iter().map(|p| p.display().to_string()).collect(),
            replay_mismatch: mismatch,
        });
    }
    for (i, seed, hash, summary, checks, budget) in skipped {
        let s = &mut summaries[i];
        let html = html_path(out, &s.loaded, seed);
        if write_reports && !budget {
            s.reports_skipped += 1;
        }
        s.failing.push(FailingSeed {
            seed,
            verdict: verdict_word(budget),
            summary,
            checks,
            trace_hash: format!("{hash:016x}"),
            replay: replay_command(&s.loaded, seed, &html, selected_mutant()),
            reports: Vec::new(),
            replay_mismatch: None,
        });
    }
    for s in summaries.iter_mut() {
        s.failing.sort_by_key(|f| f.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded() -> Loaded {
        super::super::super::load::load("lossy-network").expect("built-in")
    }

    #[test]
    fn a_mutant_run_replays_with_its_mutant() {
        let html = Path::new("out/lossy-network-seed-3.html");
        let plain = replay_command(&loaded(), 3, html, None);
        assert_eq!(
            plain,
            "detcd replay lossy-network --seed 3 --html out/lossy-network-seed-3.html"
        );
        let mutant = replay_command(&loaded(), 3, html, Some("figure8-commit"));
        assert_eq!(mutant, format!("{plain} --mutant figure8-commit"));
    }
}
