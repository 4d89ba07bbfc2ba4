//! [`Pacer`]: holds a run to --rate requests per second over all its clients, as a
//! token bucket of one token (the limiter of etcd's benchmark tool and of `etcdctl
//! check perf`). A client that comes late is not owed the slots it missed, so a server
//! that falls behind gets no burst of catch-up requests, only the rate it can take.
//!
//! Slots are exact; the sleep to one is not: tokio's timer has millisecond ticks, so at
//! rates above 1 000/s the clients whose slots fall in one millisecond go together, and
//! the rate holds over each millisecond rather than between two requests.

use std::time::Duration;
use tokio::time::Instant;

/// Highest --rate: one request per microsecond, finer than any timer sleeps.
pub const RATE_MAX: u64 = 1_000_000;

pub struct Pacer {
    interval: Duration,
    /// The first slot not yet handed out; None before the first request.
    next: Option<Instant>,
}

impl Pacer {
    /// A pacer of `rate` requests per second, 1 to [`RATE_MAX`].
    pub fn new(rate: u64) -> Pacer {
        assert!((1..=RATE_MAX).contains(&rate), "rate {rate} is checked by the arguments");
        Pacer { interval: Duration::from_nanos(1_000_000_000 / rate), next: None }
    }

    /// When a request asked for at `now` may go: the next free slot, or `now` if that
    /// slot has passed (a missed slot is not given to anyone later).
    pub fn slot(&mut self, now: Instant) -> Instant {
        let slot = match self.next {
            Some(next) if next > now => next,
            _ => now,
        };
        self.next = Some(slot + self.interval);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn requests_asked_together_are_spaced_at_the_rate() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1_000);
        let slots: Vec<_> = (0..4).map(|_| p.slot(t0) - t0).collect();
        assert_eq!(slots, vec![ms(0), ms(1), ms(2), ms(3)]);
    }

    #[test]
    fn a_late_client_gets_no_burst_of_missed_slots() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1_000);
        assert_eq!(p.slot(t0), t0);
        // 10 ms later: nine slots passed unused. Two clients asking now get one slot
        // now and the next one interval later, not ten at once.
        let late = t0 + ms(10);
        assert_eq!(p.slot(late), late);
        assert_eq!(p.slot(late), late + ms(1));
    }

    #[test]
    fn a_request_inside_its_interval_waits_for_the_slot() {
        let t0 = Instant::now();
        let mut p = Pacer::new(4);
        assert_eq!(p.slot(t0), t0);
        assert_eq!(p.slot(t0 + ms(100)), t0 + ms(250));
    }

    #[test]
    #[should_panic(expected = "checked by the arguments")]
    fn a_rate_of_zero_is_refused() {
        Pacer::new(0);
    }
}
