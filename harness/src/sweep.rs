//! Running many (scenario, seed) jobs on several threads. Each run is deterministic on
//! its own; threads only change which run finishes first, and results come back in job
//! order so a sweep's output is the same whatever the thread count. A sweep can also be
//! cut short (a time budget, enough failures, an interrupt): workers then stop taking
//! new jobs, finish the ones in flight, and the results so far come back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `run` on every job with `threads` worker threads (at least one), calling
/// `progress(done, total)` after each job. Results are in the order of `jobs`.
pub fn run_parallel<J, R, F, P>(jobs: &[J], threads: usize, run: F, progress: P) -> Vec<R>
where
    J: Sync,
    R: Send,
    F: Fn(&J) -> R + Sync,
    P: Fn(usize, usize) + Sync,
{
    let total = jobs.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..total).map(|_| None).collect());
    let threads = threads.clamp(1, total.max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let result = run(&jobs[i]);
                results.lock().expect("a worker panicked")[i] = Some(result);
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(finished, total);
            });
        }
    });
    results
        .into_inner()
        .expect("a worker panicked")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// Runs jobs `0..total` (made from their index by `run`) on `threads` worker threads
/// until all ran or `stop()` turns true; `done(index, &result)` is called after each.
/// Returns the results of the jobs that ran, in index order. Jobs are taken in index
/// order, so a sweep stopped early has run a prefix of its jobs, less at most one job
/// per thread in flight when it stopped (those still finish and are returned).
pub fn run_until<R, F, S, D>(total: u64, threads: usize, run: F, stop: S, done: D) -> Vec<(u64, R)>
where
    R: Send,
    F: Fn(u64) -> R + Sync,
    S: Fn() -> bool + Sync,
    D: Fn(u64, &R) + Sync,
{
    let next = AtomicU64::new(0);
    let results: Mutex<BTreeMap<u64, R>> = Mutex::new(BTreeMap::new());
    let threads = threads.max(1).min(usize::try_from(total.max(1)).unwrap_or(usize::MAX));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                if stop() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let result = run(i);
                done(i, &result);
                results.lock().expect("a worker panicked").insert(i, result);
            });
        }
    });
    results.into_inner().expect("a worker panicked").into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_job_order_for_any_thread_count() {
        let jobs: Vec<u64> = (0..50).collect();
        for threads in [1, 2, 7] {
            let out = run_parallel(&jobs, threads, |j| j * j, |_, _| {});
            assert_eq!(out, jobs.iter().map(|j| j * j).collect::<Vec<_>>());
        }
    }

    #[test]
    fn progress_reaches_total() {
        let jobs = [1, 2, 3];
        let last = AtomicUsize::new(0);
        run_parallel(
            &jobs,
            2,
            |j| *j,
            |done, total| {
                assert_eq!(total, 3);
                last.fetch_max(done, Ordering::Relaxed);
            },
        );
        assert_eq!(last.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn run_until_runs_everything_in_order_when_not_stopped() {
        for threads in [1, 3] {
            let out = run_until(20, threads, |i| i * 2, || false, |_, _| {});
            assert_eq!(out, (0..20).map(|i| (i, i * 2)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn run_until_stops_taking_jobs_and_returns_a_prefix() {
        let ran = AtomicUsize::new(0);
        let out = run_until(
            u64::MAX,
            2,
            |i| i,
            || ran.load(Ordering::Relaxed) >= 10,
            |_, _| {
                ran.fetch_add(1, Ordering::Relaxed);
            },
        );
        // At most one job per thread was in flight when the stop was seen.
        assert!((10..=12).contains(&out.len()), "{}", out.len());
        let indexes: Vec<u64> = out.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, (0..out.len() as u64).collect::<Vec<_>>());
    }
}
