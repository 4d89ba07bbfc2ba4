//! `detcd replay`: one run, the very run a sweep made for that seed, shown in full:
//! banner, every check with its evidence, trace hash; optionally a step log (-v), the
//! JSON-lines trace and an HTML time line.

use super::load::{bad_input, load, secs, shell_word};
use clap::Args;
use detcd_harness::run::RunOptions;
use detcd_harness::trace::timeline::Mark;
use detcd_harness::trace::{marks, steplog, traced};
use detcd_harness::Verdict;
use detcd_scenarios::Scenario;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  detcd replay leader-isolation --seed 7 -v
  detcd replay lying-fsync --seed 3 --only elections,commits
  detcd replay lying-fsync --seed 3 --html run.html --trace run.jsonl
  detcd replay lying-fsync --seed 1 --keep-going    (see the lost write from the clients' side)
  detcd replay ./my-scenario.toml --seed 12
  detcd replay crash-restart --seed 4 --trace - | head -5    the trace on standard output

Exit status: 0 when the run is as its scenario expects, 1 when not, 2 on bad input.")]
pub struct ReplayArgs {
    /// A built-in scenario name (see `detcd scenarios`) or the path of a scenario TOML
    /// file, e.g. `leader-isolation` or `./my-scenario.toml`.
    pub scenario: String,
    /// The seed to run, as printed by `detcd sim`, e.g. `--seed 7`.
    #[arg(long, value_name = "S", allow_hyphen_values = true,
          value_parser = super::load::parse_count)]
    pub seed: u64,
    /// Write every traced event as JSON lines (one object per line) to FILE,
    /// e.g. `--trace run.jsonl`; `--trace -` writes them to standard output (and the
    /// rest of the account to standard error).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write an HTML time line (members' roles, messages, faults, client operations)
    /// to FILE, e.g. `--html run.html`. When linearizability fails, the checker's own
    /// report goes next to it as FILE-linearizability.html.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print a step log: elections, votes, role changes, commits, partitions, crashes,
    /// restarts, clock faults and client operations, each stamped with simulated time.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the step log with only these topics (comma-separated: elections, faults,
    /// commits, clients), e.g. `--only elections,faults`. Implies -v.
    #[arg(long, value_name = "TOPICS", value_delimiter = ',')]
    pub only: Vec<steplog::Topic>,
    /// Go on after a Raft safety violation instead of stopping there, so the clients'
    /// checks show what it did (a lost write, a stale read). The run still fails on
    /// the violation; its trace hash differs from the stopped run's.
    #[arg(long)]
    pub keep_going: bool,
}

/// The linearizability report's path that goes with time line `html`.
fn checker_report_path(html: &Path) -> PathBuf {
    let stem = html.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    html.with_file_name(format!("{stem}-linearizability.html"))
}

/// Writes the HTML time line of `run` to `html`, and the checker's report next to it
/// when linearizability failed. Returns the files written.
pub fn write_html(
    scenario: &Scenario,
    run: &traced::TracedRun,
    html: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    if let Some(dir) = html.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let r = &run.report;
    let verdicts: Vec<String> =
        r.checks.iter().map(|c| format!("{} {}", c.name, verdict_word(&c.verdict))).collect();
    let subtitle = format!(
        "expect {}; {}; {} operations; trace hash {:016x}",
        r.expect,
        verdicts.join(", "),
        r.operations,
        r.trace_hash
    );
    let mut timeline = marks::timeline(
        &run.artifacts.events,
        &run.artifacts.records,
        // Spare hosts have lanes too: a membership change may add them.
        scenario.cluster.size + scenario.cluster.spares,
        format!("{} at seed {}", scenario.name, r.seed),
        subtitle,
    );
    // The simulator names the lost log entry; the run names the client write in it.
    if let Some(text) = &run.artifacts.violation {
        if let Some(Mark::Violation { what, .. }) =
            timeline.marks.iter_mut().find(|m| matches!(m, Mark::Violation { .. }))
        {
            *what = text.clone();
        }
    }
    std::fs::write(html, timeline.to_html())?;
    let mut written = vec![html.to_path_buf()];
    if let Some(report) = &run.artifacts.linearizability_report {
        let path = checker_report_path(html);
        std::fs::write(&path, detcd_checker::report::html::render(report))?;
        written.push(path);
    }
    Ok(written)
}

fn verdict_word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Budget => "BUDGET",
        Verdict::Unknown => "UNKNOWN",
    }
}

pub fn run(args: ReplayArgs) -> ExitCode {
    let loaded = match load(&args.scenario) {
        Ok(l) => l,
        Err(e) => return bad_input(&e),
    };
    let scenario = &loaded.scenario;
    let options = RunOptions { keep_going: args.keep_going, ..RunOptions::default() };
    let traced = traced::traced_run_with(scenario, args.seed, options);
    let r = &traced.report;
    // `--trace -` puts the JSON lines alone on standard output; the account goes to
    // standard error.
    let trace_to_stdout = args.trace.as_deref() == Some(Path::new("-"));
    let mut out: Box<dyn Write> =
        if trace_to_stdout { Box::new(std::io::stderr()) } else { Box::new(std::io::stdout()) };
    let _ = writeln!(out, "{}", traced.artifacts.banner);
    if args.verbose || !args.only.is_empty() {
        let only = (!args.only.is_empty()).then(|| args.only.iter().copied().collect());
        let options = steplog::StepLogOptions { only };
        let _ = writeln!(out, "step log:");
        let a = &traced.artifacts;
        for line in steplog::step_log(&a.events, &a.records, &options) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "checks:");
    for c in &r.checks {
        let _ = writeln!(out, "  {:<7} {}: {}", verdict_word(&c.verdict), c.name, c.evidence);
    }
    let _ = writeln!(
        out,
        "{} operations ({} checked), {} simulated, {} events, {} wall",
        r.operations,
        r.operations_checked,
        secs(r.sim_time_us),
        r.events,
        secs(r.wall_us)
    );
    let _ = writeln!(out, "trace hash: {:016x}", r.trace_hash);
    if trace_to_stdout {
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(traced::to_json_lines(&traced.records).as_bytes()) {
            return bad_input(&format!("cannot write the trace to standard output: {e}"));
        }
        let _ = stdout.flush();
    } else if let Some(path) = &args.trace {
        match std::fs::write(path, traced::to_json_lines(&traced.records)) {
            Ok(()) => {
                let _ =
                    writeln!(out, "trace: {} ({} events)", path.display(), traced.records.len());
            }
            Err(e) => return bad_input(&format!("cannot write {}: {e}", path.display())),
        }
    }
    if let Some(path) = &args.html {
        match write_html(scenario, &traced, path) {
            Ok(files) => {
                for f in files {
                    let _ = writeln!(out, "html: {}", f.display());
                }
            }
            Err(e) => return bad_input(&format!("cannot write {}: {e}", path.display())),
        }
    }
    let ok = r.passed(&scenario.expect);
    if !ok && r.over_budget() {
        let _ = writeln!(
            out,
            "OVER BUDGET ({} at seed {}): the run could not be finished within its budget",
            shell_word(&loaded.arg),
            args.seed
        );
        let _ = writeln!(out, "  {}", r.failure_summary(&scenario.expect));
        return ExitCode::from(super::EXIT_BUDGET);
    }
    let verdict = match (&scenario.expect, ok) {
        (detcd_scenarios::Expect::Fail(_), true) => {
            "CAUGHT: the negative control's violation was found"
        }
        (_, true) => "PASSED",
        (_, false) => "FAILED",
    };
    let _ = writeln!(out, "{verdict} ({} at seed {})", shell_word(&loaded.arg), args.seed);
    if !ok {
        let _ = writeln!(out, "  {}", r.failure_summary(&scenario.expect));
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
