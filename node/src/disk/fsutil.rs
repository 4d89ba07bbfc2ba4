//! Small filesystem helpers shared by the WAL and snapshot code.

use super::error::DiskError;
use std::fs::File;
use std::io;
use std::path::Path;

/// Maps an `io::Error` to `DiskError::Io` naming `path`.
pub(crate) fn io_at(path: &Path) -> impl Fn(io::Error) -> DiskError + '_ {
    move |e| DiskError::io(path, e)
}

/// Makes creations, renames and removals inside `dir` durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), DiskError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir))
}
