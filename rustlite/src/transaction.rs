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
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.inner.get(&raw_key(key.as_ref()))
    }

    /// Buffers a put.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.inner.put(&raw_key(key.as_ref()), value.as_ref())
    }

    /// Buffers a delete.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<()> {
        self.inner.delete(&raw_key(key.as_ref()))
    }

    /// Scans `range` ascending, including this transaction's own writes.
    pub fn scan<K: AsRef<[u8]>>(&mut self, range: impl RangeBounds<K>) -> Result<KvIter<'_>> {
        self.scan_dir(raw_bounds(&range), Direction::Forward)
    }

    /// Scans `range` descending.
    pub fn scan_rev<K: AsRef<[u8]>>(&mut self, range: impl RangeBounds<K>) -> Result<KvIter<'_>> {
        self.scan_dir(raw_bounds(&range), Direction::Reverse)
    }

    /// Scans every key starting with `prefix`, ascending.
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
    pub fn commit(self) -> Result<SeqNo> {
        self.inner.commit()
    }

    /// Discards the transaction's writes.
    pub fn rollback(self) {
        self.inner.rollback();
    }
}

/// A read-only, consistent view of the database at one moment.
pub struct Snapshot {
    inner: rustlite_engine::Snapshot,
}

impl Snapshot {
    pub(crate) fn new(inner: rustlite_engine::Snapshot) -> Self {
        Snapshot { inner }
    }

    /// Reads `key` as of the snapshot.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.inner.get(&raw_key(key.as_ref()))
    }

    /// Scans `range` ascending as of the snapshot.
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
