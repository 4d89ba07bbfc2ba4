//! A sweep's outcome as plain data: what `--json` prints, what `--merge` reads back and
//! adds up, and what the table and the JUnit file are made from.

use super::super::load::secs;
use serde::{Deserialize, Serialize};

/// The whole sweep (or several merged).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepResult {
    /// Every run matched its scenario's expectation.
    pub passed: bool,
    /// The sweep's first seed (before sharding).
    #[serde(default)]
    pub first_seed: u64,
    /// Where the first seed came from: "given", "random" or "from \"VALUE\"".
    #[serde(default)]
    pub seed_source: String,
    /// This machine's part, "K/N" ("1/1" for a whole sweep, "merged" after `--merge`).
    #[serde(default)]
    pub shard: String,
    pub jobs: usize,
    pub wall_us: u64,
    /// Why the sweep ended before running every seed, if it did.
    #[serde(default)]
    pub stopped: Option<String>,
    pub scenarios: Vec<ScenarioResult>,
}

/// One scenario's seeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    /// The argument that named it (what replay commands repeat).
    pub source: String,
    pub expect: String,
    /// The seeds that ran.
    pub seeds: Vec<u64>,
    pub runs: u64,
    pub passed: u64,
    /// Runs that did not match their expectation, those over budget included.
    pub failed: u64,
    /// Of the failed runs, those that went over their budget (verdict `budget`) rather
    /// than finding a violation.
    #[serde(default)]
    pub over_budget: u64,
    pub failing: Vec<FailingSeed>,
    /// Failing seeds past the cap whose HTML reports were not written.
    #[serde(default)]
    pub reports_skipped: u64,
    pub operations: u64,
    pub operations_checked: u64,
    pub sim_time_us: u64,
    pub wall_us: u64,
}

impl ScenarioResult {
    pub fn negative(&self) -> bool {
        self.expect.starts_with("fail:")
    }
}

/// A seed whose run did not match its expectation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailingSeed {
    pub seed: u64,
    /// "fail" (a check failed, or a negative control was not caught) or "budget" (the
    /// run went over its budget: see `detcd_harness::run::RunBudget`).
    #[serde(default = "fail_word")]
    pub verdict: String,
    pub summary: String,
    /// The checks that failed (for a negative control not caught: the ones expected to).
    #[serde(default)]
    pub checks: Vec<String>,
    /// The run's trace hash, hex; `detcd replay` of the seed prints the same.
    #[serde(default)]
    pub trace_hash: String,
    pub replay: String,
    pub reports: Vec<String>,
    pub replay_mismatch: Option<String>,
}

fn fail_word() -> String {
    "fail".to_string()
}

/// ANSI colour, on or off.
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn red(self, text: &str) -> String {
        self.wrap("1;31", text)
    }
    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }
    pub fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }
}

fn per_min(count: f64, wall_us: u64) -> f64 {
    count * 60e6 / wall_us.max(1) as f64
}

/// The first line of a failure's evidence, for the table; replay shows it all.
fn brief(summary: &str) -> String {
    const CHARS_MAX: usize = 200;
    let first = summary.split(" | ").next().unwrap_or("");
    let mut out: String = first.chars().take(CHARS_MAX).collect();
    if out.len() < summary.len() {
        out.push_str(" … (replay for the full evidence)");
    }
    out
}

impl SweepResult {
    pub fn failed(&self) -> u64 {
        self.scenarios.iter().map(|s| s.failed).sum()
    }

    /// Failed runs that went over their budget rather than finding a violation.
    pub fn over_budget(&self) -> u64 {
        self.scenarios.iter().map(|s| s.over_budget).sum()
    }

    /// The summary table, then every failing seed with its replay command.
    pub fn table(&self, paint: Paint) -> String {
        let mut out = String::new();
        let mut line = |l: String| {
            out.push_str(&l);
            out.push('\n');
        };
        let width = self.scenarios.iter().map(|s| s.name.len()).max().unwrap_or(8).max(8);
        line(format!(
            "{:width$}  {:>5}  {:>9}  {:>6}  {:>11}  {:>9}  {:>9}  {:>9}  {:>13}",
            "scenario",
            "seeds",
            "passed",
            "failed",
            "ops checked",
            "sim time",
            "wall time",
            "seeds/min",
            "checked ops/s"
        ));
        let row = |name: &str,
                   runs: u64,
                   passed: &str,
                   failed: u64,
                   c: u64,
                   sim: u64,
                   wall: u64| {
            let failed_text = format!("{failed:>6}");
            let failed_text = if failed > 0 { paint.red(&failed_text) } else { failed_text };
            format!(
                "{name:width$}  {runs:>5}  {passed:>9}  {failed_text}  {c:>11}  {:>9}  {:>9}  {:>9.1}  {:>13.0}",
                secs(sim),
                secs(wall),
                per_min(runs as f64, wall),
                per_min(c as f64, wall) / 60.0,
            )
        };
        for s in &self.scenarios {
            let passed =
                if s.negative() { format!("{} caught", s.passed) } else { s.passed.to_string() };
            line(row(
                &s.name,
                s.runs,
                &passed,
                s.failed,
                s.operations_checked,
                s.sim_time_us,
                s.wall_us,
            ));
        }
        if self.scenarios.len() > 1 {
            let sum = |f: fn(&ScenarioResult) -> u64| self.scenarios.iter().map(f).sum::<u64>();
            line(row(
                "total",
                sum(|s| s.runs),
                &sum(|s| s.passed).to_string(),
                sum(|s| s.failed),
                sum(|s| s.operations_checked),
                sum(|s| s.sim_time_us),
                self.wall_us,
            ));
        }
        line(format!(
            "({} thread(s); seeds from {} ({}), shard {}; a negative control passes when its violation is caught)",
            self.jobs, self.first_seed, self.seed_source, self.shard
        ));
        if let Some(why) = &self.stopped {
            line(paint.yellow(&format!("stopped early: {why}")));
        }
        for s in &self.scenarios {
            for f in &s.failing {
                line(String::new());
                let word = if f.verdict == "budget" { "OVER BUDGET" } else { "FAILED" };
                line(format!(
                    "{} {} seed {}: {}",
                    paint.red(word),
                    s.name,
                    f.seed,
                    brief(&f.summary)
                ));
                line(format!("  replay: {}", f.replay));
                for path in &f.reports {
                    line(format!("  report: {path}"));
                }
                if let Some(m) = &f.replay_mismatch {
                    line(format!("  WARNING: {m}"));
                }
            }
            if s.reports_skipped > 0 {
                line(String::new());
                line(paint.yellow(&format!(
                    "note: {} more failing seed(s) of {} have no HTML report (reports are written \
                     for the first {} per scenario); their replay commands above write them",
                    s.reports_skipped,
                    s.name,
                    s.failing.len() as u64 - s.reports_skipped
                )));
            }
        }
        if self.over_budget() > 0 {
            line(String::new());
            line(paint.yellow(&format!(
                "{} run(s) went over their budget (events, pending events, history length or \
                 checker steps): not a pass; each replay command above shows where",
                self.over_budget()
            )));
        }
        if self.failed() == 0 && self.stopped.is_none() {
            line(paint.green("all runs passed"));
        }
        out
    }
}
