//! The shared resource lock holders write to, and the mutual-exclusion check over what
//! it saw. Each critical section writes twice — when it starts and when it ends — so
//! two sections overlap, as the resource sees them, exactly when a write of one falls
//! between the first and last write of the other.

use crate::report::{check_names, CheckResult};
use std::collections::BTreeMap;

/// Which end of a critical section a write marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Enter,
    Exit,
}

impl Mark {
    pub fn word(self) -> &'static str {
        match self {
            Mark::Enter => "enter",
            Mark::Exit => "exit",
        }
    }
}

/// One write the resource accepted, in the resource's own order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceWrite {
    pub client: u64,
    /// Which acquisition of the lock (numbered over the whole run).
    pub section: u64,
    pub mark: Mark,
    /// Where it lies in the resource's order: true time for an unfenced resource, the
    /// store revision for a fenced one.
    pub at: u64,
}

/// The value a fenced resource write puts: who wrote, for which section, which end.
pub fn encode(client: u64, section: u64, mark: Mark) -> String {
    format!("c{client}/s{section}/{}", mark.word())
}

/// Reads back a value written by `encode`.
pub fn decode(value: &[u8], at: u64) -> Option<ResourceWrite> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split('/');
    let client = parts.next()?.strip_prefix('c')?.parse().ok()?;
    let section = parts.next()?.strip_prefix('s')?.parse().ok()?;
    let mark = match parts.next()? {
        "enter" => Mark::Enter,
        "exit" => Mark::Exit,
        _ => return None,
    };
    Some(ResourceWrite { client, section, mark, at })
}

fn at_words(at: u64, unit: &str) -> String {
    if unit == "s" {
        format!("{}.{:06}s", at / 1_000_000, at % 1_000_000)
    } else {
        format!("revision {at}")
    }
}

/// No two critical sections interleave at the resource. `unit` is "s" when `at` is
/// true time in microseconds, anything else for store revisions.
pub fn check_exclusion(writes: &[ResourceWrite], unit: &str) -> CheckResult {
    // section → (client, first write, last write), by position in the resource's order.
    let mut spans: BTreeMap<u64, (u64, usize, usize)> = BTreeMap::new();
    for (i, w) in writes.iter().enumerate() {
        spans.entry(w.section).and_modify(|s| s.2 = i).or_insert((w.client, i, i));
    }
    for (i, w) in writes.iter().enumerate() {
        let inside = spans
            .iter()
            .find(|(section, s)| **section != w.section && s.1 < i && i < s.2)
            .map(|(section, s)| (*section, *s));
        if let Some((section, (client, first, last))) = inside {
            return CheckResult::fail(
                check_names::LOCK_EXCLUSION,
                format!(
                    "two lock holders at once: c{client} (section {section}) wrote the resource at {} and again at {}, and c{} (section {}) wrote it at {} in between",
                    at_words(writes[first].at, unit),
                    at_words(writes[last].at, unit),
                    w.client,
                    w.section,
                    at_words(w.at, unit),
                ),
            );
        }
    }
    CheckResult::pass(
        check_names::LOCK_EXCLUSION,
        format!(
            "{} critical section(s), {} resource write(s): no two holders interleaved",
            spans.len(),
            writes.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(client: u64, section: u64, mark: Mark, at: u64) -> ResourceWrite {
        ResourceWrite { client, section, mark, at }
    }

    #[test]
    fn sections_in_turn_pass() {
        let writes = [
            w(1, 1, Mark::Enter, 1),
            w(1, 1, Mark::Exit, 2),
            w(2, 2, Mark::Enter, 3),
            w(2, 2, Mark::Exit, 4),
        ];
        assert_eq!(check_exclusion(&writes, "rev").verdict, crate::Verdict::Pass);
    }

    #[test]
    fn a_write_inside_another_section_fails() {
        let writes = [
            w(1, 1, Mark::Enter, 1_000_000),
            w(2, 2, Mark::Enter, 2_000_000),
            w(2, 2, Mark::Exit, 2_500_000),
            w(1, 1, Mark::Exit, 3_000_000),
        ];
        let c = check_exclusion(&writes, "s");
        assert_eq!(c.verdict, crate::Verdict::Fail);
        assert!(c.evidence.contains("c1 (section 1) wrote the resource at 1.000000s"), "{c:?}");
        assert!(c.evidence.contains("c2 (section 2) wrote it at 2.000000s"), "{c:?}");
    }

    #[test]
    fn values_round_trip() {
        let v = encode(3, 17, Mark::Exit);
        assert_eq!(decode(v.as_bytes(), 9), Some(w(3, 17, Mark::Exit, 9)));
        assert_eq!(decode(b"junk", 9), None);
    }
}
