//! Which seeds a sweep runs: the first seed (given, drawn at random, or derived from a
//! value a CI job passes), how many, and which of them fall to this shard. Also the
//! parsers for the numbers and durations `sim` takes, with errors a person can act on.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Where the first seed came from, for the banner, the JSON and rerun commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeedSource {
    /// `--first-seed` (or its default, 1).
    Given,
    /// `--random-seeds`: drawn from the operating system's randomness.
    Random,
    /// `--seed-from VALUE`: a hash of VALUE (a CI run id, a commit).
    From(String),
}

impl SeedSource {
    pub fn describe(&self) -> String {
        match self {
            SeedSource::Given => "given".into(),
            SeedSource::Random => "random".into(),
            SeedSource::From(v) => format!("from {v:?}"),
        }
    }
}

/// One machine's part of a sweep: shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };
}

/// Parses `K/N` with 1 <= K <= N.
pub fn parse_shard(text: &str) -> Result<Shard, String> {
    let shape = || format!("a shard is K/N with 1 <= K <= N, e.g. 2/8, not {text:?}");
    let (k, n) = text.split_once('/').ok_or_else(shape)?;
    let index: u64 = k.trim().parse().map_err(|_| shape())?;
    let count: u64 = n.trim().parse().map_err(|_| shape())?;
    if index == 0 || count == 0 || index > count {
        return Err(shape());
    }
    Ok(Shard { index, count })
}

/// Parses a duration such as `90s`, `10m`, `1h30m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("{text:?} is not a duration: give e.g. 90s, 10m, 1h30m or a number of seconds");
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("{t} is negative: a time budget must be positive"));
    }
    if let Ok(secs) = t.parse::<f64>() {
        return positive(secs).ok_or_else(bad);
    }
    let mut total = 0.0;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(bad()),
        };
        let n: f64 = number.parse().map_err(|_| bad())?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    positive(total).ok_or_else(bad)
}

fn positive(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The first seed of a sweep, where it came from, and whether the range may run on
/// past `--seeds` (a time budget with no seed count).
pub struct SeedPlan {
    pub first: u64,
    pub source: SeedSource,
    pub shard: Shard,
}

/// Seeds drawn or derived stay below 2^63, so a sweep of any practical length from
/// there cannot pass the largest seed.
const DRAWN_SEED_MAX: u64 = 1 << 63;

impl SeedPlan {
    pub fn new(first_seed: u64, random: bool, seed_from: Option<&str>, shard: Shard) -> Self {
        let (first, source) = match (random, seed_from) {
            (_, Some(v)) => (fnv1a(v.as_bytes()) % DRAWN_SEED_MAX, SeedSource::From(v.into())),
            (true, None) => (os_random() % DRAWN_SEED_MAX, SeedSource::Random),
            (false, None) => (first_seed, SeedSource::Given),
        };
        SeedPlan { first, source, shard }
    }

    /// How many seeds this shard runs out of `total` seeds of the whole sweep.
    pub fn shard_len(&self, total: u64) -> u64 {
        let k = self.shard.index - 1;
        if total <= k {
            0
        } else {
            (total - k).div_ceil(self.shard.count)
        }
    }

    /// This shard's `i`th seed: seeds are dealt round-robin, so shard K of N runs the
    /// sweep's seeds number K, K+N, K+2N, ... and the shards together run each once.
    pub fn seed(&self, i: u64) -> u64 {
        self.first + i * self.shard.count + (self.shard.index - 1)
    }

    /// Refuses a range of `total` seeds from the first that would pass the largest seed
    /// (it would wrap around and run seeds twice).
    pub fn check_range(&self, total: u64) -> Result<(), String> {
        if total == 0 {
            return Ok(());
        }
        match self.first.checked_add(total - 1) {
            Some(_) => Ok(()),
            None => Err(format!(
                "--first-seed {} with --seeds {total} runs past the largest seed, {}: \
                 at most {} seeds start there",
                self.first,
                u64::MAX,
                u64::MAX - self.first + 1
            )),
        }
    }

    /// Seeds left from the first to the largest (a time budget's open-ended range).
    pub fn open_ended_total(&self) -> u64 {
        (u64::MAX - self.first).saturating_add(1)
    }
}

/// FNV-1a: a fixed, documented hash, so `--seed-from X` gives the same seeds on every
/// build and platform.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A random number from the standard library's per-process random hash keys.
fn os_random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::load::parse_count;

    #[test]
    fn shards_cover_every_seed_once() {
        for total in [0, 1, 7, 10] {
            for count in 1..=4 {
                let mut seen = Vec::new();
                for index in 1..=count {
                    let plan = SeedPlan::new(100, false, None, Shard { index, count });
                    seen.extend((0..plan.shard_len(total)).map(|i| plan.seed(i)));
                }
                seen.sort_unstable();
                assert_eq!(seen, (100..100 + total).collect::<Vec<_>>(), "{total} {count}");
            }
        }
    }

    #[test]
    fn bad_numbers_are_refused_in_words() {
        assert!(parse_count("-3").unwrap_err().contains("negative"));
        assert!(parse_count("18446744073709551616").unwrap_err().contains("largest seed"));
        assert!(parse_count("x").unwrap_err().contains("not a whole number"));
        let plan = SeedPlan::new(u64::MAX - 1, false, None, Shard::WHOLE);
        assert!(plan.check_range(2).is_ok());
        assert!(plan.check_range(3).unwrap_err().contains("at most 2 seeds"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("-1m").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn seed_from_is_stable_and_shards_parse() {
        let a = SeedPlan::new(1, false, Some("run-42"), Shard::WHOLE);
        let b = SeedPlan::new(1, true, Some("run-42"), Shard::WHOLE);
        assert_eq!(a.first, b.first);
        assert!(a.first < DRAWN_SEED_MAX);
        assert_eq!(parse_shard("2/8"), Ok(Shard { index: 2, count: 8 }));
        assert!(parse_shard("0/3").is_err() && parse_shard("4/3").is_err());
    }
}
