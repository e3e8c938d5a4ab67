//! [`Engine`]: one LSM tree in one directory (or in memory), shared by many threads.
//!
//! ```text
//!   commit ──► write.rs: pipelined group commit (validate, one WAL append per group, memtable
//!              insert; one fsync covers every group appended before it; publish seqno after it)
//!   get/scan ─► read.rs: state snapshot (memtables + Version) at a seqno, merged cursors
//!   jobs.rs ──► memtable switch, flush to L0, leveled compaction (background thread)
//!   recovery.rs: lock, manifest, open tables, WAL replay, fresh manifest + WAL
//!   heap.rs: returns freed cache pages to the OS after a compaction and on close
//! ```
//! Shared state is split by who writes it, so readers never wait for writers:
//! - `state` (`ArcSwap<State>`): active memtable, immutable memtables, current `Version`;
//!   readers load it without locking; the commit leader and the job runner replace it under
//!   `state_lock`.
//! - `write` (mutex): the WAL writer; held by the one commit leader at a time while it appends
//!   (not while its group's fsync runs: see `write.rs`).
//! - `jobs` (mutex): the manifest and compaction cursors; held by whoever flushes or compacts.

mod backup;
mod batch;
mod heap;
mod jobs;
mod read;
mod recovery;
mod write;

/// The kind of an [`Op`] (and of every version in the LSM tree).
pub use crate::lsm::ikey::Kind;
pub use crate::lsm::sstable::CacheStats;
pub use backup::{restore, BackupInfo, BACKUP_FILE};
pub(crate) use batch::check_key;
pub use batch::{Op, WriteBatch, MAX_KEY_LEN};
pub(crate) use read::get_in_state;
pub use read::ScanIter;

use crate::error::{Error, Result};
use crate::lsm::ikey::SeqNo;
use crate::lsm::manifest::{Manifest, ManifestState};
use crate::lsm::memtable::Memtable;
use crate::lsm::sstable::{BlockCache, TableFiles};
use crate::lsm::version::Version;
use crate::lsm::wal::WalWriter;
use crate::mvcc::oracle::Oracle;
use crate::mvcc::snapshot::{SnapshotGuard, SnapshotList};
use crate::options::Options;
use crate::storage::{DirLock, FsStorage, MemStorage, Storage};
use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What readers see: the memtables and the live tables, swapped as a whole.
pub(crate) struct State {
    pub(crate) mem: Arc<Memtable>,
    /// Immutable memtables waiting for flush, newest first.
    pub(crate) imm: Vec<Arc<Memtable>>,
    pub(crate) version: Arc<Version>,
}

pub(crate) struct WriteState {
    pub(crate) wal: WalWriter,
}

pub(crate) struct JobState {
    pub(crate) manifest: Manifest,
    /// The live file set as the manifest records it (for rewriting the manifest).
    pub(crate) manifest_state: ManifestState,
    pub(crate) cursors: Vec<Vec<u8>>,
}

#[derive(Default)]
pub(crate) struct BgState {
    pub(crate) shutdown: bool,
    pub(crate) wake: bool,
}

pub(crate) struct Inner {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) opts: Options,
    pub(crate) state: ArcSwap<State>,
    pub(crate) state_lock: Mutex<()>,
    pub(crate) write: Mutex<WriteState>,
    /// Bytes in the current WAL, kept beside `write` so `stats()` never waits for the writer
    /// (a commit leader holds `write` through a write stall).
    pub(crate) wal_bytes: AtomicU64,
    pub(crate) commit_queue: write::CommitQueue,
    pub(crate) jobs: Mutex<JobState>,
    pub(crate) bg: Mutex<BgState>,
    /// Wakes the background thread.
    pub(crate) bg_work: Condvar,
    /// Wakes writers stalled on flushes or L0.
    pub(crate) bg_done: Condvar,
    pub(crate) snapshots: Arc<SnapshotList>,
    pub(crate) oracle: Mutex<Oracle>,
    pub(crate) next_file_number: AtomicU64,
    pub(crate) cache: Arc<BlockCache>,
    /// Every table's file, under the `max_open_files` budget.
    pub(crate) table_files: Arc<TableFiles>,
    pub(crate) poisoned: Mutex<Option<String>>,
    pub(crate) closed: AtomicBool,
    /// The cached catalog (see [`crate::catalog`]).
    pub(crate) catalog: crate::catalog::CatalogCache,
    /// Hidden row ids of tables without a primary key (see [`crate::catalog::rowid`]).
    pub(crate) rowids: crate::catalog::rowid::RowIds,
    pub(crate) _lock: Box<dyn DirLock>,
    /// Declared last: fields drop in declaration order, so this runs once the cache, the
    /// memtables and the tables are freed, and returns their pages (see [`heap`]).
    pub(crate) _release: heap::ReleaseOnDrop,
}

impl Inner {
    pub(crate) fn alloc_file_number(&self) -> u64 {
        self.next_file_number.fetch_add(1, Ordering::Relaxed)
    }

    /// Fails when the engine is closed or poisoned by an earlier I/O failure.
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if let Some(why) = self.poisoned.lock().as_ref() {
            return Err(Error::Poisoned(why.clone()));
        }
        Ok(())
    }

    /// Records a fatal write-path failure: no write is accepted until reopen.
    pub(crate) fn poison(&self, err: &Error) {
        let mut p = self.poisoned.lock();
        if p.is_none() {
            tracing::error!(error = %err, "write path failed; refusing further writes");
            *p = Some(err.to_string());
        }
        drop(p);
        self.bg_done.notify_all();
    }
}

/// Stops the background thread when the last [`Engine`] handle is dropped.
struct Closer {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Release);
        {
            let mut bg = self.inner.bg.lock();
            bg.shutdown = true;
        }
        self.inner.bg_work.notify_all();
        self.inner.bg_done.notify_all();
        if let Some(handle) = self.thread.lock().take() {
            if handle.join().is_err() {
                tracing::error!("background thread panicked");
            }
        }
        // Make buffered commits durable on a clean close.
        if self.inner.poisoned.lock().is_none() {
            if let Err(e) = write::sync_appended(&self.inner) {
                tracing::warn!(error = %e, "final WAL sync failed");
            }
        }
    }
}

/// An open LSM tree. Cheap to clone; all clones share one database.
///
/// ```
/// use rustlite_engine::{Engine, Options};
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(b"k", b"v")?;
/// assert_eq!(db.get(b"k")?, Some(b"v".to_vec()));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
    _closer: Arc<Closer>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("location", &self.inner.storage.location())
            .finish()
    }
}

/// Counters and sizes describing an engine (`.stats` in the shell).
///
/// ```
/// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
/// let seq = db.put(b"k", b"v")?;
/// let stats = db.stats();
/// assert_eq!(stats.last_seq, seq);
/// assert!(stats.memtable_bytes > 0 && stats.wal_bytes > 0);
/// assert_eq!(stats.levels.iter().map(|l| l.files).sum::<usize>(), 0); // nothing flushed yet
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Files and bytes per level.
    pub levels: Vec<LevelStats>,
    /// Bytes in the active memtable.
    pub memtable_bytes: usize,
    /// Immutable memtables waiting for flush.
    pub immutable_memtables: usize,
    /// Last published seqno.
    pub last_seq: SeqNo,
    /// Live snapshots and transactions.
    pub live_snapshots: usize,
    /// Block cache counters.
    pub cache: CacheStats,
    /// Bytes in the current WAL file.
    pub wal_bytes: u64,
    /// Group-commit counters since open.
    pub commits: CommitStats,
    /// About how many bytes of commit history are kept for validating the open transactions
    /// (bounded by [`Options::max_conflict_history`](crate::Options::max_conflict_history)).
    pub conflict_history_bytes: usize,
}

/// What the commit pipeline did since the engine opened: under
/// [`Durability::Immediate`](crate::Durability::Immediate), `synced_commits / wal_syncs` is how
/// many commits an fsync carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Fsyncs of the WAL that acknowledged at least one waiting commit.
    pub wal_syncs: u64,
    /// Commits acknowledged by those fsyncs.
    pub synced_commits: u64,
    /// Times a committer waited for other threads to join its fsync ("gathering").
    pub gathers: u64,
    /// Gatherings that ran out of time before the expected commits arrived.
    pub gather_timeouts: u64,
}

/// Files and bytes in one level.
///
/// ```
/// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
/// db.put(b"k", b"v")?;
/// db.flush()?; // writes the memtable out as one level-0 table
/// let l0 = &db.stats().levels[0];
/// assert_eq!(l0.files, 1);
/// assert!(l0.bytes > 0);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct LevelStats {
    /// Number of SSTables.
    pub files: usize,
    /// Total bytes.
    pub bytes: u64,
}

impl Engine {
    /// Opens (creating if needed) the database in directory `path`.
    ///
    /// ```
    /// use rustlite_engine::{Engine, Options};
    /// let dir = tempfile::tempdir()?;
    /// {
    ///     let db = Engine::open(dir.path(), Options::default())?;
    ///     db.put(b"k", b"v")?;
    /// } // dropping the last clone closes the database
    /// let db = Engine::open(dir.path(), Options::default())?;
    /// assert_eq!(db.get(b"k")?, Some(b"v".to_vec())); // recovered from the WAL
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Engine> {
        let storage = FsStorage::open(path.as_ref())?.read_around(opts.read_around);
        Self::open_with_storage(Arc::new(storage), opts)
    }

    /// Opens a database that lives in memory only; it runs the same code as on disk.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// assert_eq!(db.location(), ":memory:");
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn open_in_memory(opts: Options) -> Result<Engine> {
        Self::open_with_storage(Arc::new(MemStorage::new()), opts)
    }

    /// Opens a database on any [`Storage`] (fault-injection tests use this).
    // Hidden: a hook for power-loss tests and fuzz targets, like the `storage` module it takes.
    #[doc(hidden)]
    pub fn open_with_storage(storage: Arc<dyn Storage>, opts: Options) -> Result<Engine> {
        let inner = Arc::new(recovery::open(storage, opts)?);
        let thread = if inner.opts.background_compaction {
            let bg_inner = Arc::clone(&inner);
            let handle = std::thread::Builder::new()
                .name("rustlite-compaction".into())
                .spawn(move || jobs::background_loop(&bg_inner))?;
            Some(handle)
        } else {
            None
        };
        jobs::schedule(&inner);
        Ok(Engine {
            _closer: Arc::new(Closer {
                inner: Arc::clone(&inner),
                thread: Mutex::new(thread),
            }),
            inner,
        })
    }

    /// Makes every commit so far durable (fsyncs the WAL). Needed only with
    /// [`Durability::Buffered`](crate::Durability::Buffered).
    ///
    /// ```
    /// use rustlite_engine::{Durability, Engine, Options};
    /// let db = Engine::open_in_memory(Options::default().durability(Durability::Buffered))?;
    /// db.put(b"k", b"v")?; // acknowledged before it is fsynced
    /// db.sync()?; // now it survives a power loss
    /// assert_eq!(db.get(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn sync(&self) -> Result<()> {
        self.inner.check_writable()?;
        write::sync_appended(&self.inner)
    }

    /// Writes the memtable out to an SSTable now and waits for it.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// db.put(b"k", b"v")?;
    /// db.flush()?;
    /// assert_eq!(db.stats().levels[0].files, 1);
    /// assert_eq!(db.get(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        jobs::force_flush(&self.inner)
    }

    /// Flushes, then compacts until every level is within its target and, when `full`, merges
    /// everything into the last non-empty level (dropping deleted and shadowed versions).
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// db.put(b"a", b"1")?;
    /// db.flush()?;
    /// db.delete(b"a")?;
    /// db.compact(true)?; // the put and its tombstone are both dropped
    /// assert_eq!(db.verify()?, 0);
    /// assert_eq!(db.get(b"a")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn compact(&self, full: bool) -> Result<()> {
        jobs::force_flush(&self.inner)?;
        jobs::compact_until_idle(&self.inner, full)
    }

    /// Registers a read-only snapshot at the latest committed state.
    pub(crate) fn snapshot_guard(&self, transaction: bool) -> Arc<SnapshotGuard> {
        Arc::new(self.inner.snapshots.acquire(transaction))
    }

    /// The last committed seqno.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// let seq = db.put(b"k", b"v")?;
    /// assert_eq!(db.last_seq(), seq);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn last_seq(&self) -> SeqNo {
        self.inner.snapshots.visible()
    }

    /// The options the engine was opened with.
    ///
    /// ```
    /// use rustlite_engine::{Engine, Options};
    /// let db = Engine::open_in_memory(Options::default().memtable_size(1 << 20))?;
    /// assert_eq!(db.options().memtable_size, 1 << 20);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// Where the database lives (a path, or `:memory:`).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let db = rustlite_engine::Engine::open(dir.path(), Default::default())?;
    /// assert!(db.location().contains(&*dir.path().to_string_lossy()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn location(&self) -> String {
        self.inner.storage.location()
    }

    /// Sizes and counters.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// let snap = db.snapshot();
    /// assert_eq!(db.stats().live_snapshots, 1);
    /// drop(snap);
    /// assert_eq!(db.stats().live_snapshots, 0);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let state = self.inner.state.load();
        Stats {
            levels: state
                .version
                .levels
                .iter()
                .map(|files| LevelStats {
                    files: files.len(),
                    bytes: files.iter().map(|f| f.meta.size).sum(),
                })
                .collect(),
            memtable_bytes: state.mem.approximate_size(),
            immutable_memtables: state.imm.len(),
            last_seq: self.inner.snapshots.visible(),
            live_snapshots: self.inner.snapshots.live_count(),
            cache: self.inner.cache.stats(),
            wal_bytes: self.inner.wal_bytes.load(Ordering::Relaxed),
            commits: self.inner.commit_queue.stats(),
            conflict_history_bytes: self.inner.oracle.lock().bytes(),
        }
    }

    /// Reads every live file and checks it; returns the number of table entries checked.
    ///
    /// - the manifest: every record's checksum (a torn tail is tolerated, as at open) and every
    ///   edit decodes;
    /// - the WALs of the memtables not yet flushed: every record's checksum (the tail may be a
    ///   commit in flight) and every batch decodes;
    /// - every live SSTable: every block's checksum, the key order within and across blocks,
    ///   the index against the blocks and the footer's entry count.
    ///
    /// The first problem found is returned as [`Error::Corruption`] naming the file and the
    /// offset of the damaged record or block.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// db.put(b"a", b"1")?;
    /// db.put(b"b", b"2")?;
    /// db.flush()?;
    /// assert_eq!(db.verify()?, 2); // two entries in the one SSTable
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn verify(&self) -> Result<u64> {
        self.verify_manifest()?;
        let state = self.inner.state.load_full();
        for wal in std::iter::once(&state.mem).chain(&state.imm) {
            verify_wal(self.inner.storage.as_ref(), wal.wal_number())?;
        }
        let mut entries = 0;
        for f in state.version.levels.iter().flatten() {
            entries += f.table.verify()?;
        }
        Ok(entries)
    }

    fn verify_manifest(&self) -> Result<()> {
        use crate::lsm::manifest::{manifest_file_name, VersionEdit, EDIT_RECORD};
        let jobs = self.inner.jobs.lock();
        let name = manifest_file_name(jobs.manifest.number());
        let buf = self.inner.storage.read_all(&name)?;
        drop(jobs);
        let found = crate::codec::record::read_records(&buf, &name)?;
        for (i, rec) in found.records.iter().enumerate() {
            if rec.rtype != EDIT_RECORD {
                return Err(Error::corruption(&name, rec.offset, "not a manifest edit"));
            }
            let payload = found
                .payload(&buf, i)
                .ok_or_else(|| Error::corruption(&name, rec.offset, "record out of bounds"))?;
            VersionEdit::decode(payload, &name, rec.offset)?;
        }
        Ok(())
    }
}

/// Checks WAL `number` record by record; a WAL removed meanwhile (its memtable was flushed) is
/// fine.
fn verify_wal(storage: &dyn Storage, number: u64) -> Result<()> {
    let name = crate::lsm::wal::wal_file_name(number);
    match crate::lsm::wal::replay(storage, &name, None, |_, _| Ok(())) {
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Commits a batch through the group-commit pipeline (used by transactions).
pub(crate) fn commit_batch(
    engine: &Engine,
    batch: WriteBatch,
    validation: Option<crate::mvcc::oracle::Validation>,
) -> Result<SeqNo> {
    let ddl = crate::catalog::touches_catalog(batch.ops().iter().map(|op| op.key.as_slice()));
    let seq = write::commit(&engine.inner, batch, validation)?;
    if ddl {
        engine.inner.catalog.invalidate();
    }
    Ok(seq)
}

impl Engine {
    /// Applies `batch` atomically (one WAL record); returns its seqno.
    ///
    /// ```
    /// use rustlite_engine::{Engine, Options, WriteBatch};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"a", b"1").put(b"b", b"2");
    /// let seq = db.write(batch)?;
    /// assert_eq!(db.last_seq(), seq);
    /// assert_eq!(db.get(b"b")?, Some(b"2".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn write(&self, batch: WriteBatch) -> Result<SeqNo> {
        commit_batch(self, batch, None)
    }

    /// Sets `key` to `value`.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// let first = db.put(b"k", b"1")?;
    /// let second = db.put(b"k", b"2")?;
    /// assert!(second > first);
    /// assert_eq!(db.get(b"k")?, Some(b"2".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<SeqNo> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.write(batch)
    }

    /// Deletes `key` (a no-op if it is absent).
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// db.put(b"k", b"v")?;
    /// db.delete(b"k")?;
    /// db.delete(b"never-there")?;
    /// assert_eq!(db.get(b"k")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn delete(&self, key: &[u8]) -> Result<SeqNo> {
        let mut batch = WriteBatch::new();
        batch.delete(key);
        self.write(batch)
    }
}

impl Engine {
    /// Fails with [`Error::Closed`] or [`Error::Poisoned`] when the engine cannot accept writes.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// assert!(db.check_writable().is_ok());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn check_writable(&self) -> Result<()> {
        self.inner.check_writable()
    }
}
