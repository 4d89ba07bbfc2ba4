//! Messages in flight: the slab that holds them while the event queue names them by
//! slot, putting a send on the network (drop, delay, duplicate, reorder) and
//! delivering it (or dropping it at a crashed or cut-off receiver).

use super::events::{DropReason, MsgHead, SimEvent};
use super::stepping::{small, Event};
use super::World;
use crate::network::Fate;
use detcd_core::process::Process;
use detcd_core::raft::Message;

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
        let msg = self.msgs.take(slot_id);
        let head = MsgHead::of(&msg);
        let Some(i) = self.slot_index(head.to) else { return };
        let reason = if self.nodes[i].process.is_none() {
            Some(DropReason::ReceiverDown)
        } else if self.network.is_cut(head.from, head.to) {
            Some(DropReason::CutInFlight)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.stats.dropped += 1;
            self.emit(SimEvent::Drop { msg: head, reason });
            return;
        }
        self.stats.delivered += 1;
        self.emit(SimEvent::Deliver { msg: head });
        self.nodes[i].process.as_mut().expect("checked running").receive(msg);
        self.pump(i);
        self.check(i);
    }

    /// Puts a message on the network.
    pub(super) fn send(&mut self, msg: Message) {
        let now = self.now_us;
        let head = MsgHead::of(&msg);
        self.stats.sent += 1;
        self.emit(SimEvent::Send { msg: head });
        if self.options.check_raft_safety {
            if let Some(i) = self.slot_index(head.from) {
                let disk = &self.nodes[i].disk.durable;
                if let Some(kind) = self.safety.promises.sent(&msg, disk) {
                    self.flag(head.from, kind);
                }
            }
        }
        match self.network.route(&mut self.rng_network, head.from, head.to) {
            fate @ (Fate::Partitioned | Fate::Dropped) => {
                let reason = match fate {
                    Fate::Partitioned => DropReason::CutAtSend,
                    _ => DropReason::Random,
                };
                self.stats.dropped += 1;
                self.emit(SimEvent::Drop { msg: head, reason });
            }
            Fate::Deliver { delay_us, duplicate_us, reordered } => {
                if reordered {
                    self.emit(SimEvent::Reorder { msg: head, delay_us });
                }
                if let Some(d) = duplicate_us {
                    self.stats.duplicated += 1;
                    self.emit(SimEvent::Duplicate { msg: head, delay_us: d });
                    let copy = self.msgs.insert(msg.clone());
                    self.queue.push(now + d, Event::Deliver { slot: small(copy as u64) });
                }
                // UNSAFE storm: extra copies at the same delay as the original.
                for _ in 0..self.network.options.storm_copies {
                    self.stats.duplicated += 1;
                    self.emit(SimEvent::Duplicate { msg: head, delay_us });
                    let copy = self.msgs.insert(msg.clone());
                    self.queue.push(now + delay_us, Event::Deliver { slot: small(copy as u64) });
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
