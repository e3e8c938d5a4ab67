//! [`Database`]: the handle an application opens and shares between threads.

use crate::collection::{Collection, CollectionHandle};
use crate::kv::{as_slices, prefix_bounds, raw_bounds, raw_key, with_raw_key, KvIter};
use crate::transaction::{Snapshot, Transaction};
use rustlite_engine::engine::BackupInfo;
use rustlite_engine::{
    Direction, Engine, Error, IsolationLevel, Options, Result, SeqNo, Stats, WriteBatch,
};
use std::ops::RangeBounds;
use std::path::Path;

/// How many times [`Database::transaction`] runs its closure before giving up on conflicts.
const TRANSACTION_RETRIES: usize = 16;

/// An open RustLite database. Cheap to clone: every clone shares the same database, and it is
/// `Send + Sync`, so threads can share one handle. The database closes when the last clone (and
/// the last transaction, snapshot or iterator) is dropped.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let db = rustlite::Database::open(dir.path())?;
/// db.put(b"greeting", b"hello")?;
/// drop(db);
/// let db = rustlite::Database::open(dir.path())?; // everything written is still there
/// assert_eq!(db.get(b"greeting")?, Some(b"hello".to_vec()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Database {
    engine: Engine,
}

impl Database {
    /// Opens the database in directory `path`, creating it if needed, with default options
    /// ([`Durability::Immediate`](crate::Durability::Immediate): a write returns once fsynced).
    ///
    /// Fails with [`Error::Locked`] if another handle or process has the directory open, and with
    /// [`Error::Corruption`] if a checksum fails anywhere but a torn WAL tail.
    ///
    /// ```
    /// use rustlite::{Database, Error};
    /// let dir = tempfile::tempdir()?;
    /// let db = Database::open(dir.path())?;
    /// db.put("k", "v")?;
    /// assert!(matches!(Database::open(dir.path()), Err(Error::Locked(_)))); // already open
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Self::open_with(path, Options::default())
    }

    /// Opens the database in `path` with `options`.
    ///
    /// ```
    /// use rustlite::{Database, Durability, Options};
    /// let dir = tempfile::tempdir()?;
    /// let db = Database::open_with(dir.path(), Options::default().durability(Durability::Buffered))?;
    /// db.put(b"k", b"v")?;
    /// db.sync()?; // make buffered writes durable
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Database> {
        Ok(Database {
            engine: Engine::open(path, options)?,
        })
    }

    // Hidden: the engine's hook for fault-injection tests (`rustlite_engine::storage`).
    #[doc(hidden)]
    pub fn open_with_storage(
        storage: std::sync::Arc<dyn rustlite_engine::storage::Storage>,
        options: Options,
    ) -> Result<Database> {
        Ok(Database {
            engine: Engine::open_with_storage(storage, options)?,
        })
    }

    /// A database that lives in memory only (gone when dropped). It runs the same engine code as
    /// an on-disk database.
    ///
    /// ```
    /// use rustlite::Database;
    /// let a = Database::in_memory()?;
    /// let b = Database::in_memory()?;
    /// a.put("k", "v")?;
    /// assert_eq!(a.get("k")?, Some(b"v".to_vec()));
    /// assert_eq!(b.get("k")?, None); // each in-memory database is separate
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn in_memory() -> Result<Database> {
        Self::in_memory_with(Options::default())
    }

    /// An in-memory database with `options`.
    ///
    /// ```
    /// use rustlite::{Database, Options};
    /// let db = Database::in_memory_with(Options::default().memtable_size(64 * 1024))?;
    /// assert_eq!(db.engine().options().memtable_size, 64 * 1024);
    /// for i in 0..1000 { db.put(format!("key{i:04}"), [0u8; 100])?; }
    /// assert_eq!(db.scan_prefix("key")?.count(), 1000);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn in_memory_with(options: Options) -> Result<Database> {
        Ok(Database {
            engine: Engine::open_in_memory(options)?,
        })
    }

    /// The collection of documents of type `T`, registered in the catalog on first open and
    /// migrated on later opens when `T`'s declared indexes or fields changed (indexes built or
    /// dropped in one transaction). A changed key is refused with [`Error::Schema`].
    ///
    /// ```
    /// # #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    /// # struct Item { #[key] id: u32, #[index] tag: String }
    /// let db = rustlite::Database::in_memory()?;
    /// let items = db.collection::<Item>()?;
    /// items.insert(&Item { id: 1, tag: "a".into() })?;
    /// assert_eq!(items.find(Item::TAG, "a")?.len(), 1);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn collection<T: Collection>(&self) -> Result<CollectionHandle<T>> {
        CollectionHandle::open(self)
    }

    /// The storage engine underneath (for tools and tests).
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// let before = db.engine().last_seq();
    /// db.put("k", "v")?;
    /// assert!(db.engine().last_seq() > before);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Sets `key` to `value` (one atomic, durable commit). A key is at most 65,535 bytes (the
    /// engine's [`MAX_KEY_LEN`](rustlite_engine::engine::MAX_KEY_LEN) of 64 KiB, less the one
    /// byte raw keys are stored under): a longer one is [`Error::InvalidArgument`](crate::Error)
    /// and writes nothing. A value may be as long as one WAL record holds (256 MiB with its key).
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("name", "ada")?;
    /// assert_eq!(db.get("name")?.as_deref(), Some(&b"ada"[..]));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.engine.put(&raw_key(key.as_ref()), value.as_ref())?;
        Ok(())
    }

    /// The value of `key`, or `None`.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "v")?;
    /// assert_eq!(db.get("k")?, Some(b"v".to_vec()));
    /// assert_eq!(db.get("missing")?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.get_with(key, <[u8]>::to_vec)
    }

    /// Runs `f` on the value of `key` without copying it out of the database (it is borrowed
    /// from the memtable or the cached block for the call) and returns what `f` returns, or
    /// `None` (`f` not called) when the key is absent.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "value")?;
    /// assert_eq!(db.get_with("k", |v| v.len())?, Some(5));
    /// assert_eq!(db.get_with("k", |v| v.starts_with(b"val"))?, Some(true));
    /// assert_eq!(db.get_with("missing", |v| v.len())?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn get_with<R>(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        with_raw_key(key.as_ref(), |k| self.engine.get_with(k, f))
    }

    /// Deletes `key`; deleting a missing key is not an error.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "v")?;
    /// db.delete("k")?;
    /// assert_eq!(db.get("k")?, None);
    /// db.delete("never-written")?; // fine
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.engine.delete(&raw_key(key.as_ref()))?;
        Ok(())
    }

    /// Applies every write in `batch` atomically: after a crash, all of them or none are there.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// let mut batch = rustlite::WriteBatch::new();
    /// batch.put(b"a", b"1").put(b"b", b"2").delete(b"c");
    /// db.write_batch(batch)?;
    /// assert_eq!(db.get(b"b")?, Some(b"2".to_vec()));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn write_batch(&self, batch: WriteBatch) -> Result<SeqNo> {
        let mut tagged = WriteBatch::new();
        for mut op in batch.into_ops() {
            op.key = raw_key(&op.key);
            tagged.push(op);
        }
        self.engine.write(tagged)
    }

    /// Iterates the keys in `range` in ascending order, at a consistent snapshot.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// for k in ["a", "b", "c", "d"] { db.put(k, "x")?; }
    /// let keys: Vec<Vec<u8>> = db.scan("b".."d")?.map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<KvIter<'static>> {
        self.scan_dir(raw_bounds(&range), Direction::Forward)
    }

    /// Like [`scan`](Self::scan), in descending key order.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// for k in ["a", "b", "c", "d"] { db.put(k, "x")?; }
    /// let keys: Vec<Vec<u8>> = db.scan_rev("a"..="c")?.map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan_rev<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<KvIter<'static>> {
        self.scan_dir(raw_bounds(&range), Direction::Reverse)
    }

    /// Iterates every key starting with `prefix`, ascending.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("user:1", "ada")?;
    /// db.put("user:2", "bob")?;
    /// db.put("post:1", "hi")?;
    /// let users: Vec<(Vec<u8>, Vec<u8>)> = db.scan_prefix("user:")?.collect::<Result<_, _>>()?;
    /// assert_eq!(users, [(b"user:1".to_vec(), b"ada".to_vec()), (b"user:2".to_vec(), b"bob".to_vec())]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<KvIter<'static>> {
        self.scan_dir(prefix_bounds(prefix.as_ref()), Direction::Forward)
    }

    /// Iterates every key starting with `prefix`, descending.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// for k in ["log:1", "log:2", "log:3", "tmp:9"] { db.put(k, "")?; }
    /// let latest = db.scan_prefix_rev("log:")?.next().transpose()?.map(|(k, _)| k);
    /// assert_eq!(latest, Some(b"log:3".to_vec()));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan_prefix_rev(&self, prefix: impl AsRef<[u8]>) -> Result<KvIter<'static>> {
        self.scan_dir(prefix_bounds(prefix.as_ref()), Direction::Reverse)
    }

    fn scan_dir(
        &self,
        bounds: (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>),
        dir: Direction,
    ) -> Result<KvIter<'static>> {
        let (lo, hi) = as_slices(&bounds);
        Ok(KvIter::from_db(self.engine.scan(lo, hi, dir)?))
    }

    /// Makes every write so far durable. Only needed with
    /// [`Durability::Buffered`](crate::Durability::Buffered); with the default
    /// `Immediate` durability every write is already durable when it returns.
    ///
    /// ```
    /// use rustlite::{Database, Durability, Options};
    /// let dir = tempfile::tempdir()?;
    /// let db = Database::open_with(dir.path(), Options::default().durability(Durability::Buffered))?;
    /// db.put("k", "v")?;
    /// db.sync()?;
    /// drop(db);
    /// assert_eq!(Database::open(dir.path())?.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sync(&self) -> Result<()> {
        self.engine.sync()
    }

    /// Begins a transaction at the default isolation level, RepeatableRead (snapshot isolation).
    ///
    /// ```
    /// use rustlite::IsolationLevel;
    /// let db = rustlite::Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// assert_eq!(tx.isolation(), IsolationLevel::RepeatableRead);
    /// tx.put("k", "v")?;
    /// tx.commit()?;
    /// assert_eq!(db.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn begin(&self) -> Result<Transaction> {
        self.begin_with(IsolationLevel::default())
    }

    /// Begins a transaction at `isolation`.
    ///
    /// ```
    /// use rustlite::{Error, IsolationLevel};
    /// let db = rustlite::Database::in_memory()?;
    /// let mut tx = db.begin_with(IsolationLevel::Serializable)?;
    /// tx.get("x")?;
    /// db.put("x", "changed")?; // a concurrent commit to a key tx read
    /// tx.put("y", "1")?;
    /// assert!(matches!(tx.commit(), Err(Error::Conflict(_))));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn begin_with(&self, isolation: IsolationLevel) -> Result<Transaction> {
        // No writability check: after a write-path failure a transaction still reads; its
        // commit refuses writes (`Error::Poisoned`).
        Ok(Transaction::new(self.engine.begin(isolation)))
    }

    /// Runs `f` in a transaction and commits it, running it again in a fresh transaction (up to
    /// 16 runs in all) when the commit, or any operation inside `f`, fails with
    /// [`Error::Conflict`]. Any other error rolls back and is returned.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("balance", "10")?;
    /// db.transaction(|tx| {
    ///     let v: i64 = String::from_utf8_lossy(&tx.get("balance")?.unwrap_or_default()).parse().unwrap_or(0);
    ///     tx.put("balance", (v + 5).to_string())
    /// })?;
    /// assert_eq!(db.get("balance")?, Some(b"15".to_vec()));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn transaction<T>(&self, mut f: impl FnMut(&mut Transaction) -> Result<T>) -> Result<T> {
        self.transaction_with(IsolationLevel::default(), &mut f)
    }

    /// [`transaction`](Self::transaction) at a chosen isolation level.
    ///
    /// ```
    /// use rustlite::IsolationLevel;
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("a", "1")?;
    /// let n = db.transaction_with(IsolationLevel::Serializable, |tx| {
    ///     tx.put("b", "2")?;
    ///     Ok(tx.scan("a"..="z")?.count())
    /// })?;
    /// assert_eq!(n, 2);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn transaction_with<T>(
        &self,
        isolation: IsolationLevel,
        mut f: impl FnMut(&mut Transaction) -> Result<T>,
    ) -> Result<T> {
        let mut last = None;
        for _ in 0..TRANSACTION_RETRIES {
            let mut tx = self.begin_with(isolation)?;
            let outcome = f(&mut tx).and_then(|value| tx.commit().map(|_| value));
            match outcome {
                Err(e @ Error::Conflict(_)) => last = Some(e),
                other => return other,
            }
            std::thread::yield_now();
        }
        Err(last.unwrap_or_else(|| Error::Conflict("retries exhausted".into())))
    }

    /// A read-only view of the current state for long consistent reads; it never conflicts and
    /// never blocks writers (compaction keeps the versions it needs until it is dropped).
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "old")?;
    /// let snap = db.snapshot();
    /// db.put("k", "new")?;
    /// assert_eq!(snap.get("k")?, Some(b"old".to_vec()));
    /// assert_eq!(db.get("k")?, Some(b"new".to_vec()));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.engine.snapshot())
    }

    /// Writes the memtable out to disk now (normally done in the background).
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "v")?;
    /// db.flush()?;
    /// assert!(db.stats().levels.iter().any(|level| level.files > 0));
    /// assert_eq!(db.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.engine.flush()
    }

    /// Compacts the whole database now: merges every level down, dropping deleted and
    /// overwritten data no snapshot needs.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("keep", "1")?;
    /// db.put("gone", "1")?;
    /// db.flush()?;
    /// db.delete("gone")?;
    /// db.compact()?;
    /// assert_eq!(db.verify()?, 1); // only "keep" is left on disk
    /// assert_eq!(db.get("gone")?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn compact(&self) -> Result<()> {
        self.engine.compact(true)
    }

    /// Writes a consistent point-in-time copy of the live database into `dir` (created if
    /// missing, refused if not empty) while other threads keep reading and writing; writers wait
    /// only for a memtable switch. Tables are hard-linked where the file system allows, else
    /// copied (with flushes and compactions running meanwhile). The backup is itself a database
    /// directory that [`Database::open`] opens; once opened it is a live database whose files
    /// change, and [`Database::restore`] refuses it: to keep it as a backup, restore it and open
    /// the copy.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "v")?;
    /// let dir = tempfile::tempdir()?;
    /// let backup = dir.path().join("backup");
    /// db.backup_to(&backup)?;
    /// let copy = rustlite::Database::open(&backup)?;
    /// assert_eq!(copy.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backup_to(&self, dir: impl AsRef<Path>) -> Result<BackupInfo> {
        self.engine.backup_to(dir)
    }

    /// Copies the backup in `backup` into `target` (refused if `target` is not empty) after
    /// verifying it: the `BACKUP` listing's trailer (so a torn or edited listing is refused),
    /// every listed file's name, size and checksum, and that the files make a whole database
    /// (the manifest `CURRENT` names, every table it names, the live WAL). A tampered or
    /// incomplete backup gives [`Error::Corruption`] and copies nothing. Then
    /// `Database::open(target)` opens it.
    ///
    /// ```
    /// use rustlite::Database;
    /// let dir = tempfile::tempdir()?;
    /// let db = Database::in_memory()?;
    /// db.put("k", "v")?;
    /// db.backup_to(dir.path().join("backup"))?;
    /// Database::restore(dir.path().join("backup"), dir.path().join("restored"))?;
    /// assert_eq!(Database::open(dir.path().join("restored"))?.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(backup: impl AsRef<Path>, target: impl AsRef<Path>) -> Result<()> {
        rustlite_engine::engine::restore(backup, target)
    }

    /// Sizes and counters (levels, files, memtable, cache, WAL).
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "v")?;
    /// let stats = db.stats();
    /// assert!(stats.memtable_bytes > 0);
    /// assert_eq!(stats.last_seq, db.engine().last_seq());
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.engine.stats()
    }

    /// Reads every live table and checks every checksum and the key order; returns the number
    /// of entries checked, or [`Error::Corruption`] naming the file and offset.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// for k in ["a", "b", "c"] { db.put(k, "v")?; }
    /// db.flush()?;
    /// assert_eq!(db.verify()?, 3);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn verify(&self) -> Result<u64> {
        self.engine.verify()
    }
}
