//! Histories: what the clients saw. An operation has a client, an input, a call time and
//! either a return time with an output or an unknown outcome. Intervals are closed: two
//! operations whose call and return times are equal overlap.
//!
//! A history can also be built from an ordered event list (invoke / ok / fail / info), as
//! Jepsen records it; there the position of an event in the list is its time.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One operation. `ret == None` means the outcome is unknown: the operation may take
/// effect at any point after `call`, or never, and `output` is then `None` too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation<I, O> {
    pub client: u64,
    pub call: u64,
    #[serde(rename = "return")]
    pub ret: Option<u64>,
    pub input: I,
    pub output: Option<O>,
}

impl<I, O> Operation<I, O> {
    pub fn is_unknown(&self) -> bool {
        self.ret.is_none()
    }
}

/// Why an operation cannot be part of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryError {
    /// Operation `index` returns before it is called.
    ReturnBeforeCall { index: usize, call: u64, ret: u64 },
    /// Operation `index` has a return time but no output, or an output but no return time.
    OutputMismatch { index: usize },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::ReturnBeforeCall { index, call, ret } => {
                write!(f, "operation {index} returns at {ret}, before its call at {call}")
            }
            HistoryError::OutputMismatch { index } => write!(
                f,
                "operation {index}: a return time needs an output and an output needs a \
                 return time (use null for both when the outcome is unknown)"
            ),
        }
    }
}

impl std::error::Error for HistoryError {}

/// A list of operations, in no particular order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History<I, O> {
    ops: Vec<Operation<I, O>>,
}

impl<I, O> Default for History<I, O> {
    fn default() -> Self {
        History { ops: Vec::new() }
    }
}

impl<I, O> History<I, O> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an operation and returns its index.
    pub fn push(&mut self, op: Operation<I, O>) -> Result<usize, HistoryError> {
        let index = self.ops.len();
        if let Some(ret) = op.ret {
            if ret < op.call {
                return Err(HistoryError::ReturnBeforeCall { index, call: op.call, ret });
            }
        }
        if op.ret.is_some() != op.output.is_some() {
            return Err(HistoryError::OutputMismatch { index });
        }
        self.ops.push(op);
        Ok(index)
    }

    /// Adds an operation that returned `output` at `ret`.
    pub fn returned(
        &mut self,
        client: u64,
        call: u64,
        ret: u64,
        input: I,
        output: O,
    ) -> Result<usize, HistoryError> {
        self.push(Operation { client, call, ret: Some(ret), input, output: Some(output) })
    }

    /// Adds an operation whose outcome is unknown.
    pub fn unknown(&mut self, client: u64, call: u64, input: I) -> Result<usize, HistoryError> {
        self.push(Operation { client, call, ret: None, input, output: None })
    }

    pub fn ops(&self) -> &[Operation<I, O>] {
        &self.ops
    }

    pub fn get(&self, index: usize) -> &Operation<I, O> {
        &self.ops[index]
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Builds a history from an ordered event list; see [`EventLog`].
    pub fn from_events(events: impl IntoIterator<Item = Event<I, O>>) -> Result<Self, EventError> {
        let mut log = EventLog::new();
        for event in events {
            log.record(event)?;
        }
        Ok(log.finish())
    }
}

/// One entry of an event list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<I, O> {
    /// The client starts an operation.
    Invoke { client: u64, input: I },
    /// The client's pending operation completed with `output`.
    Ok { client: u64, output: O },
    /// The client's pending operation definitely did not happen; it is dropped.
    Fail { client: u64 },
    /// The client does not know whether its pending operation happened.
    Info { client: u64 },
}

/// An event that does not fit the events before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// Event `event` invokes an operation on a client that already has one pending.
    AlreadyPending { event: usize, client: u64 },
    /// Event `event` completes an operation on a client that has none pending.
    NothingPending { event: usize, client: u64 },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::AlreadyPending { event, client } => write!(
                f,
                "event {event}: client {client} invokes an operation while its previous one \
                 is still pending"
            ),
            EventError::NothingPending { event, client } => {
                write!(f, "event {event}: client {client} completes an operation it never invoked")
            }
        }
    }
}

impl std::error::Error for EventError {}

/// Turns events into operations as they arrive; an event's position is its time. An
/// operation still pending at `finish` has an unknown outcome, like one ended by `Info`.
#[derive(Debug)]
pub struct EventLog<I, O> {
    history: History<I, O>,
    pending: BTreeMap<u64, (u64, I)>,
    time: u64,
}

impl<I, O> Default for EventLog<I, O> {
    fn default() -> Self {
        EventLog { history: History::new(), pending: BTreeMap::new(), time: 0 }
    }
}

impl<I, O> EventLog<I, O> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `client` has an operation in flight.
    pub fn is_pending(&self, client: u64) -> bool {
        self.pending.contains_key(&client)
    }

    pub fn record(&mut self, event: Event<I, O>) -> Result<(), EventError> {
        let now = self.time;
        let event_index = now as usize;
        self.time += 1;
        match event {
            Event::Invoke { client, input } => {
                if self.pending.contains_key(&client) {
                    return Err(EventError::AlreadyPending { event: event_index, client });
                }
                self.pending.insert(client, (now, input));
            }
            Event::Ok { client, output } => {
                let (call, input) = self
                    .pending
                    .remove(&client)
                    .ok_or(EventError::NothingPending { event: event_index, client })?;
                self.history
                    .returned(client, call, now, input, output)
                    .expect("event times only grow");
            }
            Event::Fail { client } => {
                self.pending
                    .remove(&client)
                    .ok_or(EventError::NothingPending { event: event_index, client })?;
            }
            Event::Info { client } => {
                let (call, input) = self
                    .pending
                    .remove(&client)
                    .ok_or(EventError::NothingPending { event: event_index, client })?;
                self.history.unknown(client, call, input).expect("unknown operations are valid");
            }
        }
        Ok(())
    }

    /// The history; operations still pending become unknown.
    pub fn finish(mut self) -> History<I, O> {
        for (client, (call, input)) in std::mem::take(&mut self.pending) {
            self.history.unknown(client, call, input).expect("unknown operations are valid");
        }
        self.history
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_operations() {
        let events = vec![
            Event::Invoke { client: 1, input: "w1" },
            Event::Invoke { client: 2, input: "r" },
            Event::Ok { client: 1, output: "ok" },
            Event::Fail { client: 2 },
            Event::Invoke { client: 2, input: "w2" },
            Event::Info { client: 2 },
            Event::Invoke { client: 3, input: "w3" },
        ];
        let h = History::from_events(events).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.get(0),
            &Operation { client: 1, call: 0, ret: Some(2), input: "w1", output: Some("ok") }
        );
        assert_eq!(
            h.get(1),
            &Operation { client: 2, call: 4, ret: None, input: "w2", output: None }
        );
        assert_eq!(
            h.get(2),
            &Operation { client: 3, call: 6, ret: None, input: "w3", output: None }
        );
    }

    #[test]
    fn events_out_of_order_are_errors() {
        let e = History::<&str, &str>::from_events(vec![Event::Ok { client: 1, output: "x" }]);
        assert_eq!(e, Err(EventError::NothingPending { event: 0, client: 1 }));
        let e = History::<&str, &str>::from_events(vec![
            Event::Invoke { client: 1, input: "a" },
            Event::Invoke { client: 1, input: "b" },
        ]);
        assert_eq!(e, Err(EventError::AlreadyPending { event: 1, client: 1 }));
    }

    #[test]
    fn bad_operations_are_refused() {
        let mut h = History::<(), ()>::new();
        assert!(h.returned(0, 5, 4, (), ()).is_err());
        assert!(h
            .push(Operation { client: 0, call: 1, ret: Some(2), input: (), output: None })
            .is_err());
        assert!(h.returned(0, 5, 5, (), ()).is_ok());
    }
}
