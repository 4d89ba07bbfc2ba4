//! The built-in scenario library: the TOML files of `scenarios/library/`, embedded in
//! the binary so `detcd sim` needs no files on disk.

use crate::format::Scenario;

/// One embedded scenario file.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinScenario {
    pub name: &'static str,
    pub toml: &'static str,
}

macro_rules! library {
    ($($name:literal),* $(,)?) => {
        &[$(BuiltinScenario {
            name: $name,
            toml: include_str!(concat!("../library/", $name, ".toml")),
        }),*]
    };
}

/// Every built-in scenario, in the order `detcd scenarios` lists them.
const LIBRARY: &[BuiltinScenario] = library![
    "happy-path",
    "leader-isolation",
    "random-partitions",
    "one-way-partitions",
    "crash-restart",
    "clock-skew",
    "lossy-network",
    "leader-transfer",
    "compaction-under-load",
    "lease-expiry",
    "watch-under-faults",
    "swarm",
    "lease-read-clock-skew",
    "read-index-clock-skew",
    "overlapping-reads",
    "lying-fsync",
    "lock-unfenced",
    "lock-fenced",
    "election",
    "membership-churn",
    "replace-member",
    "membership-single-step",
    "auth-churn",
    "kubernetes",
];

/// All built-in scenarios, parsed.
pub fn builtins() -> Vec<Scenario> {
    LIBRARY
        .iter()
        .map(|b| {
            Scenario::from_toml(b.toml, b.name)
                .unwrap_or_else(|e| panic!("built-in scenario {} is broken: {e}", b.name))
        })
        .collect()
}

/// The built-in scenario called `name`, if there is one.
pub fn builtin(name: &str) -> Option<Scenario> {
    builtins().into_iter().find(|s| s.name == name)
}

/// The names of the built-in scenarios, in library order.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    LIBRARY.iter().map(|b| b.name)
}

/// The TOML file of the built-in scenario `name`, comments and all: a template.
pub fn builtin_toml(name: &str) -> Option<&'static str> {
    LIBRARY.iter().find(|b| b.name == name).map(|b| b.toml)
}

/// The built-in names close to a mistyped `name` (edit distance at most a third of its
/// length, or sharing a prefix), closest first.
pub fn suggest(name: &str) -> Vec<&'static str> {
    let limit = (name.chars().count() / 3).max(2);
    let mut close: Vec<(usize, &'static str)> = builtin_names()
        .filter_map(|b| {
            let distance = strsim::levenshtein(name, b);
            let prefix = name.len() >= 4 && (b.starts_with(name) || name.starts_with(b));
            (distance <= limit || prefix).then_some((distance, b))
        })
        .collect();
    close.sort();
    close.into_iter().map(|(_, b)| b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Expect;

    #[test]
    fn every_builtin_parses_and_is_named_after_its_file() {
        for b in LIBRARY {
            let s = Scenario::from_toml(b.toml, b.name).unwrap();
            assert_eq!(s.name, b.name);
            assert!(!s.description.is_empty());
        }
    }

    #[test]
    fn suggestions_find_typos() {
        assert_eq!(suggest("leader-isolaton").first(), Some(&"leader-isolation"));
        assert_eq!(suggest("lying-fsnyc").first(), Some(&"lying-fsync"));
        assert_eq!(suggest("swarm2").first(), Some(&"swarm"));
        assert!(suggest("zzzzzzzzzz").is_empty());
    }

    #[test]
    fn library_has_negative_controls() {
        let negatives: Vec<_> =
            builtins().into_iter().filter(|s| matches!(s.expect, Expect::Fail(_))).collect();
        assert!(negatives.len() >= 2);
    }
}
