//! Armed faults: faults that wait for a moment instead of a time (a member becoming
//! leader, a member releasing messages that waited for a sync, a member overwriting
//! entries it had written) and then fire once, with
//! `Target::Subject` bound to that member. Timed schedules rarely land inside the short
//! windows where durability and term bugs show; these land there by construction.

use super::events::SimEvent;
use super::stepping::{small, Event};
use super::World;
use crate::nemesis::{Moment, TimedFault};
use crate::types_ext::NodeId;
use detcd_core::process::Process;

/// At most this many faults wait armed at once; later arms are dropped (and counted in
/// the event that reports the arming), so a schedule cannot grow the world without bound.
pub(super) const ARMED_MAX: usize = 16;

/// One armed fault.
pub(super) struct Armed {
    moment: Moment,
    /// True time after which it no longer fires.
    expires_us: u64,
    then: Vec<TimedFault>,
}

impl<P: Process> World<P> {
    /// Arms `then` to fire at the next `moment` within `for_us`.
    pub(super) fn arm(&mut self, moment: Moment, for_us: u64, then: &[TimedFault]) {
        let now = self.now_us;
        self.armed.retain(|a| a.expires_us >= now);
        let accepted = self.armed.len() < ARMED_MAX;
        if accepted {
            let expires_us = now.saturating_add(for_us);
            self.armed.push(Armed { moment, expires_us, then: then.to_vec() });
        }
        self.emit(SimEvent::Armed { moment, for_us, accepted });
    }

    /// `moment` happened at `node`: the oldest fault armed for it fires.
    pub(super) fn moment(&mut self, moment: Moment, node: NodeId) {
        if self.armed.is_empty() {
            return;
        }
        let now = self.now_us;
        let Some(k) = self.armed.iter().position(|a| a.moment == moment && a.expires_us >= now)
        else {
            return;
        };
        let armed = self.armed.remove(k);
        for f in &armed.then {
            self.faults.push(Some(f.action.bind_subject(node)));
            let index = self.faults.len() - 1;
            self.queue.push(now + f.at_us, Event::Fault { index: small(index as u64) });
        }
        self.emit(SimEvent::Fired { moment, node, faults: armed.then.len() as u64 });
    }
}
