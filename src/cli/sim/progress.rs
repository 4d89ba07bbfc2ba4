//! How a running sweep shows itself: on a terminal a progress bar with the ETA and the
//! failure count; elsewhere (a CI log) a plain line every few seconds. Also the
//! interrupt: the first SIGINT or SIGTERM asks the sweep to stop and report what it
//! has, a second one ends the program at once.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit status after an interrupt that found no failure (128 + SIGINT, as shells use).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Installs the SIGINT/SIGTERM handler. The sweep polls [`interrupted`] between runs;
/// a second signal exits at once, for a run that will not finish.
pub fn install_interrupt_handler() {
    let result = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: exiting without a summary");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!(
            "\ninterrupted: finishing the runs in flight, then the summary so far \
             (interrupt again to quit at once)"
        );
    });
    if let Err(e) = result {
        eprintln!("warning: cannot catch interrupts ({e}); an interrupted sweep prints nothing");
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Progress of one scenario's seeds.
pub struct Progress {
    name: String,
    /// Seeds planned; `None` when a time budget decides.
    total: Option<u64>,
    started: Instant,
    done: AtomicU64,
    failed: AtomicU64,
    bar: Option<ProgressBar>,
    /// Off a terminal: when the last line was printed, and how often to print one.
    last_line: Mutex<Instant>,
    every: Duration,
}

impl Progress {
    /// Off a terminal, `every` zero prints no progress lines.
    pub fn new(name: &str, total: Option<u64>, every: Duration, paint_on: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            // Hidden until styled, so its first frame already shows the failure count.
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
            let template = match (total.is_some(), paint_on) {
                (true, true) => {
                    "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} seeds, {msg}, ETA {eta}"
                }
                (true, false) => "{prefix} [{bar:30}] {pos}/{len} seeds, {msg}, ETA {eta}",
                (false, _) => "{spinner} {prefix} {pos} seeds, {msg}, {elapsed} of the time budget",
            };
            let style = ProgressStyle::with_template(template)
                .expect("the template is valid")
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(name.to_string());
            bar.set_message("0 failed");
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar
        });
        Progress {
            name: name.to_string(),
            total,
            started: Instant::now(),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bar,
            last_line: Mutex::new(Instant::now()),
            every,
        }
    }

    /// One seed finished.
    pub fn seed_done(&self, failed: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let failures =
            self.failed.fetch_add(u64::from(failed), Ordering::Relaxed) + u64::from(failed);
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("{failures} failed"));
            return;
        }
        if self.every.is_zero() {
            return;
        }
        let mut last = self.last_line.lock().expect("no panic while printing");
        if last.elapsed() >= self.every {
            *last = Instant::now();
            let of = self.total.map_or(String::new(), |t| format!("/{t}"));
            eprintln!(
                "progress: {}: {done}{of} seeds, {failures} failed, {:.0}s",
                self.name,
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    /// Seeds finished so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
