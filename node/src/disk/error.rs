//! The errors a data directory can cause, worded for the operator who has to act on them.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong with the node's durable storage.
#[derive(Debug)]
pub enum DiskError {
    /// An operating-system call on `path` failed.
    Io { path: PathBuf, source: io::Error },
    /// Another process (or another open storage) holds the lock of data dir `path`.
    Locked { path: PathBuf },
    /// `path` holds bytes that do not verify at `offset`; the node refuses to start on it.
    Corrupt { path: PathBuf, offset: u64, why: String },
    /// An earlier write or fsync failed, so what reached the disk is unknown. Retrying
    /// could acknowledge lost data; the process must restart and reload instead.
    Poisoned { path: PathBuf },
}

impl DiskError {
    pub(crate) fn io(path: &Path, source: io::Error) -> DiskError {
        DiskError::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn corrupt(path: &Path, offset: u64, why: impl Into<String>) -> DiskError {
        DiskError::Corrupt { path: path.to_path_buf(), offset, why: why.into() }
    }
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskError::Io { path, source } => {
                write!(f, "I/O error on {}: {source}", path.display())
            }
            DiskError::Locked { path } => write!(
                f,
                "data dir {} is in use by another process (it holds member/lock there); \
                 stop that process or choose another --data-dir",
                path.display()
            ),
            DiskError::Corrupt { path, offset, why } => write!(
                f,
                "corrupt data in {} at byte offset {offset}: {why}; refusing to start \
                 (restore this member from a backup or replace it in the cluster)",
                path.display()
            ),
            DiskError::Poisoned { path } => write!(
                f,
                "an earlier write under {} failed, so what is on disk is unknown; \
                 restart the node to reload it",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DiskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DiskError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
