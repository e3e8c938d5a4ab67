//! [`Transaction`] and [`Snapshot`] over raw keys.

use crate::collection::{Collection, TxCollection};
use crate::kv::{as_slices, prefix_bounds, raw_bounds, raw_key, KvIter};
use rustlite_engine::{Direction, IsolationLevel, Result, SeqNo};
use std::ops::RangeBounds;

/// An optimistic transaction: reads see a snapshot (per its isolation level), writes are private
/// until [`commit`](Self::commit), which applies all of them atomically or fails with
/// [`Error::Conflict`](crate::Error::Conflict). Dropping it without committing rolls it back.
///
/// ```
/// let db = rustlite::Database::in_memory()?;
/// let mut tx = db.begin()?;
/// tx.put("a", "1")?;
/// assert_eq!(db.get("a")?, None);            // not visible before commit
/// tx.commit()?;
/// assert_eq!(db.get("a")?, Some(b"1".to_vec()));
/// # Ok::<(), rustlite::Error>(())
/// ```
#[derive(Debug)]
pub struct Transaction {
    inner: rustlite_engine::Transaction,
}

impl Transaction {
    pub(crate) fn new(inner: rustlite_engine::Transaction) -> Self {
        Transaction { inner }
    }

    /// The isolation level.
    ///
    /// ```
    /// use rustlite::IsolationLevel;
    /// let db = rustlite::Database::in_memory()?;
    /// assert_eq!(db.begin()?.isolation(), IsolationLevel::RepeatableRead);
    /// let tx = db.begin_with(IsolationLevel::ReadCommitted)?;
    /// assert_eq!(tx.isolation(), IsolationLevel::ReadCommitted);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn isolation(&self) -> IsolationLevel {
        self.inner.isolation()
    }

    /// The engine transaction underneath (the table layer and SQL work on it).
    pub(crate) fn engine_tx(&mut self) -> &mut rustlite_engine::Transaction {
        &mut self.inner
    }

    /// The collection of `T` inside this transaction, registered or migrated (inside this
    /// transaction) on first use. See [`TxCollection`].
    ///
    /// ```
    /// # #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    /// # struct Item { #[key] id: u32 }
    /// let db = rustlite::Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// tx.collection::<Item>()?.insert(&Item { id: 1 })?;
    /// tx.commit()?;
    /// assert!(db.collection::<Item>()?.get(&1)?.is_some());
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn collection<T: Collection>(&mut self) -> Result<TxCollection<'_, T>> {
        TxCollection::open(&mut self.inner)
    }

    /// Reads `key` (this transaction's own writes first).
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("a", "1")?;
    /// let mut tx = db.begin()?;
    /// tx.put("b", "2")?;
    /// assert_eq!(tx.get("a")?, Some(b"1".to_vec()));
    /// assert_eq!(tx.get("b")?, Some(b"2".to_vec())); // its own, uncommitted write
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.inner.get(&raw_key(key.as_ref()))
    }

    /// Buffers a put.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// tx.put("k", "1")?;
    /// tx.put("k", "2")?; // the last put wins
    /// assert_eq!(db.get("k")?, None); // buffered until commit
    /// tx.commit()?;
    /// assert_eq!(db.get("k")?, Some(b"2".to_vec()));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.inner.put(&raw_key(key.as_ref()), value.as_ref())
    }

    /// Buffers a delete.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "v")?;
    /// let mut tx = db.begin()?;
    /// tx.delete("k")?;
    /// assert_eq!(tx.get("k")?, None);
    /// assert_eq!(db.get("k")?, Some(b"v".to_vec())); // still there until commit
    /// tx.commit()?;
    /// assert_eq!(db.get("k")?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<()> {
        self.inner.delete(&raw_key(key.as_ref()))
    }

    /// Scans `range` ascending, including this transaction's own writes.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("a", "1")?;
    /// db.put("c", "3")?;
    /// let mut tx = db.begin()?;
    /// tx.put("b", "2")?;
    /// let keys: Vec<Vec<u8>> = tx.scan("a".."z")?.map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>>(&mut self, range: impl RangeBounds<K>) -> Result<KvIter<'_>> {
        self.scan_dir(raw_bounds(&range), Direction::Forward)
    }

    /// Scans `range` descending.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("a", "1")?;
    /// let mut tx = db.begin()?;
    /// tx.put("b", "2")?;
    /// let keys: Vec<Vec<u8>> = tx.scan_rev("a"..="b")?.map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"b".to_vec(), b"a".to_vec()]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan_rev<K: AsRef<[u8]>>(&mut self, range: impl RangeBounds<K>) -> Result<KvIter<'_>> {
        self.scan_dir(raw_bounds(&range), Direction::Reverse)
    }

    /// Scans every key starting with `prefix`, ascending.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("user:1", "ada")?;
    /// db.put("post:1", "hi")?;
    /// let mut tx = db.begin()?;
    /// tx.put("user:2", "bob")?;
    /// let keys: Vec<Vec<u8>> = tx.scan_prefix("user:")?.map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"user:1".to_vec(), b"user:2".to_vec()]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan_prefix(&mut self, prefix: impl AsRef<[u8]>) -> Result<KvIter<'_>> {
        self.scan_dir(prefix_bounds(prefix.as_ref()), Direction::Forward)
    }

    fn scan_dir(
        &mut self,
        bounds: (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>),
        dir: Direction,
    ) -> Result<KvIter<'_>> {
        let (lo, hi) = as_slices(&bounds);
        Ok(KvIter::from_txn(self.inner.scan(lo, hi, dir)?))
    }

    /// Commits; returns the commit's seqno. On [`Error::Conflict`](crate::Error::Conflict)
    /// nothing was written: retry the whole transaction.
    ///
    /// ```
    /// use rustlite::Error;
    /// let db = rustlite::Database::in_memory()?;
    /// let (mut t1, mut t2) = (db.begin()?, db.begin()?);
    /// t1.put("k", "1")?;
    /// t2.put("k", "2")?;
    /// t1.commit()?; // first committer wins
    /// assert!(matches!(t2.commit(), Err(Error::Conflict(_))));
    /// assert_eq!(db.get("k")?, Some(b"1".to_vec()));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn commit(self) -> Result<SeqNo> {
        self.inner.commit()
    }

    /// Discards the transaction's writes.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// tx.put("k", "v")?;
    /// tx.rollback();
    /// assert_eq!(db.get("k")?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn rollback(self) {
        self.inner.rollback();
    }
}

/// A read-only, consistent view of the database at one moment.
///
/// ```
/// let db = rustlite::Database::in_memory()?;
/// db.put("k", "v1")?;
/// let snap: rustlite::Snapshot = db.snapshot();
/// db.put("k", "v2")?;
/// db.put("new", "x")?;
/// assert_eq!(snap.get("k")?, Some(b"v1".to_vec())); // later writes are invisible
/// assert_eq!(snap.get("new")?, None);
/// # Ok::<(), rustlite::Error>(())
/// ```
pub struct Snapshot {
    inner: rustlite_engine::Snapshot,
}

impl Snapshot {
    pub(crate) fn new(inner: rustlite_engine::Snapshot) -> Self {
        Snapshot { inner }
    }

    /// Reads `key` as of the snapshot.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("k", "v")?;
    /// let snap = db.snapshot();
    /// db.delete("k")?;
    /// assert_eq!(snap.get("k")?, Some(b"v".to_vec()));
    /// assert_eq!(db.get("k")?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.inner.get(&raw_key(key.as_ref()))
    }

    /// Scans `range` ascending as of the snapshot.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("a", "1")?;
    /// let snap = db.snapshot();
    /// db.put("b", "2")?;
    /// let keys: Vec<Vec<u8>> = snap.scan("a"..="z")?.map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"a".to_vec()]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Result<KvIter<'static>> {
        let bounds = raw_bounds(&range);
        let (lo, hi) = as_slices(&bounds);
        Ok(KvIter::from_db(self.inner.scan(
            lo,
            hi,
            Direction::Forward,
        )?))
    }

    /// Scans every key starting with `prefix` as of the snapshot.
    ///
    /// ```
    /// let db = rustlite::Database::in_memory()?;
    /// db.put("user:1", "ada")?;
    /// let snap = db.snapshot();
    /// db.put("user:2", "bob")?;
    /// assert_eq!(snap.scan_prefix("user:")?.count(), 1);
    /// assert_eq!(db.scan_prefix("user:")?.count(), 2);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<KvIter<'static>> {
        let bounds = prefix_bounds(prefix.as_ref());
        let (lo, hi) = as_slices(&bounds);
        Ok(KvIter::from_db(self.inner.scan(
            lo,
            hi,
            Direction::Forward,
        )?))
    }
}
