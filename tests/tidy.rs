//! The textual determinism guard: the deterministic crates (`core`, `sim`,
//! `jepsen-like-checker`) may not name a wall clock, unseeded randomness, threads, an
//! async runtime or hash-ordered collections. Clippy's `disallowed-*` lists in each of
//! those crates catch resolved paths; this test catches the names themselves, including
//! in code clippy does not see (macros, cfg'd-out code).

use std::path::{Path, PathBuf};

const DETERMINISTIC_CRATES: &[&str] = &["core", "sim", "jepsen-like-checker"];

/// (forbidden text, why)
const FORBIDDEN: &[(&str, &str)] = &[
    ("Instant::now", "wall clock"),
    ("SystemTime", "wall clock"),
    ("std::time::Instant", "wall clock"),
    ("thread_rng", "unseeded randomness"),
    ("rand::random", "unseeded randomness"),
    ("from_entropy", "unseeded randomness"),
    ("OsRng", "unseeded randomness"),
    ("getrandom", "unseeded randomness"),
    ("std::thread", "threads"),
    ("thread::spawn", "threads"),
    ("rayon", "threads"),
    ("tokio", "async runtime"),
    ("async fn", "async runtime"),
    ("HashMap", "hash iteration order"),
    ("HashSet", "hash iteration order"),
];

/// Every forbidden use in `source`: (line number, forbidden text, why). Comment lines
/// are skipped so documentation may explain the rule.
fn violations(source: &str) -> Vec<(usize, &'static str, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let code = code.split(" //").next().unwrap_or(code);
        for (text, why) in FORBIDDEN {
            if code.contains(text) {
                found.push((n + 1, *text, *why));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn deterministic_crates_use_no_forbidden_api() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut report = Vec::new();
    let mut scanned = 0;
    for krate in DETERMINISTIC_CRATES {
        let mut files = Vec::new();
        rust_files(&root.join(krate).join("src"), &mut files);
        for file in files {
            scanned += 1;
            let source = std::fs::read_to_string(&file).expect("read source file");
            for (line, text, why) in violations(&source) {
                report.push(format!("{}:{line}: `{text}` ({why})", file.display()));
            }
        }
    }
    assert!(scanned > 0, "the guard scanned no files: wrong root?");
    assert!(report.is_empty(), "determinism guard:\n{}", report.join("\n"));
}

#[test]
fn guard_catches_each_forbidden_api() {
    let samples = [
        "let t = std::time::Instant::now();",
        "let t = SystemTime::now();",
        "let mut rng = rand::thread_rng();",
        "let x: u64 = rand::random();",
        "let rng = ChaCha8Rng::from_entropy();",
        "std::thread::spawn(|| {});",
        "#[tokio::main]",
        "let m: HashMap<u64, u64> = HashMap::new();",
        "let s = std::collections::HashSet::<u8>::new();",
    ];
    for sample in samples {
        assert!(!violations(sample).is_empty(), "guard missed: {sample}");
    }
    assert!(violations("// a HashMap would be wrong here").is_empty());
    assert!(violations("let m = BTreeMap::new();").is_empty());
}
