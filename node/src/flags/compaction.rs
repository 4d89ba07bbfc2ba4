//! `--auto-compaction-mode` and `--auto-compaction-retention` read together, as etcd reads
//! them: a bare number is hours (periodic) or revisions (revision); periodic also takes a
//! Go duration such as `30m` or `1h30m`; zero in any form turns compaction off.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CompactionMode {
    Periodic,
    Revision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoCompaction {
    Off,
    /// Keep this much history, measured on the wall clock.
    Periodic(Duration),
    /// Keep this many revisions behind the current one.
    Revision(u64),
}

impl AutoCompaction {
    /// The error is the reason alone; the caller names the flag and the value.
    pub fn parse(mode: CompactionMode, retention: &str) -> Result<AutoCompaction, &'static str> {
        let retention = retention.trim();
        let parsed = match (mode, retention.parse::<u64>()) {
            (_, Ok(0)) => AutoCompaction::Off,
            (CompactionMode::Revision, Ok(n)) => AutoCompaction::Revision(n),
            (CompactionMode::Revision, Err(_)) => {
                return Err("mode revision takes a whole number of revisions")
            }
            (CompactionMode::Periodic, Ok(hours)) => {
                let secs = hours.checked_mul(3600).ok_or("too long")?;
                AutoCompaction::Periodic(Duration::from_secs(secs))
            }
            (CompactionMode::Periodic, Err(_)) => {
                AutoCompaction::Periodic(parse_go_duration(retention).ok_or(
                    "mode periodic takes a number of hours or a duration such as 30m or 1h30m",
                )?)
            }
        };
        Ok(match parsed {
            AutoCompaction::Periodic(d) if d.is_zero() => AutoCompaction::Off,
            other => other,
        })
    }
}

/// Go's `time.ParseDuration` for non-negative values: one or more `<decimal><unit>` with
/// units ns, us (or µs), ms, s, m, h, e.g. `1.5h` or `1h30m`; `0` alone is zero.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    const NANOS_MAX: u128 = u64::MAX as u128;
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(f) => f.split_at(f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len())),
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        // 19 digits of either part already exceed u64 nanoseconds in every unit.
        if int.len() > 19 || frac.len() > 19 {
            return None;
        }
        let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let frac_value: u128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
        let frac_nanos = frac_value * unit_nanos / 10u128.pow(frac.len() as u32);
        nanos = nanos.checked_add(int.checked_mul(unit_nanos)?)?.checked_add(frac_nanos)?;
        if nanos > NANOS_MAX {
            return None;
        }
        rest = after;
    }
    Some(Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn periodic(text: &str) -> Result<AutoCompaction, &'static str> {
        AutoCompaction::parse(CompactionMode::Periodic, text)
    }

    #[test]
    fn zero_in_any_form_is_off() {
        for zero in ["0", "0h", "0s", "0.0m"] {
            assert_eq!(periodic(zero), Ok(AutoCompaction::Off), "{zero}");
        }
        assert_eq!(AutoCompaction::parse(CompactionMode::Revision, "0"), Ok(AutoCompaction::Off));
    }

    #[test]
    fn periodic_takes_hours_or_durations() {
        let p = |secs| Ok(AutoCompaction::Periodic(Duration::from_secs(secs)));
        assert_eq!(periodic("1"), p(3600));
        assert_eq!(periodic("72"), p(72 * 3600));
        assert_eq!(periodic("1h"), p(3600));
        assert_eq!(periodic("30m"), p(1800));
        assert_eq!(periodic("1h30m"), p(5400));
        assert_eq!(periodic("1.5h"), p(5400));
        assert_eq!(periodic("90s"), p(90));
        assert_eq!(periodic("1500ms"), Ok(AutoCompaction::Periodic(Duration::from_millis(1500))));
    }

    #[test]
    fn revision_takes_a_count() {
        assert_eq!(
            AutoCompaction::parse(CompactionMode::Revision, "1000"),
            Ok(AutoCompaction::Revision(1000))
        );
        assert!(AutoCompaction::parse(CompactionMode::Revision, "1h").is_err());
    }

    #[test]
    fn garbage_is_refused() {
        for bad in ["foo", "", "1x", "h", "-1h", "-1", "1h-5m", ".h", "99999999999999999999h"] {
            assert!(periodic(bad).is_err(), "{bad}");
        }
    }
}
