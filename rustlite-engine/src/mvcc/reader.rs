//! [`Reader`]: reads at a consistent point, whoever provides them.
//!
//! The catalog and the table layer read through this trait so the same code serves a
//! read-write [`Transaction`] (which sees its own writes) and a read-only [`Snapshot`] (whose
//! scans borrow nothing, so they can be returned to a caller as owned iterators). It is also the
//! seam DESIGN.md keeps clean for a distributed transactional KV: `get` and `scan` at a snapshot.

//!
//! ## A read view: one statement's reads without a registered snapshot
//!
//! [`ReadView`] is what a read-only statement outside a transaction reads through. Like
//! `Engine::get`, it loads the engine's state (memtables and `Version`) *before* it reads the
//! visible seqno `s`, and it keeps that state (an `Arc`) for its life. Every version at or below
//! `s` that it reads lives in that state (unless the memtable was switched in between, when a
//! commit at or below `s` went into the new memtable: the view then loads both again), and
//! nothing in it ever changes: a memtable is only
//! appended to with newer seqnos, and compaction and flushes write *new* tables into a *new*
//! state, so dropping versions that no registered snapshot needs never touches what the view
//! holds. Hence no registration (a mutex, a map entry) for point reads: just the state's
//! reference count.
//!
//! ```text
//! view: state S (mem M1, imm [], tables {t1, t2}), seqno s       (S loaded before s was read)
//! compaction after the view:   t1 + t2 -> t3, dropping versions <= oldest   (a new state S')
//! the view still reads M1, t1, t2 at s: every version <= s it needs is there
//! ```
//!
//! A scan over the view also reads the pinned state, and registers its seqno for the scan's
//! life ([`SnapshotList::acquire_at`](crate::mvcc::snapshot::SnapshotList::acquire_at)), as
//! every scan iterator holds a registration.

use std::ops::Bound;
use std::sync::Arc;

use crate::engine::{get_in_state, Engine, ScanIter, State};
use crate::error::Result;
use crate::lsm::ikey::SeqNo;
use crate::lsm::iter::Direction;
use crate::mvcc::transaction::{Snapshot, Transaction, TxnScan};

/// Point reads and range scans at one consistent view: a [`Transaction`] (which sees its own
/// writes) or a [`Snapshot`]. The catalog and the table layer read through it.
///
/// ```
/// use rustlite_engine::{Direction, Engine, IsolationLevel, Options, mvcc::Reader};
/// fn first_key<R: Reader>(r: &mut R) -> rustlite_engine::Result<Option<Vec<u8>>> {
///     let mut scan = r.scan_range(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, Direction::Forward)?;
///     Ok(scan.next().transpose()?.map(|(k, _)| k))
/// }
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(b"a", b"1")?;
/// assert_eq!(first_key(&mut db.snapshot())?, Some(b"a".to_vec()));
/// assert_eq!(first_key(&mut db.begin(IsolationLevel::default()))?, Some(b"a".to_vec()));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub trait Reader {
    /// The iterator a scan returns; it may borrow the reader.
    type Scan<'a>: Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>
    where
        Self: 'a;

    /// Reads one engine key.
    ///
    /// ```
    /// use rustlite_engine::{mvcc::Reader, Engine, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// db.put(b"k", b"v")?;
    /// assert_eq!(db.snapshot().read(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    fn read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Scans engine keys in `[lower, upper]` in `dir` order.
    ///
    /// ```
    /// use rustlite_engine::{mvcc::Reader, Direction, Engine, IsolationLevel, Options};
    /// use std::ops::Bound::{Excluded, Unbounded};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let mut tx = db.begin(IsolationLevel::default());
    /// tx.put(b"a", b"1")?;
    /// tx.put(b"b", b"2")?;
    /// let scan = tx.scan_range(Unbounded, Excluded(&b"b"[..]), Direction::Forward)?;
    /// assert_eq!(scan.count(), 1);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    fn scan_range(
        &mut self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
    ) -> Result<Self::Scan<'_>>;

    /// Runs `f` with every read through this reader seeing one state. A [`Snapshot`], a
    /// [`ReadView`] and a transaction at RepeatableRead or Serializable always do (the
    /// default: `f(self)`); a transaction at ReadCommitted or ReadUncommitted takes a snapshot
    /// for `f`'s duration. An operation made of several reads (an index scan, then the rows it
    /// names) runs in it.
    fn at_one_snapshot<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T>
    where
        Self: Sized,
    {
        f(self)
    }

    /// Whether this reader's own writes may sit beside commits made after them: a transaction
    /// at ReadCommitted or ReadUncommitted that has written, whose reads see the latest commit
    /// plus its own writes. An index entry another transaction committed for a row this one
    /// rewrote then disagrees with the row it reads ([`wrote`](Self::wrote)). `false` for
    /// snapshots, views and transactions reading one snapshot throughout.
    fn mixes_own_writes(&self) -> bool {
        false
    }

    /// Whether `key` reads as this reader's own (uncommitted) write.
    fn wrote(&self, _key: &[u8]) -> bool {
        false
    }
}

impl Reader for Transaction {
    type Scan<'a> = TxnScan<'a>;

    fn at_one_snapshot<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        Transaction::at_one_snapshot(self, f)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get(key)
    }

    fn scan_range(
        &mut self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
    ) -> Result<TxnScan<'_>> {
        self.scan(lower, upper, dir)
    }

    fn mixes_own_writes(&self) -> bool {
        !self.isolation().uses_snapshot() && !self.is_read_only()
    }

    fn wrote(&self, key: &[u8]) -> bool {
        self.has_written(key)
    }
}

impl Reader for Snapshot {
    type Scan<'a> = ScanIter;

    fn read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get(key)
    }

    fn scan_range(
        &mut self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
    ) -> Result<ScanIter> {
        self.scan(lower, upper, dir)
    }
}

/// A pinned, read-only view of the latest committed state, for one statement (see the module
/// docs): cheaper than a [`Snapshot`], which registers its seqno, and as consistent.
///
/// ```
/// use rustlite_engine::{mvcc::Reader, Engine, Options};
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(b"k", b"old")?;
/// let mut view = db.read_view();
/// db.put(b"k", b"new")?;
/// db.compact(true)?; // "old" is dropped from the tables: no snapshot is registered
/// assert_eq!(view.read(b"k")?, Some(b"old".to_vec())); // the view still holds it
/// assert_eq!(db.read_view().read(b"k")?, Some(b"new".to_vec()));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct ReadView<'e> {
    engine: &'e Engine,
    state: Arc<State>,
    seq: SeqNo,
}

impl std::fmt::Debug for ReadView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadView").field("seq", &self.seq).finish()
    }
}

impl<'e> ReadView<'e> {
    /// The seqno the view reads at.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// let seq = db.put(b"k", b"v")?;
    /// assert_eq!(db.read_view().seq(), seq);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    /// The engine the view reads.
    pub(crate) fn engine(&self) -> &'e Engine {
        self.engine
    }
}

impl Engine {
    /// A [`ReadView`] of the latest committed state.
    ///
    /// ```
    /// use rustlite_engine::{mvcc::Reader, Engine, Options};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// db.put(b"k", b"v")?;
    /// assert_eq!(db.read_view().read(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn read_view(&self) -> ReadView<'_> {
        loop {
            // The state first, then the seqno (as `Engine::get`): see the module docs.
            let state = self.inner.state.load_full();
            let seq = self.inner.snapshots.visible();
            // A memtable switch in between would leave commits at or below `seq` outside
            // `state` (in the new memtable). A switch publishes everything before it, so while
            // the active memtable is unchanged, `state` holds every commit up to `seq`.
            if Arc::ptr_eq(&state.mem, &self.inner.state.load().mem) {
                return ReadView {
                    engine: self,
                    state,
                    seq,
                };
            }
        }
    }
}

impl<'e> Reader for ReadView<'e> {
    type Scan<'a>
        = ScanIter
    where
        Self: 'a;

    fn read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get_in_state(&self.state, key, self.seq)
    }

    fn scan_range(
        &mut self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
    ) -> Result<ScanIter> {
        let guard = Arc::new(self.engine.inner.snapshots.acquire_at(self.seq));
        self.engine
            .scan_in(Arc::clone(&self.state), lower, upper, dir, guard)
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;
    use crate::{IsolationLevel, Options, WriteBatch};
    use std::ops::Bound::Unbounded;

    fn key(i: u32) -> Vec<u8> {
        format!("k{i:05}").into_bytes()
    }

    fn scan_all(view: &mut ReadView<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        view.scan_range(Unbounded, Unbounded, Direction::Forward)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_view_never_sees_uncommitted_or_later_writes() {
        let db = Engine::open_in_memory(Options::default()).unwrap();
        db.put(b"a", b"1").unwrap();
        let mut tx = db.begin(IsolationLevel::default());
        tx.put(b"a", b"2").unwrap();
        tx.put(b"b", b"2").unwrap();
        let mut before = db.read_view();
        assert_eq!(before.read(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(before.read(b"b").unwrap(), None);
        tx.commit().unwrap();
        assert_eq!(before.read(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(scan_all(&mut before), [(b"a".to_vec(), b"1".to_vec())]);
        let mut after = db.read_view();
        assert_eq!(after.read(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(scan_all(&mut after).len(), 2);
        assert!(after.seq() > before.seq());
    }

    #[test]
    fn a_view_keeps_its_versions_through_flush_and_compaction() {
        let db = Engine::open_in_memory(Options::default()).unwrap();
        for i in 0..500 {
            db.put(&key(i), b"old").unwrap();
        }
        db.flush().unwrap();
        for i in 250..750 {
            db.put(&key(i), b"mem").unwrap();
        }
        let mut view = db.read_view();
        let seen = scan_all(&mut view);
        assert_eq!(seen.len(), 750);
        for i in 0..750 {
            db.put(&key(i), b"new").unwrap();
            if i % 3 == 0 {
                db.delete(&key(i)).unwrap();
            }
        }
        db.compact(true).unwrap();
        // No snapshot is registered: compaction dropped what only the view reads...
        assert_eq!(db.inner.snapshots.live_count(), 0);
        assert_eq!(db.get_at(&key(1), view.seq()).unwrap(), None);
        // ...from its new tables; the view reads the state it pinned.
        for i in [0, 1, 249, 250, 749] {
            let want: &[u8] = if i < 250 { b"old" } else { b"mem" };
            assert_eq!(
                view.read(&key(i)).unwrap().as_deref(),
                Some(want),
                "key {i}"
            );
        }
        assert_eq!(view.read(&key(750)).unwrap(), None);
        assert_eq!(scan_all(&mut view), seen);
        // A scan registers the view's seqno while it runs.
        let scan = view
            .scan_range(Unbounded, Unbounded, Direction::Reverse)
            .unwrap();
        assert_eq!(db.inner.snapshots.oldest(), view.seq());
        drop(scan);
        assert_eq!(db.inner.snapshots.live_count(), 0);
        assert_eq!(db.read_view().read(&key(1)).unwrap(), Some(b"new".to_vec()));
        assert_eq!(db.read_view().read(&key(0)).unwrap(), None);
    }

    /// Writers keep two keys equal, one batch per step, with flushes and compactions in
    /// between; every view must see them equal, by point reads and by a scan.
    #[test]
    fn views_read_one_consistent_state_while_compaction_runs() {
        let db = Engine::open_in_memory(Options::default().memtable_size(64 << 10)).unwrap();
        db.put(b"a", &0u64.to_be_bytes()).unwrap();
        db.put(b"b", &0u64.to_be_bytes()).unwrap();
        let writer = {
            let db = db.clone();
            std::thread::spawn(move || {
                for n in 1..=3000u64 {
                    let mut batch = WriteBatch::new();
                    batch.put(b"a", n.to_be_bytes()).put(b"b", n.to_be_bytes());
                    batch.put(key((n % 1000) as u32), [0u8; 64]);
                    db.write(batch).unwrap();
                    if n % 500 == 0 {
                        db.compact(true).unwrap();
                    }
                }
            })
        };
        let mut last = 0;
        while !writer.is_finished() {
            let mut view = db.read_view();
            let a = view.read(b"a").unwrap().unwrap();
            std::thread::yield_now();
            let b = view.read(b"b").unwrap().unwrap();
            assert_eq!(a, b);
            let scanned: Vec<_> = view
                .scan_range(
                    Unbounded,
                    std::ops::Bound::Excluded(&b"c"[..]),
                    Direction::Forward,
                )
                .unwrap()
                .map(|e| e.unwrap().1)
                .collect();
            assert_eq!(scanned, [a.clone(), a.clone()]);
            let n = u64::from_be_bytes(a.try_into().unwrap());
            assert!(n >= last, "a later view never reads an older state");
            last = n;
        }
        writer.join().unwrap();
    }
}
