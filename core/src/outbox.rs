//! The driver's half of the durability contract: messages a node sent with
//! `Effect::Send { after: Some(sync) }` wait here until persist request `sync` is
//! durable. Every driver (the simulator's world, the in-test networks, the benchmarks,
//! the real node) holds its sends in an [`Outbox`], so they cannot disagree on when a
//! message may go on the wire.

use crate::types::SyncId;

/// Sends held until the persist they depend on is durable.
///
/// # Contract
///
/// A node tags a message with `after: Some(sync)` when its truth rests on state it has
/// only asked to make durable: a vote grant states its term and vote, an append
/// acknowledgement states the entries it holds. Raft Figure 2 says servers "respond to
/// RPCs only after updating stable storage"; sending earlier lets a crash lose a vote
/// or entries that a quorum already counted. The driver therefore:
///
/// 1. passes every `Send { msg, after }` to [`send`](Outbox::send) and puts on the wire
///    whatever it returns (at once when `after` is `None` or already acknowledged);
/// 2. when persist `sync` is durable, calls [`persisted`](Outbox::persisted) and puts the
///    released messages on the wire, in the order they were held (the order the node
///    sent them), then tells the node with its own `persisted(sync)`;
/// 3. on a crash calls [`crash`](Outbox::crash): held messages die with the process, and
///    the next incarnation numbers its persist requests afresh, so no acknowledgement
///    carries over.
///
/// Acknowledgements are cumulative and monotone: `persisted(s)` acknowledges every
/// request up to `s`, and an older acknowledgement arriving after a newer one changes
/// nothing.
///
/// `M` is whatever the driver wants to hold: the message itself, or a handle to it.
#[derive(Clone, Debug)]
pub struct Outbox<M = crate::raft::Message> {
    /// (after, message), in the order they were held.
    held: Vec<(SyncId, M)>,
    /// Highest persist acknowledged to this incarnation.
    acked: Option<SyncId>,
}

impl<M> Default for Outbox<M> {
    fn default() -> Self {
        Outbox { held: Vec::new(), acked: None }
    }
}

impl<M> Outbox<M> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A `Send { msg, after }` effect: returns `Some(msg)` when it may go on the wire
    /// now (`after` is `None`, or that sync is already acknowledged), otherwise holds it.
    pub fn send(&mut self, msg: M, after: Option<SyncId>) -> Option<M> {
        match after {
            Some(s) if self.acked.is_none_or(|a| a < s) => {
                self.held.push((s, msg));
                None
            }
            _ => Some(msg),
        }
    }

    /// Persist `sync` (and every earlier one) is durable: moves every held message whose
    /// `after <= sync` into `out`, in the order they were held.
    pub fn persisted(&mut self, sync: SyncId, out: &mut Vec<M>) {
        if self.acked.is_some_and(|a| a >= sync) {
            // Everything up to `sync` went out when the newer acknowledgement came.
            return;
        }
        self.acked = Some(sync);
        // A node's `after` tags only grow, so the releasable messages are usually a
        // prefix; the general case keeps the rest in order.
        let ready = self.held.iter().take_while(|(after, _)| *after <= sync).count();
        out.extend(self.held.drain(..ready).map(|(_, m)| m));
        if self.held.iter().any(|(after, _)| *after <= sync) {
            let held = std::mem::take(&mut self.held);
            for (after, m) in held {
                if after <= sync {
                    out.push(m);
                } else {
                    self.held.push((after, m));
                }
            }
        }
    }

    /// The process crashed: forget every held message and the acknowledged sync.
    pub fn crash(&mut self) {
        self.held.clear();
        self.acked = None;
    }

    /// How many messages are held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Highest sync acknowledged so far.
    pub fn acked(&self) -> Option<SyncId> {
        self.acked
    }
}

#[cfg(test)]
mod tests {
    use super::Outbox;

    fn released(o: &mut Outbox<&'static str>, sync: u64) -> Vec<&'static str> {
        let mut out = Vec::new();
        o.persisted(sync, &mut out);
        out
    }

    #[test]
    fn untagged_sends_go_at_once() {
        let mut o = Outbox::new();
        assert_eq!(o.send("a", None), Some("a"));
        assert_eq!(o.held(), 0);
        assert_eq!(o.acked(), None);
    }

    #[test]
    fn nothing_goes_before_its_persist() {
        let mut o = Outbox::new();
        assert_eq!(o.send("a", Some(1)), None);
        assert_eq!(o.send("b", Some(2)), None);
        assert_eq!(o.held(), 2);
        assert_eq!(released(&mut o, 1), vec!["a"]);
        assert_eq!(o.held(), 1);
        assert_eq!(released(&mut o, 2), vec!["b"]);
        assert_eq!(o.held(), 0);
    }

    #[test]
    fn release_is_in_hold_order() {
        let mut o = Outbox::new();
        for (m, s) in [("a", 1), ("b", 3), ("c", 2), ("d", 1), ("e", 4)] {
            assert_eq!(o.send(m, Some(s)), None);
        }
        assert_eq!(released(&mut o, 2), vec!["a", "c", "d"]);
        assert_eq!(released(&mut o, 4), vec!["b", "e"]);
    }

    #[test]
    fn acknowledged_syncs_do_not_hold() {
        let mut o = Outbox::new();
        assert!(released(&mut o, 3).is_empty());
        assert_eq!(o.send("a", Some(2)), Some("a"));
        assert_eq!(o.send("b", Some(3)), Some("b"));
        assert_eq!(o.send("c", Some(4)), None);
    }

    #[test]
    fn acks_are_monotone() {
        let mut o = Outbox::new();
        o.send("a", Some(1));
        o.send("b", Some(5));
        assert_eq!(released(&mut o, 3), vec!["a"]);
        assert_eq!(o.acked(), Some(3));
        assert!(released(&mut o, 2).is_empty());
        assert_eq!(o.acked(), Some(3), "an older ack does not move acked back");
        assert_eq!(o.send("c", Some(3)), Some("c"));
        assert_eq!(o.held(), 1);
    }

    #[test]
    fn crash_forgets_held_and_acked() {
        let mut o = Outbox::new();
        o.send("a", Some(2));
        released(&mut o, 1);
        o.crash();
        assert_eq!(o.held(), 0);
        assert_eq!(o.acked(), None);
        // The new incarnation's sync 1 is not the old one's.
        assert_eq!(o.send("b", Some(1)), None);
        assert_eq!(released(&mut o, 2), vec!["b"]);
    }
}
