//! Giving freed heap memory back to the operating system after a snapshot.
//!
//! A snapshot drops the Raft log entries it covers and the previous state image: tens
//! of megabytes freed at once, in many small blocks spread through the heap. glibc's
//! allocator keeps such memory mapped for reuse, so the member's resident size would
//! stay at its high-water mark; `malloc_trim` hands the whole free pages back. Other
//! allocators (and the madsim build) need nothing here.

/// Returns free heap pages to the OS. Costs a walk over the heap's free lists (a few
/// milliseconds for a large heap), so it runs only after a snapshot.
pub fn release_freed() {
    #[cfg(all(not(madsim), target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganises the allocator's own free memory under its
    // lock; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
