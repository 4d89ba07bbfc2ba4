//! `detcd check` over several files or directories: each history checked on its own,
//! one row per file in a summary table (or one JSON array), and one exit status for
//! the lot.

use super::{check_text, exit_code, CheckArgs, EXIT_BAD_INPUT};
use detcd_checker::import::Format;
use detcd_checker::report::html;
use detcd_checker::run::ModelName;
use detcd_checker::Verdict;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// File names taken from a directory: what the history formats are saved as.
const HISTORY_EXTENSIONS: [&str; 5] = ["log", "txt", "json", "jsonl", "edn"];
/// How deep a directory is searched, and how many files at most.
const DEPTH_MAX: usize = 8;
const FILES_MAX: usize = 100_000;

/// The history files under `dir`, sorted by path.
fn histories_in(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > DEPTH_MAX || out.len() >= FILES_MAX {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            histories_in(&path, depth + 1, out)?;
        } else if path
            .extension()
            .is_some_and(|e| HISTORY_EXTENSIONS.contains(&e.to_string_lossy().as_ref()))
            && out.len() < FILES_MAX
        {
            out.push(path);
        }
    }
    Ok(())
}

/// One file's outcome.
struct Row {
    file: PathBuf,
    format: String,
    model: String,
    operations: usize,
    outcome: Result<Verdict, String>,
    secs: f64,
    html: Option<PathBuf>,
}

fn verdict_text(v: &Verdict) -> &'static str {
    match v {
        Verdict::Linearizable => "linearizable",
        Verdict::NotLinearizable => "NOT linearizable",
        Verdict::Unknown => "unknown (timed out)",
    }
}

/// The report's file name in `dir` for history `file`: its path made one name.
fn html_name(dir: &Path, file: &Path) -> PathBuf {
    let flat: String = file
        .to_string_lossy()
        .trim_start_matches(['.', '/'])
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    dir.join(format!("{flat}.html"))
}

fn check_file(
    file: &Path,
    args: &CheckArgs,
    format: Option<Format>,
    model: Option<ModelName>,
    timeout: Option<Duration>,
) -> Row {
    let mut row = Row {
        file: file.to_path_buf(),
        format: "?".into(),
        model: "?".into(),
        operations: 0,
        outcome: Err(String::new()),
        secs: 0.0,
        html: None,
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            row.outcome = Err(format!("cannot read: {e}"));
            return row;
        }
    };
    if let Some(f) = format.or_else(|| Format::guess(&text).ok()) {
        row.format = f.name().into();
    }
    match check_text(&text, format, model, timeout, args.parallel) {
        Err(e) => row.outcome = Err(e.to_string()),
        Ok((report, elapsed)) => {
            row.model = report.model.clone();
            row.operations = report.operations.len();
            row.secs = elapsed.as_secs_f64();
            if let Some(dir) = &args.html {
                let path = html_name(dir, file);
                match std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&path, html::render(&report)))
                {
                    Ok(()) => row.html = Some(path),
                    Err(e) => eprintln!("warning: cannot write {}: {e}", path.display()),
                }
            }
            row.outcome = Ok(report.verdict);
        }
    }
    row
}

pub fn run(
    args: &CheckArgs,
    format: Option<Format>,
    model: Option<ModelName>,
    timeout: Option<Duration>,
) -> ExitCode {
    let mut files = Vec::new();
    for path in &args.files {
        if path.is_dir() {
            let before = files.len();
            if let Err(e) = histories_in(path, 0, &mut files) {
                return super::fail(format!("cannot read directory {}: {e}", path.display()));
            }
            if files.len() == before {
                eprintln!(
                    "warning: no history files (*.{}) under {}",
                    HISTORY_EXTENSIONS.join(", *."),
                    path.display()
                );
            }
        } else {
            files.push(path.clone());
        }
    }
    let rows: Vec<Row> =
        files.iter().map(|f| check_file(f, args, format, model, timeout)).collect();
    if args.json {
        let doc: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "file": r.file.display().to_string(),
                    "format": r.format,
                    "model": r.model,
                    "operations": r.operations,
                    "verdict": r.outcome.as_ref().map(verdict_text).ok(),
                    "error": r.outcome.as_ref().err(),
                    "seconds": r.secs,
                    "html": r.html.as_ref().map(|p| p.display().to_string()),
                })
            })
            .collect();
        println!("{:#}", serde_json::Value::Array(doc));
    } else {
        print_table(&rows);
    }
    let has =
        |want: &dyn Fn(&Result<Verdict, String>) -> bool| rows.iter().any(|r| want(&r.outcome));
    let code = if has(&|o| matches!(o, Ok(Verdict::NotLinearizable))) {
        1
    } else if has(&|o| o.is_err()) || rows.is_empty() {
        EXIT_BAD_INPUT
    } else if has(&|o| matches!(o, Ok(Verdict::Unknown))) {
        3
    } else {
        exit_code(&Verdict::Linearizable)
    };
    ExitCode::from(code)
}

fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.file.display().to_string().len()).max().unwrap_or(4).max(4);
    println!(
        "{:width$}  {:<12}  {:<12}  {:>10}  {:>8}  verdict",
        "file", "format", "model", "operations", "seconds"
    );
    let mut counts = [0usize; 4];
    for r in rows {
        let verdict = match &r.outcome {
            Ok(v) => {
                counts[exit_code(v) as usize % 4] += 1;
                verdict_text(v).to_string()
            }
            Err(e) => {
                counts[2] += 1;
                format!("unreadable: {e}")
            }
        };
        println!(
            "{:width$}  {:<12}  {:<12}  {:>10}  {:>8.3}  {verdict}",
            r.file.display(),
            r.format,
            r.model,
            r.operations,
            r.secs
        );
        if let Some(p) = &r.html {
            println!("{:width$}  report: {}", "", p.display());
        }
    }
    println!(
        "{} file(s): {} linearizable, {} not linearizable, {} unknown, {} unreadable",
        rows.len(),
        counts[0],
        counts[1],
        counts[3],
        counts[2]
    );
}
