//! The JUnit XML file CI systems show as test results: one test case per scenario,
//! failing when any of its seeds failed, with each failing seed's evidence and replay
//! command in the failure's text.

use super::result::SweepResult;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit document for `result`.
pub fn render(result: &SweepResult) -> String {
    let tests = result.scenarios.len();
    let failures = result.scenarios.iter().filter(|s| s.failed > 0).count();
    let secs = |us: u64| format!("{:.3}", us as f64 / 1e6);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"detcd sim\" tests=\"{tests}\" failures=\"{failures}\" time=\"{}\">\n",
        secs(result.wall_us)
    ));
    out.push_str(&format!(
        "  <testsuite name=\"detcd sim\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">\n",
        secs(result.wall_us)
    ));
    out.push_str("    <properties>\n");
    for (name, value) in [
        ("first_seed", result.first_seed.to_string()),
        ("seed_source", result.seed_source.clone()),
        ("shard", result.shard.clone()),
        ("stopped", result.stopped.clone().unwrap_or_default()),
    ] {
        out.push_str(&format!("      <property name=\"{name}\" value=\"{}\"/>\n", escape(&value)));
    }
    out.push_str("    </properties>\n");
    for s in &result.scenarios {
        out.push_str(&format!(
            "    <testcase classname=\"detcd.sim\" name=\"{}\" time=\"{}\"",
            escape(&s.name),
            secs(s.wall_us)
        ));
        if s.failed == 0 {
            out.push_str(&format!(
                ">\n      <system-out>{} seed(s) passed (expect {})</system-out>\n    </testcase>\n",
                s.runs,
                escape(&s.expect)
            ));
            continue;
        }
        out.push_str(">\n");
        let mut text = String::new();
        for f in &s.failing {
            text.push_str(&format!("seed {}: {}\n  replay: {}\n", f.seed, f.summary, f.replay));
            for r in &f.reports {
                text.push_str(&format!("  report: {r}\n"));
            }
        }
        out.push_str(&format!(
            "      <failure message=\"{} of {} seed(s) failed; first: seed {}\" type=\"{}\">{}</failure>\n    </testcase>\n",
            s.failed,
            s.runs,
            s.failing.first().map_or(0, |f| f.seed),
            escape(&s.failing.first().map(|f| f.checks.join(",")).unwrap_or_default()),
            escape(&text)
        ));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::sim::result::{FailingSeed, ScenarioResult};

    #[test]
    fn evidence_with_markup_and_control_characters_stays_valid_xml() {
        let failing = FailingSeed {
            seed: 7,
            verdict: "fail".into(),
            summary: "read <k> & got \"x\"\u{1} instead".into(),
            checks: vec!["linearizability".into()],
            trace_hash: "00000000000000ff".into(),
            replay: "detcd replay 'a b.toml' --seed 7 --html out/a-seed-7.html".into(),
            reports: vec![],
            replay_mismatch: None,
        };
        let scenario = ScenarioResult {
            name: "a<b".into(),
            source: "a b.toml".into(),
            expect: "pass".into(),
            seeds: vec![7],
            runs: 1,
            passed: 0,
            failed: 1,
            over_budget: 0,
            failing: vec![failing],
            reports_skipped: 0,
            operations: 0,
            operations_checked: 0,
            sim_time_us: 0,
            wall_us: 0,
        };
        let result = SweepResult {
            passed: false,
            first_seed: 7,
            seed_source: "from \"x\"".into(),
            shard: "1/1".into(),
            jobs: 1,
            wall_us: 0,
            stopped: None,
            scenarios: vec![scenario],
        };
        let xml = render(&result);
        let doc = roxmltree::Document::parse(&xml).expect("valid XML");
        let case = doc.descendants().find(|n| n.has_tag_name("testcase")).expect("a case");
        assert_eq!(case.attribute("name"), Some("a<b"));
        let failure = case.children().find(|n| n.has_tag_name("failure")).expect("failure");
        assert_eq!(failure.attribute("type"), Some("linearizability"));
        let text = failure.text().expect("text");
        assert!(text.contains("read <k> & got \"x\"? instead"), "{text}");
        assert!(text.contains("replay: detcd replay 'a b.toml' --seed 7"), "{text}");
    }
}
