//! What the command-line tests share: running the built `detcd`, reading its output,
//! and a scratch directory per test that goes when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn detcd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_detcd")).args(args).output().expect("detcd runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory for one test, removed when the test is done with it (passed or
/// panicked), so CI hosts do not collect one per run.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a directory left behind costs disk, never a result.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory for test `name`; the process id keeps parallel test binaries apart.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("detcd-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    Scratch(dir)
}
