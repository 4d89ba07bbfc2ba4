//! Runs a closure under a `tracing` subscriber that writes JSON lines into memory, so a
//! test can read the structured events a run emitted.

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `f`'s result, and every event it emitted at `level` or above, one JSON object a line.
pub fn capture<R>(level: tracing::Level, f: impl FnOnce() -> R) -> (R, String) {
    let buf = Buffer::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_writer(move || sink.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().expect("not poisoned").clone()).expect("utf-8");
    (out, text)
}
