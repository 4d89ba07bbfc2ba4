//! The etcd v3 API as plain Rust values, independent of protobuf: requests, responses
//! and errors with etcdserverpb's field names. The gRPC layer converts to and from these;
//! the core (MVCC, leases, watches, the server state machine) speaks only these.

mod auth;
mod error;
mod kv;
mod lease;
mod watch;

pub use auth::*;
pub use error::{Code, EtcdError, WatchError};
pub use kv::*;
pub use lease::*;
pub use watch::*;

/// A lease identifier; 0 means "no lease".
pub type LeaseId = i64;
/// A watch identifier, unique within one watch stream; -1 is "no watcher"
/// (progress answers and failed creates).
pub type WatchId = i64;
/// The watch id etcd puts on progress answers and rejected creates.
pub const INVALID_WATCH_ID: WatchId = -1;
