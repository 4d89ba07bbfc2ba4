//! `detcd sim --merge`: joins the JSON results of several sweeps (the shards of a CI
//! matrix, or runs on different days) into one result, scenario by scenario.

use super::result::{ScenarioResult, SweepResult};
use std::collections::BTreeMap;

/// Reads and joins `files`; errors name the file and what is wrong with it.
pub fn merge_files(files: &[String]) -> Result<(SweepResult, Vec<String>), String> {
    if files.is_empty() {
        return Err(
            "--merge needs the JSON files to join, e.g. `detcd sim --merge shard-*.json`".into()
        );
    }
    let mut parts = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        let part: SweepResult = serde_json::from_str(&text).map_err(|e| {
            format!("{file} is not the JSON of `detcd sim --json` or `--json-out`: {e}")
        })?;
        parts.push(part);
    }
    Ok(merge(parts))
}

/// Joins sweeps; returns the result and warnings (seeds run more than once).
pub fn merge(parts: Vec<SweepResult>) -> (SweepResult, Vec<String>) {
    let mut warnings = Vec::new();
    let mut by_name: BTreeMap<String, ScenarioResult> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut stopped = Vec::new();
    let (mut jobs, mut wall_us) = (0, 0);
    let first_seed = parts.iter().map(|p| p.first_seed).min().unwrap_or(0);
    let sources: Vec<String> = parts.iter().map(|p| p.seed_source.clone()).collect();
    for part in parts {
        jobs = jobs.max(part.jobs);
        wall_us = wall_us.max(part.wall_us);
        if let Some(why) = part.stopped {
            stopped.push(format!("shard {}: {why}", part.shard));
        }
        for s in part.scenarios {
            match by_name.get_mut(&s.name) {
                None => {
                    order.push(s.name.clone());
                    by_name.insert(s.name.clone(), s);
                }
                Some(m) => {
                    m.seeds.extend(s.seeds);
                    m.runs += s.runs;
                    m.passed += s.passed;
                    m.failed += s.failed;
                    m.over_budget += s.over_budget;
                    m.failing.extend(s.failing);
                    m.reports_skipped += s.reports_skipped;
                    m.operations += s.operations;
                    m.operations_checked += s.operations_checked;
                    m.sim_time_us += s.sim_time_us;
                    m.wall_us += s.wall_us;
                }
            }
        }
    }
    let mut scenarios = Vec::new();
    for name in order {
        let mut s = by_name.remove(&name).expect("every name was inserted");
        s.seeds.sort_unstable();
        let before = s.seeds.len();
        s.seeds.dedup();
        if s.seeds.len() < before {
            warnings.push(format!(
                "{name}: {} seed(s) appear in more than one file (overlapping shards?)",
                before - s.seeds.len()
            ));
        }
        s.failing.sort_by_key(|f| f.seed);
        scenarios.push(s);
    }
    let mut distinct = sources.clone();
    distinct.dedup();
    let result = SweepResult {
        passed: scenarios.iter().all(|s| s.failed == 0),
        first_seed,
        seed_source: distinct.join(", "),
        shard: "merged".into(),
        jobs,
        wall_us,
        stopped: (!stopped.is_empty()).then(|| stopped.join("; ")),
        scenarios,
    };
    (result, warnings)
}
