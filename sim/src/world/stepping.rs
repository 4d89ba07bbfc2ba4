//! The event queue and stepping: the kinds of event the world schedules, running one
//! event at a time (bounded by `events_max` and `pending_events_max`), running up to a time or a condition, and
//! dispatching each event to the part of the world that owns it.

use super::{SimError, World};
use crate::types_ext::{RequestId, SyncId};
use detcd_core::process::Process;

/// Kept small (node indices and incarnations as u32): the heap moves these around.
pub(super) enum Event {
    Tick {
        node: u32,
        generation: u32,
    },
    Deliver {
        slot: u32,
    },
    /// The fsync of `sync` finished; `ack` false when the ack was already given (lying).
    Fsync {
        node: u32,
        incarnation: u32,
        sync: SyncId,
        ack: bool,
    },
    /// A lying disk acknowledges at once.
    Ack {
        node: u32,
        incarnation: u32,
        sync: SyncId,
    },
    Invoke {
        id: RequestId,
    },
    Timeout {
        id: RequestId,
    },
    Fault {
        index: u32,
    },
}

pub(super) fn small(n: u64) -> u32 {
    u32::try_from(n).expect("fits the event encoding")
}

impl<P: Process> World<P> {
    /// Runs one event. `Ok(false)` when nothing is left to run.
    pub fn step(&mut self) -> Result<bool, SimError> {
        if let Some(v) = self.violation.as_ref().filter(|_| !self.keep_going) {
            return Err(SimError::Safety(v.clone()));
        }
        if self.stats.events >= self.options.events_max {
            return Err(SimError::EventLimit { events: self.stats.events });
        }
        if self.queue.len() as u64 > self.options.pending_events_max {
            return Err(SimError::QueueLimit { pending: self.queue.len() as u64 });
        }
        let Some((time_us, event)) = self.queue.pop() else { return Ok(false) };
        debug_assert!(time_us >= self.now_us, "time never goes back");
        self.now_us = time_us;
        self.stats.events += 1;
        self.dispatch(event);
        match &self.violation {
            Some(v) if !self.keep_going => Err(SimError::Safety(v.clone())),
            _ => Ok(true),
        }
    }

    /// Runs every event up to and including true time `until_us`, then sets the clock
    /// there.
    pub fn run_until(&mut self, until_us: u64) -> Result<(), SimError> {
        while self.queue.peek_time().is_some_and(|t| t <= until_us) {
            self.step()?;
        }
        self.now_us = self.now_us.max(until_us);
        Ok(())
    }

    /// Runs for `duration_us` of true time.
    pub fn run_for(&mut self, duration_us: u64) -> Result<(), SimError> {
        self.run_until(self.now_us + duration_us)
    }

    /// Runs until a client result is ready or `deadline_us` passes; true if one is ready.
    pub fn run_until_result(&mut self, deadline_us: u64) -> Result<bool, SimError> {
        while self.results.is_empty() && self.queue.peek_time().is_some_and(|t| t <= deadline_us) {
            self.step()?;
        }
        if self.results.is_empty() {
            self.now_us = self.now_us.max(deadline_us);
        }
        Ok(!self.results.is_empty())
    }

    /// Runs events until `done(world)` holds (checked after every event) or the next
    /// event lies past `deadline_us`; true if `done` held. Lets a workload react to what
    /// happens (a completion, a leader, an applied index) without polling by time.
    pub fn run_until_with(
        &mut self,
        deadline_us: u64,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<bool, SimError> {
        loop {
            if done(self) {
                return Ok(true);
            }
            if self.queue.peek_time().is_none_or(|t| t > deadline_us) {
                self.now_us = self.now_us.max(deadline_us);
                return Ok(false);
            }
            self.step()?;
        }
    }

    pub(super) fn dispatch(&mut self, event: Event) {
        match event {
            Event::Tick { node, generation } => self.on_tick(node as usize, u64::from(generation)),
            Event::Deliver { slot } => self.on_deliver(slot as usize),
            Event::Fsync { node, incarnation, sync, ack } => {
                let (node, incarnation) = (node as usize, u64::from(incarnation));
                self.on_fsync(node, incarnation, sync, ack)
            }
            Event::Ack { node, incarnation, sync } => {
                let (node, incarnation) = (node as usize, u64::from(incarnation));
                if self.nodes[node].incarnation == incarnation && self.nodes[node].process.is_some()
                {
                    self.acknowledge(node, sync);
                }
            }
            Event::Invoke { id } => self.on_invoke(id),
            Event::Timeout { id } => self.on_timeout(id),
            Event::Fault { index } => {
                if let Some(action) = self.faults[index as usize].take() {
                    self.apply_fault(&action);
                }
            }
        }
    }
}
