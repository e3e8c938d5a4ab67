//! [`Database`]: the handle an application opens and shares between threads.

use crate::collection::{Collection, CollectionHandle};
use crate::kv::{as_slices, prefix_bounds, raw_bounds, raw_key, KvIter};
use crate::transaction::{Snapshot, Transaction};
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

    /// A database that lives in memory only (gone when dropped). It runs the same engine code as
    /// an on-disk database.
    pub fn in_memory() -> Result<Database> {
        Self::in_memory_with(Options::default())
    }

    /// An in-memory database with `options`.
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
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Sets `key` to `value` (one atomic, durable commit).
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
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.engine.get(&raw_key(key.as_ref()))
    }

    /// Deletes `key`; deleting a missing key is not an error.
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
        for op in batch.ops() {
            let mut op = op.clone();
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
    pub fn scan_rev<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<KvIter<'static>> {
        self.scan_dir(raw_bounds(&range), Direction::Reverse)
    }

    /// Iterates every key starting with `prefix`, ascending.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<KvIter<'static>> {
        self.scan_dir(prefix_bounds(prefix.as_ref()), Direction::Forward)
    }

    /// Iterates every key starting with `prefix`, descending.
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
    pub fn sync(&self) -> Result<()> {
        self.engine.sync()
    }

    /// Begins a transaction at the default isolation level, RepeatableRead (snapshot isolation).
    pub fn begin(&self) -> Result<Transaction> {
        self.begin_with(IsolationLevel::default())
    }

    /// Begins a transaction at `isolation`.
    pub fn begin_with(&self, isolation: IsolationLevel) -> Result<Transaction> {
        self.engine.check_writable()?;
        Ok(Transaction::new(self.engine.begin(isolation)))
    }

    /// Runs `f` in a transaction and commits it, retrying (up to 16 times) when the commit, or
    /// any operation inside `f`, fails with [`Error::Conflict`]. Any other error rolls back and is
    /// returned.
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
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.engine.snapshot())
    }

    /// Writes the memtable out to disk now (normally done in the background).
    pub fn flush(&self) -> Result<()> {
        self.engine.flush()
    }

    /// Compacts the whole database now: merges every level down, dropping deleted and
    /// overwritten data no snapshot needs.
    pub fn compact(&self) -> Result<()> {
        self.engine.compact(true)
    }

    /// Sizes and counters (levels, files, memtable, cache, WAL).
    pub fn stats(&self) -> Stats {
        self.engine.stats()
    }

    /// Reads every live table and checks every checksum and the key order; returns the number
    /// of entries checked, or [`Error::Corruption`] naming the file and offset.
    pub fn verify(&self) -> Result<u64> {
        self.engine.verify()
    }
}
