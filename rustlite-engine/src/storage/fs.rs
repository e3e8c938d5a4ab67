//! [`FsStorage`]: the engine's files as real files in one directory.
//!
//! ```text
//! <dir>/
//!   LOCK            advisory exclusive lock (POSIX record lock, see `dir_lock`), held while open
//!   CURRENT         names the live manifest
//!   MANIFEST-n      version edits          (written by lsm::manifest)
//!   n.wal  n.sst    log and tables         (written by lsm::wal, lsm::sstable)
//! ```
//!
//! - Writable files are plain `std::fs::File`s with no user-space buffer: callers batch their
//!   writes (a group commit is one `append`), `append` is `write_all`, `sync` is `sync_data`.
//!   A writable file's `sync_handle` shares its descriptor, so the WAL can `fdatasync` on one
//!   thread while the next commit group is written on another.
//! - `create_preallocated` files (the WAL) write zeros ahead of the data and then overwrite them,
//!   so an `fdatasync` after a commit flushes data without a file-size (journal) commit.
//! - Readable files use positional reads (`pread` through [`FileExt::read_exact_at`]), so one
//!   handle is shared by many threads with no seek lock. Their length is taken when opened: the
//!   files the engine reads at offsets (SSTables) are immutable. With a read-around window
//!   ([`FsStorage::read_around`]), a read is first tried against the page cache alone, and one
//!   it cannot answer also asks the OS for the window around it (see [`super::page_cache`]).
//! - [`Storage::sync_dir`] fsyncs the directory itself, which makes creations, renames and
//!   removals durable.
//! - [`Storage::lock`] takes an exclusive, non-blocking lock on `LOCK` (see [`super::dir_lock`]
//!   for why it is a process-owned record lock plus an in-process registry); a second `lock()`
//!   conflicts whether it comes from another process or from this one, and dropping the returned
//!   guard releases it.

use super::page_cache::{self, Cached};
use super::{DirLock, RandomAccessFile, Storage, WritableFile};
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The zeros a preallocated file reserves are written this many bytes at a time (a page on
/// every system Linux runs on; see [`FsWritableFile::reserve_after`]).
const ZERO_PIECE: u64 = 4096;

/// Name of the lock file inside the database directory.
const LOCK_FILE: &str = "LOCK";

/// A [`Storage`] over a real directory.
///
/// ```no_run
/// use rustlite_engine::storage::{FsStorage, Storage};
/// let storage = FsStorage::open("/tmp/my-db")?;
/// let _lock = storage.lock()?;
/// let mut f = storage.create("000001.wal")?;
/// f.append(b"hello")?;
/// f.sync()?;
/// storage.sync_dir()?;
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FsStorage {
    dir: PathBuf,
    /// Read-around window of reads the page cache misses (0: none).
    read_around: u64,
}

/// Creates `dir` and its missing parents, and makes each creation durable by syncing the
/// directory that holds it: syncing the files inside a new directory (or the new directory
/// itself) does not make the new directory's own entry durable, and after a power loss a
/// database whose first commits were acknowledged could be gone with its directory.
pub fn create_dir_all_durably(dir: &Path) -> Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|p| !p.exists()).collect();
    std::fs::create_dir_all(dir)?;
    // Shallowest first: a parent's entry is durable before its child's.
    for created in missing.iter().rev() {
        let parent = match created.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

impl FsStorage {
    /// Opens (creating it and its parents if needed) the directory `dir`. Reads are plain
    /// `pread`s until [`read_around`](Self::read_around) sets a window.
    pub fn open(dir: impl AsRef<Path>) -> Result<FsStorage> {
        let dir = dir.as_ref().to_path_buf();
        create_dir_all_durably(&dir)?;
        Ok(FsStorage {
            dir,
            read_around: 0,
        })
    }

    /// Files opened for reading from now on ask the OS to read `bytes` (aligned) around every
    /// read its page cache cannot answer ([`Options::read_around`](crate::Options::read_around);
    /// 0 turns it off).
    pub fn read_around(mut self, bytes: u64) -> FsStorage {
        self.read_around = bytes;
        self
    }

    /// The directory this storage lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        Ok(self.dir.join(name))
    }
}

/// Rejects names that are not a single plain path component.
pub(super) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(Error::InvalidArgument(format!(
            "invalid storage file name {name:?}"
        )));
    }
    Ok(())
}

/// A file appended to, plainly or inside zeros reserved ahead of the data
/// (see [`Storage::create_preallocated`]):
///
/// ```text
/// | data (len bytes) | zeros ............ | end of file (reserved)
///                    ^ next append overwrites here; fdatasync then flushes data only
/// ```
/// When an append would pass the reserved end, the data is written and zeros are written after
/// it up to the next multiple of `step` beyond it, then synced, so the file's size changes once
/// per `step`.
struct FsWritableFile {
    /// Shared with the [`FsSync`] handles: `write` and `fdatasync` on one descriptor may run at
    /// once from different threads.
    file: Arc<File>,
    len: u64,
    /// Preallocated files only: where the reserved zeros end.
    reserve: Option<Reserve>,
}

#[derive(Clone, Copy)]
struct Reserve {
    reserved: u64,
    step: u64,
}

impl FsWritableFile {
    /// Writes zeros from `from` up to the first multiple of `step` past it, and syncs them.
    ///
    /// The zeros go one [`ZERO_PIECE`] per write: the kernel sizes a page-cache folio after the
    /// write that creates it, and one 1 MiB write leaves folios of up to 1 MiB. Every later small
    /// append into such a folio, and its writeback at the `fdatasync`, then walks all of the
    /// folio's block buffers (256 for 1 MiB on ext4): a profile of single durable commits showed
    /// that walk as ~10 % of their CPU, and commits ran ~5 % slower than into small folios
    /// (docs/BENCHMARKS-HISTORY.md).
    fn reserve_after(&mut self, from: u64, step: u64) -> Result<()> {
        let target = (from / step + 1) * step;
        let zeros = [0u8; ZERO_PIECE as usize];
        let mut at = from;
        while at < target {
            // Up to the next piece boundary, so every later piece is one whole page.
            let end = ((at / ZERO_PIECE + 1) * ZERO_PIECE).min(target);
            self.file.write_all_at(&zeros[..(end - at) as usize], at)?;
            at = end;
        }
        self.file.sync_data()?;
        self.reserve = Some(Reserve {
            reserved: target,
            step,
        });
        Ok(())
    }
}

impl WritableFile for FsWritableFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let end = self.len + data.len() as u64;
        match self.reserve {
            None => (&*self.file).write_all(data)?,
            Some(Reserve { reserved, step }) => {
                self.file.write_all_at(data, self.len)?;
                if end > reserved {
                    self.reserve_after(end, step)?;
                }
            }
        }
        self.len = end;
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.file.sync_data()?;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn sync_handle(&self) -> Option<Arc<dyn super::FileSync>> {
        Some(Arc::new(FsSync(Arc::clone(&self.file))))
    }

    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)` on Linux: queues the range's dirty pages for
    /// writing and returns; the `fdatasync` that follows waits for that write and then flushes
    /// the device cache. Errors are ignored (a hint; the sync reports any I/O failure).
    #[cfg(target_os = "linux")]
    fn start_write_out(&self, from: u64) {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (
            i64::try_from(from),
            i64::try_from(self.len.saturating_sub(from)),
        ) else {
            return;
        };
        if len == 0 {
            return;
        }
        // SAFETY: `sync_file_range` takes no pointers; the descriptor is `self.file`'s, open for
        // the duration of the call.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                offset,
                len,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
}

/// `fdatasync` of a file another thread may be appending to.
struct FsSync(Arc<File>);

impl super::FileSync for FsSync {
    fn sync(&self) -> Result<()> {
        self.0.sync_data()?;
        Ok(())
    }
}

struct FsRandomAccessFile {
    file: File,
    len: u64,
    read_around: u64,
    /// The file system refused `RWF_NOWAIT` for this file (see [`page_cache::read_if_cached`]).
    nowait_refused: AtomicBool,
}

impl RandomAccessFile for FsRandomAccessFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        if self.read_around > 0 {
            match page_cache::read_if_cached(&self.file, buf, offset, &self.nowait_refused) {
                Cached::All => return Ok(()),
                Cached::NotAll => page_cache::read_around(
                    &self.file,
                    self.len,
                    offset,
                    buf.len() as u64,
                    self.read_around,
                ),
                Cached::Unknown => {}
            }
        }
        self.file.read_exact_at(buf, offset)?;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }
}

impl Storage for FsStorage {
    fn create(&self, name: &str) -> Result<Box<dyn WritableFile>> {
        let file = Arc::new(File::create(self.path(name)?)?);
        Ok(Box::new(FsWritableFile {
            file,
            len: 0,
            reserve: None,
        }))
    }

    fn create_preallocated(&self, name: &str, reserve: u64) -> Result<Box<dyn WritableFile>> {
        let file = Arc::new(File::create(self.path(name)?)?);
        let mut f = FsWritableFile {
            file,
            len: 0,
            reserve: None,
        };
        f.reserve_after(0, reserve.max(4096))?;
        Ok(Box::new(f))
    }

    fn open_append(&self, name: &str) -> Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new().append(true).open(self.path(name)?)?;
        let len = file.metadata()?.len();
        Ok(Box::new(FsWritableFile {
            file: Arc::new(file),
            len,
            reserve: None,
        }))
    }

    fn open_read(&self, name: &str) -> Result<Arc<dyn RandomAccessFile>> {
        let file = File::open(self.path(name)?)?;
        let len = file.metadata()?.len();
        Ok(Arc::new(FsRandomAccessFile {
            file,
            len,
            read_around: self.read_around,
            nowait_refused: AtomicBool::new(false),
        }))
    }

    fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.path(name)?.try_exists()?)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        std::fs::rename(self.path(from)?, self.path(to)?)?;
        Ok(())
    }

    fn remove(&self, name: &str) -> Result<()> {
        match std::fs::remove_file(self.path(name)?) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => Ok(other?),
        }
    }

    fn truncate(&self, name: &str, len: u64) -> Result<()> {
        let file = OpenOptions::new().write(true).open(self.path(name)?)?;
        file.set_len(len)?;
        file.sync_all()?;
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            // The engine only creates UTF-8 names; anything else is not ours.
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn sync_dir(&self) -> Result<()> {
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    fn lock(&self) -> Result<Box<dyn DirLock>> {
        super::dir_lock::lock(&self.dir, LOCK_FILE)
    }

    fn link_into(&self, name: &str, dest: &Path) -> Result<bool> {
        // Any failure (another file system, no hard links) leaves the copy to the caller.
        Ok(std::fs::hard_link(self.path(name)?, dest.join(name)).is_ok())
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::tests::check_storage_semantics;

    #[test]
    fn semantics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FsStorage::open(dir.path().join("db")).expect("open");
        check_storage_semantics(&storage);
    }

    /// Nested missing directories are created (each parent synced: not observable here, see
    /// `create_dir_all_durably`), and an existing one is left as it is.
    #[test]
    fn missing_parents_are_created() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let nested = dir.path().join("a").join("b").join("db");
        create_dir_all_durably(&nested)?;
        assert!(nested.is_dir());
        std::fs::write(nested.join("f"), b"x")?;
        create_dir_all_durably(&nested)?;
        assert!(nested.join("f").exists());
        Ok(())
    }

    #[test]
    fn lock_conflicts_within_process_and_releases_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = FsStorage::open(dir.path()).expect("open");
        let b = FsStorage::open(dir.path()).expect("open");
        let guard = a.lock().expect("first lock");
        assert!(matches!(b.lock(), Err(Error::Locked(p)) if p == dir.path()));
        assert!(matches!(a.lock(), Err(Error::Locked(_))));
        drop(guard);
        let _again = b.lock().expect("lock after release");
    }

    /// Env var that turns [`lock_probe_child`] into the child half of the cross-process test.
    const PROBE_ENV: &str = "RUSTLITE_LOCK_PROBE_DIR";

    /// Child half of [`lock_conflicts_across_processes`]: a no-op unless the parent set
    /// `PROBE_ENV`, in which case it tries the lock and prints what happened.
    #[test]
    fn lock_probe_child() {
        let Some(dir) = std::env::var_os(PROBE_ENV) else {
            return;
        };
        let storage = FsStorage::open(dir).expect("open");
        match storage.lock() {
            Ok(_guard) => println!("PROBE:ACQUIRED"),
            Err(Error::Locked(_)) => println!("PROBE:LOCKED"),
            Err(e) => println!("PROBE:ERROR {e}"),
        }
    }

    fn probe(dir: &Path) -> String {
        let exe = std::env::current_exe().expect("test binary path");
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "storage::fs::tests::lock_probe_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PROBE_ENV, dir)
            .output()
            .expect("spawn child test process");
        assert!(out.status.success(), "child failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn lock_conflicts_across_processes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FsStorage::open(dir.path()).expect("open");
        let guard = storage.lock().expect("lock");
        let held = probe(dir.path());
        assert!(held.contains("PROBE:LOCKED"), "child output: {held}");
        drop(guard);
        let free = probe(dir.path());
        assert!(free.contains("PROBE:ACQUIRED"), "child output: {free}");
    }

    #[test]
    fn rejects_paths_as_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FsStorage::open(dir.path()).expect("open");
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(
                matches!(storage.create(bad), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }
}
