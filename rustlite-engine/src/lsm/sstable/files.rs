//! Table files under a budget of open descriptors ([`Options::max_open_files`]).
//!
//! A [`Table`] keeps its footer, index and filter in memory and reads data blocks from its file
//! on a block-cache miss. Holding every table's descriptor open for the table's life made the
//! number of descriptors grow with the database (a 32 GB database of 32 MiB tables needs ~1,000,
//! the common soft limit is 1,024). Here, as LevelDB's and RocksDB's table caches do, each table
//! reads through a [`TableFile`] that may close its descriptor when the engine's [`TableFiles`]
//! are over budget and reopens it by name (through [`Storage::open_read`]) on the next read.
//!
//! ```text
//!                       TableFiles (one per engine)
//!                       Mutex: clock ring of open files, open count <= capacity
//!                         ▲ open / evict only (a miss)
//!  Table ──► TableFile ───┘
//!            ├ file: ArcSwapOption<OpenFile>   read path: load (no lock, no refcount) + pread
//!            ├ used: AtomicBool                 set by reads, cleared by the clock hand
//!            └ pinned                           kept open outside the budget (being deleted)
//! ```
//!
//! # Reads
//! A read loads the file from its `ArcSwapOption` and marks it used: no lock, no shared counter
//! (the flag is only written when it is clear). Only a read that finds it closed takes the
//! budget's lock, checks again (another reader may have reopened it), evicts while the budget is
//! full, and opens the file. A reopened file must have the length it had at first open (else
//! [`Error::Corruption`]); its blocks are checked by the table's crcs as before. A failed reopen
//! is an [`Error::Io`] naming the file, keeping the OS error's kind.
//!
//! # Eviction (CLOCK)
//! Open files stand in a ring in the order they were opened. The hand takes the front: a file
//! read since the hand last passed loses its mark and goes to the back; one not read is closed.
//! Entries of dropped or pinned files are discarded as the hand meets them. A reader that loaded
//! the file just before it was evicted finishes its read on it (its guard holds the descriptor),
//! so the process may briefly hold a few more descriptors than the budget: one per such read.
//!
//! # Deleting a table file
//! A compaction deletes its input files as soon as the manifest no longer names them, while
//! older versions held by iterators, snapshots and online backups may still read them. Before
//! the name is removed, [`RandomAccessFile::keep_open`] *pins* the file: opened if closed, taken
//! out of the budget, never evicted. Readers of old versions go on reading the unlinked file
//! through that descriptor, as they did when every descriptor stayed open, and it closes when
//! the last `Arc<Table>` drops. (The other choice, deferring the unlink to the drop of the last
//! reference, would unlink from whichever reader thread dropped last and move deletions away
//! from the points the crash tests sweep.) A pin that cannot open the file leaves the file on
//! disk for the next open to delete. Pinned files are few: the inputs of compactions that
//! finished while an old version was still read.
//!
//! The in-memory storage needs no budget but runs the same code: its "descriptor" is a shared
//! byte vector, reopened by name the same way.
//!
//! [`Options::max_open_files`]: crate::Options::max_open_files
//! [`Table`]: super::Table

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::storage::{RandomAccessFile, Storage};

/// The open table files of one engine and their budget.
///
/// ```
/// use std::sync::Arc;
/// use rustlite_engine::lsm::sstable::files::TableFiles;
/// use rustlite_engine::storage::{MemStorage, RandomAccessFile, Storage};
/// let storage = Arc::new(MemStorage::new());
/// for name in ["1.sst", "2.sst"] {
///     storage.create(name)?.append(name.as_bytes())?;
/// }
/// let files = TableFiles::new(storage, 1);
/// let one = files.open("1.sst")?;
/// let two = files.open("2.sst")?; // closes 1.sst: the budget is one file
/// assert_eq!(files.open_count(), 1);
/// let mut buf = [0u8; 5];
/// one.read_exact_at(&mut buf, 0)?; // reopens 1.sst (and closes 2.sst)
/// assert_eq!(&buf, b"1.sst");
/// assert_eq!(two.len(), 5);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct TableFiles {
    storage: Arc<dyn Storage>,
    capacity: usize,
    /// Files open within the budget (not pinned): at most `capacity` but while a reader
    /// finishes on a file just closed. Raised under `ring`'s lock; lowered under it, or by the
    /// drop of an open file (which may run under it, so it does not take it).
    open: AtomicUsize,
    /// The clock: files opened within the budget, oldest first. It may hold entries of files
    /// since dropped or pinned; the hand discards those.
    ring: Mutex<VecDeque<Weak<TableFile>>>,
}

impl std::fmt::Debug for TableFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFiles")
            .field("capacity", &self.capacity)
            .field("open", &self.open_count())
            .finish()
    }
}

impl TableFiles {
    /// Table files opened from `storage`, at most `capacity` of them open at once (at least 1).
    pub fn new(storage: Arc<dyn Storage>, capacity: usize) -> Arc<TableFiles> {
        Arc::new(TableFiles {
            storage,
            capacity: capacity.max(1),
            open: AtomicUsize::new(0),
            ring: Mutex::new(VecDeque::new()),
        })
    }

    /// Opens the table file `name` now (closing the least recently used file if the budget is
    /// full). The storage's error comes back as it is (a missing file: `NotFound`).
    pub fn open(self: &Arc<Self>, name: &str) -> Result<Arc<TableFile>> {
        let file = self.storage.open_read(name)?;
        let table_file = Arc::new_cyclic(|me| TableFile {
            files: Arc::clone(self),
            me: me.clone(),
            name: name.into(),
            len: file.len(),
            file: ArcSwapOption::empty(),
            used: AtomicBool::new(false),
            pinned: AtomicBool::new(false),
        });
        let mut ring = self.ring.lock();
        self.admit(&mut ring, &table_file, file);
        Ok(table_file)
    }

    /// How many table files are open within the budget (pinned files not counted).
    pub fn open_count(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The most table files open at once within the budget.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Makes room for one more file, then installs `file` as `table_file`'s open file.
    fn admit(
        &self,
        ring: &mut VecDeque<Weak<TableFile>>,
        table_file: &TableFile,
        file: Arc<dyn RandomAccessFile>,
    ) -> Arc<OpenFile> {
        while self.open.load(Ordering::Relaxed) >= self.capacity && self.evict_one(ring) {}
        let open = Arc::new(OpenFile(file));
        table_file.file.store(Some(Arc::clone(&open)));
        self.open.fetch_add(1, Ordering::Relaxed);
        ring.push_back(table_file.me.clone());
        // Entries of dropped files are discarded by the hand; without evictions (a budget never
        // reached) nothing would, so sweep them once the ring outgrows the budget.
        if ring.len() > 2 * self.capacity + 16 {
            ring.retain(|w| w.upgrade().is_some_and(|f| f.in_budget()));
        }
        open
    }

    /// Closes the first file the clock hand finds unread since its last pass. Returns `false`
    /// when the ring holds no file to close.
    fn evict_one(&self, ring: &mut VecDeque<Weak<TableFile>>) -> bool {
        // Two rounds at most: the first clears every mark it passes.
        let mut rounds = 2 * ring.len() + 1;
        while let Some(weak) = ring.pop_front() {
            rounds = rounds.saturating_sub(1);
            let Some(file) = weak.upgrade() else {
                continue; // dropped: its drop gave its place back
            };
            if !file.in_budget() {
                continue; // pinned: out of the budget
            }
            if rounds > 0 && file.used.swap(false, Ordering::Relaxed) {
                ring.push_back(weak);
                continue;
            }
            file.file.store(None);
            self.open.fetch_sub(1, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// An open file, boxed once more because `ArcSwapOption` needs a sized type.
struct OpenFile(Arc<dyn RandomAccessFile>);

/// A table's file, read through the engine's [`TableFiles`] budget: closed when the budget
/// needs its descriptor, reopened by name on the next read. See the [module docs](self).
///
/// ```
/// use std::sync::Arc;
/// use rustlite_engine::lsm::sstable::files::TableFiles;
/// use rustlite_engine::storage::{MemStorage, RandomAccessFile, Storage};
/// let storage = Arc::new(MemStorage::new());
/// storage.create("7.sst")?.append(b"table bytes")?;
/// let file = TableFiles::new(storage.clone(), 16).open("7.sst")?;
/// file.keep_open()?; // pinned: still readable once the name is gone
/// storage.remove("7.sst")?;
/// let mut buf = [0u8; 5];
/// file.read_exact_at(&mut buf, 0)?;
/// assert_eq!(&buf, b"table");
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct TableFile {
    files: Arc<TableFiles>,
    /// This file, for the budget's ring.
    me: Weak<TableFile>,
    name: Arc<str>,
    /// The length at first open; a reopened file must still have it.
    len: u64,
    /// Changed only under the budget's lock; read without it.
    file: ArcSwapOption<OpenFile>,
    /// Read since the clock hand last passed.
    used: AtomicBool,
    /// Kept open outside the budget (its name is being removed); changed under the lock.
    pinned: AtomicBool,
}

impl std::fmt::Debug for TableFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFile")
            .field("name", &self.name)
            .field("len", &self.len)
            .field("open", &self.is_open())
            .field("pinned", &self.pinned.load(Ordering::Relaxed))
            .finish()
    }
}

impl TableFile {
    /// The file's name in its storage.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the descriptor is open now (it may be closed by the next open elsewhere).
    pub fn is_open(&self) -> bool {
        self.file.load().is_some()
    }

    /// Open, not pinned: counted in the budget.
    fn in_budget(&self) -> bool {
        !self.pinned.load(Ordering::Relaxed) && self.is_open()
    }

    /// Opens the file by name again: an I/O error names it, a changed length is corruption.
    fn open_again(&self) -> Result<Arc<dyn RandomAccessFile>> {
        let file = self
            .files
            .storage
            .open_read(&self.name)
            .map_err(|e| match e {
                Error::Io(io) => Error::Io(std::io::Error::new(
                    io.kind(),
                    format!("reopening table file {}: {io}", self.name),
                )),
                other => other,
            })?;
        if file.len() != self.len {
            return Err(Error::corruption(
                &*self.name,
                0,
                format!(
                    "table file is {} bytes on reopening, {} when first opened",
                    file.len(),
                    self.len
                ),
            ));
        }
        Ok(file)
    }

    /// The open file, reopened within the budget if it was closed.
    fn reopen(&self) -> Result<Arc<OpenFile>> {
        let mut ring = self.files.ring.lock();
        if let Some(open) = self.file.load_full() {
            return Ok(open); // another reader reopened it meanwhile
        }
        let file = self.open_again()?;
        self.used.store(true, Ordering::Relaxed);
        Ok(self.files.admit(&mut ring, self, file))
    }
}

impl RandomAccessFile for TableFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        {
            let guard = self.file.load();
            if let Some(open) = guard.as_ref() {
                // Only written when clear: reads of a hot file share the cache line.
                if !self.used.load(Ordering::Relaxed) {
                    self.used.store(true, Ordering::Relaxed);
                }
                return open.0.read_exact_at(buf, offset);
            }
        }
        self.reopen()?.0.read_exact_at(buf, offset)
    }

    fn len(&self) -> u64 {
        self.len
    }

    /// Pins the file: opens it if closed and keeps it open, outside the budget, until dropped.
    fn keep_open(&self) -> Result<()> {
        let _ring = self.files.ring.lock();
        if self.pinned.load(Ordering::Relaxed) {
            return Ok(());
        }
        if self.is_open() {
            // Its ring entry is discarded when the hand meets it.
            self.files.open.fetch_sub(1, Ordering::Relaxed);
        } else {
            let file = self.open_again()?;
            self.file.store(Some(Arc::new(OpenFile(file))));
        }
        self.pinned.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for TableFile {
    fn drop(&mut self) {
        // No lock: the hand may drop the last reference while it holds it.
        if !*self.pinned.get_mut() && self.file.load().is_some() {
            self.files.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::{self, Kind, MAX_SEQNO};
    use crate::lsm::sstable::{testutil, BlockCache, Table, TableOptions};
    use crate::storage::MemStorage;

    /// A memory storage holding `n` files `0.sst`.. whose bytes are their names, repeated.
    fn storage_with(n: usize) -> Arc<MemStorage> {
        let storage = Arc::new(MemStorage::new());
        for i in 0..n {
            let mut f = storage.create(&format!("{i}.sst")).expect("create");
            f.append(contents(i).as_bytes()).expect("append");
        }
        storage
    }

    fn contents(i: usize) -> String {
        format!("{i}.sst").repeat(3)
    }

    fn read_all(file: &TableFile) -> Result<String> {
        let mut buf = vec![0u8; usize::try_from(file.len()).expect("small")];
        file.read_exact_at(&mut buf, 0)?;
        Ok(String::from_utf8(buf).expect("utf-8"))
    }

    fn open_files(files: &[Arc<TableFile>]) -> usize {
        files.iter().filter(|f| f.is_open()).count()
    }

    #[test]
    fn reads_reopen_files_and_never_exceed_the_budget() -> Result<()> {
        let files = TableFiles::new(storage_with(10), 3);
        let mut opened = Vec::new();
        for i in 0..10 {
            opened.push(files.open(&format!("{i}.sst"))?);
            assert!(files.open_count() <= 3);
        }
        assert_eq!(open_files(&opened), 3);
        for round in 0..3 {
            for (i, f) in opened.iter().enumerate() {
                assert_eq!(read_all(f)?, contents(i), "round {round}");
                assert_eq!(files.open_count(), 3);
                assert_eq!(open_files(&opened), 3);
            }
        }
        drop(opened);
        assert_eq!(
            files.open_count(),
            0,
            "dropping a file gives its place back"
        );
        Ok(())
    }

    #[test]
    fn the_clock_closes_a_file_not_read_since_its_last_pass() -> Result<()> {
        let files = TableFiles::new(storage_with(3), 2);
        let a = files.open("0.sst")?;
        let b = files.open("1.sst")?;
        read_all(&a)?;
        let c = files.open("2.sst")?;
        assert!(a.is_open(), "a was read: it gets a second chance");
        assert!(!b.is_open(), "b was not read since it was opened");
        assert!(c.is_open());
        Ok(())
    }

    #[test]
    fn a_failed_reopen_is_an_io_error_naming_the_file() -> Result<()> {
        let storage = storage_with(2);
        let files = TableFiles::new(storage.clone(), 1);
        let a = files.open("0.sst")?;
        let _b = files.open("1.sst")?;
        assert!(!a.is_open());
        storage.remove("0.sst")?;
        match read_all(&a) {
            Err(Error::Io(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
                assert!(e.to_string().contains("0.sst"), "{e}");
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert!(files.open_count() <= 1);
        Ok(())
    }

    #[test]
    fn a_file_that_changed_length_is_corruption_on_reopen() -> Result<()> {
        let storage = storage_with(2);
        let files = TableFiles::new(storage.clone(), 1);
        let a = files.open("0.sst")?;
        let _b = files.open("1.sst")?;
        storage.create("0.sst")?.append(b"short")?;
        assert!(
            matches!(read_all(&a), Err(Error::Corruption { file, .. }) if file == "0.sst"),
            "a replaced file is refused"
        );
        Ok(())
    }

    #[test]
    fn a_pinned_file_outlives_its_name_and_leaves_the_budget() -> Result<()> {
        let storage = storage_with(4);
        let files = TableFiles::new(storage.clone(), 1);
        let a = files.open("0.sst")?;
        let b = files.open("1.sst")?;
        assert!(!a.is_open());
        a.keep_open()?; // reopens it outside the budget
        a.keep_open()?; // a second pin changes nothing
        storage.remove("0.sst")?;
        assert_eq!(files.open_count(), 1);
        for i in 2..4 {
            let other = files.open(&format!("{i}.sst"))?;
            assert_eq!(read_all(&other)?, contents(i));
            assert_eq!(read_all(&a)?, contents(0), "a pinned file is never closed");
        }
        assert!(!b.is_open());
        b.keep_open()?; // pinned while open: leaves the budget
        assert_eq!(files.open_count(), 0);
        drop((a, b));
        assert_eq!(
            files.open_count(),
            0,
            "a pinned file's drop leaves the count alone"
        );
        Ok(())
    }

    #[test]
    fn concurrent_readers_see_their_bytes_within_the_budget() -> Result<()> {
        let files = TableFiles::new(storage_with(8), 2);
        let opened: Vec<_> = (0..8)
            .map(|i| files.open(&format!("{i}.sst")))
            .collect::<Result<_>>()?;
        std::thread::scope(|s| {
            for t in 0..4usize {
                let opened = &opened;
                s.spawn(move || {
                    for n in 0..2_000usize {
                        let i = (n * 7 + t * 3) % opened.len();
                        assert_eq!(read_all(&opened[i]).expect("read"), contents(i));
                    }
                });
            }
        });
        assert!(files.open_count() <= 2);
        assert_eq!(open_files(&opened), files.open_count());
        Ok(())
    }

    /// Tables read through one budget of a single file: every lookup reopens its table's file.
    #[test]
    fn tables_read_through_a_budget_of_one() -> Result<()> {
        let storage = Arc::new(MemStorage::new());
        let files = TableFiles::new(storage.clone(), 1);
        let cache = Arc::new(BlockCache::new(0)); // every lookup reads its block from the file
        let mut tables = Vec::new();
        for n in 0..3u64 {
            let entries: Vec<_> = (0..50u64)
                .map(|k| {
                    let key = format!("t{n}k{k:03}");
                    (
                        ikey::encode(key.as_bytes(), k + 1, Kind::Put),
                        key.into_bytes(),
                    )
                })
                .collect();
            let (bytes, _) = testutil::build(&entries, TableOptions::default());
            let name = format!("{n}.sst");
            storage.create(&name)?.append(&bytes.bytes())?;
            let file: Arc<dyn RandomAccessFile> = files.open(&name)?;
            tables.push(Table::open(file, n, name, Arc::clone(&cache))?);
        }
        for k in 0..50u64 {
            for (n, table) in tables.iter().enumerate() {
                let key = format!("t{n}k{k:03}");
                let (_, kind, value) = table.get(key.as_bytes(), MAX_SEQNO)?.expect("present");
                assert_eq!((kind, value), (Kind::Put, key.into_bytes()));
                assert_eq!(files.open_count(), 1);
            }
        }
        Ok(())
    }
}
