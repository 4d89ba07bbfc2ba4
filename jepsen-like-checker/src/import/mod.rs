//! Reading histories from text: Jepsen etcd logs, Jepsen's `history.edn`, Porcupine KV
//! histories and detcd's own JSON format (described in the crate docs). Every error
//! names the line and what was expected there.

pub mod detcd;
pub mod edn;
pub mod jepsen;
pub mod jepsen_edn;
pub mod porcupine;

use std::fmt;

/// The history file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JepsenEtcd,
    JepsenEdn,
    PorcupineKv,
    Detcd,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::JepsenEtcd => "jepsen-etcd",
            Format::JepsenEdn => "jepsen-edn",
            Format::PorcupineKv => "porcupine-kv",
            Format::Detcd => "detcd",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        [Format::JepsenEtcd, Format::JepsenEdn, Format::PorcupineKv, Format::Detcd]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// Guesses the format from the first non-blank line: Porcupine's maps name a
    /// `:key`, Jepsen's `history.edn` maps do not (or are tagged records, or one vector).
    pub fn guess(text: &str) -> Result<Format, ImportError> {
        let Some((n, line)) = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty()) else {
            return Err(ImportError::new(1, "a history", "an empty file"));
        };
        let line = line.trim_start();
        if line.starts_with("INFO") || line.contains("jepsen.util") {
            Ok(Format::JepsenEtcd)
        } else if line.starts_with("{:") && line.contains(":key ") {
            Ok(Format::PorcupineKv)
        } else if line.starts_with("{:") || line.starts_with("[{") || line.starts_with("#jepsen") {
            Ok(Format::JepsenEdn)
        } else if line.starts_with('{') {
            Ok(Format::Detcd)
        } else {
            Err(ImportError::new(
                n + 1,
                "a Jepsen log line (`INFO jepsen.util - ...`), a Porcupine EDN map \
                 (`{:process ...}`), a Jepsen history.edn operation (`{:type :invoke, :f ...}`) \
                 or a detcd JSON object (`{\"model\": ...}`)",
                line,
            ))
        }
    }
}

/// Where and why a history could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// 1-based line number.
    pub line: usize,
    pub expected: String,
    pub found: String,
}

impl ImportError {
    pub fn new(line: usize, expected: impl Into<String>, found: impl Into<String>) -> Self {
        let mut found: String = found.into();
        if found.chars().count() > 80 {
            found = found.chars().take(77).collect::<String>() + "...";
        }
        ImportError { line, expected: expected.into(), found }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: expected {}, found {}", self.line, self.expected, self.found)
    }
}

impl std::error::Error for ImportError {}
