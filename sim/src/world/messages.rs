//! Messages in flight: the slab that holds them while the event queue names them by
//! slot, putting a send on the network (drop, delay, duplicate, reorder) and
//! delivering it (or dropping it at a crashed or cut-off receiver).

use super::events::{msg_code, msg_detail};
use super::stepping::{small, Event};
use super::{World, TARGET};
use crate::network::Fate;
use crate::trace::EventKind;
use detcd_core::process::Process;
use detcd_core::raft::Message;
use tracing::debug;

/// Messages in flight live here; events name them by slot so the heap stays small.
#[derive(Default)]
pub(super) struct Slab {
    pub(super) items: Vec<Option<Message>>,
    pub(super) free: Vec<usize>,
}

impl Slab {
    pub(super) fn insert(&mut self, msg: Message) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.items[i] = Some(msg);
                i
            }
            None => {
                self.items.push(Some(msg));
                self.items.len() - 1
            }
        }
    }

    pub(super) fn take(&mut self, i: usize) -> Message {
        let msg = self.items[i].take().expect("message slot in use");
        self.free.push(i);
        msg
    }
}

impl<P: Process> World<P> {
    pub(super) fn on_deliver(&mut self, slot_id: usize) {
        let now = self.now_us;
        let msg = self.msgs.take(slot_id);
        let (from, to, code) = (msg.from, msg.to, msg_code(&msg));
        let Some(i) = self.slot_index(to) else { return };
        let reason = if self.nodes[i].process.is_none() {
            Some("crashed")
        } else if self.network.is_cut(from, to) {
            Some("partitioned")
        } else {
            None
        };
        if let Some(reason) = reason {
            self.stats.dropped += 1;
            self.trace.record(now, EventKind::Drop, &[from, to, code, 1]);
            debug!(target: TARGET, t_us = now, node = from, peer = to, kind = msg.kind(), reason, "drop");
            return;
        }
        self.stats.delivered += 1;
        self.trace.record(now, EventKind::Deliver, &[from, to, code, msg.term]);
        debug!(
            target: TARGET,
            t_us = now,
            node = to,
            peer = from,
            kind = msg.kind(),
            term = msg.term,
            detail = msg_detail(&msg),
            "deliver"
        );
        self.nodes[i].process.as_mut().expect("checked running").receive(msg);
        self.pump(i);
        self.check(i);
    }

    /// Puts a message on the network.
    pub(super) fn send(&mut self, msg: Message) {
        let now = self.now_us;
        let (from, to, code) = (msg.from, msg.to, msg_code(&msg));
        self.stats.sent += 1;
        self.trace.record(now, EventKind::Send, &[from, to, code, msg.term]);
        debug!(
            target: TARGET,
            t_us = now,
            node = from,
            peer = to,
            kind = msg.kind(),
            term = msg.term,
            detail = msg_detail(&msg),
            "send"
        );
        match self.network.route(&mut self.rng_network, from, to) {
            fate @ (Fate::Partitioned | Fate::Dropped) => {
                let (reason, why) = match fate {
                    Fate::Partitioned => ("partitioned", 0),
                    _ => ("random", 2),
                };
                self.stats.dropped += 1;
                self.trace.record(now, EventKind::Drop, &[from, to, code, why]);
                debug!(target: TARGET, t_us = now, node = from, peer = to, kind = msg.kind(), reason, "drop");
            }
            Fate::Deliver { delay_us, duplicate_us, reordered } => {
                if reordered {
                    self.trace.record(now, EventKind::Reorder, &[from, to, code, delay_us]);
                    debug!(target: TARGET, t_us = now, node = from, peer = to, delay_us, "reorder");
                }
                if let Some(d) = duplicate_us {
                    self.stats.duplicated += 1;
                    self.trace.record(now, EventKind::Duplicate, &[from, to, code, d]);
                    debug!(target: TARGET, t_us = now, node = from, peer = to, kind = msg.kind(), "duplicate");
                    let copy = self.msgs.insert(msg.clone());
                    self.queue.push(now + d, Event::Deliver { slot: small(copy as u64) });
                }
                let m = self.msgs.insert(msg);
                self.queue.push(now + delay_us, Event::Deliver { slot: small(m as u64) });
            }
        }
    }

    /// A message still in flight, for tests that inspect the network.
    pub fn in_flight(&self) -> usize {
        self.msgs.items.iter().filter(|m| m.is_some()).count()
    }
}
