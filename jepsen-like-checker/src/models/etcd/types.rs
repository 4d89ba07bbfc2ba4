//! The etcd model's operations, as plain data: a subset of etcd's KV API (Range, Put,
//! DeleteRange, Txn) with the response fields that linearizability can check — values,
//! each key's create/mod revision and version, and the response header's revision.

use serde::{Deserialize, Serialize};

/// Which keys a Range or DeleteRange covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRange {
    /// Exactly this key.
    Key(String),
    /// Every key starting with this prefix (etcd's `--prefix`).
    Prefix(String),
    /// Keys in `[start, end)` (etcd's `key` and `range_end`).
    Span { start: String, end: String },
}

impl KeyRange {
    pub fn contains(&self, key: &str) -> bool {
        match self {
            KeyRange::Key(k) => k == key,
            KeyRange::Prefix(p) => key.starts_with(p.as_str()),
            KeyRange::Span { start, end } => start.as_str() <= key && key < end.as_str(),
        }
    }
}

/// A request, as a client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Range {
        range: KeyRange,
    },
    Put {
        key: String,
        value: String,
        #[serde(default)]
        prev_kv: bool,
    },
    DeleteRange {
        range: KeyRange,
        #[serde(default)]
        prev_kv: bool,
    },
    Txn {
        #[serde(default)]
        compare: Vec<Compare>,
        #[serde(default)]
        success: Vec<Request>,
        #[serde(default)]
        failure: Vec<Request>,
    },
}

/// One compare of a Txn, on a single key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    pub key: String,
    pub target: CompareTarget,
    pub result: CompareResult,
}

/// What a compare looks at, and the operand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareTarget {
    Value(String),
    Version(i64),
    CreateRevision(i64),
    ModRevision(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareResult {
    Equal,
    NotEqual,
    Greater,
    Less,
}

/// A key's state as etcd reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
}

/// A response: the header's revision and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub revision: i64,
    pub body: ResponseBody,
}

/// The checked part of a response body. Inside a Txn, each request has its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ResponseBody {
    /// The keys in range, sorted by key.
    Range {
        kvs: Vec<KeyValue>,
    },
    /// The previous key-value, when `prev_kv` was asked for and the key existed.
    Put {
        #[serde(default)]
        prev_kv: Option<KeyValue>,
    },
    /// How many keys were deleted; their previous values when `prev_kv` was asked for.
    DeleteRange {
        deleted: i64,
        #[serde(default)]
        prev_kvs: Vec<KeyValue>,
    },
    Txn {
        succeeded: bool,
        responses: Vec<ResponseBody>,
    },
}
