//! `detcd sim`: run scenarios over many seeds on several threads, check every run,
//! print a summary (table or JSON, optionally JUnit), and for each failing seed the
//! command that replays it and the HTML report of that replay. Which seeds run lives in
//! [`seeds`]; the result as data in [`result`]; joining shards in [`merge`].

mod failures;
mod junit;
mod merge;
mod progress;
mod result;
mod seeds;

use super::load::{bad_input, load, parse_count, shell_word, Loaded};
use clap::{Args, ValueEnum};
use detcd_harness::run::run as run_one;
use detcd_harness::sweep::run_until;
use detcd_harness::RunReport;
use detcd_scenarios::Expect;
use result::{FailingSeed, Paint, ScenarioResult, SweepResult};
use seeds::{parse_duration, parse_shard, SeedPlan, SeedSource, Shard};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When to colour the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set to something.
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  detcd sim                             every built-in scenario at its default seed count
  detcd sim leader-isolation --seeds 200 --jobs 4
  detcd sim lying-fsync --seed 3        exactly one seed
  detcd sim ./my-scenario.toml --first-seed 1000 --seeds 50
  detcd sim happy-path --json > result.json
  detcd sim --random-seeds --time-budget 10m --junit junit.xml --json-out sim.json
  detcd sim --seed-from \"$CI_RUN_ID\" --seeds 100000 --shard 3/8 --json-out shard-3.json
  detcd sim --merge shard-*.json --junit junit.xml

Seeds are 1, 2, ... N unless --first-seed moves the range, or --random-seeds /
--seed-from pick a new first seed (printed first, in the JSON and in every replay
command). --shard K/N runs seeds K, K+N, K+2N, ... of the sweep, so N machines
together run each seed once; --merge joins their --json-out files into one table.
Every run is deterministic: a failing seed fails again under `detcd replay` with the
same trace hash. Negative controls (expect = \"fail:<check>\") pass when their violation
is caught. SIGINT or SIGTERM stops the sweep: the runs in flight finish, then the
summary so far (with every failure's replay command) and the JSON/JUnit files are
written. Colour follows --color, and NO_COLOR when --color is auto.
Every run has a budget (simulated events, events pending at once, history length,
checker steps and memory); a run over it gets the verdict `budget`, and a scenario
stops taking seeds after 6 such runs, so a pathological build still ends the sweep.
Exit status: 0 all passed, 1 some run failed, 2 bad arguments or scenario file,
4 no run failed but some went over budget, 130 interrupted with no failure found.")]
pub struct SimArgs {
    /// Built-in scenario names (see `detcd scenarios`) or paths of scenario TOML files,
    /// e.g. `leader-isolation ./my-scenario.toml`. None: the whole built-in library.
    /// With --merge: the JSON files to join.
    pub scenarios: Vec<String>,
    /// Seeds per scenario (default: each scenario's `default_seeds`; with --time-budget,
    /// as many as the budget allows), e.g. `--seeds 100`.
    #[arg(long, value_name = "N", conflicts_with = "seed", allow_hyphen_values = true,
          value_parser = parse_count)]
    pub seeds: Option<u64>,
    /// Run exactly this one seed, e.g. `--seed 42`.
    #[arg(long, value_name = "S", allow_hyphen_values = true, value_parser = parse_count)]
    pub seed: Option<u64>,
    /// The first seed of the range, e.g. `--first-seed 1000` runs 1000, 1001, ...
    #[arg(long, value_name = "S", default_value_t = 1, conflicts_with = "seed",
          allow_hyphen_values = true, value_parser = parse_count)]
    pub first_seed: u64,
    /// Start the range at a random seed, so each CI run tests new seeds.
    /// Not with --shard: each shard would draw its own (use --seed-from there).
    #[arg(long, conflicts_with_all = ["seed", "first_seed", "seed_from", "shard"])]
    pub random_seeds: bool,
    /// Start the range at a seed derived from VALUE (a CI run id, a commit hash): the
    /// same VALUE gives the same seeds, e.g. `--seed-from "$GITHUB_RUN_ID"`.
    #[arg(long, value_name = "VALUE", conflicts_with_all = ["seed", "first_seed"])]
    pub seed_from: Option<String>,
    /// Run until this much wall time is spent, then report, e.g. `--time-budget 10m`
    /// (units h, m, s; a plain number is seconds). Shared out among the scenarios.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true,
          value_parser = parse_duration)]
    pub time_budget: Option<Duration>,
    /// Stop at the first failing seed (same as --max-failures 1).
    #[arg(long, conflicts_with = "max_failures")]
    pub fail_fast: bool,
    /// Stop once this many seeds have failed, over all scenarios, e.g. `--max-failures 5`.
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = parse_count)]
    pub max_failures: Option<u64>,
    /// Run only shard K of N: the sweep's seeds K, K+N, K+2N, ..., e.g. `--shard 2/8`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard, conflicts_with = "seed")]
    pub shard: Option<Shard>,
    /// Join the JSON results named as arguments (from --json or --json-out) into one
    /// summary instead of running anything, e.g. `detcd sim --merge shard-*.json`.
    #[arg(long)]
    pub merge: bool,
    /// Threads that run seeds in parallel (default: every core), e.g. `--jobs 2`.
    /// Results do not depend on it.
    #[arg(long, short = 'j', value_name = "J",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Print one JSON document (per scenario: seeds, passed, failed, failing seeds with
    /// the failed checks, trace hash and replay command, operations checked, simulated
    /// and wall time) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write that JSON document to FILE, e.g. `--json-out sim.json`.
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Write a JUnit XML file: one test case per scenario, failures with each failing
    /// seed's replay command, e.g. `--junit junit.xml`.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Directory for the HTML reports of failing runs, e.g. `--out /tmp/detcd`.
    #[arg(long, value_name = "DIR", default_value = "detcd-out")]
    pub out: PathBuf,
    /// Colour the table: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// Off a terminal, print a progress line every this many seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = parse_count)]
    pub progress_secs: u64,
}

/// What a sweep keeps of one run: the figures it adds up, and the whole report only
/// when the run failed (a long sweep keeps millions of runs; passing ones need no
/// evidence).
struct Ran {
    seed: u64,
    operations: u64,
    operations_checked: u64,
    sim_time_us: u64,
    failed: Option<Box<RunReport>>,
}

/// Runs over budget after which a scenario takes no more seeds: a build whose runs are
/// pathological is shown by a few of them, and the sweep stays about its usual length.
const OVER_BUDGET_RUNS_MAX: u64 = 6;

impl Ran {
    fn new(report: RunReport, expect: &Expect) -> Self {
        Ran {
            seed: report.seed,
            operations: report.operations,
            operations_checked: report.operations_checked,
            sim_time_us: report.sim_time_us,
            failed: (!report.passed(expect)).then(|| Box::new(report)),
        }
    }
}

/// One scenario's sweep.
struct Summary {
    loaded: Loaded,
    runs: Vec<Ran>,
    wall_us: u64,
    failing: Vec<FailingSeed>,
    reports_skipped: u64,
}

impl Summary {
    fn to_result(&self) -> ScenarioResult {
        let expect = &self.loaded.scenario.expect;
        let failed = self.runs.iter().filter(|r| r.failed.is_some()).count() as u64;
        let over_budget =
            self.runs.iter().filter(|r| r.failed.as_ref().is_some_and(|f| f.over_budget())).count()
                as u64;
        ScenarioResult {
            name: self.loaded.scenario.name.clone(),
            source: self.loaded.arg.clone(),
            expect: expect.to_string(),
            seeds: self.runs.iter().map(|r| r.seed).collect(),
            runs: self.runs.len() as u64,
            passed: self.runs.len() as u64 - failed,
            failed,
            over_budget,
            failing: self.failing.clone(),
            reports_skipped: self.reports_skipped,
            operations: self.runs.iter().map(|r| r.operations).sum(),
            operations_checked: self.runs.iter().map(|r| r.operations_checked).sum(),
            sim_time_us: self.runs.iter().map(|r| r.sim_time_us).sum(),
            wall_us: self.wall_us,
        }
    }
}

fn paint_for(when: ColorWhen) -> Paint {
    let on = match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    Paint { on }
}

/// Prints `result` as asked and writes its files; the exit status follows.
fn report(result: &SweepResult, args: &SimArgs, interrupted: bool) -> ExitCode {
    let doc = serde_json::to_string_pretty(result).expect("a sweep result always serializes");
    if args.json {
        println!("{doc}");
    } else {
        print!("{}", result.table(paint_for(args.color)));
    }
    let mut status = if result.failed() > result.over_budget() {
        ExitCode::from(1)
    } else if result.over_budget() > 0 {
        ExitCode::from(super::EXIT_BUDGET)
    } else if interrupted {
        ExitCode::from(progress::EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    };
    let files = [(&args.json_out, doc + "\n"), (&args.junit, junit::render(result))];
    for (path, text) in files {
        let Some(path) = path else { continue };
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            status = ExitCode::from(2);
        } else if !args.json {
            println!("wrote {}", path.display());
        }
    }
    status
}

fn run_merge(args: &SimArgs) -> ExitCode {
    match merge::merge_files(&args.scenarios) {
        Ok((result, warnings)) => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            report(&result, args, false)
        }
        Err(e) => bad_input(&e),
    }
}

/// Why a sweep stops taking seeds.
struct Stops {
    max_failures: Option<u64>,
    failures: AtomicU64,
}

pub fn run(args: SimArgs) -> ExitCode {
    if args.merge {
        return run_merge(&args);
    }
    if args.seeds == Some(0) {
        return bad_input("--seeds must be at least 1");
    }
    let max_failures = if args.fail_fast { Some(1) } else { args.max_failures };
    if max_failures == Some(0) {
        return bad_input("--max-failures must be at least 1");
    }
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
    let plan = SeedPlan::new(
        args.first_seed,
        args.random_seeds,
        args.seed_from.as_deref(),
        args.shard.unwrap_or(Shard::WHOLE),
    );
    // The sweep's seed count per scenario (before sharding); None: open-ended.
    let total_of = |l: &Loaded| -> Option<u64> {
        match (args.seed, args.seeds, args.time_budget) {
            (Some(_), _, _) => Some(1),
            (None, Some(n), _) => Some(n),
            (None, None, Some(_)) => None,
            (None, None, None) => Some(l.scenario.default_seeds),
        }
    };
    for l in &loaded {
        if let Some(total) = total_of(l).filter(|_| args.seed.is_none()) {
            if let Err(e) = plan.check_range(total) {
                return bad_input(&format!("{}: {e}", l.scenario.name));
            }
        }
    }
    // Before the banner: once it shows, an interrupt gets the summary.
    progress::install_interrupt_handler();
    print_banner(&args, &plan, jobs, max_failures);

    let started = Instant::now();
    let stops = Stops { max_failures, failures: AtomicU64::new(0) };
    let mut stopped: Option<String> = None;
    let mut summaries = Vec::new();
    let count = loaded.len();
    for (n, l) in loaded.into_iter().enumerate() {
        if stopped.is_some() {
            break;
        }
        let deadline = args.time_budget.map(|budget| {
            let left = budget.saturating_sub(started.elapsed());
            Instant::now() + left / (count - n) as u32
        });
        let (summary, why) = sweep(l, &args, &plan, total_of, deadline, jobs, &stops);
        stopped = why;
        summaries.push(summary);
    }
    let interrupted = progress::interrupted();
    failures::replay_failures(&mut summaries, &args.out, jobs, !interrupted);
    let result = SweepResult {
        passed: summaries.iter().all(|s| s.failing.is_empty()),
        first_seed: args.seed.unwrap_or(plan.first),
        seed_source: plan.source.describe(),
        shard: format!("{}/{}", plan.shard.index, plan.shard.count),
        jobs,
        wall_us: started.elapsed().as_micros() as u64,
        stopped,
        scenarios: summaries.iter().map(Summary::to_result).collect(),
    };
    report(&result, &args, interrupted)
}

/// Runs one scenario's seeds; returns its summary and, when the whole sweep must stop
/// taking seeds (interrupt, enough failures), why. A spent time-budget share ends only
/// this scenario.
fn sweep(
    loaded: Loaded,
    args: &SimArgs,
    plan: &SeedPlan,
    total_of: impl Fn(&Loaded) -> Option<u64>,
    deadline: Option<Instant>,
    jobs: usize,
    stops: &Stops,
) -> (Summary, Option<String>) {
    let total = match total_of(&loaded) {
        _ if args.seed.is_some() => 1,
        Some(n) => plan.shard_len(n),
        None => plan.shard_len(plan.open_ended_total()),
    };
    let seed_of = |i: u64| args.seed.unwrap_or_else(|| plan.seed(i));
    let expect = loaded.scenario.expect.clone();
    let planned = (total_of(&loaded).is_some() || args.seed.is_some()).then_some(total);
    let progress = progress::Progress::new(
        &loaded.scenario.name,
        planned,
        Duration::from_secs(args.progress_secs),
        paint_for(args.color).on,
    );
    let budget_spent = || deadline.is_some_and(|d| Instant::now() >= d);
    let too_many_failures =
        || stops.max_failures.is_some_and(|m| stops.failures.load(Ordering::SeqCst) >= m);
    let over_budget = AtomicU64::new(0);
    let too_many_over_budget = || over_budget.load(Ordering::SeqCst) >= OVER_BUDGET_RUNS_MAX;
    let started = Instant::now();
    let results = run_until(
        total,
        jobs,
        |i| Ran::new(run_one(&loaded.scenario, seed_of(i)).0, &expect),
        // A scenario whose share of the budget went to an earlier one's long last
        // run still gets one seed: a CI run then tests every scenario.
        || {
            progress::interrupted()
                || too_many_failures()
                || too_many_over_budget()
                || (budget_spent() && progress.done() > 0)
        },
        |_, r: &Ran| {
            let failed = r.failed.is_some();
            if failed {
                stops.failures.fetch_add(1, Ordering::SeqCst);
            }
            if r.failed.as_ref().is_some_and(|f| f.over_budget()) {
                over_budget.fetch_add(1, Ordering::SeqCst);
            }
            progress.seed_done(failed);
        },
    );
    progress.finish();
    let wall_us = started.elapsed().as_micros() as u64;
    let runs: Vec<Ran> = results.into_iter().map(|(_, r)| r).collect();
    let ran = runs.len() as u64;
    let why = if progress::interrupted() {
        Some(format!("interrupted during {} after {ran} seed(s)", loaded.scenario.name))
    } else if too_many_failures() {
        Some(format!(
            "{} failing seed(s) reached the limit (--fail-fast / --max-failures)",
            stops.failures.load(Ordering::SeqCst)
        ))
    } else {
        None
    };
    if why.is_none() && ran < total && too_many_over_budget() {
        eprintln!(
            "{}: {OVER_BUDGET_RUNS_MAX} runs went over their budget; its other seeds were not run",
            loaded.scenario.name
        );
    } else if why.is_none() && ran < total {
        if let Some(budget) = args.time_budget {
            eprintln!(
                "{}: its share of the {:?} time budget is spent after {ran} seed(s)",
                loaded.scenario.name, budget
            );
        }
    }
    (Summary { loaded, runs, wall_us, failing: Vec::new(), reports_skipped: 0 }, why)
}

/// The first thing a sweep prints: where its seeds start and how to run them again.
fn print_banner(args: &SimArgs, plan: &SeedPlan, jobs: usize, max_failures: Option<u64>) {
    let mut lines = Vec::new();
    let shard = match plan.shard {
        Shard::WHOLE => String::new(),
        s => format!(
            ", shard {}/{} (the sweep's seeds number {}, {}+{}, ...)",
            s.index, s.count, s.index, s.index, s.count
        ),
    };
    match args.seed {
        Some(s) => lines.push(format!("detcd sim: seed {s}, {jobs} thread(s)")),
        None => lines.push(format!(
            "detcd sim: first seed {} ({}){shard}, {jobs} thread(s)",
            plan.first,
            plan.source.describe()
        )),
    }
    if let Some(b) = args.time_budget {
        lines.push(format!("  time budget {:?}, shared out among the scenarios", b));
    }
    if let Some(m) = max_failures {
        lines.push(format!("  stops after {m} failing seed(s)"));
    }
    if plan.source != SeedSource::Given && args.seed.is_none() {
        let mut words: Vec<String> = vec!["detcd".into(), "sim".into()];
        words.extend(args.scenarios.iter().map(|s| shell_word(s)));
        words.push(format!("--first-seed {}", plan.first));
        words.extend(args.seeds.map(|n| format!("--seeds {n}")));
        words.extend(args.shard.map(|s| format!("--shard {}/{}", s.index, s.count)));
        lines.push(format!("  the same seeds again: {}", words.join(" ")));
    }
    let text = lines.join("\n");
    // With --json, standard output is the JSON document alone.
    if args.json {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}
