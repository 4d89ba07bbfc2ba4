//! Watch service values.

use super::{Event, ResponseHeader, WatchId};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FilterType {
    NoPut,
    NoDelete,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WatchCreateRequest {
    pub key: Bytes,
    /// Same rules as a range: empty = one key, "\0" = every key >= key.
    pub range_end: Bytes,
    /// Inclusive; 0 = the current revision + 1.
    pub start_revision: i64,
    pub progress_notify: bool,
    pub filters: Vec<FilterType>,
    pub prev_kv: bool,
    /// 0 = the server picks.
    pub watch_id: WatchId,
    pub fragment: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WatchCancelRequest {
    pub watch_id: WatchId,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WatchProgressRequest {}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WatchRequest {
    Create(WatchCreateRequest),
    Cancel(WatchCancelRequest),
    Progress(WatchProgressRequest),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WatchResponse {
    pub header: ResponseHeader,
    pub watch_id: WatchId,
    pub created: bool,
    pub canceled: bool,
    pub compact_revision: i64,
    pub cancel_reason: String,
    pub fragment: bool,
    pub events: Vec<Event>,
}
