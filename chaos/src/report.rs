//! What a chaos run found, as a verdict table for people, one JSON document for
//! programs, and an HTML page (the fault time line, the verdicts, and a link to the
//! checker's own report of the history).

use crate::config::{Fault, NetworkMode, Target};
use crate::nemesis::FaultEvent;
use detcd_harness::report::{CheckResult, Verdict};
use serde::Serialize;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct ChaosReport {
    pub target: Target,
    pub server_version: String,
    pub members: usize,
    pub duration_s: u64,
    pub seed: u64,
    pub faults: Vec<Fault>,
    pub network: NetworkMode,
    /// How the network was made, in words.
    pub network_detail: String,
    pub operations: usize,
    pub ok: usize,
    pub unknown: usize,
    pub failed: usize,
    pub acknowledged_writes: usize,
    pub watch_events: usize,
    pub fault_events: Vec<FaultEvent>,
    pub skipped: Vec<String>,
    /// From the heal until every member answered linearizable reads.
    pub recovery_ms: Option<u64>,
    pub checks: Vec<CheckResult>,
    /// Where the history, member logs and reports are.
    pub out_dir: String,
    pub history_file: String,
}

impl ChaosReport {
    pub fn violations(&self) -> usize {
        self.checks.iter().filter(|c| c.verdict == Verdict::Fail).count()
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict == Verdict::Pass)
    }

    /// The longest time from a fault's heal to the next acknowledged write.
    pub fn recovery_after_faults_ms_max(&self) -> Option<u64> {
        self.fault_events.iter().filter_map(|e| e.recovery_ms).max()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialize")
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let faults: Vec<&str> = self.faults.iter().map(|f| f.name()).collect();
        let _ = writeln!(
            s,
            "detcd chaos: {} ({}), {} members, {} s, faults {}, seed {}",
            self.target.name(),
            self.server_version,
            self.members,
            self.duration_s,
            faults.join(","),
            self.seed
        );
        let _ = writeln!(s, "network {}", self.network_detail);
        let _ = writeln!(
            s,
            "operations {} (ok {}, unknown {}, failed {}), acknowledged writes {}, watch events {}",
            self.operations,
            self.ok,
            self.unknown,
            self.failed,
            self.acknowledged_writes,
            self.watch_events
        );
        let _ = writeln!(s, "faults injected: {}", self.fault_events.len());
        for e in &self.fault_events {
            let recovered = match e.recovery_ms {
                Some(ms) => format!("writes again {ms} ms after"),
                None => "no write acknowledged after it".to_string(),
            };
            let _ = writeln!(
                s,
                "  {:>8.1} s .. {:>8.1} s  {:<9} {}; {recovered}",
                e.start_us as f64 / 1e6,
                e.end_us as f64 / 1e6,
                e.fault.name(),
                e.what
            );
        }
        for k in &self.skipped {
            let _ = writeln!(s, "  note: {k}");
        }
        if let Some(ms) = self.recovery_after_faults_ms_max() {
            let _ = writeln!(s, "longest recovery after a fault healed: {ms} ms");
        }
        match self.recovery_ms {
            Some(ms) => {
                let _ = writeln!(s, "recovery after the final heal: {ms} ms");
            }
            None => {
                let _ = writeln!(s, "recovery after the final heal: none within the limit");
            }
        }
        let _ = writeln!(s, "{:<20} {:<8} evidence", "check", "verdict");
        for c in &self.checks {
            let verdict = match c.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
                Verdict::Unknown => "unknown",
                Verdict::Budget => "budget",
            };
            let first = c.evidence.lines().next().unwrap_or("");
            let _ = writeln!(s, "{:<20} {:<8} {first}", c.name, verdict);
            if c.verdict != Verdict::Pass {
                for line in c.evidence.lines().skip(1).take(40) {
                    let _ = writeln!(s, "{:<29} {line}", "");
                }
            }
        }
        let _ = writeln!(
            s,
            "history: {} (recheck: detcd check {})",
            self.history_file, self.history_file
        );
        let _ = writeln!(s, "member logs and reports: {}", self.out_dir);
        let _ = writeln!(
            s,
            "verdict: {}",
            if self.passed() {
                "PASS".to_string()
            } else {
                format!("{} violation(s)", self.violations())
            }
        );
        s
    }

    /// A standalone page; `checker_report` is the file name of the checker's page.
    pub fn to_html(&self, checker_report: Option<&str>) -> String {
        let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let mut s = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>detcd chaos</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}.FAIL{background:#fcc}.pass{background:#cfc}.bar{position:relative;height:18px;background:#eee;margin:2px 0}.f{position:absolute;height:18px;opacity:.8;font-size:11px;overflow:hidden;white-space:nowrap}pre{white-space:pre-wrap}</style></head><body>\n",
        );
        let first = self.to_text();
        let _ = writeln!(
            s,
            "<h1>detcd chaos: {}</h1><pre>{}</pre>",
            self.target.name(),
            esc(first.lines().take(2).collect::<Vec<_>>().join("\n").as_str())
        );
        let _ = writeln!(
            s,
            "<h2>Verdicts</h2><table><tr><th>check</th><th>verdict</th><th>evidence</th></tr>"
        );
        for c in &self.checks {
            let v = match c.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
                Verdict::Unknown => "unknown",
                Verdict::Budget => "budget",
            };
            let _ = writeln!(
                s,
                "<tr class=\"{v}\"><td>{}</td><td>{v}</td><td><pre>{}</pre></td></tr>",
                c.name,
                esc(&c.evidence)
            );
        }
        s.push_str("</table>\n<h2>Faults on the time line</h2>\n");
        let total_us = (self.duration_s * 1_000_000).max(1) as f64;
        let colour = |f: Fault| match f {
            Fault::Kill => "#e66",
            Fault::Pause => "#e9a",
            Fault::Partition => "#69e",
            Fault::Delay => "#9c6",
            Fault::Loss => "#6bb",
            Fault::Reorder => "#7a9",
            Fault::Clock => "#cb4",
            Fault::Fsync => "#a7c",
            Fault::KillUnsynced => "#c44",
            Fault::WipeAll => "#333",
            Fault::AckBeforeFsync => "#555",
        };
        for e in &self.fault_events {
            let left = 100.0 * e.start_us as f64 / total_us;
            let width = (100.0 * (e.end_us.saturating_sub(e.start_us)) as f64 / total_us).max(0.5);
            let _ = writeln!(
                s,
                "<div class=\"bar\"><div class=\"f\" style=\"left:{left:.2}%;width:{width:.2}%;background:{}\" title=\"{}\">{}</div></div>",
                colour(e.fault),
                esc(&e.what),
                esc(&format!("{:.1}s {}", e.start_us as f64 / 1e6, e.what))
            );
        }
        if let Some(r) = checker_report {
            let _ = writeln!(s, "<h2>History</h2><p><a href=\"{r}\">The checker's report of the clients' history</a></p>");
        }
        let _ = writeln!(s, "<p>history: {}</p></body></html>", esc(&self.history_file));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(checks: Vec<CheckResult>) -> ChaosReport {
        ChaosReport {
            target: Target::Etcd,
            server_version: "etcd Version: 3.4.23".into(),
            members: 3,
            duration_s: 30,
            seed: 7,
            faults: vec![Fault::Kill, Fault::Partition],
            network: NetworkMode::Proxy,
            network_detail: "proxy".into(),
            operations: 10,
            ok: 8,
            unknown: 1,
            failed: 1,
            acknowledged_writes: 4,
            watch_events: 5,
            fault_events: vec![FaultEvent {
                fault: Fault::Kill,
                what: "kill -9 m1, restart after 3000 ms".into(),
                start_us: 2_000_000,
                end_us: 5_000_000,
                recovery_ms: Some(120),
            }],
            skipped: vec![],
            recovery_ms: Some(40),
            checks,
            out_dir: "out".into(),
            history_file: "out/history.json".into(),
        }
    }

    #[test]
    fn one_failed_check_fails_the_run_and_every_form_says_so() {
        let ok = report(vec![CheckResult::pass("watch", "fine")]);
        assert!(ok.passed());
        assert!(ok.to_text().contains("verdict: PASS"));
        let bad = report(vec![
            CheckResult::pass("watch", "fine"),
            CheckResult::fail("acknowledged-writes", "put k/1=c1-2 lost\nsecond line"),
        ]);
        assert!(!bad.passed());
        assert_eq!(bad.violations(), 1);
        let text = bad.to_text();
        assert!(text.contains("acknowledged-writes  FAIL"), "{text}");
        assert!(text.contains("second line"), "failure evidence shown whole: {text}");
        assert!(text.contains("writes again 120 ms after"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&bad.to_json()).unwrap();
        assert_eq!(json["checks"][1]["verdict"], "fail");
        assert_eq!(json["faults"][1], "partition");
        let html = bad.to_html(Some("checker-report.html"));
        assert!(html.contains("class=\"FAIL\"") && html.contains("checker-report.html"));
    }
}
