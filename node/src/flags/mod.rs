//! `detcd serve`'s configuration: etcd 3.4's own flag names, defaults and `ETCD_*`
//! environment variables, checked into a typed configuration before anything touches the
//! disk or the network.

mod compaction;
mod url;

pub use compaction::{AutoCompaction, CompactionMode};
pub use url::{Host, Scheme, Url, UrlError};
