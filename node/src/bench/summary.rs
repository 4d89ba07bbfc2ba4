//! What a run measured and how it is shown: the latency histogram, the errors by
//! message, and the summary (as text or one JSON object, both with percentiles and
//! histogram rows) computed from them.
//!
//! Latencies go into an HdrHistogram of microseconds with three significant digits:
//! every value from 1 µs to an hour is kept within 0.1%, in a fixed ~200 KiB whatever the
//! request count, and histograms merge exactly — so percentiles are not sampled
//! estimates, and a million requests cost no more memory than a hundred. Percentiles are
//! nearest-rank: p99 of 1000 samples is the 990th smallest.

use hdrhistogram::Histogram;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The largest latency kept apart from the rest; anything slower is counted as this.
const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Rows of the latency histogram the summary shows.
const BUCKETS: u32 = 10;
/// Width of the longest histogram bar, in characters.
const BAR_WIDTH_MAX: u64 = 40;

/// An empty latency histogram, in microseconds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("constant bounds are valid")
}

/// Records one successful request's latency. Sub-microsecond answers count as 1 µs.
pub fn record(hist: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
    hist.saturating_record(us);
}

/// Latency percentiles of the successful requests, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    pub fn of(hist: &Histogram<u64>) -> Latency {
        if hist.is_empty() {
            return Latency { min: 0, mean: 0.0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
        }
        Latency {
            min: hist.min(),
            mean: hist.mean(),
            p50: hist.value_at_quantile(0.50),
            p90: hist.value_at_quantile(0.90),
            p99: hist.value_at_quantile(0.99),
            p999: hist.value_at_quantile(0.999),
            max: hist.max(),
        }
    }
}

/// One row of the latency histogram: requests slower than the row above and at most
/// `le_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub le_us: u64,
    pub count: u64,
}

/// The latency histogram as [`BUCKETS`] rows between the fastest and the slowest
/// request, their bounds growing geometrically: latencies spread over orders of
/// magnitude, and equal-width rows would put nearly every request in the first.
pub fn buckets(hist: &Histogram<u64>) -> Vec<Bucket> {
    if hist.is_empty() {
        return Vec::new();
    }
    let (lo, hi) = (hist.min().max(1), hist.max().max(1));
    if hist.equivalent(lo, hi) {
        return vec![Bucket { le_us: hi, count: hist.len() }];
    }
    let ratio = hi as f64 / lo as f64;
    let mut out: Vec<Bucket> = Vec::new();
    let mut below = 0;
    for i in 1..=BUCKETS {
        let le = if i == BUCKETS {
            hi
        } else {
            (lo as f64 * ratio.powf(f64::from(i) / f64::from(BUCKETS))).round() as u64
        };
        // Rows narrower than the histogram's resolution would repeat a bound.
        if out.last().is_some_and(|b| b.le_us >= le) {
            continue;
        }
        let upto = hist.count_between(0, le);
        out.push(Bucket { le_us: le, count: upto - below });
        below = upto;
    }
    if let Some(last) = out.last_mut() {
        // The top row takes whatever the histogram's rounding left over.
        last.count += hist.len() - below;
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub op: &'static str,
    pub endpoints: Vec<String>,
    pub conns: usize,
    pub clients: usize,
    /// Requests that got an answer that was not an error.
    pub ok: u64,
    /// Failed requests by their error's text (gRPC code and message, or a timeout).
    pub errors: BTreeMap<String, u64>,
    /// From the first request sent to the last answer received.
    pub elapsed: Duration,
    pub latency: Latency,
    pub histogram: Vec<Bucket>,
}

impl Summary {
    pub fn new(
        op: &'static str,
        endpoints: Vec<String>,
        conns: usize,
        clients: usize,
        hist: &Histogram<u64>,
        errors: BTreeMap<String, u64>,
        elapsed: Duration,
    ) -> Summary {
        Summary {
            op,
            endpoints,
            conns,
            clients,
            ok: hist.len(),
            errors,
            elapsed,
            latency: Latency::of(hist),
            histogram: buckets(hist),
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn total(&self) -> u64 {
        self.ok + self.error_count()
    }

    /// Successful requests per second, as etcd's benchmark counts them: a server that
    /// answers fast with errors is not fast.
    pub fn requests_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    pub fn to_text(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        let l = &self.latency;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} to {} ({} clients over {} connections)",
            self.op,
            self.endpoints.join(","),
            self.clients,
            self.conns
        );
        let _ = writeln!(out, "Summary:");
        let _ = writeln!(out, "  Total:        {} requests", self.total());
        let _ = writeln!(out, "  Errors:       {}", self.error_count());
        for (msg, n) in &self.errors {
            let _ = writeln!(out, "    {n:>8} × {msg}");
        }
        let _ = writeln!(out, "  Duration:     {:.4} secs", self.elapsed.as_secs_f64());
        let _ = writeln!(out, "  Requests/sec: {:.1}", self.requests_per_sec());
        let _ = writeln!(out, "Latency (ms, successful requests):");
        let _ = writeln!(out, "  min    {:>10.3}", ms(l.min));
        let _ = writeln!(out, "  mean   {:>10.3}", l.mean / 1000.0);
        let _ = writeln!(out, "  p50    {:>10.3}", ms(l.p50));
        let _ = writeln!(out, "  p90    {:>10.3}", ms(l.p90));
        let _ = writeln!(out, "  p99    {:>10.3}", ms(l.p99));
        let _ = writeln!(out, "  p99.9  {:>10.3}", ms(l.p999));
        let _ = writeln!(out, "  max    {:>10.3}", ms(l.max));
        if !self.histogram.is_empty() {
            let _ = writeln!(out, "Latency histogram (ms, at most):");
            let top = self.histogram.iter().map(|b| b.count).max().unwrap_or(0).max(1);
            for b in &self.histogram {
                let bar = "∎".repeat((b.count * BAR_WIDTH_MAX).div_ceil(top) as usize);
                let _ = writeln!(out, "  {:>10.3} [{:>8}] {bar}", ms(b.le_us), b.count);
            }
        }
        out
    }

    /// Latencies in milliseconds (microsecond resolution), like the text.
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |us: u64| us as f64 / 1000.0;
        let l = &self.latency;
        json!({
            "op": self.op,
            "endpoints": self.endpoints,
            "conns": self.conns,
            "clients": self.clients,
            "total": self.total(),
            "ok": self.ok,
            "errors": self.error_count(),
            "errors_by_message": self.errors,
            "duration_secs": self.elapsed.as_secs_f64(),
            "requests_per_sec": self.requests_per_sec(),
            "latency_ms": {
                "min": ms(l.min),
                "mean": l.mean / 1000.0,
                "p50": ms(l.p50),
                "p90": ms(l.p90),
                "p99": ms(l.p99),
                "p99.9": ms(l.p999),
                "max": ms(l.max),
            },
            "histogram": self
                .histogram
                .iter()
                .map(|b| json!({ "le_ms": ms(b.le_us), "count": b.count }))
                .collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(hist: &Histogram<u64>, errors: BTreeMap<String, u64>, secs: u64) -> Summary {
        Summary::new(
            "put",
            vec!["127.0.0.1:2379".into()],
            1,
            1,
            hist,
            errors,
            Duration::from_secs(secs),
        )
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut hist = new_histogram();
        // 1..=1000 µs, shuffled: order must not matter.
        for i in 0..1000u64 {
            record(&mut hist, Duration::from_micros((i * 7919) % 1000 + 1));
        }
        let l = Latency::of(&hist);
        assert_eq!((l.min, l.p50, l.p90, l.p99, l.p999, l.max), (1, 500, 900, 990, 999, 1000));
        assert!((l.mean - 500.5).abs() < 1e-9);
    }

    #[test]
    fn one_slow_request_moves_only_the_tail() {
        let mut hist = new_histogram();
        for _ in 0..999 {
            record(&mut hist, Duration::from_millis(1));
        }
        record(&mut hist, Duration::from_secs(2));
        let l = Latency::of(&hist);
        assert_eq!((l.p50, l.p90, l.p99, l.p999), (1000, 1000, 1000, 1000));
        // Large values are kept to three significant digits.
        let rel = (l.max as f64 - 2_000_000.0).abs() / 2_000_000.0;
        assert!(rel <= 0.001, "max {} is off by {rel}", l.max);
    }

    #[test]
    fn merged_histograms_give_the_same_percentiles() {
        let (mut a, mut b, mut all) = (new_histogram(), new_histogram(), new_histogram());
        for i in 1..=500u64 {
            record(&mut a, Duration::from_micros(i));
            record(&mut b, Duration::from_micros(i + 500));
        }
        for i in 1..=1000u64 {
            record(&mut all, Duration::from_micros(i));
        }
        a.add(&b).unwrap();
        assert_eq!(Latency::of(&a), Latency::of(&all));
    }

    #[test]
    fn sub_microsecond_answers_count_as_one() {
        let mut hist = new_histogram();
        record(&mut hist, Duration::from_nanos(10));
        assert_eq!(Latency::of(&hist).max, 1);
    }

    #[test]
    fn totals_and_rate_count_errors_apart() {
        let mut hist = new_histogram();
        for _ in 0..300 {
            record(&mut hist, Duration::from_millis(2));
        }
        let errors =
            BTreeMap::from([("Unavailable: leader changed".to_string(), 7), ("timeout".into(), 3)]);
        let s = summary(&hist, errors, 2);
        assert_eq!((s.ok, s.error_count(), s.total()), (300, 10, 310));
        assert_eq!(s.requests_per_sec(), 150.0);
        let j = s.to_json();
        assert_eq!(j["total"], 310);
        assert_eq!(j["errors_by_message"]["timeout"], 3);
        assert_eq!(j["requests_per_sec"], 150.0);
        assert_eq!(j["latency_ms"]["p99"], 2.0);
        let text = s.to_text();
        assert!(text.contains("Requests/sec: 150.0"), "{text}");
        assert!(text.contains("7 × Unavailable: leader changed"), "{text}");
    }

    #[test]
    fn the_histogram_rows_hold_every_request_once() {
        let mut hist = new_histogram();
        for i in 1..=1000u64 {
            record(&mut hist, Duration::from_micros(i * 10));
        }
        let rows = buckets(&hist);
        assert_eq!(rows.len(), 10);
        assert_eq!(rows.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!(rows.last().map(|b| b.le_us), Some(hist.max()));
        assert!(rows.windows(2).all(|w| w[0].le_us < w[1].le_us), "{rows:?}");
        // Geometric bounds: the first row (10 µs .. ~20 µs) holds the fastest two.
        assert_eq!(rows[0], Bucket { le_us: 20, count: 2 });
        let s = summary(&hist, BTreeMap::new(), 1);
        let text = s.to_text();
        assert!(text.contains("Latency histogram (ms, at most):"), "{text}");
        assert!(text.contains("∎"), "{text}");
        let j = s.to_json();
        assert_eq!(j["histogram"].as_array().map(Vec::len), Some(10));
        assert_eq!(j["histogram"][0]["count"], 2);
    }

    #[test]
    fn equal_latencies_make_one_row() {
        let mut hist = new_histogram();
        for _ in 0..5 {
            record(&mut hist, Duration::from_millis(3));
        }
        assert_eq!(buckets(&hist), vec![Bucket { le_us: hist.max(), count: 5 }]);
    }

    #[test]
    fn an_empty_run_reports_zeros() {
        let s = summary(&new_histogram(), BTreeMap::new(), 0);
        assert_eq!(s.total(), 0);
        assert_eq!(s.requests_per_sec(), 0.0);
        assert_eq!(s.latency.max, 0);
        assert!(s.histogram.is_empty());
    }
}
