//! `detcd check FILE`: load a history, check it for linearizability, print the verdict.
//! Exit status: 0 linearizable, 1 not linearizable, 3 unknown (timeout), 2 unreadable
//! input or bad flags. The wall-clock timeout and the optional parallel mode live here,
//! outside the deterministic checker crate: the checker only polls a callback. Several
//! files or a directory: [`many`].

mod many;

use clap::Args;
use detcd_checker::import::Format;
use detcd_checker::report::{html, Report};
use detcd_checker::run::{load, Checkable, ModelName};
use detcd_checker::{Budget, PartResult, Verdict};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Exit status for unreadable input (clap uses the same for bad flags).
pub(super) const EXIT_BAD_INPUT: u8 = 2;
/// The memo's memory bound for the whole check.
const MEMO_BYTES_MAX: usize = 1 << 30;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  detcd check history.json                      a detcd JSON history (its \"model\" field names the model)
  detcd check etcd_000.log                      a Jepsen etcd log (INFO jepsen.util - ...): a CAS register
  detcd check store/latest/history.edn          Jepsen's own history.edn (registers, or independent keys)
  detcd check c01-bad.txt --html report.html    a Porcupine KV history, with a report to open
  detcd check histories/ --timeout 10           every history under a directory, one row each
  detcd check a.log b.edn --json                several files, one JSON array

Formats are guessed from the first line: jepsen-etcd, jepsen-edn, porcupine-kv, detcd.
Exit status: 0 linearizable, 1 not linearizable, 3 unknown (timeout), 2 unreadable
input or bad flags. Over several files: 1 if any is not linearizable, else 2 if any is
unreadable, else 3 if any is unknown, else 0.")]
pub struct CheckArgs {
    /// The histories to check: files, or directories to search for *.log, *.txt,
    /// *.json, *.jsonl and *.edn files.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    /// The files' format; guessed from each file's content when absent.
    #[arg(long, value_parser = ["jepsen-etcd", "jepsen-edn", "porcupine-kv", "detcd"])]
    pub format: Option<String>,
    /// The model to check against; taken from the format (or a detcd file's "model") when absent.
    #[arg(long, value_parser = ["register", "cas-register", "kv", "etcd"])]
    pub model: Option<String>,
    /// Give up with an "unknown" verdict (exit 3) after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Also write a self-contained HTML report to this file (over several files: into
    /// this directory, one report each).
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Check independent parts of the history on several threads.
    #[arg(long)]
    pub parallel: bool,
}

fn fail(message: String) -> ExitCode {
    eprintln!("detcd check: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

pub fn run(args: CheckArgs) -> ExitCode {
    let timeout = match args.timeout {
        None => None,
        Some(secs) if secs.is_finite() && secs > 0.0 => Some(Duration::from_secs_f64(secs)),
        Some(secs) => {
            return fail(format!("--timeout must be a positive number of seconds, not {secs}"))
        }
    };
    let format =
        args.format.as_deref().map(|f| Format::from_name(f).expect("clap checked the format"));
    let model =
        args.model.as_deref().map(|m| ModelName::from_name(m).expect("clap checked the model"));
    if args.files.len() > 1 || args.files[0].is_dir() {
        return many::run(&args, format, model, timeout);
    }
    let file = &args.files[0];
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot read {}: {e}", file.display())),
    };
    let (report, elapsed) = match check_text(&text, format, model, timeout, args.parallel) {
        Ok(r) => r,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };

    if let Some(path) = &args.html {
        if let Err(e) = std::fs::write(path, html::render(&report)) {
            return fail(format!("cannot write {}: {e}", path.display()));
        }
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print_text(&report, file, &args, elapsed);
    }
    ExitCode::from(exit_code(&report.verdict))
}

pub(super) fn exit_code(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::Linearizable => 0,
        Verdict::NotLinearizable => 1,
        Verdict::Unknown => 3,
    }
}

/// Loads and checks one history; the report and the time the check took.
pub(super) fn check_text(
    text: &str,
    format: Option<Format>,
    model: Option<ModelName>,
    timeout: Option<Duration>,
    parallel: bool,
) -> Result<(Report, Duration), detcd_checker::run::LoadError> {
    let loaded = load(text, format, model)?;
    let start = Instant::now();
    let stop = AtomicBool::new(false);
    let expired = || stop.load(Ordering::Relaxed) || timeout.is_some_and(|t| start.elapsed() >= t);
    let budget =
        Budget { steps_max: None, memory_bytes_max: MEMO_BYTES_MAX, expired: Some(&expired) };
    let report = if parallel && loaded.parts() > 1 {
        check_parallel(loaded.as_ref(), &budget, &stop)
    } else {
        loaded.check(&budget)
    };
    Ok((report, start.elapsed()))
}

fn print_text(report: &Report, file: &std::path::Path, args: &CheckArgs, elapsed: Duration) {
    print!("{}: {}", file.display(), report.to_text());
    println!(
        "({} operations, model {}, {} search steps, {:.3} s)",
        report.operations.len(),
        report.model,
        report.steps,
        elapsed.as_secs_f64()
    );
    if let Some(path) = &args.html {
        println!("HTML report: {}", path.display());
    }
}

/// Checks parts on worker threads; the first failing part stops the others (they end
/// undecided, which does not change the verdict).
fn check_parallel(loaded: &dyn Checkable, budget: &Budget<'_>, stop: &AtomicBool) -> Report {
    let parts = loaded.parts();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(parts);
    let budget = Budget { memory_bytes_max: budget.memory_bytes_max / workers, ..*budget };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PartResult>>> = Mutex::new(vec![None; parts]);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let part = next.fetch_add(1, Ordering::Relaxed);
                if part >= parts {
                    break;
                }
                let result = loaded.check_part(part, &budget);
                if result.verdict() == Verdict::NotLinearizable {
                    stop.store(true, Ordering::Relaxed);
                }
                results.lock().expect("no worker panics while holding the lock")[part] =
                    Some(result);
            });
        }
    });
    let results = results
        .into_inner()
        .expect("workers finished")
        .into_iter()
        .map(|r| r.expect("every part was checked"))
        .collect();
    loaded.report(results)
}
