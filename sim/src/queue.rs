//! The discrete event queue: events ordered by virtual time (microseconds), ties broken
//! by the order they were scheduled, so a run never depends on heap internals.
//!
//! Two lanes share one sequence counter, so the order of events is exactly that of one
//! queue: the near lane holds the busy traffic (ticks, deliveries, fsyncs); the far lane
//! holds events scheduled long ahead that mostly turn out stale (client timeouts) or sit
//! for a long time (scheduled faults), so they do not deepen the busy heap.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Scheduled<E> {
    time_us: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time_us == other.time_us && self.seq == other.seq
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Scheduled<E> {
    /// Reversed: the max-heap then pops the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time_us, other.seq).cmp(&(self.time_us, self.seq))
    }
}

/// A min-queue of events by (time, insertion sequence).
pub struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    far: BinaryHeap<Scheduled<E>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), far: BinaryHeap::new(), next_seq: 0 }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, time_us: u64, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Scheduled { time_us, seq, event });
    }

    /// Like `push`, into the far lane (same order, see the module docs).
    pub fn push_far(&mut self, time_us: u64, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.far.push(Scheduled { time_us, seq, event });
    }

    /// Whether the far lane holds the next event.
    fn far_first(&self) -> bool {
        match (self.heap.peek(), self.far.peek()) {
            (Some(near), Some(far)) => (far.time_us, far.seq) < (near.time_us, near.seq),
            (None, Some(_)) => true,
            _ => false,
        }
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<u64> {
        let lane = if self.far_first() { &self.far } else { &self.heap };
        lane.peek().map(|s| s.time_us)
    }

    pub fn pop(&mut self) -> Option<(u64, E)> {
        let lane = if self.far_first() { &mut self.far } else { &mut self.heap };
        lane.pop().map(|s| (s.time_us, s.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.far.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.far.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = EventQueue::default();
        q.push(5, "c");
        q.push(1, "a");
        q.push(5, "d");
        q.push(1, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(1, "a"), (1, "b"), (5, "c"), (5, "d")]);
    }

    #[test]
    fn the_far_lane_keeps_the_single_queue_order() {
        let mut q = EventQueue::default();
        q.push_far(5, "a");
        q.push(5, "b");
        q.push_far(1, "c");
        q.push(3, "d");
        q.push_far(5, "e");
        assert_eq!(q.len(), 5);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(1, "c"), (3, "d"), (5, "a"), (5, "b"), (5, "e")]);
        assert!(q.is_empty());
    }
}
