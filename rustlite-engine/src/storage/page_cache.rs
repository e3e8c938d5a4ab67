//! What [`FsStorage`](super::FsStorage) asks of the operating system's page cache when it reads
//! a table: whether a read can be answered from the cache alone, and to read a window around a
//! read that cannot.
//!
//! A block the cache misses is read with `pread`. For a random read the kernel reads just that
//! block (its readahead only follows sequential reads), so a database opened cold, say after a
//! reboot, pays one device round trip per 4 KiB block until its hot set is loaded. A B-tree read
//! through `mmap` (LMDB) instead faults in a window around each missed page (the fault's
//! read-around, 128 KiB by default) and warms in a thirty-second of the round trips. The read
//! path here does the same, and only when it has to:
//!
//! ```text
//! read(offset, len):  preadv2(RWF_NOWAIT) ── all bytes cached ──► done (one syscall, as before)
//!                          │ not all cached
//!                          ▼
//!                     posix_fadvise(WILLNEED, window around offset)   (asynchronous)
//!                     pread(offset, len)                               (waits for its pages)
//! ```
//!
//! Linux only (`RWF_NOWAIT` since 4.14); elsewhere, or on a file whose file system refuses
//! `RWF_NOWAIT` (remembered per file), every read is a plain `pread`. The kernel caps one
//! `WILLNEED` request at the device's readahead size (`max(io_pages, ra_pages)`), so a window
//! larger than that is read in part.

use std::fs::File;
use std::sync::atomic::AtomicBool;

/// Whether a read could be answered from the page cache alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cached {
    /// Every byte was cached and is now in the buffer.
    All,
    /// Some bytes were not cached (or the read reached the end of the file): read normally.
    NotAll,
    /// The OS cannot tell: read normally, without a read-around.
    Unknown,
}

#[cfg(target_os = "linux")]
mod os {
    use super::Cached;
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, Ordering};

    pub(super) fn read_if_cached(
        file: &File,
        buf: &mut [u8],
        offset: u64,
        refused: &AtomicBool,
    ) -> Cached {
        if refused.load(Ordering::Relaxed) {
            return Cached::Unknown;
        }
        let Ok(offset) = libc::off_t::try_from(offset) else {
            return Cached::Unknown;
        };
        let iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: `iov` describes `buf`, which is valid for writes of `buf.len()` bytes and
        // exclusively borrowed for the whole call; the count (1) matches the one `iovec`; the
        // descriptor belongs to `file`, which is open for as long as it is borrowed.
        let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
        if usize::try_from(n).is_ok_and(|n| n == buf.len()) {
            return Cached::All;
        }
        if n < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error();
            // An unknown flag (a kernel before 4.14) or a file system without `RWF_NOWAIT`.
            if matches!(errno, Some(libc::EOPNOTSUPP | libc::ENOSYS)) {
                refused.store(true, Ordering::Relaxed);
                return Cached::Unknown;
            }
        }
        Cached::NotAll
    }

    pub(super) fn will_need(file: &File, start: u64, len: u64) {
        let (Ok(start), Ok(len)) = (libc::off_t::try_from(start), libc::off_t::try_from(len))
        else {
            return;
        };
        // SAFETY: `posix_fadvise` takes no pointers; the descriptor belongs to `file`, which
        // is open for as long as it is borrowed. It is only a hint: whatever it returns, the
        // caller's own read follows.
        let _ =
            unsafe { libc::posix_fadvise(file.as_raw_fd(), start, len, libc::POSIX_FADV_WILLNEED) };
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    use super::Cached;
    use std::fs::File;
    use std::sync::atomic::AtomicBool;

    pub(super) fn read_if_cached(_: &File, _: &mut [u8], _: u64, _: &AtomicBool) -> Cached {
        Cached::Unknown
    }

    pub(super) fn will_need(_: &File, _: u64, _: u64) {}
}

/// Reads `buf` at `offset` if the page cache holds all of it, without waiting for the device.
/// `refused` is the file's own record that its file system refused `RWF_NOWAIT` (set here the
/// first time; every later call then answers [`Cached::Unknown`] at once).
pub(super) fn read_if_cached(
    file: &File,
    buf: &mut [u8],
    offset: u64,
    refused: &AtomicBool,
) -> Cached {
    if buf.is_empty() {
        return Cached::Unknown;
    }
    os::read_if_cached(file, buf, offset, refused)
}

/// Asks the OS to start reading the `window`-aligned range around `offset..offset + len` (at
/// least `window` bytes, clipped to `file_len`) into the page cache, without waiting.
pub(super) fn read_around(file: &File, file_len: u64, offset: u64, len: u64, window: u64) {
    if window == 0 {
        return;
    }
    let start = offset - offset % window;
    let end = offset
        .saturating_add(len)
        .max(start.saturating_add(window))
        .min(file_len);
    if end > start {
        os::will_need(file, start, end - start);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    /// [`read_if_cached`] with a fresh refusal record.
    fn cached(f: &File, buf: &mut [u8], offset: u64) -> Cached {
        read_if_cached(f, buf, offset, &AtomicBool::new(false))
    }

    /// The system's page size.
    fn page_size() -> usize {
        // SAFETY: `sysconf` takes no pointers and only reads a configuration value.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).expect("page size")
    }

    /// A directory on the disk the crate is built on (`/tmp` may be a tmpfs, whose pages cannot
    /// be dropped).
    fn disk_dir() -> tempfile::TempDir {
        tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("tempdir")
    }

    /// A synced file of `len` bytes (byte i = i % 251) whose pages are then dropped from the
    /// page cache.
    fn cold_file(dir: &std::path::Path, len: usize) -> File {
        let path = dir.join("cold");
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut f = File::create(&path).expect("create");
        f.write_all(&data).expect("write");
        f.sync_all().expect("sync");
        let f = File::open(&path).expect("open");
        // SAFETY: no pointers; the descriptor is `f`'s, open for the call.
        let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0, "fadvise(DONTNEED)");
        let mut probe = [0u8; 4096];
        assert_eq!(
            cached(&f, &mut probe, 0),
            Cached::NotAll,
            "the file's pages stayed cached after DONTNEED, or RWF_NOWAIT is refused: is the crate on a tmpfs?"
        );
        f
    }

    #[test]
    fn cached_reads_return_the_bytes_and_cold_ones_say_so() {
        let dir = disk_dir();
        let len = 1 << 20;
        let f = cold_file(dir.path(), len);
        let mut buf = vec![0u8; 4096];
        assert_eq!(cached(&f, &mut buf, 512 << 10), Cached::NotAll);
        // A plain read loads the pages; the same read is then answered from the cache.
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut buf, 512 << 10).expect("read");
        let mut again = vec![0u8; 4096];
        assert_eq!(cached(&f, &mut again, 512 << 10), Cached::All);
        assert_eq!(again, buf);
        assert!(again
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (((512 << 10) + i) % 251) as u8));
        // Past the end of the file: not all of it can be read.
        assert_eq!(cached(&f, &mut again, len as u64 - 100), Cached::NotAll);
        assert_eq!(cached(&f, &mut [], 0), Cached::Unknown);
        // A file whose file system refused RWF_NOWAIT is not asked again (nothing is read).
        let mut untouched = vec![0u8; 4096];
        let refused = AtomicBool::new(true);
        assert_eq!(
            read_if_cached(&f, &mut untouched, 512 << 10, &refused),
            Cached::Unknown
        );
        assert!(untouched.iter().all(|b| *b == 0));
    }

    /// Whether the page at `offset` is in the page cache, asked without reading it (`mincore`
    /// on a mapping that is never touched; a `RWF_NOWAIT` probe would start reading it).
    fn resident(f: &File, offset: u64) -> bool {
        let page = page_size();
        let len = f.metadata().expect("metadata").len() as usize;
        // SAFETY: a fresh shared read-only mapping of `f` chosen by the kernel (null hint),
        // checked against MAP_FAILED; nothing reads through it.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED, "mmap");
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: `map` is the start of a `len`-byte mapping, page aligned; `vec` has one byte
        // per page of it (`page` is the system's page size), as mincore writes.
        let rc = unsafe { libc::mincore(map, len, vec.as_mut_ptr()) };
        // SAFETY: unmaps exactly the mapping made above, which nothing references.
        unsafe { libc::munmap(map, len) };
        assert_eq!(rc, 0, "mincore");
        vec[offset as usize / page] & 1 == 1
    }

    /// Waits until the page at `offset` is cached (a read-around is asynchronous).
    fn becomes_resident(f: &File, offset: u64) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if resident(f, offset) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn a_read_around_loads_its_window_and_no_further() {
        let dir = disk_dir();
        let len = 1 << 20;
        let f = cold_file(dir.path(), len);
        assert!(!resident(&f, 256 << 10) && !resident(&f, 380 << 10));
        // A 4 KiB read at 260 KiB with a 128 KiB window loads 256..384 KiB, and no more.
        read_around(&f, len as u64, 260 << 10, 4096, 128 << 10);
        assert!(becomes_resident(&f, 256 << 10));
        assert!(becomes_resident(&f, 380 << 10));
        assert!(!resident(&f, 384 << 10) && !resident(&f, 252 << 10));
        // Near the end, the window (896 KiB..1 MiB) is clipped to the file and still read.
        read_around(&f, len as u64, len as u64 - 4096, 4096, 128 << 10);
        assert!(becomes_resident(&f, 896 << 10));
        // A zero window reads nothing.
        read_around(&f, len as u64, 640 << 10, 4096, 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!resident(&f, 640 << 10));
    }

    #[test]
    fn fs_storage_reads_around_a_cold_read_only_when_asked() {
        use crate::storage::{FsStorage, Storage};
        let len = 1 << 20;
        for window in [128 << 10, 0] {
            let dir = disk_dir();
            let f = cold_file(dir.path(), len);
            let storage = FsStorage::open(dir.path())
                .expect("storage")
                .read_around(window);
            let file = storage.open_read("cold").expect("open");
            let expect =
                |at: usize| -> Vec<u8> { (at..at + 4096).map(|i| (i % 251) as u8).collect() };
            // Cold, then cached: the same bytes either way.
            for _ in 0..2 {
                let mut buf = vec![0u8; 4096];
                file.read_exact_at(&mut buf, 260 << 10).expect("read");
                assert_eq!(buf, expect(260 << 10));
            }
            if window > 0 {
                assert!(
                    becomes_resident(&f, 380 << 10),
                    "the window around the read"
                );
            } else {
                std::thread::sleep(std::time::Duration::from_millis(20));
                assert!(!resident(&f, 380 << 10), "no read-around without a window");
            }
            let mut buf = vec![0u8; 4096];
            assert!(
                file.read_exact_at(&mut buf, len as u64 - 100).is_err(),
                "past the end"
            );
        }
    }
}
