//! The file-system seam under the engine.
//!
//! Everything the engine persists goes through [`Storage`]: a flat namespace of named files in one
//! directory. Three implementations stand behind it:
//! - [`FsStorage`]: real files in a directory (`std::fs`), with `fsync` of files and of the directory;
//! - [`MemStorage`]: files as byte vectors in memory; `Database::in_memory()` runs the very same engine
//!   code on it;
//! - (tests) a fault-injecting storage that drops unsynced data or fails the Nth operation.
//!
//! Durability contract the engine relies on (and the fault injector enforces):
//! - data appended to a [`WritableFile`] survives a power loss only after [`WritableFile::sync`];
//! - a file created, renamed or removed survives only after [`Storage::sync_dir`];
//! - a [`FileSync`] handle's `sync` covers every byte appended before it began, even while
//!   another thread keeps appending.
//!
//! Names are flat: a name is one path component (no `/`, not `.` or `..`, not empty); both
//! implementations reject anything else with [`crate::Error::InvalidArgument`].

mod dir_lock;
pub mod faulty;
mod fs;
mod mem;
mod page_cache;

pub use fs::{create_dir_all_durably, FsStorage};
pub use mem::MemStorage;

use crate::error::Result;
use std::sync::Arc;

/// A file opened for appending.
pub trait WritableFile: Send + Sync {
    /// Appends `data` at the end of the file.
    fn append(&mut self, data: &[u8]) -> Result<()>;
    /// Makes everything appended so far durable (fsync / fdatasync).
    fn sync(&mut self) -> Result<()>;
    /// Bytes appended so far (the file's length).
    fn len(&self) -> u64;
    /// Whether nothing has been appended.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A handle that syncs this file without borrowing it, so one thread can fsync while another
    /// keeps appending (the WAL's pipelined commit). `None` (the default) when the file can only be
    /// synced through [`WritableFile::sync`].
    fn sync_handle(&self) -> Option<Arc<dyn FileSync>> {
        None
    }
    /// Asks the OS to start writing the bytes appended from offset `from` on to the device, and
    /// returns without waiting. Only a hint: a later sync still makes them durable, and waits for
    /// less. The default does nothing.
    fn start_write_out(&self, _from: u64) {}
}

/// Syncs a [`WritableFile`] from any thread, concurrently with appends to it.
pub trait FileSync: Send + Sync {
    /// Makes durable at least every byte appended to the file before this call began (bytes
    /// appended while it runs may or may not be covered).
    fn sync(&self) -> Result<()>;
}

/// An immutable file read at offsets (SSTables, WAL replay, manifest replay).
pub trait RandomAccessFile: Send + Sync {
    /// Reads exactly `buf.len()` bytes at `offset`; a short file is an error.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()>;
    /// The file's length in bytes.
    fn len(&self) -> u64;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Keeps the file readable after its name is removed: called before a table file is deleted
    /// while readers of older versions may still hold it. A file that holds its descriptor from
    /// open to drop (every [`Storage`]'s own) has nothing to do; a table file under the open-file
    /// budget opens (if closed) and pins it (see [`crate::lsm::sstable::files`]).
    fn keep_open(&self) -> Result<()> {
        Ok(())
    }
}

/// Held while a database has its directory open; dropping it releases the lock.
pub trait DirLock: Send + Sync {}

/// A flat directory of named files.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Creates (or truncates) `name` for appending.
    fn create(&self, name: &str) -> Result<Box<dyn WritableFile>>;
    /// Creates (or truncates) `name` for appending into space reserved ahead of the data, about
    /// `reserve` bytes at a time: zeros are written (and synced) past the data before appends
    /// reach them, so an append overwrites in place and a later sync commits no change of the
    /// file's size. Read back, the file is its data followed by zeros. The default (storages
    /// with nothing to gain) is a plain [`Storage::create`].
    fn create_preallocated(&self, name: &str, reserve: u64) -> Result<Box<dyn WritableFile>> {
        let _ = reserve;
        self.create(name)
    }
    /// Opens an existing file for appending at its end.
    fn open_append(&self, name: &str) -> Result<Box<dyn WritableFile>>;
    /// Opens an existing file for positional reads.
    fn open_read(&self, name: &str) -> Result<Arc<dyn RandomAccessFile>>;
    /// Reads a whole file into memory (small files: `CURRENT`, manifest).
    fn read_all(&self, name: &str) -> Result<Vec<u8>> {
        let file = self.open_read(name)?;
        let len = usize::try_from(file.len()).map_err(|_| {
            crate::Error::InvalidArgument(format!("{name} is too large to read whole"))
        })?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
    /// Whether `name` exists.
    fn exists(&self, name: &str) -> Result<bool>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// Removes `name`; removing a missing file is not an error.
    fn remove(&self, name: &str) -> Result<()>;
    /// Truncates `name` to `len` bytes (used to cut a torn WAL tail).
    fn truncate(&self, name: &str, len: u64) -> Result<()>;
    /// Names of all files.
    fn list(&self) -> Result<Vec<String>>;
    /// Makes creations, renames and removals in the directory durable.
    fn sync_dir(&self) -> Result<()>;
    /// Takes the exclusive directory lock, or fails with [`crate::Error::Locked`].
    fn lock(&self) -> Result<Box<dyn DirLock>>;
    /// A human-readable location for messages (`/path/to/db` or `:memory:`).
    fn location(&self) -> String;
    /// Hard-links the immutable file `name` into the real directory `dest` (for backups), when
    /// the storage allows it (the same file system); `false` when it cannot, and the caller
    /// copies the file instead.
    fn link_into(&self, _name: &str, _dest: &std::path::Path) -> Result<bool> {
        Ok(false)
    }
}

/// Writes `data` to a new file at `path` and fsyncs it.
pub fn write_file_synced(path: &std::path::Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}
