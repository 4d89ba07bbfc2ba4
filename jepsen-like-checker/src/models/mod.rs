//! The built-in models: a read/write register, the compare-and-set register of Jepsen's
//! etcd tests (alone or one per independent key), a key-value map checked key by key,
//! and etcd's own API with revisions.

pub mod cas_per_key;
pub mod cas_register;
pub mod etcd;
pub mod kv;
pub mod register;

pub use cas_per_key::{CasPerKey, KeyedCas};
pub use cas_register::{CasInput, CasOutput, CasRegister};
pub use etcd::Etcd;
pub use kv::{Kv, KvInput, KvOutput};
pub use register::{Register, RegisterInput, RegisterOutput};

/// A register value in words.
pub(crate) fn describe_value(value: Option<i64>) -> String {
    match value {
        Some(v) => v.to_string(),
        None => "nil".to_string(),
    }
}
