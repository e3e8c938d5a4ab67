//! [`MemStorage`]: the engine's files as byte vectors in memory.
//!
//! ```text
//! MemStorage ──Arc──▶ Mutex<BTreeMap<name, Arc<RwLock<Vec<u8>>>>>   (the "directory")
//!                                         │
//!        open writers and readers ────────┘ share the Arc (the "inode")
//! ```
//!
//! It mirrors [`FsStorage`](super::FsStorage) closely enough that the same engine code and the same
//! tests run on both:
//! - a name maps to a shared buffer, like a directory entry to an inode: an open handle keeps
//!   working on its buffer after the name is renamed or removed;
//! - `create` of an existing name empties that buffer in place (`O_TRUNC`), `truncate` too;
//! - `rename` replaces the target, `remove` of a missing name succeeds;
//! - `sync` and `sync_dir` do nothing: everything is "durable" as soon as it is written (the
//!   fault-injecting test storage is the one that models lost unsynced data);
//! - one [`Storage::lock`] at a time per instance (clones share the instance).

use super::fs::check_name;
use super::{DirLock, RandomAccessFile, Storage, WritableFile};
use crate::error::{Error, Result};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

type Buffer = Arc<RwLock<Vec<u8>>>;

/// A [`Storage`] held entirely in memory. Cloning gives another handle on the same files.
///
/// ```
/// use rustlite_engine::storage::{MemStorage, Storage};
/// let storage = MemStorage::new();
/// let mut f = storage.create("CURRENT")?;
/// f.append(b"MANIFEST-000001\n")?;
/// assert_eq!(storage.read_all("CURRENT")?, b"MANIFEST-000001\n");
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    files: Arc<Mutex<BTreeMap<String, Buffer>>>,
    locked: Arc<AtomicBool>,
}

impl MemStorage {
    /// An empty in-memory directory.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    fn get(&self, name: &str) -> Result<Buffer> {
        check_name(name)?;
        self.files
            .lock()
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))
    }
}

fn not_found(name: &str) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{name}: no such file in memory storage"),
    ))
}

struct MemWritableFile {
    data: Buffer,
}

impl WritableFile for MemWritableFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.data.write().extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn len(&self) -> u64 {
        self.data.read().len() as u64
    }

    fn sync_handle(&self) -> Option<Arc<dyn super::FileSync>> {
        Some(Arc::new(MemSync))
    }
}

/// Memory has nothing to sync.
struct MemSync;

impl super::FileSync for MemSync {
    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

struct MemRandomAccessFile {
    data: Buffer,
    len: u64,
}

impl RandomAccessFile for MemRandomAccessFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let data = self.data.read();
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| Some(start..start.checked_add(buf.len())?))
            .and_then(|range| data.get(range))
            .ok_or_else(|| {
                Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "failed to fill whole buffer",
                ))
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }
}

struct MemDirLock {
    locked: Arc<AtomicBool>,
}

impl DirLock for MemDirLock {}

impl Drop for MemDirLock {
    fn drop(&mut self) {
        self.locked.store(false, Ordering::Release);
    }
}

impl Storage for MemStorage {
    fn create(&self, name: &str) -> Result<Box<dyn WritableFile>> {
        check_name(name)?;
        let data = self
            .files
            .lock()
            .entry(name.to_owned())
            .or_default()
            .clone();
        data.write().clear();
        Ok(Box::new(MemWritableFile { data }))
    }

    fn open_append(&self, name: &str) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(MemWritableFile {
            data: self.get(name)?,
        }))
    }

    fn open_read(&self, name: &str) -> Result<Arc<dyn RandomAccessFile>> {
        let data = self.get(name)?;
        let len = data.read().len() as u64;
        Ok(Arc::new(MemRandomAccessFile { data, len }))
    }

    fn read_all(&self, name: &str) -> Result<Vec<u8>> {
        Ok(self.get(name)?.read().clone())
    }

    fn exists(&self, name: &str) -> Result<bool> {
        check_name(name)?;
        Ok(self.files.lock().contains_key(name))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        check_name(from)?;
        check_name(to)?;
        let mut files = self.files.lock();
        let data = files.remove(from).ok_or_else(|| not_found(from))?;
        files.insert(to.to_owned(), data);
        Ok(())
    }

    fn remove(&self, name: &str) -> Result<()> {
        check_name(name)?;
        self.files.lock().remove(name);
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> Result<()> {
        let data = self.get(name)?;
        let len = usize::try_from(len)
            .map_err(|_| Error::InvalidArgument(format!("truncate {name} to {len} bytes")))?;
        data.write().resize(len, 0);
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>> {
        Ok(self.files.lock().keys().cloned().collect())
    }

    fn sync_dir(&self) -> Result<()> {
        Ok(())
    }

    fn lock(&self) -> Result<Box<dyn DirLock>> {
        if self.locked.swap(true, Ordering::AcqRel) {
            return Err(Error::Locked(PathBuf::from(self.location())));
        }
        Ok(Box::new(MemDirLock {
            locked: self.locked.clone(),
        }))
    }

    fn location(&self) -> String {
        ":memory:".to_owned()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The storage contract, checked the same way against every implementation.
    pub(crate) fn check_storage_semantics(s: &dyn Storage) {
        let ours = |s: &dyn Storage| -> Vec<String> {
            let mut names = s.list().expect("list");
            names.retain(|n| n != "LOCK");
            names
        };
        assert_eq!(ours(s), Vec::<String>::new());
        assert!(!s.exists("a").expect("exists"));

        // create + append + len; read back positionally and whole.
        let mut w = s.create("a").expect("create");
        assert!(w.is_empty());
        w.append(b"hello ").expect("append");
        w.append(b"").expect("append");
        w.append(b"world").expect("append");
        w.sync().expect("sync");
        assert_eq!(w.len(), 11);
        drop(w);
        assert!(s.exists("a").expect("exists"));
        let r = s.open_read("a").expect("open_read");
        assert_eq!(r.len(), 11);
        let mut buf = [0u8; 5];
        r.read_exact_at(&mut buf, 6).expect("read");
        assert_eq!(&buf, b"world");
        r.read_exact_at(&mut [], 11).expect("empty read at end");
        assert!(matches!(r.read_exact_at(&mut buf, 7), Err(Error::Io(_))));
        assert!(matches!(
            r.read_exact_at(&mut buf, u64::MAX),
            Err(Error::Io(_))
        ));
        assert_eq!(s.read_all("a").expect("read_all"), b"hello world");

        // open_append continues at the end.
        let mut w = s.open_append("a").expect("open_append");
        assert_eq!(w.len(), 11);
        w.append(b"!").expect("append");
        assert_eq!(w.len(), 12);
        drop(w);
        assert_eq!(s.read_all("a").expect("read_all"), b"hello world!");

        // create truncates an existing file.
        let mut w = s.create("a").expect("create again");
        w.append(b"new").expect("append");
        drop(w);
        assert_eq!(s.read_all("a").expect("read_all"), b"new");

        // truncate.
        s.create("b")
            .expect("create")
            .append(b"0123456789")
            .expect("append");
        s.truncate("b", 4).expect("truncate");
        assert_eq!(s.read_all("b").expect("read_all"), b"0123");
        s.truncate("b", 0).expect("truncate");
        assert_eq!(s.read_all("b").expect("read_all"), b"");

        // rename replaces the target.
        s.rename("a", "b").expect("rename");
        assert!(!s.exists("a").expect("exists"));
        assert_eq!(s.read_all("b").expect("read_all"), b"new");
        assert_eq!(ours(s), vec!["b".to_owned()]);

        // missing files.
        assert!(
            matches!(s.open_read("missing"), Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound)
        );
        assert!(matches!(s.open_append("missing"), Err(Error::Io(_))));
        assert!(matches!(s.rename("missing", "x"), Err(Error::Io(_))));
        s.remove("missing")
            .expect("remove of a missing file is fine");

        // remove; list is sorted.
        s.create("c").expect("create");
        s.create("a").expect("create");
        assert_eq!(ours(s), vec!["a", "b", "c"]);
        s.remove("b").expect("remove");
        assert_eq!(ours(s), vec!["a", "c"]);
        s.sync_dir().expect("sync_dir");

        // the lock: one holder at a time, released on drop.
        let guard = s.lock().expect("lock");
        assert!(matches!(s.lock(), Err(Error::Locked(_))));
        drop(guard);
        drop(s.lock().expect("relock"));
    }

    #[test]
    fn semantics() {
        check_storage_semantics(&MemStorage::new());
    }

    #[test]
    fn clones_share_files_and_lock() {
        let a = MemStorage::new();
        let b = a.clone();
        a.create("x").expect("create").append(b"1").expect("append");
        assert_eq!(b.read_all("x").expect("read"), b"1");
        let _g = a.lock().expect("lock");
        assert!(matches!(b.lock(), Err(Error::Locked(_))));
        // A separate instance has its own lock.
        let _g2 = MemStorage::new().lock().expect("other instance");
    }

    #[test]
    fn open_handles_survive_rename_and_remove() {
        let s = MemStorage::new();
        let mut w = s.create("x").expect("create");
        w.append(b"abc").expect("append");
        let r = s.open_read("x").expect("open");
        s.rename("x", "y").expect("rename");
        s.remove("y").expect("remove");
        let mut buf = [0u8; 3];
        r.read_exact_at(&mut buf, 0).expect("read");
        assert_eq!(&buf, b"abc");
        w.append(b"d").expect("append to unlinked");
        assert_eq!(w.len(), 4);
    }
}
