//! Shared test helpers: finding the reference histories kept outside the repository.

#![allow(dead_code)]

use std::path::PathBuf;

/// `shared/reference/histories`, found by walking up from this crate's directory; `None`
/// (after saying so loudly) when this checkout has no such folder.
pub fn histories_dir() -> Option<PathBuf> {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared/reference/histories");
        if candidate.is_dir() {
            return Some(candidate);
        }
        if !dir.pop() {
            eprintln!(
                "\n*** SKIPPING the reference-history cases: no shared/reference/histories \
                 folder above {} ***\n",
                env!("CARGO_MANIFEST_DIR")
            );
            return None;
        }
    }
}
