//! Running many (scenario, seed) jobs on several threads. Each run is deterministic on
//! its own; threads only change which run finishes first, and results come back in job
//! order so a sweep's output is the same whatever the thread count.

use std::sync::atomic::{AtomicUsize, Ordering};
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
}
