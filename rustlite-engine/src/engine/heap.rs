//! Hands memory the engine freed in bulk back to the operating system.
//!
//! Blocks are loaded into the cache by whichever thread reads them, so with glibc they live in
//! that many per-thread malloc arenas, between whatever else those threads allocated. A
//! compaction frees its input tables' cached blocks at once (often most of the cache), but an
//! arena returns only the free space at the top of its heap; the holes stay mapped and serve
//! only the threads attached to that arena. The blocks of the output tables, loaded by other
//! threads, take new pages, and the process's resident size grows past the cache's budget
//! though the cache itself stays within it (the side-by-side benchmark peaked ~100 MiB above).
//! [`release_free_pages`] asks glibc to give free pages back after such a bulk free, and
//! [`ReleaseOnDrop`] does so when an engine closes.

/// Returns free heap pages to the OS when dropped: the last field of the engine's shared
/// state, so it runs after the cache, the memtables and the tables are freed.
pub(crate) struct ReleaseOnDrop;

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        release_free_pages();
    }
}

/// Returns whole free pages of every malloc arena to the OS (glibc; a no-op elsewhere).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn release_free_pages() {
    // SAFETY: `malloc_trim` takes no pointers from us; it walks glibc's own arenas under their
    // locks and `madvise`s whole free pages away. It is thread-safe and leaves every live
    // allocation untouched, so calling it at any time is sound.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::trace!(released, "returned free heap pages");
}

/// Returns free heap memory to the OS: nothing to do outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_pages() {}
