//! A scan inside a transaction: committed data overlaid with the transaction's own writes.
//!
//! Two ordered streams are merged one entry at a time, in the scan's direction:
//!
//! ```text
//! committed (at the read snapshot):  a=1   b=2                 d=4
//! own writes (the write buffer):           b=20   c=(del)      d=(del)   e=5
//! the scan yields:                   a=1   b=20                          e=5
//! ```
//!
//! Where both streams hold a key, the own write wins: a put shadows the committed value, a delete
//! hides the key (and a delete of a key never committed yields nothing).
//!
//! The own side is a [`btree_map::Range`] over the write buffer, walked from the front for a
//! forward scan and from the back for a reverse one. Nothing is copied when the scan opens, so
//! opening costs O(log n) in the number of buffered writes, and a loop that scans once per write
//! (or an index scan that reopens its scan per chunk) stays linear. The range borrows the
//! transaction, so no put, delete or savepoint rollback can change the buffer while the scan
//! lives: the scan sees the writes as they were when it opened.

use crate::engine::ScanIter;
use crate::error::Result;
use crate::lsm::iter::Direction;
use crate::mvcc::transaction::Pending;
use std::cmp::Ordering;
use std::collections::btree_map;

/// One of the transaction's own writes seen by a scan: key and value (`None` = deleted).
type OwnWrite<'a> = (&'a [u8], Option<&'a [u8]>);

/// A scan inside a transaction: committed data overlaid with the transaction's own writes.
///
/// ```
/// use rustlite_engine::{Engine, IsolationLevel::RepeatableRead, Options};
/// let db = Engine::open_in_memory(Options::default())?;
/// use rustlite_engine::Direction;
/// use std::ops::Bound::{Included, Unbounded};
/// db.put(b"a", b"committed")?;
/// let mut tx = db.begin(RepeatableRead);
/// tx.put(b"b", b"mine")?;
/// let scan = tx.scan(Included(&b"a"[..]), Unbounded, Direction::Forward)?;
/// let pairs = scan.collect::<Result<Vec<_>, _>>()?;
/// assert_eq!(pairs, [(b"a".to_vec(), b"committed".to_vec()), (b"b".to_vec(), b"mine".to_vec())]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct TxnScan<'a> {
    committed: ScanIter,
    /// The committed entry read ahead of the merge, not yet yielded or shadowed.
    next_committed: Option<(Vec<u8>, Vec<u8>)>,
    /// The own writes in the scanned range not yet read; `None` when the range is empty.
    own: Option<btree_map::Range<'a, Vec<u8>, Pending>>,
    /// The own write read ahead of the merge.
    next_own: Option<OwnWrite<'a>>,
    dir: Direction,
    /// How many own writes the scan has read from the buffer: what a test checks to know that
    /// opening a scan copies none.
    #[cfg(test)]
    own_read: usize,
}

impl<'a> TxnScan<'a> {
    /// Merges `committed` with `own`, the write buffer's entries in the same range (`None` for
    /// an empty range), in `dir` order.
    pub(super) fn new(
        committed: ScanIter,
        own: Option<btree_map::Range<'a, Vec<u8>, Pending>>,
        dir: Direction,
    ) -> Self {
        TxnScan {
            committed,
            next_committed: None,
            own,
            next_own: None,
            dir,
            #[cfg(test)]
            own_read: 0,
        }
    }

    /// The next own write in scan order.
    fn read_own(&mut self) -> Option<OwnWrite<'a>> {
        let range = self.own.as_mut()?;
        let (key, pending) = match self.dir {
            Direction::Forward => range.next(),
            Direction::Reverse => range.next_back(),
        }?;
        #[cfg(test)]
        {
            self.own_read += 1;
        }
        Some((key.as_slice(), pending.value.as_deref()))
    }
}

impl Iterator for TxnScan<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.next_committed.is_none() {
                match self.committed.next() {
                    Some(Ok(kv)) => self.next_committed = Some(kv),
                    Some(Err(e)) => return Some(Err(e)),
                    None => {}
                }
            }
            if self.next_own.is_none() {
                self.next_own = self.read_own();
            }
            // `Less`: the committed entry comes first in scan order.
            let order = match (&self.next_committed, &self.next_own) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((committed, _)), Some((own, _))) => {
                    let o = committed.as_slice().cmp(own);
                    if self.dir == Direction::Reverse {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if order == Ordering::Less {
                return self.next_committed.take().map(Ok);
            }
            if order == Ordering::Equal {
                self.next_committed = None; // shadowed by the own write
            }
            if let Some((key, Some(value))) = self.next_own.take() {
                return Some(Ok((key.to_vec(), value.to_vec())));
            }
            // An own delete: nothing to yield for that key.
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Direction, Engine, IsolationLevel, Options, Result};
    use std::collections::BTreeMap;
    use std::ops::Bound::{self, Excluded, Included, Unbounded};

    type Map = BTreeMap<Vec<u8>, Vec<u8>>;

    /// A deterministic pseudo-random sequence (an LCG's high bits).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Keys "0".."39": "1" is a prefix of "10".."19", so bounds fall between a key and its
    /// extensions; bounds also draw "40".."44" (never written) and the empty key.
    fn key(i: u64) -> Vec<u8> {
        i.to_string().into_bytes()
    }

    fn bound(rng: &mut Rng) -> Bound<Vec<u8>> {
        let k = match rng.below(12) {
            0 => Vec::new(),
            _ => key(rng.below(45)),
        };
        match rng.below(3) {
            0 => Unbounded,
            1 => Included(k),
            _ => Excluded(k),
        }
    }

    fn contains(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>, k: &[u8]) -> bool {
        let above = match lower {
            Included(b) => k >= b.as_slice(),
            Excluded(b) => k > b.as_slice(),
            Unbounded => true,
        };
        let below = match upper {
            Included(b) => k <= b.as_slice(),
            Excluded(b) => k < b.as_slice(),
            Unbounded => true,
        };
        above && below
    }

    /// Applies a random put or delete to `db` (committed) and to `model`.
    fn commit_one(db: &Engine, model: &mut Map, rng: &mut Rng) -> Result<()> {
        let k = key(rng.below(40));
        if rng.below(3) == 0 {
            db.delete(&k)?;
            model.remove(&k);
        } else {
            let v = format!("c{}", rng.below(1000)).into_bytes();
            db.put(&k, &v)?;
            model.insert(k, v);
        }
        Ok(())
    }

    /// Transactions' scans, at every isolation level that reads a snapshot or the latest
    /// commit, over committed data (in memtables and tables, some committed after begin) with
    /// own puts and deletes (some undone by a savepoint rollback): every scan, forward and
    /// reverse, with random included, excluded and unbounded bounds (inverted ones too),
    /// equals the model's range of the committed state the transaction reads overlaid with
    /// its own writes.
    #[test]
    fn scans_match_a_map_model() -> Result<()> {
        let mut rng = Rng(0x5eed);
        let levels = [
            IsolationLevel::RepeatableRead,
            IsolationLevel::Serializable,
            IsolationLevel::ReadCommitted,
        ];
        for round in 0..60u64 {
            let db = Engine::open_in_memory(Options::default())?;
            let mut committed = Map::new();
            for _ in 0..rng.below(40) {
                commit_one(&db, &mut committed, &mut rng)?;
            }
            if rng.below(2) == 0 {
                db.flush()?;
            }
            let isolation = levels[(round % 3) as usize];
            let mut tx = db.begin(isolation);
            let at_begin = committed.clone();
            // The own writes: `None` = deleted.
            let mut own: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            let mut savepoint = None;
            for step in 0..80u64 {
                match rng.below(10) {
                    0..=3 => {
                        let (k, v) = (key(rng.below(40)), format!("t{step}").into_bytes());
                        tx.put(&k, &v)?;
                        own.insert(k, Some(v));
                    }
                    4..=5 => {
                        let k = key(rng.below(40));
                        tx.delete(&k)?;
                        own.insert(k, None);
                    }
                    6 => commit_one(&db, &mut committed, &mut rng)?,
                    7 => match savepoint.take() {
                        None => savepoint = Some((tx.savepoint(), own.clone())),
                        Some((sp, before)) => {
                            tx.rollback_to(sp);
                            own = before;
                        }
                    },
                    _ => {
                        let (lower, upper) = (bound(&mut rng), bound(&mut rng));
                        let dir = if rng.below(2) == 0 {
                            Direction::Forward
                        } else {
                            Direction::Reverse
                        };
                        let mut want = if isolation.uses_snapshot() {
                            at_begin.clone()
                        } else {
                            committed.clone()
                        };
                        for (k, v) in &own {
                            match v {
                                Some(v) => want.insert(k.clone(), v.clone()),
                                None => want.remove(k),
                            };
                        }
                        let mut want: Vec<(Vec<u8>, Vec<u8>)> = want
                            .into_iter()
                            .filter(|(k, _)| contains(&lower, &upper, k))
                            .collect();
                        if dir == Direction::Reverse {
                            want.reverse();
                        }
                        let got = tx
                            .scan(
                                lower.as_ref().map(Vec::as_slice),
                                upper.as_ref().map(Vec::as_slice),
                                dir,
                            )?
                            .collect::<Result<Vec<_>>>()?;
                        assert_eq!(
                            got, want,
                            "round {round} step {step} {isolation:?} {dir:?} {lower:?}..{upper:?}"
                        );
                    }
                }
            }
            tx.rollback();
        }
        Ok(())
    }

    /// Opening a scan reads no own write ahead of need: the first entry of a scan over 10 000
    /// buffered writes costs one, forward or reverse, so a loop that scans once per write is
    /// not quadratic (the scan once copied every own write in its range when it opened).
    #[test]
    fn opening_a_scan_reads_no_own_write_ahead() -> Result<()> {
        let db = Engine::open_in_memory(Options::default())?;
        db.put(b"k", b"committed")?;
        let mut tx = db.begin(IsolationLevel::Serializable);
        for i in 0..10_000u32 {
            tx.put(format!("k{i:05}").as_bytes(), b"mine")?;
        }
        let (lower, upper) = (Included(&b"k"[..]), Excluded(&b"l"[..]));
        for dir in [Direction::Forward, Direction::Reverse] {
            let mut scan = tx.scan(lower, upper, dir)?;
            let first = scan.next().transpose()?.map(|(k, _)| k);
            let want: &[u8] = if dir == Direction::Forward {
                b"k"
            } else {
                b"k09999"
            };
            assert_eq!(first.as_deref(), Some(want));
            assert_eq!(scan.own_read, 1, "{dir:?}");
            // Reading on reads each own write once.
            assert_eq!(scan.by_ref().count(), 10_000);
            assert_eq!(scan.own_read, 10_000);
        }
        let mut read = 0;
        for _ in 0..100 {
            let mut scan = tx.scan(lower, upper, Direction::Forward)?;
            scan.next().transpose()?;
            read += scan.own_read;
        }
        assert_eq!(read, 100);
        Ok(())
    }
}
