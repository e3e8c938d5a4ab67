//! [`Reader`]: reads at a consistent point, whoever provides them.
//!
//! The catalog and the table layer read through this trait so the same code serves a
//! read-write [`Transaction`] (which sees its own writes) and a read-only [`Snapshot`] (whose
//! scans borrow nothing, so they can be returned to a caller as owned iterators). It is also the
//! seam DESIGN.md keeps clean for a distributed transactional KV: `get` and `scan` at a snapshot.

use std::ops::Bound;

use crate::engine::ScanIter;
use crate::error::Result;
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
}

impl Reader for Transaction {
    type Scan<'a> = TxnScan<'a>;

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
