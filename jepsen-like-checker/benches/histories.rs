//! Checks real histories: every file under `DETCD_HISTORIES_DIR` (recursively; Jepsen
//! etcd logs `*.log` and Porcupine KV histories `*.txt`), or the shared reference samples
//! when the variable is unset. Before timing, each file is checked once, its verdict
//! compared with the known one (Porcupine's test suite verdicts for `etcd_NNN.log`;
//! `-ok` / `-bad` in KV file names) and its single-run time printed.
//!
//! `DETCD_HISTORIES_DIR=/tmp/porc/test_data cargo bench -p detcd-checker --bench histories -- --quick`

use criterion::{criterion_group, criterion_main, Criterion};
use detcd_checker::run::load;
use detcd_checker::{Budget, Verdict};
use std::path::{Path, PathBuf};

/// Porcupine's test suite: the etcd logs it expects to be linearizable (095 is absent).
const ETCD_OK: &[u32] =
    &[2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102];

fn expected(path: &Path) -> Option<Verdict> {
    let name = path.file_name()?.to_str()?;
    if let Some(n) = name.strip_prefix("etcd_").and_then(|n| n.strip_suffix(".log")) {
        let n: u32 = n.parse().ok()?;
        return Some(if ETCD_OK.contains(&n) {
            Verdict::Linearizable
        } else {
            Verdict::NotLinearizable
        });
    }
    if name.contains("-ok") {
        return Some(Verdict::Linearizable);
    }
    if name.contains("-bad") {
        return Some(Verdict::NotLinearizable);
    }
    None
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "log" || e == "txt") {
            out.push(p);
        }
    }
}

fn histories_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("DETCD_HISTORIES_DIR") {
        return PathBuf::from(dir);
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared/reference/histories");
        if candidate.is_dir() {
            return candidate;
        }
        assert!(dir.pop(), "no DETCD_HISTORIES_DIR and no shared/reference/histories folder");
    }
}

fn check_text(text: &str) -> Verdict {
    load(text, None, None).expect("history loads").check(&Budget::default()).verdict
}

// Benchmarks may read the clock: this is the only place that times single runs.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn bench(c: &mut Criterion) {
    let dir = histories_dir();
    let mut paths = Vec::new();
    files(&dir, &mut paths);
    assert!(!paths.is_empty(), "no histories under {}", dir.display());
    let mut loaded: Vec<(PathBuf, String)> = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read history");
        if text.trim().is_empty() {
            // Porcupine's etcd_095.log: the cluster never started, so there is no history.
            println!("skipping empty {}", path.display());
            continue;
        }
        loaded.push((path, text));
    }

    let (mut agree, mut known) = (0, 0);
    let mut jepsen_total = std::time::Duration::ZERO;
    println!("{:<40} {:>18} {:>10}", "file", "verdict", "time");
    for (path, text) in &loaded {
        let start = std::time::Instant::now();
        let verdict = check_text(text);
        let took = start.elapsed();
        if path.extension().is_some_and(|e| e == "log") {
            jepsen_total += took;
        }
        let want = expected(path);
        if let Some(want) = want {
            known += 1;
            if want == verdict {
                agree += 1;
            }
        }
        let mark = match want {
            Some(w) if w == verdict => "",
            Some(_) => "  <-- DISAGREES",
            None => "",
        };
        println!(
            "{:<40} {:>18} {:>8.2}ms{mark}",
            path.strip_prefix(&dir).unwrap_or(path).display().to_string(),
            format!("{verdict:?}"),
            took.as_secs_f64() * 1e3
        );
    }
    println!(
        "verdicts agreeing with the known ones: {agree}/{known}; Jepsen logs, one pass: {:.1} ms",
        jepsen_total.as_secs_f64() * 1e3
    );
    assert_eq!(agree, known, "some verdicts disagree");

    let jepsen: Vec<&String> = loaded
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "log"))
        .map(|(_, t)| t)
        .collect();
    let mut group = c.benchmark_group("histories");
    group.sample_size(10);
    if !jepsen.is_empty() {
        group.bench_function(format!("all {} jepsen etcd logs", jepsen.len()), |b| {
            b.iter(|| {
                jepsen.iter().map(|t| check_text(t)).filter(|v| *v == Verdict::Linearizable).count()
            })
        });
    }
    for (path, text) in loaded.iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "txt")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        group.bench_function(name, |b| b.iter(|| check_text(text)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
