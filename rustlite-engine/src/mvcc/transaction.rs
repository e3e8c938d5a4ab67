//! Optimistic transactions and read-only snapshots.
//!
//! A [`Transaction`] buffers its writes in an ordered map (so it reads its own writes, also in
//! scans: [`TxnScan`] merges them lazily with committed data), reads committed data at its snapshot (RepeatableRead, Serializable) or at the latest
//! commit (ReadCommitted, ReadUncommitted), and at `commit` hands its writes plus what the oracle
//! must validate to the commit pipeline: one WAL record, all or nothing. Dropping an uncommitted
//! transaction rolls it back (nothing was ever written).
//!
//! Memory is bounded by what the transaction touched: its writes, the keys it read (Serializable
//! only) and one entry per scanned range, never per scanned key.

use crate::engine::{Engine, Op, ScanIter, WriteBatch};
use crate::error::{Error, Result};
use crate::keyspace::KeyRange;
use crate::lsm::ikey::{Kind, SeqNo};
use crate::lsm::iter::Direction;
use crate::mvcc::oracle::{range_is_empty, Validation};
use crate::mvcc::snapshot::SnapshotGuard;
pub use crate::mvcc::txn_scan::TxnScan;
use crate::mvcc::IsolationLevel;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A buffered write: the new value (`None` = delete) and the conflict floor for the key.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) value: Option<Vec<u8>>,
    floor: SeqNo,
}

/// An optimistic read-write transaction. See the module docs.
///
/// ```
/// use rustlite_engine::{Engine, IsolationLevel, Options};
/// let db = Engine::open_in_memory(Options::default())?;
/// let mut tx = db.begin(IsolationLevel::Serializable);
/// tx.put(b"a", b"1")?;
/// assert_eq!(tx.get(b"a")?, Some(b"1".to_vec())); // reads its own writes
/// tx.commit()?;
/// assert_eq!(db.get(b"a")?, Some(b"1".to_vec()));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct Transaction {
    engine: Engine,
    isolation: IsolationLevel,
    snapshot: Arc<SnapshotGuard>,
    writes: BTreeMap<Vec<u8>, Pending>,
    read_keys: BTreeSet<Vec<u8>>,
    read_ranges: Vec<KeyRange>,
    /// Keys this transaction depends on without writing them, with their conflict floors.
    guards: BTreeMap<Vec<u8>, SeqNo>,
    /// Key ranges it depends on likewise ([`guard_range`](Self::guard_range)).
    guard_ranges: Vec<(KeyRange, SeqNo)>,
    /// Previous states of keys written since the oldest open savepoint, in write order.
    undo: Vec<(Vec<u8>, Option<Pending>)>,
    /// Previous floors of keys guarded since the oldest open savepoint, in guard order.
    guard_undo: Vec<(Vec<u8>, Option<SeqNo>)>,
    /// Open savepoints, oldest first.
    savepoints: Vec<Mark>,
    active: bool,
    /// At ReadCommitted / ReadUncommitted: the snapshot one operation's reads share while
    /// [`at_one_snapshot`](Self::at_one_snapshot) runs (otherwise each read sees the latest
    /// commit).
    statement: Option<Arc<SnapshotGuard>>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("isolation", &self.isolation)
            .field("start_seq", &self.snapshot.seq())
            .field("writes", &self.writes.len())
            .finish()
    }
}

impl Engine {
    /// Begins a transaction at `isolation`.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(RepeatableRead);
    /// tx.put(b"k", b"v")?;
    /// assert_eq!(db.get(b"k")?, None); // buffered until commit
    /// tx.commit()?;
    /// assert_eq!(db.get(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn begin(&self, isolation: IsolationLevel) -> Transaction {
        Transaction {
            engine: self.clone(),
            isolation,
            snapshot: self.snapshot_guard(true),
            writes: BTreeMap::new(),
            read_keys: BTreeSet::new(),
            read_ranges: Vec::new(),
            guards: BTreeMap::new(),
            guard_ranges: Vec::new(),
            undo: Vec::new(),
            guard_undo: Vec::new(),
            savepoints: Vec::new(),
            active: true,
            statement: None,
        }
    }

    /// A read-only view of the latest committed state that never changes and never conflicts.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// db.put(b"k", b"old")?;
    /// let snap = db.snapshot();
    /// db.put(b"k", b"new")?;
    /// assert_eq!(snap.get(b"k")?, Some(b"old".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            engine: self.clone(),
            guard: self.snapshot_guard(false),
        }
    }
}

impl Transaction {
    /// The engine this transaction runs on.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The isolation level.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// assert_eq!(db.begin(RepeatableRead).isolation(), RepeatableRead);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn isolation(&self) -> IsolationLevel {
        self.isolation
    }

    /// The seqno of the snapshot taken at begin.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let seq = db.put(b"k", b"v")?;
    /// assert_eq!(db.begin(RepeatableRead).start_seq(), seq);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn start_seq(&self) -> SeqNo {
        self.snapshot.seq()
    }

    /// Whether nothing has been written.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(RepeatableRead);
    /// tx.get(b"k")?;
    /// assert!(tx.is_read_only());
    /// tx.put(b"k", b"v")?;
    /// assert!(!tx.is_read_only());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn is_read_only(&self) -> bool {
        self.writes.is_empty()
    }

    fn check_active(&self) -> Result<()> {
        if self.active {
            Ok(())
        } else {
            Err(Error::TransactionClosed)
        }
    }

    /// Reads `key`: this transaction's own write if any, else committed data per the isolation
    /// level.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// db.put(b"k", b"committed")?;
    /// let mut tx = db.begin(RepeatableRead);
    /// assert_eq!(tx.get(b"k")?, Some(b"committed".to_vec()));
    /// db.put(b"k", b"later")?;
    /// assert_eq!(tx.get(b"k")?, Some(b"committed".to_vec())); // its snapshot
    /// tx.put(b"k", b"mine")?;
    /// assert_eq!(tx.get(b"k")?, Some(b"mine".to_vec())); // its own write
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_active()?;
        if let Some(p) = self.writes.get(key) {
            return Ok(p.value.clone());
        }
        if self.isolation == IsolationLevel::Serializable {
            self.read_keys.insert(key.to_vec());
        }
        match self.read_snapshot() {
            Some(snapshot) => self.engine.get_at(key, snapshot.seq()),
            None => self.engine.get(key),
        }
    }

    /// The snapshot reads go to: the transaction's own at RepeatableRead and Serializable, else
    /// the current operation's while [`at_one_snapshot`](Self::at_one_snapshot) runs, else none
    /// (the latest commit).
    fn read_snapshot(&self) -> Option<&Arc<SnapshotGuard>> {
        if self.isolation.uses_snapshot() {
            Some(&self.snapshot)
        } else {
            self.statement.as_ref()
        }
    }

    /// Runs `f` with every read of this transaction seeing one state, as one SQL statement's
    /// reads do: at RepeatableRead and Serializable they always do; at ReadCommitted and
    /// ReadUncommitted a snapshot of the latest commit is taken for `f`'s duration (each later
    /// operation sees a newer one). The transaction's own writes stay visible; writes and guards
    /// made meanwhile count conflicts from that snapshot (a commit after it to a key `f` writes
    /// is a conflict: `f` decided the write on the older state).
    ///
    /// An index scan reads its entries, then the rows they name: at ReadCommitted, without one
    /// state, a row deleted or changed between the two reads would be missing or no longer
    /// match.
    pub(crate) fn at_one_snapshot<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        if self.read_snapshot().is_some() {
            return f(self);
        }
        self.statement = Some(self.engine.snapshot_guard(false));
        let result = f(self);
        self.statement = None;
        result
    }

    /// Whether this transaction has buffered a write (put or delete) of `key`.
    pub(crate) fn has_written(&self, key: &[u8]) -> bool {
        self.writes.contains_key(key)
    }

    /// Records `key` as read (Serializable validates it at commit) without reading it: for a
    /// caller that knows the value `get` would return by other means.
    pub(crate) fn note_read(&mut self, key: &[u8]) {
        if self.isolation == IsolationLevel::Serializable && !self.writes.contains_key(key) {
            self.read_keys.insert(key.to_vec());
        }
    }

    /// Buffers a put of `key` → `value`.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(RepeatableRead);
    /// tx.put(b"k", b"1")?;
    /// tx.put(b"k", b"2")?;
    /// tx.commit()?;
    /// assert_eq!(db.get(b"k")?, Some(b"2".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(key.to_vec(), Some(value.to_vec()))
    }

    /// [`put`](Self::put) of a key and value the caller already owns (the table layer builds
    /// them for this write): buffered as they are, without copying.
    pub(crate) fn put_owned(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.write(key, Some(value))
    }

    /// Buffers a delete of `key`.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// db.put(b"k", b"v")?;
    /// let mut tx = db.begin(RepeatableRead);
    /// tx.delete(b"k")?;
    /// assert_eq!(tx.get(b"k")?, None); // its own delete
    /// assert_eq!(db.get(b"k")?, Some(b"v".to_vec())); // not yet committed
    /// tx.commit()?;
    /// assert_eq!(db.get(b"k")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.write(key.to_vec(), None)
    }

    /// [`delete`](Self::delete) of a key the caller already owns.
    pub(crate) fn delete_owned(&mut self, key: Vec<u8>) -> Result<()> {
        self.write(key, None)
    }

    fn write(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<()> {
        self.check_active()?;
        crate::engine::check_key(&key)?;
        // Inside one statement at ReadCommitted, from the state the statement reads.
        let floor = self.guard_floor();
        if !self.savepoints.is_empty() {
            let previous = self.writes.get(&key).cloned();
            self.undo.push((key.clone(), previous));
        }
        match self.writes.entry(key) {
            // Keep the first floor: a conflict after the first write of the key still counts.
            Entry::Occupied(mut e) => e.get_mut().value = value,
            Entry::Vacant(e) => {
                e.insert(Pending { value, floor });
            }
        }
        Ok(())
    }

    /// Makes the commit fail with [`Error::Conflict`] if another transaction commits `key`
    /// after this transaction's snapshot (RepeatableRead, Serializable) or after this call
    /// (ReadCommitted, ReadUncommitted), as if this transaction wrote it, but without writing
    /// it. The table layer guards a table's catalog entry this way, so rows are never written
    /// under a schema that a concurrent DDL statement replaced.
    ///
    /// ```
    /// use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(IsolationLevel::default());
    /// tx.guard(b"schema");
    /// tx.put(b"row", b"1")?;
    /// db.put(b"schema", b"v2")?;
    /// assert!(matches!(tx.commit(), Err(Error::Conflict(_))));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn guard(&mut self, key: &[u8]) {
        let floor = self.guard_floor();
        // Keep the first floor, as for writes (and copy the key only the first time: the
        // table layer guards the same catalog key on every write).
        if !self.guards.contains_key(key) {
            self.set_guard(key, floor);
        }
    }

    /// Sets `key`'s guard floor, remembering the previous one while a savepoint is open.
    fn set_guard(&mut self, key: &[u8], floor: SeqNo) {
        let previous = self.guards.insert(key.to_vec(), floor);
        if !self.savepoints.is_empty() {
            self.guard_undo.push((key.to_vec(), previous));
        }
    }

    /// [`guard`](Self::guard) for every key in a range, at every isolation level: the commit
    /// fails with [`Error::Conflict`] if another transaction commits any key in
    /// `lower..upper` after this transaction's snapshot (RepeatableRead, Serializable) or after
    /// this call (ReadCommitted, ReadUncommitted). A schema change guards the rows it reads
    /// this way (an index backfill, a table drop), so a row committed meanwhile cannot be
    /// left out of the new index or behind the dropped table.
    ///
    /// ```
    /// use std::ops::Bound::{Excluded, Included};
    /// use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(IsolationLevel::RepeatableRead);
    /// tx.guard_range(Included(&b"row/"[..]), Excluded(&b"row0"[..]));
    /// tx.put(b"index/a", b"")?;
    /// db.put(b"row/7", b"new")?;
    /// assert!(matches!(tx.commit(), Err(Error::Conflict(_))));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn guard_range(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) {
        let floor = self.guard_floor();
        let range = (lower.map(<[u8]>::to_vec), upper.map(<[u8]>::to_vec));
        self.guard_ranges.push((range, floor));
    }

    /// Reads `key` to decide a write that depends on what it holds (the old row whose index
    /// entries an update replaces, the owner of a unique value). Under snapshot isolation the
    /// write's own conflict floor already covers the read; under ReadCommitted and
    /// ReadUncommitted, where a write's floor is the time of the write, the key is also
    /// [guarded](Self::guard) from before the read, so a commit landing between the read and
    /// the write is a conflict rather than a write decided on a stale value.
    pub(crate) fn get_for_update(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if !self.isolation.uses_snapshot() {
            self.guard(key);
        }
        self.get(key)
    }

    /// The seqno after which a foreign commit breaks a guard (or a write) taken now: the state
    /// reads see — the transaction's snapshot, or the statement's under
    /// [`at_one_snapshot`](Self::at_one_snapshot) — else the latest commit.
    fn guard_floor(&self) -> SeqNo {
        match self.read_snapshot() {
            Some(snapshot) => snapshot.seq(),
            None => self.engine.last_seq(),
        }
    }

    /// Whether `key`'s latest committed value differs from `seen`, what this transaction read
    /// for it at its snapshot: a decision taken on `seen` is then stale, and a retry with a
    /// fresh snapshot may decide otherwise. Always `false` for a key this transaction wrote
    /// and when reads see the latest commit anyway.
    pub(crate) fn changed_since_read(&self, key: &[u8], seen: Option<&[u8]>) -> Result<bool> {
        if self.has_written(key) || self.read_snapshot().is_none() {
            return Ok(false);
        }
        Ok(self.engine.get(key)?.as_deref() != seen)
    }

    /// The seqno reads see now, when they see a fixed one (see [`guard_floor`](Self::guard_floor)).
    pub(crate) fn read_seq(&self) -> Option<SeqNo> {
        self.read_snapshot().map(|s| s.seq())
    }

    /// Marks the current state of this transaction's writes, so that a failed step (one SQL
    /// statement, one typed operation) can be undone with [`rollback_to`](Self::rollback_to)
    /// without abandoning the whole transaction. Every savepoint must end in `rollback_to` or
    /// [`release`](Self::release); savepoints nest: ending one ends every savepoint opened
    /// after it, and ending a savepoint already ended that way (or one of another transaction)
    /// does nothing.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(IsolationLevel::RepeatableRead);
    /// tx.put(b"a", b"1")?;
    /// let sp = tx.savepoint();
    /// tx.put(b"a", b"2")?;
    /// tx.put(b"b", b"2")?;
    /// tx.rollback_to(sp);
    /// assert_eq!(tx.get(b"a")?, Some(b"1".to_vec()));
    /// assert_eq!(tx.get(b"b")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    #[must_use = "a savepoint must be released or rolled back to"]
    pub fn savepoint(&mut self) -> Savepoint {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.savepoints.push(Mark {
            id,
            undo: self.undo.len(),
            guard_undo: self.guard_undo.len(),
            guard_ranges: self.guard_ranges.len(),
        });
        Savepoint(id)
    }

    /// Undoes every write made since `savepoint` and closes it. The keys and ranges guarded
    /// since (by a failed statement's reads for update) are let go too; what Serializable
    /// recorded as read stays (keeping a read can only add conflicts, never hide one).
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(RepeatableRead);
    /// tx.put(b"a", b"1")?;
    /// let sp = tx.savepoint();
    /// tx.put(b"a", b"2")?;
    /// tx.rollback_to(sp);
    /// assert_eq!(tx.get(b"a")?, Some(b"1".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn rollback_to(&mut self, savepoint: Savepoint) {
        let Some(mark) = self
            .savepoints
            .iter()
            .find(|m| m.id == savepoint.0)
            .copied()
        else {
            return; // ended already, with an outer one
        };
        while self.guard_undo.len() > mark.guard_undo {
            let Some((key, previous)) = self.guard_undo.pop() else {
                break;
            };
            match previous {
                Some(floor) => self.guards.insert(key, floor),
                None => self.guards.remove(&key),
            };
        }
        self.guard_ranges.truncate(mark.guard_ranges);
        while self.undo.len() > mark.undo {
            let Some((key, previous)) = self.undo.pop() else {
                break;
            };
            match previous {
                Some(p) => {
                    self.writes.insert(key, p);
                }
                None => {
                    self.writes.remove(&key);
                }
            }
        }
        self.release(savepoint);
    }

    /// Closes `savepoint`, keeping the writes made since.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(RepeatableRead);
    /// let sp = tx.savepoint();
    /// tx.put(b"a", b"1")?;
    /// tx.release(sp);
    /// tx.commit()?;
    /// assert_eq!(db.get(b"a")?, Some(b"1".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn release(&mut self, savepoint: Savepoint) {
        if let Some(i) = self.savepoints.iter().position(|m| m.id == savepoint.0) {
            self.savepoints.truncate(i);
        }
        if self.savepoints.is_empty() {
            self.undo.clear();
            self.guard_undo.clear();
        }
    }

    /// Scans `[lower, upper]` in `dir` order, merging this transaction's own writes.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// use rustlite_engine::Direction;
    /// use std::ops::Bound::Unbounded;
    /// db.put(b"a", b"1")?;
    /// db.put(b"b", b"2")?;
    /// let mut tx = db.begin(RepeatableRead);
    /// tx.delete(b"a")?;
    /// tx.put(b"c", b"3")?;
    /// let keys: Vec<Vec<u8>> = tx
    ///     .scan(Unbounded, Unbounded, Direction::Forward)?
    ///     .map(|e| e.map(|(k, _)| k))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"b".to_vec(), b"c".to_vec()]);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn scan(
        &mut self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
    ) -> Result<TxnScan<'_>> {
        self.check_active()?;
        if self.isolation == IsolationLevel::Serializable {
            self.read_ranges
                .push((lower.map(<[u8]>::to_vec), upper.map(<[u8]>::to_vec)));
        }
        let committed = match self.read_snapshot() {
            Some(snapshot) => {
                let snapshot = Arc::clone(snapshot);
                self.engine.scan_at(lower, upper, dir, snapshot)?
            }
            None => self.engine.scan(lower, upper, dir)?,
        };
        let own = if range_is_empty(&(lower, upper)) {
            None // an inverted range holds nothing (and `BTreeMap::range` would panic)
        } else {
            Some(self.writes.range::<[u8], _>((lower, upper)))
        };
        Ok(TxnScan::new(committed, own, dir))
    }

    /// Validates and commits atomically; returns the commit seqno.
    ///
    /// Fails with [`Error::Conflict`] (retry the transaction) when a concurrent commit broke this
    /// transaction's isolation level; then nothing of it was written.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut t1 = db.begin(RepeatableRead);
    /// let mut t2 = db.begin(RepeatableRead);
    /// t1.put(b"k", b"1")?;
    /// t2.put(b"k", b"2")?;
    /// let seq = t1.commit()?; // first committer wins
    /// assert_eq!(db.last_seq(), seq);
    /// assert!(t2.commit().unwrap_err().is_retryable()); // Error::Conflict
    /// assert_eq!(db.get(b"k")?, Some(b"1".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn commit(mut self) -> Result<SeqNo> {
        self.check_active()?;
        self.active = false;
        if self.writes.is_empty() {
            // A read-only transaction read one consistent snapshot: nothing to validate.
            return Ok(self.snapshot.seq());
        }
        let writes = std::mem::take(&mut self.writes);
        let mut batch = WriteBatch::new();
        let mut write_floors = Vec::with_capacity(writes.len());
        for (key, p) in writes {
            write_floors.push((key.clone(), p.floor));
            batch.push(match p.value {
                Some(value) => Op {
                    kind: Kind::Put,
                    key,
                    value,
                },
                None => Op {
                    kind: Kind::Delete,
                    key,
                    value: Vec::new(),
                },
            });
        }
        write_floors.extend(std::mem::take(&mut self.guards));
        let validation = Validation {
            isolation: self.isolation,
            start_seq: self.snapshot.seq(),
            write_floors,
            read_keys: std::mem::take(&mut self.read_keys).into_iter().collect(),
            read_ranges: std::mem::take(&mut self.read_ranges),
            guard_ranges: std::mem::take(&mut self.guard_ranges),
        };
        crate::engine::commit_batch(&self.engine, batch, Some(validation))
    }

    /// Discards every buffered write.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(RepeatableRead);
    /// tx.put(b"k", b"v")?;
    /// tx.rollback();
    /// assert_eq!(db.get(b"k")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn rollback(mut self) {
        self.active = false;
    }
}

/// A mark in a transaction's writes; see [`Transaction::savepoint`].
///
/// ```
/// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
/// let db = Engine::open_in_memory(Options::default())?;
/// let mut tx = db.begin(RepeatableRead);
/// tx.put(b"kept", b"")?;
/// let sp = tx.savepoint();
/// tx.put(b"undone", b"")?;
/// tx.rollback_to(sp);
/// tx.commit()?;
/// assert_eq!((db.get(b"kept")?.is_some(), db.get(b"undone")?.is_some()), (true, false));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Debug)]
pub struct Savepoint(u64);

/// An open savepoint: its id and the lengths of the undo logs and guarded ranges it marks.
#[derive(Clone, Copy, Debug)]
struct Mark {
    id: u64,
    undo: usize,
    guard_undo: usize,
    guard_ranges: usize,
}

/// A read-only, never-conflicting view of the database at one seqno.
///
/// ```
/// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
/// let db = Engine::open_in_memory(Options::default())?;
/// use rustlite_engine::Direction;
/// use std::ops::Bound::Unbounded;
/// db.put(b"a", b"1")?;
/// let snap = db.snapshot();
/// db.put(b"a", b"2")?;
/// db.put(b"b", b"2")?;
/// assert_eq!(snap.get(b"a")?, Some(b"1".to_vec()));
/// assert_eq!(snap.scan(Unbounded, Unbounded, Direction::Forward)?.count(), 1);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct Snapshot {
    engine: Engine,
    guard: Arc<SnapshotGuard>,
}

impl Snapshot {
    /// The snapshot's seqno.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let seq = db.put(b"a", b"1")?;
    /// let snap = db.snapshot();
    /// db.put(b"a", b"2")?;
    /// assert_eq!(snap.seq(), seq);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn seq(&self) -> SeqNo {
        self.guard.seq()
    }

    /// Reads `key` as of the snapshot.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let snap = db.snapshot();
    /// db.put(b"a", b"1")?;
    /// assert_eq!(snap.get(b"a")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.engine.get_at(key, self.guard.seq())
    }

    /// Scans `[lower, upper]` as of the snapshot.
    ///
    /// ```
    /// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// use rustlite_engine::Direction;
    /// use std::ops::Bound::{Excluded, Unbounded};
    /// for k in [b"a", b"b", b"c"] { db.put(k, b"")?; }
    /// let snap = db.snapshot();
    /// db.delete(b"c")?;
    /// let keys: Vec<Vec<u8>> = snap
    ///     .scan(Excluded(&b"a"[..]), Unbounded, Direction::Forward)?
    ///     .map(|e| e.map(|(k, _)| k))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"b".to_vec(), b"c".to_vec()]);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn scan(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
    ) -> Result<ScanIter> {
        self.engine
            .scan_at(lower, upper, dir, Arc::clone(&self.guard))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, IsolationLevel, Options, Result};

    #[test]
    fn ending_a_savepoint_ends_those_opened_after_it() -> Result<()> {
        let db = Engine::open_in_memory(Options::default())?;
        let mut tx = db.begin(IsolationLevel::RepeatableRead);
        let outer = tx.savepoint();
        tx.put(b"a", b"1")?;
        let inner = tx.savepoint();
        tx.put(b"b", b"1")?;
        tx.rollback_to(outer); // ends `inner` too
        let again = tx.savepoint();
        tx.put(b"c", b"1")?;
        tx.put(b"d", b"1")?;
        tx.rollback_to(inner); // already ended: undoes nothing
        tx.release(again);
        assert!(tx.savepoints.is_empty() && tx.undo.is_empty());
        tx.put(b"e", b"1")?;
        assert!(tx.undo.is_empty(), "no savepoint open: nothing to undo");
        // A savepoint of another transaction is not one of this one's.
        let mut other = db.begin(IsolationLevel::RepeatableRead);
        let foreign = other.savepoint();
        let mine = tx.savepoint();
        tx.put(b"f", b"1")?;
        tx.rollback_to(foreign);
        tx.release(mine);
        other.rollback();
        tx.commit()?;
        let present: Vec<bool> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|k| db.get(k.as_bytes()).map(|v| v.is_some()))
            .collect::<Result<_>>()?;
        assert_eq!(present, [false, false, true, true, true, true]);
        Ok(())
    }

    /// At Serializable every scan records its bounds as given, once per scan, whichever the
    /// direction and however much of it is read, an empty (inverted) range included; at
    /// RepeatableRead none.
    #[test]
    fn serializable_scans_record_their_bounds() -> Result<()> {
        use crate::Direction;
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let db = Engine::open_in_memory(Options::default())?;
        db.put(b"a", b"1")?;
        let (a, b, c): (&[u8], &[u8], &[u8]) = (b"a", b"b", b"c");
        let ranges = [
            (Included(a), Excluded(c)),
            (Excluded(c), Included(a)),
            (Excluded(b), Excluded(b)),
            (Unbounded, Unbounded),
        ];
        for isolation in [IsolationLevel::Serializable, IsolationLevel::RepeatableRead] {
            let mut tx = db.begin(isolation);
            tx.put(b"b", b"2")?;
            let mut want = Vec::new();
            for (lower, upper) in ranges {
                for dir in [Direction::Forward, Direction::Reverse] {
                    tx.scan(lower, upper, dir)?.next().transpose()?;
                    want.push((lower.map(<[u8]>::to_vec), upper.map(<[u8]>::to_vec)));
                }
            }
            if isolation != IsolationLevel::Serializable {
                want.clear();
            }
            assert_eq!(tx.read_ranges, want, "{isolation:?}");
        }
        Ok(())
    }
}
