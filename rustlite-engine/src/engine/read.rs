//! The read path: point reads and range scans at a seqno.
//!
//! Sources are consulted newest first: active memtable, immutable memtables, then the
//! [`Version`](crate::lsm::version::Version)'s tables; the first version found at or below the
//! snapshot decides (a tombstone means "absent"). A plain `get` loads the state *before* it reads
//! the visible seqno: the tables it then holds can no longer change, so it reads a consistent
//! prefix without registering a snapshot. Scans and transactions register one instead.
//!
//! Borrowing: [`Engine::get_with`] runs a closure on the value where it lies (a memtable entry
//! or a cached data block) instead of copying it out, and [`ScanIter::next_ref`] lends each pair
//! until the next call (a forward scan keeps its merged cursor on the pair it returned and moves
//! it on at the next call); `get` and `Iterator::next` are the same walks plus the copies.

use crate::engine::{Engine, State};
use crate::error::{Error, Result};
use crate::lsm::ikey::{self, Kind, SeqNo};
use crate::lsm::iter::{Direction, InternalIterator};
use crate::lsm::merge::MergeIterator;
use crate::lsm::sstable::bloom;
use crate::mvcc::snapshot::SnapshotGuard;
use std::ops::Bound;
use std::sync::Arc;

/// The newest version of `key` at `seq` in `state`: `Some(value)`, or `None` if absent/deleted.
pub(crate) fn get_in_state(state: &State, key: &[u8], seq: SeqNo) -> Result<Option<Vec<u8>>> {
    get_in_state_with(state, key, seq, <[u8]>::to_vec)
}

/// [`get_in_state`] without copying the value: `f` runs on the value where it lies (a memtable
/// entry or a cached data block) and its result is returned. The key is hashed once
/// ([`bloom::hash_key`]) for the memtables' filters and every table's.
pub(crate) fn get_in_state_with<R>(
    state: &State,
    key: &[u8],
    seq: SeqNo,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>> {
    let hash = bloom::hash_key(key);
    let mut f = Some(f);
    let mut out = None;
    // The first version found decides: a put gives its value, a tombstone "absent".
    let mut visit = |_seq: SeqNo, kind: Kind, value: &[u8]| {
        if let (Kind::Put, Some(f)) = (kind, f.take()) {
            out = Some(f(value));
        }
    };
    let found = state.mem.get_visit(key, hash, seq, &mut visit)
        || state
            .imm
            .iter()
            .any(|m| m.get_visit(key, hash, seq, &mut visit));
    if !found {
        state.version.get_visit(key, hash, seq, &mut visit)?;
    }
    Ok(out)
}

impl Engine {
    /// Reads the latest committed value of `key`.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// db.put(b"k", b"v")?;
    /// assert_eq!(db.get(b"k")?, Some(b"v".to_vec()));
    /// assert_eq!(db.get(b"missing")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, <[u8]>::to_vec)
    }

    /// Reads the latest committed value of `key` without copying it: `f` runs on the value
    /// where it lies (the memtable, or the cached data block) and its result is returned;
    /// `None` (and `f` not called) when the key is absent or deleted.
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// db.put(b"k", b"value")?;
    /// assert_eq!(db.get_with(b"k", |v| v.len())?, Some(5));
    /// assert_eq!(db.get_with(b"missing", |v| v.len())?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let state = self.inner.state.load();
        let seq = self.inner.snapshots.visible();
        get_in_state_with(&state, key, seq, f)
    }

    /// Reads `key` as of `seq`. The caller must hold a snapshot registered at or below `seq`
    /// (or accept that compaction may have reclaimed older versions).
    ///
    /// ```
    /// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// let snap = db.snapshot(); // keeps the versions at its seqno alive
    /// db.put(b"k", b"v")?;
    /// assert_eq!(db.get_at(b"k", snap.seq())?, None);
    /// assert_eq!(db.get_at(b"k", db.last_seq())?, Some(b"v".to_vec()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn get_at(&self, key: &[u8], seq: SeqNo) -> Result<Option<Vec<u8>>> {
        let state = self.inner.state.load();
        // Never past what is published: the memtable holds commits whose fsync is running.
        get_in_state(&state, key, seq.min(self.inner.snapshots.visible()))
    }

    /// Scans the latest committed data in `[lower, upper]` in `dir` order.
    ///
    /// ```
    /// use rustlite_engine::{Direction, Engine, Options};
    /// use std::ops::Bound::{Included, Unbounded};
    /// let db = Engine::open_in_memory(Options::default())?;
    /// for k in [b"a", b"b", b"c"] { db.put(k, b"")?; }
    /// let keys: Vec<Vec<u8>> = db
    ///     .scan(Included(&b"b"[..]), Unbounded, Direction::Reverse)?
    ///     .map(|e| e.map(|(k, _)| k))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"c".to_vec(), b"b".to_vec()]);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn scan(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
    ) -> Result<ScanIter> {
        let guard = self.snapshot_guard(false);
        self.scan_at(lower, upper, dir, guard)
    }

    /// Scans the data visible at the snapshot `guard` holds.
    pub(crate) fn scan_at(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
        guard: Arc<SnapshotGuard>,
    ) -> Result<ScanIter> {
        self.scan_in(self.inner.state.load_full(), lower, upper, dir, guard)
    }

    /// Scans `state` (a read view's pinned state) at the seqno `guard` holds.
    pub(crate) fn scan_in(
        &self,
        state: Arc<State>,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
        guard: Arc<SnapshotGuard>,
    ) -> Result<ScanIter> {
        let start = match dir {
            Direction::Forward => match lower {
                Bound::Included(k) => Some(ikey::seek_key(k, ikey::MAX_SEQNO)),
                Bound::Excluded(k) => Some(ikey::last_key(k)),
                Bound::Unbounded => None,
            },
            Direction::Reverse => match upper {
                Bound::Included(k) => Some(ikey::last_key(k)),
                Bound::Excluded(k) => Some(ikey::seek_key(k, ikey::MAX_SEQNO)),
                Bound::Unbounded => None,
            },
        };
        let start = start.as_deref();
        let mut children: Vec<Box<dyn InternalIterator>> =
            Vec::with_capacity(1 + state.imm.len() + state.version.iterator_count());
        // An empty memtable gets no cursor (nor a place in the merge): every version at or below
        // the scan's seqno was inserted before that seqno was published, so one that is empty
        // now holds nothing the scan may see (after a flush, the usual case for reads).
        for m in std::iter::once(&state.mem).chain(&state.imm) {
            if !m.is_empty() {
                children.push(Box::new(m.iter(dir, start)));
            }
        }
        children.extend(state.version.iterators(dir, start)?);
        Ok(ScanIter {
            seq: guard.seq(),
            _guard: guard,
            merged: MergeIterator::new(children, dir),
            dir,
            lower: lower.map(<[u8]>::to_vec),
            upper: upper.map(<[u8]>::to_vec),
            current: Vec::new(),
            has_current: false,
            best: None,
            advance_first: false,
            done: false,
        })
    }
}

/// An iterator over the live `(key, value)` pairs of a range at one snapshot.
///
/// Returned by [`Engine::scan`]; it holds its snapshot, so writes made while it runs are not seen.
///
/// ```
/// use rustlite_engine::{Direction, Engine, Options};
/// use std::ops::Bound::Unbounded;
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(b"a", b"1")?;
/// let mut it = db.scan(Unbounded, Unbounded, Direction::Forward)?;
/// db.put(b"b", b"2")?; // after the scan's snapshot
/// assert_eq!(it.next().transpose()?, Some((b"a".to_vec(), b"1".to_vec())));
/// assert!(it.next().is_none());
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct ScanIter {
    _guard: Arc<SnapshotGuard>,
    merged: MergeIterator,
    seq: SeqNo,
    dir: Direction,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    /// Forward: the user key already decided. Reverse: the user key being collected.
    current: Vec<u8>,
    has_current: bool,
    /// Reverse: the newest version `<= seq` seen so far for `current`.
    best: Option<(Kind, Vec<u8>)>,
    /// Forward: the merged cursor still sits on the pair last returned (its value is borrowed
    /// by [`ScanIter::next_ref`]); the next call moves it on first.
    advance_first: bool,
    done: bool,
}

/// Byte-string order, decided on the first bytes without a `memcmp` call when they differ
/// (a scan's bound and a key of another key space or table usually do).
#[inline]
fn compare_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Byte-string equality, decided on the lengths and last bytes without a `memcmp` call when
/// they differ (two neighbouring keys, random or counting up, nearly always end differently).
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.last() == b.last() && a == b
}

fn below(lower: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match lower {
        Bound::Included(l) => compare_keys(key, l).is_lt(),
        Bound::Excluded(l) => compare_keys(key, l).is_le(),
        Bound::Unbounded => false,
    }
}

fn above(upper: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match upper {
        Bound::Included(u) => compare_keys(key, u).is_gt(),
        Bound::Excluded(u) => compare_keys(key, u).is_ge(),
        Bound::Unbounded => false,
    }
}

impl ScanIter {
    /// The snapshot seqno this scan reads at.
    ///
    /// ```
    /// use rustlite_engine::{Direction, Engine, Options};
    /// use std::ops::Bound::Unbounded;
    /// let db = Engine::open_in_memory(Options::default())?;
    /// let seq = db.put(b"a", b"1")?;
    /// assert_eq!(db.scan(Unbounded, Unbounded, Direction::Forward)?.seq(), seq);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    fn corrupt(&self) -> Error {
        Error::corruption("<merged scan>", 0, "malformed internal key")
    }

    /// Moves the merged cursor to the next live pair at or after it: the key is left in
    /// `current`, the value under the cursor. Returns whether there is one.
    fn seek_forward(&mut self) -> Result<bool> {
        if std::mem::take(&mut self.advance_first) {
            self.merged.advance()?;
        }
        while self.merged.valid() {
            let Some(p) = ikey::parse(self.merged.key()) else {
                return Err(self.corrupt());
            };
            if above(&self.upper, p.user_key) {
                return Ok(false);
            }
            // No key below the lower bound comes up: every cursor started at the bound's
            // first internal key (`scan_in`).
            debug_assert!(!below(&self.lower, p.user_key));
            let skip =
                p.seq > self.seq || (self.has_current && same_key(p.user_key, &self.current));
            if skip {
                self.merged.advance()?;
                continue;
            }
            self.current.clear();
            self.current.extend_from_slice(p.user_key);
            self.has_current = true;
            if p.kind == Kind::Put {
                self.advance_first = true;
                return Ok(true);
            }
            self.merged.advance()?;
        }
        Ok(false)
    }

    fn next_forward(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .seek_forward()?
            .then(|| (self.current.clone(), self.merged.value().to_vec())))
    }

    /// The next pair, borrowed from the scan (no allocation per entry on a forward scan): the
    /// key and value stay valid until the next call. `None` at the end; after an error, `None`.
    ///
    /// ```
    /// use rustlite_engine::{Direction, Engine, Options};
    /// use std::ops::Bound::Unbounded;
    /// let db = Engine::open_in_memory(Options::default())?;
    /// db.put(b"a", b"1")?;
    /// db.put(b"b", b"22")?;
    /// let mut it = db.scan(Unbounded, Unbounded, Direction::Forward)?;
    /// let mut total = 0;
    /// while let Some(entry) = it.next_ref() {
    ///     let (key, value) = entry?;
    ///     total += key.len() + value.len();
    /// }
    /// assert_eq!(total, 5);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn next_ref(&mut self) -> Option<Result<(&[u8], &[u8])>> {
        if self.done {
            return None;
        }
        let r = match self.dir {
            Direction::Forward => self.seek_forward(),
            // The pair is parked in `current` and `best`, which the next call resets before
            // it reads them (`has_current` is false once a key was taken).
            Direction::Reverse => self.next_reverse().map(|kv| match kv {
                Some((key, value)) => {
                    self.current = key;
                    self.best = Some((Kind::Put, value));
                    true
                }
                None => false,
            }),
        };
        match r {
            Ok(true) => Some(Ok(match (self.dir, &self.best) {
                (Direction::Reverse, Some((_, value))) => {
                    (self.current.as_slice(), value.as_slice())
                }
                _ => (self.current.as_slice(), self.merged.value()),
            })),
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn take_reverse(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        self.has_current = false;
        match self.best.take() {
            Some((Kind::Put, value)) => Some((std::mem::take(&mut self.current), value)),
            _ => None,
        }
    }

    fn next_reverse(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            if !self.merged.valid() {
                return Ok(if self.has_current {
                    self.take_reverse()
                } else {
                    None
                });
            }
            let Some(p) = ikey::parse(self.merged.key()) else {
                return Err(self.corrupt());
            };
            if self.has_current && !same_key(p.user_key, &self.current) {
                if let Some(out) = self.take_reverse() {
                    return Ok(Some(out));
                }
                continue;
            }
            if below(&self.lower, p.user_key) {
                return Ok(None);
            }
            if above(&self.upper, p.user_key) {
                self.merged.advance()?;
                continue;
            }
            if !self.has_current {
                self.current.clear();
                self.current.extend_from_slice(p.user_key);
                self.has_current = true;
                self.best = None;
            }
            if p.seq <= self.seq {
                self.best = Some((p.kind, self.merged.value().to_vec()));
            }
            self.merged.advance()?;
        }
    }
}

impl Iterator for ScanIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match self.dir {
            Direction::Forward => self.next_forward(),
            Direction::Reverse => self.next_reverse(),
        };
        match r {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use std::collections::BTreeMap;

    /// `get_with` sees what `get` sees, and calls `f` exactly when there is a value.
    fn check(db: &Engine, model: &BTreeMap<Vec<u8>, Vec<u8>>, keys: &[Vec<u8>]) -> Result<()> {
        for k in keys {
            let mut calls = 0;
            let got = db.get_with(k, |v| {
                calls += 1;
                v.to_vec()
            })?;
            assert_eq!(got.as_ref(), model.get(k), "key {k:?}");
            assert_eq!(calls, usize::from(got.is_some()));
            assert_eq!(db.get(k)?, got);
        }
        Ok(())
    }

    #[test]
    fn get_with_matches_a_model_in_memtables_and_every_level() -> Result<()> {
        let db = Engine::open_in_memory(Options::default())?;
        let mut model = BTreeMap::new();
        let keys: Vec<Vec<u8>> = (0..400u32)
            .map(|i| format!("k{i:04}").into_bytes())
            .collect();
        // Rounds of puts and deletes, each round flushed (L0), some compacted down, the last
        // round left in the memtable: every source holds live values and tombstones.
        for round in 0..6u32 {
            for (i, k) in keys.iter().enumerate() {
                let i = i as u32;
                if (i + round).is_multiple_of(7) {
                    db.delete(k)?;
                    model.remove(k);
                } else if (i * 3 + round).is_multiple_of(5) {
                    let v = format!("v{round}-{i}").into_bytes();
                    db.put(k, &v)?;
                    model.insert(k.clone(), v);
                }
            }
            check(&db, &model, &keys)?;
            if round < 5 {
                db.flush()?;
            }
            if round == 2 {
                db.compact(true)?;
            }
        }
        let mut probes = keys.clone();
        probes.push(b"absent".to_vec());
        probes.push(Vec::new());
        check(&db, &model, &probes)
    }

    #[test]
    fn get_with_reads_a_tombstone_as_absent_without_calling_f() -> Result<()> {
        let db = Engine::open_in_memory(Options::default())?;
        db.put(b"k", b"old")?;
        db.flush()?; // the value in a table, the tombstone above it in the memtable
        db.delete(b"k")?;
        assert_eq!(
            db.get_with(b"k", |_| panic!("f called on a deleted key"))?,
            None::<()>
        );
        db.flush()?; // both in tables
        assert_eq!(
            db.get_with(b"k", |_| panic!("f called on a deleted key"))?,
            None::<()>
        );
        Ok(())
    }

    /// After a flush the active memtable is empty (a scan gives it no cursor): the scan reads
    /// the tables alone, and writes made once it has started stay invisible to it.
    #[test]
    fn a_scan_over_an_empty_memtable_reads_the_tables_at_its_snapshot() -> Result<()> {
        let db = Engine::open_in_memory(Options::default())?;
        for i in 0..50u32 {
            db.put(format!("k{i:02}").as_bytes(), b"old")?;
        }
        db.delete(b"k07")?;
        db.flush()?;
        assert_eq!(db.stats().memtable_bytes, 0);
        for dir in [Direction::Forward, Direction::Reverse] {
            let mut it = db.scan(Bound::Included(&b"k05"[..]), Bound::Unbounded, dir)?;
            let first = it.next().transpose()?;
            db.put(b"k06", b"new")?;
            db.put(b"k99", b"new")?;
            let rest: Vec<(Vec<u8>, Vec<u8>)> = it.collect::<Result<_>>()?;
            let mut got: Vec<Vec<u8>> = first
                .into_iter()
                .chain(rest)
                .map(|(k, v)| {
                    assert_eq!(v, b"old");
                    k
                })
                .collect();
            if dir == Direction::Reverse {
                got.reverse();
            }
            let want: Vec<Vec<u8>> = (5..50u32)
                .filter(|i| *i != 7)
                .map(|i| format!("k{i:02}").into_bytes())
                .collect();
            assert_eq!(got, want, "{dir:?}");
            db.delete(b"k99")?;
            db.put(b"k06", b"old")?;
            db.flush()?;
        }
        Ok(())
    }

    /// The shortcuts of `compare_keys` and `same_key` agree with the slices' own order and
    /// equality, on keys that differ first, last, in length, or not at all.
    #[test]
    fn key_comparison_shortcuts_match_the_slices() {
        let keys: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![1],
            vec![0, 0],
            vec![1, 0],
            vec![1, 2, 3],
            vec![1, 2, 4],
            vec![2, 2, 3],
            vec![1, 2, 3, 0],
            vec![0xFF; 17],
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(compare_keys(a, b), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(same_key(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    /// Drains `it` with `next_ref`, copying each borrowed pair.
    fn drain_ref(mut it: ScanIter) -> Result<Pairs> {
        let mut out = Vec::new();
        while let Some(entry) = it.next_ref() {
            let (k, v) = entry?;
            out.push((k.to_vec(), v.to_vec()));
        }
        assert!(it.next_ref().is_none(), "an exhausted scan stays exhausted");
        Ok(out)
    }

    #[test]
    fn next_ref_matches_next_in_both_directions_and_any_bounds() -> Result<()> {
        let db = Engine::open_in_memory(Options::default())?;
        let key = |i: u32| format!("k{i:03}").into_bytes();
        // Several versions per key over memtable and tables, some deleted last.
        for round in 0..3u32 {
            for i in 0..200u32 {
                if (i + round).is_multiple_of(4) {
                    db.delete(&key(i))?;
                } else {
                    db.put(&key(i), format!("v{round}-{i}").as_bytes())?;
                }
            }
            if round < 2 {
                db.flush()?;
            }
        }
        let (lo, hi) = (key(37), key(151));
        type Bounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);
        let bounds: [Bounds<'_>; 4] = [
            (Bound::Unbounded, Bound::Unbounded),
            (Bound::Included(&lo), Bound::Excluded(&hi)),
            (Bound::Excluded(&lo), Bound::Included(&hi)),
            (Bound::Included(b"k1"), Bound::Unbounded),
        ];
        for (lower, upper) in bounds {
            for dir in [Direction::Forward, Direction::Reverse] {
                let owned: Pairs = db.scan(lower, upper, dir)?.collect::<Result<_>>()?;
                assert!(!owned.is_empty());
                assert_eq!(drain_ref(db.scan(lower, upper, dir)?)?, owned, "{dir:?}");
                // Alternating the two calls on one scan gives the same sequence.
                let mut it = db.scan(lower, upper, dir)?;
                let mut mixed = Vec::new();
                loop {
                    let next = if mixed.len() % 2 == 0 {
                        it.next_ref()
                            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
                    } else {
                        it.next()
                    };
                    match next {
                        Some(kv) => mixed.push(kv?),
                        None => break,
                    }
                }
                assert_eq!(mixed, owned, "mixed {dir:?}");
            }
        }
        Ok(())
    }
}
