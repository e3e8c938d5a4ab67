//! The memtable: recent versions in a lock-free ordered map.
//!
//! A `crossbeam_skiplist::SkipMap` keyed by [`InternalKey`] (user key ascending, newest version
//! first), so readers never block the writer and a point read is one `lower_bound` seek. Each
//! memtable belongs to one WAL file (`wal_number`): when the memtable is flushed to an SSTable, that
//! WAL becomes obsolete.
//!
//! Writers insert only while holding the engine's write role (one leader at a time), and publish
//! the new seqno after inserting, so a reader at snapshot `s` never sees a half-applied batch: it
//! skips every entry with a seqno above `s`.
//!
//! A point read first asks the memtable's [`MemFilter`] (a bloom filter over the user keys), so
//! a key the memtable does not hold costs one cache line instead of a skiplist walk: the
//! existence and uniqueness probes before a typed insert are mostly such misses.

use crate::error::Result;
use crate::lsm::ikey::{self, InternalKey, Kind, SeqNo};
use crate::lsm::iter::{Direction, InternalIterator};
use crate::lsm::mem_filter::MemFilter;
use crossbeam_skiplist::SkipMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of bookkeeping counted per entry on top of key and value (skiplist node, trailer).
const ENTRY_OVERHEAD: usize = 64;

/// An in-memory sorted buffer of versions, backed by one WAL file.
#[derive(Debug)]
pub struct Memtable {
    map: SkipMap<InternalKey, Vec<u8>>,
    filter: MemFilter,
    size: AtomicUsize,
    max_seq: AtomicU64,
    wal_number: u64,
}

impl Memtable {
    /// An empty memtable whose writes are logged in WAL file `wal_number`, with a key filter
    /// sized for the default memtable budget.
    pub fn new(wal_number: u64) -> Self {
        Self::with_budget(wal_number, crate::Options::default().memtable_size)
    }

    /// An empty memtable whose key filter is sized for `budget` bytes of entries.
    pub fn with_budget(wal_number: u64, budget: usize) -> Self {
        Memtable {
            map: SkipMap::new(),
            filter: MemFilter::for_budget(budget),
            size: AtomicUsize::new(0),
            max_seq: AtomicU64::new(0),
            wal_number,
        }
    }

    /// The WAL file backing this memtable.
    pub fn wal_number(&self) -> u64 {
        self.wal_number
    }

    /// Inserts one version. Deletes store an empty value.
    pub fn insert(&self, seq: SeqNo, kind: Kind, key: &[u8], value: &[u8]) {
        let ikey = ikey::encode(key, seq, kind);
        let value = match kind {
            Kind::Put => value.to_vec(),
            Kind::Delete => Vec::new(),
        };
        self.size
            .fetch_add(ikey.len() + value.len() + ENTRY_OVERHEAD, Ordering::Relaxed);
        // Before the entry: a reader that finds the entry finds its bits (module docs of
        // `mem_filter`).
        self.filter.insert(key);
        self.map.insert(InternalKey(ikey), value);
        self.max_seq.fetch_max(seq, Ordering::Relaxed);
    }

    /// The highest seqno inserted (0 when empty).
    pub fn max_seq(&self) -> SeqNo {
        self.max_seq.load(Ordering::Relaxed)
    }

    /// Approximate memory used, in bytes.
    pub fn approximate_size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of versions held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The newest version of `key` with seqno `<= snapshot`: `(seq, kind, value)`.
    pub fn get(&self, key: &[u8], snapshot: SeqNo) -> Option<(SeqNo, Kind, Vec<u8>)> {
        if !self.filter.may_contain(key) {
            return None;
        }
        let seek = InternalKey(ikey::seek_key(key, snapshot));
        let entry = self.map.lower_bound(Bound::Included(&seek))?;
        let parsed = ikey::parse(&entry.key().0)?;
        if parsed.user_key != key {
            return None;
        }
        Some((parsed.seq, parsed.kind, entry.value().clone()))
    }

    /// A cursor over the memtable in `dir`, starting at the first entry `>= start` (forward) or
    /// the last entry `<= start` (reverse); `None` starts at the respective end.
    pub fn iter(self: &Arc<Self>, dir: Direction, start: Option<&[u8]>) -> MemtableIter {
        let mut it = MemtableIter {
            mem: Arc::clone(self),
            dir,
            buf: Vec::new(),
            pos: 0,
            exhausted: false,
        };
        let bound = match start {
            Some(k) => Bound::Included(InternalKey(k.to_vec())),
            None => Bound::Unbounded,
        };
        it.fill(bound);
        it
    }
}

/// Entries copied out of the skiplist per refill of a [`MemtableIter`].
const CHUNK: usize = 128;

/// A cursor over a memtable. It copies entries out in chunks, so it owns no borrow of the map
/// and can live as long as the `Arc<Memtable>` it holds.
pub struct MemtableIter {
    mem: Arc<Memtable>,
    dir: Direction,
    buf: Vec<(Vec<u8>, Vec<u8>)>,
    pos: usize,
    exhausted: bool,
}

impl MemtableIter {
    fn fill(&mut self, from: Bound<InternalKey>) {
        self.buf.clear();
        self.pos = 0;
        let map = &self.mem.map;
        let take = |e: crossbeam_skiplist::map::Entry<'_, InternalKey, Vec<u8>>| {
            (e.key().0.clone(), e.value().clone())
        };
        match self.dir {
            Direction::Forward => {
                let range = map.range((from, Bound::Unbounded));
                self.buf.extend(range.take(CHUNK).map(take));
            }
            Direction::Reverse => {
                let range = map.range((Bound::Unbounded, from));
                self.buf.extend(range.rev().take(CHUNK).map(take));
            }
        }
        if self.buf.len() < CHUNK {
            self.exhausted = true;
        }
    }
}

impl InternalIterator for MemtableIter {
    fn valid(&self) -> bool {
        self.pos < self.buf.len()
    }
    fn key(&self) -> &[u8] {
        self.buf.get(self.pos).map_or(&[], |(k, _)| k.as_slice())
    }
    fn value(&self) -> &[u8] {
        self.buf.get(self.pos).map_or(&[], |(_, v)| v.as_slice())
    }
    fn advance(&mut self) -> Result<()> {
        self.pos += 1;
        if self.pos >= self.buf.len() && !self.exhausted {
            if let Some((last, _)) = self.buf.pop() {
                self.fill(Bound::Excluded(InternalKey(last)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(mut it: MemtableIter) -> Vec<(SeqNo, Vec<u8>)> {
        let mut out = Vec::new();
        while it.valid() {
            let p = ikey::parse(it.key()).expect("valid key");
            out.push((p.seq, p.user_key.to_vec()));
            it.advance().expect("memtable advance");
        }
        out
    }

    #[test]
    fn get_respects_snapshots_and_tombstones() {
        let m = Memtable::new(1);
        m.insert(1, Kind::Put, b"a", b"v1");
        m.insert(3, Kind::Put, b"a", b"v3");
        m.insert(5, Kind::Delete, b"a", b"");
        assert_eq!(m.get(b"a", 0), None);
        assert_eq!(m.get(b"a", 2), Some((1, Kind::Put, b"v1".to_vec())));
        assert_eq!(m.get(b"a", 4), Some((3, Kind::Put, b"v3".to_vec())));
        assert_eq!(m.get(b"a", 9), Some((5, Kind::Delete, vec![])));
        assert_eq!(m.get(b"b", 9), None);
        assert_eq!(m.get(b"", 9), None);
    }

    #[test]
    fn iterates_both_ways_across_chunks() {
        let m = Arc::new(Memtable::new(1));
        for i in 0..1000u32 {
            m.insert(u64::from(i) + 1, Kind::Put, &i.to_be_bytes(), b"x");
        }
        let fwd = collect(m.iter(Direction::Forward, None));
        assert_eq!(fwd.len(), 1000);
        assert!(fwd.windows(2).all(|w| w[0].1 < w[1].1));
        let rev = collect(m.iter(Direction::Reverse, None));
        assert_eq!(rev.len(), 1000);
        assert!(rev.windows(2).all(|w| w[0].1 > w[1].1));
        let start = ikey::seek_key(&500u32.to_be_bytes(), u64::MAX);
        let from = collect(m.iter(Direction::Forward, Some(&start)));
        assert_eq!(
            from.first().map(|e| e.1.clone()),
            Some(500u32.to_be_bytes().to_vec())
        );
        let back = collect(m.iter(Direction::Reverse, Some(&start)));
        assert_eq!(
            back.first().map(|e| e.1.clone()),
            Some(499u32.to_be_bytes().to_vec())
        );
    }
}
