//! The progress bar `detcd bench` draws on a terminal while a run lasts: requests done
//! (of --total, when there is one), the rate so far and the time left. It is drawn on
//! stderr and only when stderr is a terminal and no --json was asked for, so piped or
//! scripted output stays clean.

use super::run::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
#[cfg(not(madsim))]
use std::time::Duration;

/// Redraws per second are bounded by this period.
#[cfg(not(madsim))]
const REDRAW_EVERY: Duration = Duration::from_millis(200);

pub(super) struct Progress {
    #[cfg(not(madsim))]
    shown: Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)>,
}

impl Progress {
    /// Starts drawing when `wanted` and stderr is a terminal; `length` is how many
    /// measurements the run will make, if known.
    pub fn start(shared: Arc<Shared>, length: Option<u64>, wanted: bool) -> Progress {
        #[cfg(not(madsim))]
        {
            use std::io::IsTerminal;
            if !wanted || !std::io::stderr().is_terminal() {
                return Progress { shown: None };
            }
            let bar = match length {
                Some(n) => indicatif::ProgressBar::new(n).with_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} {per_sec} {elapsed_precise} (eta {eta})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                ),
                None => indicatif::ProgressBar::new_spinner().with_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {pos} requests {per_sec} {elapsed_precise}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                ),
            };
            let drawn = bar.clone();
            // Clients only bump an atomic counter; this task alone touches the bar, so
            // drawing never slows a request.
            let task = tokio::spawn(async move {
                loop {
                    drawn.set_position(shared.finished.load(Ordering::Relaxed));
                    drawn.tick();
                    tokio::time::sleep(REDRAW_EVERY).await;
                }
            });
            Progress { shown: Some((bar, task)) }
        }
        #[cfg(madsim)]
        {
            let _ = (shared.finished.load(Ordering::Relaxed), length, wanted);
            Progress {}
        }
    }

    /// Stops drawing and clears the bar, so the summary prints on a clean line.
    pub fn finish(self) {
        #[cfg(not(madsim))]
        if let Some((bar, task)) = self.shown {
            task.abort();
            bar.finish_and_clear();
        }
    }
}
