//! `detcd sim`: run scenarios over many seeds on several threads, check every run,
//! print a summary (table or JSON), and for each failing seed the command that replays
//! it and the HTML report of that replay.

use super::load::{bad_input, load, secs, shell_word, Loaded};
use super::replay::write_html;
use clap::Args;
use detcd_harness::run::run as run_one;
use detcd_harness::sweep::run_parallel;
use detcd_harness::trace::traced::traced_run;
use detcd_harness::RunReport;
use detcd_scenarios::Expect;
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  detcd sim                             every built-in scenario at its default seed count
  detcd sim leader-isolation --seeds 200 --jobs 4
  detcd sim lying-fsync --seed 3        exactly one seed
  detcd sim ./my-scenario.toml --first-seed 1000 --seeds 50
  detcd sim happy-path --json > result.json

Seeds are 1, 2, ... N unless --first-seed moves the range. Every run is
deterministic: a failing seed fails again under `detcd replay` with the same trace hash.
Negative controls (expect = \"fail:<check>\") pass when their violation is caught.
Exit status: 0 all passed, 1 some run failed, 2 bad arguments or scenario file.")]
pub struct SimArgs {
    /// Built-in scenario names (see `detcd scenarios`) or paths of scenario TOML files,
    /// e.g. `leader-isolation ./my-scenario.toml`. None: the whole built-in library.
    pub scenarios: Vec<String>,
    /// Seeds per scenario (default: each scenario's `default_seeds`), e.g. `--seeds 100`.
    #[arg(long, value_name = "N", conflicts_with = "seed",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: Option<u64>,
    /// Run exactly this one seed, e.g. `--seed 42`.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// The first seed of the range, e.g. `--first-seed 1000` runs 1000, 1001, ...
    #[arg(long, value_name = "S", default_value_t = 1, conflicts_with = "seed")]
    pub first_seed: u64,
    /// Threads that run seeds in parallel (default: every core), e.g. `--jobs 2`.
    /// Results do not depend on it.
    #[arg(long, short = 'j', value_name = "J",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Print one JSON document (per scenario: seeds, passed, failed, failing seeds with
    /// why, operations checked, simulated and wall time) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Directory for the HTML reports of failing runs, e.g. `--out /tmp/detcd`.
    #[arg(long, value_name = "DIR", default_value = "detcd-out")]
    pub out: PathBuf,
}

/// A failing seed and where its reports went.
struct Failing {
    seed: u64,
    summary: String,
    replay: String,
    reports: Vec<PathBuf>,
    /// Set when the replay did not reproduce the sweep's run (a determinism bug).
    mismatch: Option<String>,
}

/// One scenario's sweep.
struct Summary {
    loaded: Loaded,
    seeds: Vec<u64>,
    reports: Vec<RunReport>,
    wall_us: u64,
    failing: Vec<Failing>,
}

impl Summary {
    fn passed(&self) -> usize {
        self.reports.len() - self.failing.len()
    }
    fn checked(&self) -> u64 {
        self.reports.iter().map(|r| r.operations_checked).sum()
    }
    fn sim_us(&self) -> u64 {
        self.reports.iter().map(|r| r.sim_time_us).sum()
    }
    fn negative(&self) -> bool {
        matches!(self.loaded.scenario.expect, Expect::Fail(_))
    }
}

fn per_min(count: f64, wall_us: u64) -> f64 {
    count * 60e6 / wall_us.max(1) as f64
}

fn sweep(loaded: Loaded, seeds: Vec<u64>, jobs: usize) -> Summary {
    let show_progress = std::io::stderr().is_terminal();
    let name = loaded.scenario.name.clone();
    let started = Instant::now();
    let reports = run_parallel(
        &seeds,
        jobs,
        |&seed| run_one(&loaded.scenario, seed).0,
        |done, total| {
            if show_progress {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[K{name}: {done}/{total} seeds");
                let _ = err.flush();
            }
        },
    );
    if show_progress {
        eprint!("\r\x1b[K");
    }
    let wall_us = started.elapsed().as_micros() as u64;
    Summary { loaded, seeds, reports, wall_us, failing: Vec::new() }
}

fn html_path(out: &std::path::Path, loaded: &Loaded, seed: u64) -> PathBuf {
    out.join(format!("{}-seed-{seed}.html", loaded.scenario.name))
}

/// The command that replays `seed` and writes its time line to `html`.
fn replay_command(loaded: &Loaded, seed: u64, html: &std::path::Path) -> String {
    format!(
        "detcd replay {} --seed {seed} --html {}",
        shell_word(&loaded.arg),
        shell_word(&html.display().to_string())
    )
}

/// Failing seeds per scenario whose replay and HTML reports `sim` writes; each replay
/// costs another run, and past this many a reader wants the replay commands only.
const REPORTS_PER_SCENARIO_MAX: usize = 10;

/// Replays failing seeds with tracing and writes their reports into `out`; every
/// failing seed gets its replay command.
fn replay_failures(summaries: &mut [Summary], out: &std::path::Path, jobs: usize) {
    let mut todo = Vec::new();
    let mut skipped = Vec::new();
    for (i, s) in summaries.iter().enumerate() {
        let expect = &s.loaded.scenario.expect;
        for (n, r) in s.reports.iter().filter(|r| !r.passed(expect)).enumerate() {
            let failing = (i, r.seed, r.trace_hash, r.failure_summary(expect));
            if n < REPORTS_PER_SCENARIO_MAX {
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
        |(i, seed, hash, _)| {
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
    for ((i, seed, _, summary), (html, reports, mismatch)) in todo.into_iter().zip(results) {
        let s = &mut summaries[i];
        let replay = replay_command(&s.loaded, seed, &html);
        s.failing.push(Failing { seed, summary, replay, reports, mismatch });
    }
    for (i, seed, _, summary) in skipped {
        let s = &mut summaries[i];
        let html = html_path(out, &s.loaded, seed);
        let replay = replay_command(&s.loaded, seed, &html);
        s.failing.push(Failing { seed, summary, replay, reports: Vec::new(), mismatch: None });
    }
    for s in summaries.iter_mut() {
        s.failing.sort_by_key(|f| f.seed);
    }
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

fn print_table(summaries: &[Summary], jobs: usize, total_wall_us: u64) {
    let width = summaries.iter().map(|s| s.loaded.scenario.name.len()).max().unwrap_or(8).max(8);
    println!(
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
    );
    let (mut seeds, mut passed, mut failed, mut checked, mut sim_us) = (0, 0, 0, 0, 0);
    for s in summaries {
        let passed_text =
            if s.negative() { format!("{} caught", s.passed()) } else { s.passed().to_string() };
        println!(
            "{:width$}  {:>5}  {:>9}  {:>6}  {:>11}  {:>9}  {:>9}  {:>9.1}  {:>13.0}",
            s.loaded.scenario.name,
            s.reports.len(),
            passed_text,
            s.failing.len(),
            s.checked(),
            secs(s.sim_us()),
            secs(s.wall_us),
            per_min(s.reports.len() as f64, s.wall_us),
            per_min(s.checked() as f64, s.wall_us) / 60.0,
        );
        seeds += s.reports.len();
        passed += s.passed();
        failed += s.failing.len();
        checked += s.checked();
        sim_us += s.sim_us();
    }
    if summaries.len() > 1 {
        println!(
            "{:width$}  {:>5}  {:>9}  {:>6}  {:>11}  {:>9}  {:>9}  {:>9.1}  {:>13.0}",
            "total",
            seeds,
            passed,
            failed,
            checked,
            secs(sim_us),
            secs(total_wall_us),
            per_min(seeds as f64, total_wall_us),
            per_min(checked as f64, total_wall_us) / 60.0,
        );
    }
    println!("({jobs} thread(s); a negative control passes when its violation is caught)");
    for s in summaries {
        for f in &s.failing {
            println!();
            println!("FAILED {} seed {}: {}", s.loaded.scenario.name, f.seed, brief(&f.summary));
            println!("  replay: {}", f.replay);
            for path in &f.reports {
                println!("  report: {}", path.display());
            }
            if let Some(m) = &f.mismatch {
                println!("  WARNING: {m}");
            }
        }
    }
}

fn to_json(summaries: &[Summary], jobs: usize, total_wall_us: u64) -> serde_json::Value {
    let scenarios: Vec<serde_json::Value> = summaries
        .iter()
        .map(|s| {
            json!({
                "name": s.loaded.scenario.name,
                "source": s.loaded.arg,
                "expect": s.loaded.scenario.expect.to_string(),
                "seeds": s.seeds,
                "runs": s.reports.len(),
                "passed": s.passed(),
                "failed": s.failing.len(),
                "failing": s.failing.iter().map(|f| json!({
                    "seed": f.seed,
                    "summary": f.summary,
                    "replay": f.replay,
                    "reports": f.reports.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                    "replay_mismatch": f.mismatch,
                })).collect::<Vec<_>>(),
                "operations": s.reports.iter().map(|r| r.operations).sum::<u64>(),
                "operations_checked": s.checked(),
                "sim_time_us": s.sim_us(),
                "wall_us": s.wall_us,
            })
        })
        .collect();
    json!({
        "passed": summaries.iter().all(|s| s.failing.is_empty()),
        "jobs": jobs,
        "wall_us": total_wall_us,
        "scenarios": scenarios,
    })
}

pub fn run(args: SimArgs) -> ExitCode {
    let mut loaded = Vec::new();
    if args.scenarios.is_empty() {
        for scenario in detcd_scenarios::builtins() {
            let arg = scenario.name.clone();
            loaded.push(Loaded { scenario, arg });
        }
    }
    for arg in &args.scenarios {
        match load(arg) {
            Ok(l) => loaded.push(l),
            Err(e) => return bad_input(&e),
        }
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let started = Instant::now();
    let mut summaries: Vec<Summary> = loaded
        .into_iter()
        .map(|l| {
            let seeds: Vec<u64> = match args.seed {
                Some(s) => vec![s],
                None => {
                    let n = args.seeds.unwrap_or(l.scenario.default_seeds);
                    (0..n).map(|i| args.first_seed.saturating_add(i)).collect()
                }
            };
            sweep(l, seeds, jobs)
        })
        .collect();
    replay_failures(&mut summaries, &args.out, jobs);
    let total_wall_us = started.elapsed().as_micros() as u64;
    if args.json {
        println!("{:#}", to_json(&summaries, jobs, total_wall_us));
    } else {
        print_table(&summaries, jobs, total_wall_us);
    }
    if summaries.iter().all(|s| s.failing.is_empty()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
