//! The directory lock behind [`FsStorage::lock`](super::FsStorage): one open database per
//! directory, across processes and within one.
//!
//! Two mechanisms, because no single one is right on its own:
//! - **Across processes**, a POSIX record lock (`fcntl(F_SETLK, F_WRLCK)`) on the whole `LOCK`
//!   file. Such a lock belongs to the *process*, not to a file descriptor, so a child that this
//!   process forks does not inherit it. `flock` (what `File::try_lock` uses) belongs to the open
//!   file description instead, which a fork duplicates: while any thread of the application was
//!   between `fork` and `exec` (spawning a `Command`), the child held the lock too, and a
//!   database closed and reopened in that window failed with `Locked` although nothing held it.
//! - **Within the process**, a registry of locked directories keyed by the directory's device and
//!   inode (so two spellings of one path, or a symlink, are the same directory). Record locks
//!   never conflict within one process, so the registry is what refuses a second open here. It
//!   also avoids the classic record-lock trap: closing *any* descriptor of the locked file drops
//!   the process's lock, so a refused second open must never open `LOCK` at all. It doesn't:
//!   the registry is checked before the file is opened.
//!
//! The registry entry and the record lock are released together when the guard drops.

use super::DirLock;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A directory's identity: (device, inode).
type DirId = (u64, u64);

/// Directories this process holds locked.
static HELD: Mutex<Option<HashSet<DirId>>> = Mutex::new(None);

/// The held lock: the open `LOCK` file (its record lock) and the registry entry.
struct FsDirLock {
    id: DirId,
    file: Option<File>,
}

impl DirLock for FsDirLock {}

impl Drop for FsDirLock {
    fn drop(&mut self) {
        let mut held = HELD.lock();
        // Closing the file releases the record lock; the registry entry goes with it, under
        // the registry mutex so no other open slips in between.
        drop(self.file.take());
        if let Some(set) = held.as_mut() {
            set.remove(&self.id);
        }
    }
}

/// Locks directory `dir` through its file `name`, or fails with [`Error::Locked`].
pub(crate) fn lock(dir: &Path, name: &str) -> Result<Box<dyn DirLock>> {
    let meta = std::fs::metadata(dir)?;
    let id = (meta.dev(), meta.ino());
    let mut held = HELD.lock();
    let set = held.get_or_insert_with(HashSet::new);
    if set.contains(&id) {
        return Err(Error::Locked(dir.to_path_buf()));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(name))?;
    if !try_lock_exclusive(&file)? {
        // No other descriptor of this file is open in this process (the registry says so), so
        // closing this one releases nothing.
        return Err(Error::Locked(dir.to_path_buf()));
    }
    set.insert(id);
    Ok(Box::new(FsDirLock {
        id,
        file: Some(file),
    }))
}

/// Takes a process-owned exclusive record lock on all of `file` without waiting; `Ok(false)`
/// when another process holds a conflicting lock.
fn try_lock_exclusive(file: &File) -> Result<bool> {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value; every
    // field the call reads is set below.
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = libc::F_WRLCK as libc::c_short;
    request.l_whence = libc::SEEK_SET as libc::c_short;
    request.l_start = 0;
    request.l_len = 0; // to the end of the file, however long it grows
                       // SAFETY: the descriptor is open for the whole call (`file` is borrowed), and `request`
                       // is a valid, initialised `flock` that outlives the call; F_SETLK only reads it.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &request) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(Error::Io(err)),
    }
}
