//! Capturing a run's `tracing` events as plain records (name, level, fields) so one
//! replay can be written as JSON lines. (The step log and time line read the world's
//! typed events instead.)

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// One captured event. `fields` holds every structured field as text, in name order;
/// the event's message (if any) is under "message".
#[derive(Clone, Debug, Serialize)]
pub struct TraceRecord {
    pub level: String,
    pub target: String,
    pub fields: BTreeMap<String, String>,
}

impl TraceRecord {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub fn u64_field(&self, name: &str) -> Option<u64> {
        self.field(name).and_then(|v| v.parse().ok())
    }

    /// The event's name: its `event` field, else its message.
    pub fn name(&self) -> &str {
        self.field("event").or_else(|| self.field("message")).unwrap_or("")
    }
}

/// A `tracing` layer that appends every event at or above `level` to a shared list.
#[derive(Clone)]
pub struct CaptureLayer {
    records: Arc<Mutex<Vec<TraceRecord>>>,
    level: Level,
}

impl CaptureLayer {
    pub fn new(level: Level) -> Self {
        CaptureLayer { records: Arc::new(Mutex::new(Vec::new())), level }
    }

    /// Everything captured so far.
    pub fn take(&self) -> Vec<TraceRecord> {
        std::mem::take(&mut *self.records.lock().expect("capture lock"))
    }
}

struct FieldVisitor<'a>(&'a mut BTreeMap<String, String>);

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.level {
            return;
        }
        let mut fields = BTreeMap::new();
        event.record(&mut FieldVisitor(&mut fields));
        let record = TraceRecord {
            level: level.to_string(),
            target: event.metadata().target().to_string(),
            fields,
        };
        self.records.lock().expect("capture lock").push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn captures_structured_fields() {
        let layer = CaptureLayer::new(Level::DEBUG);
        let subscriber = tracing_subscriber::registry().with(layer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(event = "crash", node = 2u64, time_us = 1500u64);
            tracing::trace!(event = "tick", node = 1u64);
        });
        let records = layer.take();
        assert_eq!(records.len(), 1, "trace-level events are below the capture level");
        assert_eq!(records[0].name(), "crash");
        assert_eq!(records[0].u64_field("node"), Some(2));
        assert_eq!(records[0].u64_field("time_us"), Some(1500));
    }
}
