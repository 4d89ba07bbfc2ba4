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
