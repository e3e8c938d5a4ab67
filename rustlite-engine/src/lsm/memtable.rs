//! The memtable: recent versions in a lock-free ordered map.
//!
//! A `crossbeam_skiplist::SkipMap` keyed by [`MemKey`] (user key ascending, newest version
//! first, the order [`ikey::compare`](crate::lsm::ikey::compare) gives encoded internal keys), so readers never block the
//! writer and a point read is one `lower_bound` seek. A `MemKey` keeps user keys of up to
//! [`INLINE_KEY`] bytes inside the skiplist node itself: every comparison on the way down the
//! list then touches one cache line (the node) instead of two (the node, then a heap key), and
//! dropping a flushed memtable frees one allocation per entry fewer. Each
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
use crate::lsm::ikey::{Kind, SeqNo, TRAILER_LEN};
use crate::lsm::iter::{Direction, InternalIterator};
use crate::lsm::mem_filter::MemFilter;
use crossbeam_skiplist::SkipMap;
use smallvec::SmallVec;
use std::cmp::Ordering as CmpOrdering;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of bookkeeping counted per entry on top of key and value (skiplist node, trailer).
const ENTRY_OVERHEAD: usize = 64;

/// User keys up to this many bytes live inside the skiplist node (16-byte keys, row keys of
/// small primary keys, most index entries); longer ones spill to the heap.
const INLINE_KEY: usize = 32;

/// A version's key in the memtable: the user key (inline when short) and the version trailer as
/// numbers. Ordered by user key, then newest version first, ignoring the kind, exactly as
/// [`ikey::compare`](crate::lsm::ikey::compare) orders the encoded form: one seqno holds at most one version of a key, so a
/// batch that writes a key twice keeps its last write.
#[derive(Clone, Debug)]
struct MemKey {
    user: SmallVec<[u8; INLINE_KEY]>,
    /// `u64::MAX - seq`: ascending puts the newest version first.
    inv_seq: u64,
    /// The kind byte (not part of the order).
    kind: u8,
}

impl MemKey {
    fn new(user: &[u8], seq: SeqNo, kind: Kind) -> Self {
        MemKey {
            user: SmallVec::from_slice(user),
            inv_seq: u64::MAX - seq,
            kind: kind as u8,
        }
    }

    /// The key an encoded internal key stands for, for seeking. The engine only seeks with
    /// keys from [`ikey::seek_key`](crate::lsm::ikey::seek_key) and [`ikey::last_key`](crate::lsm::ikey::last_key) (whose kind byte is not a valid kind,
    /// which is fine: the kind does not take part in the order).
    fn from_encoded(ikey: &[u8]) -> Self {
        let (user, trailer) = ikey.split_at(ikey.len().saturating_sub(TRAILER_LEN));
        let mut inv = [0u8; 8];
        let n = trailer.len().min(8);
        inv[..n].copy_from_slice(&trailer[..n]);
        MemKey {
            user: SmallVec::from_slice(user),
            inv_seq: u64::from_be_bytes(inv),
            kind: trailer.get(8).copied().unwrap_or(0),
        }
    }

    fn seq(&self) -> SeqNo {
        u64::MAX - self.inv_seq
    }

    /// Appends the encoded internal key to `out`.
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.user.len() + TRAILER_LEN);
        out.extend_from_slice(&self.user);
        out.extend_from_slice(&self.inv_seq.to_be_bytes());
        out.push(self.kind);
    }

    fn encoded_len(&self) -> usize {
        self.user.len() + TRAILER_LEN
    }
}

impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.user
            .as_slice()
            .cmp(other.user.as_slice())
            .then(self.inv_seq.cmp(&other.inv_seq))
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MemKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for MemKey {}

/// An in-memory sorted buffer of versions, backed by one WAL file.
#[derive(Debug)]
pub struct Memtable {
    map: SkipMap<MemKey, Vec<u8>>,
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
        let entry_key = MemKey::new(key, seq, kind);
        let value = match kind {
            Kind::Put => value.to_vec(),
            Kind::Delete => Vec::new(),
        };
        self.size.fetch_add(
            entry_key.encoded_len() + value.len() + ENTRY_OVERHEAD,
            Ordering::Relaxed,
        );
        // Before the entry: a reader that finds the entry finds its bits (module docs of
        // `mem_filter`).
        self.filter.insert(key);
        self.map.insert(entry_key, value);
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
        let seek = MemKey::new(key, snapshot, Kind::Delete);
        let entry = self.map.lower_bound(Bound::Included(&seek))?;
        let found = entry.key();
        if found.user.as_slice() != key {
            return None;
        }
        let kind = Kind::from_u8(found.kind)?;
        Some((found.seq(), kind, entry.value().clone()))
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
            Some(k) => Bound::Included(MemKey::from_encoded(k)),
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
    fn fill(&mut self, from: Bound<MemKey>) {
        self.buf.clear();
        self.pos = 0;
        let map = &self.mem.map;
        let take = |e: crossbeam_skiplist::map::Entry<'_, MemKey, Vec<u8>>| {
            let mut key = Vec::with_capacity(e.key().encoded_len());
            e.key().encode_into(&mut key);
            (key, e.value().clone())
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
                self.fill(Bound::Excluded(MemKey::from_encoded(&last)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey;

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

    #[test]
    fn a_batch_writing_a_key_twice_keeps_its_last_write() {
        let m = Memtable::new(1);
        m.insert(7, Kind::Put, b"k", b"first");
        m.insert(7, Kind::Delete, b"k", b"");
        assert_eq!(m.get(b"k", 7), Some((7, Kind::Delete, vec![])));
        assert_eq!(m.len(), 1);
    }

    proptest::proptest! {
        /// `MemKey`'s order is `ikey::compare`'s order of the encoded keys, for inline and
        /// spilled user keys alike, and encoding round-trips.
        #[test]
        fn memkey_orders_like_encoded_internal_keys(
            a in proptest::collection::vec(0u8..4, 0..40),
            b in proptest::collection::vec(0u8..4, 0..40),
            sa in 0u64..4, sb in 0u64..4, del_a: bool, del_b: bool,
        ) {
            let kind = |d: bool| if d { Kind::Delete } else { Kind::Put };
            let (ka, kb) = (MemKey::new(&a, sa, kind(del_a)), MemKey::new(&b, sb, kind(del_b)));
            let (ea, eb) = (ikey::encode(&a, sa, kind(del_a)), ikey::encode(&b, sb, kind(del_b)));
            proptest::prop_assert_eq!(ka.cmp(&kb), ikey::compare(&ea, &eb));
            let mut out = Vec::new();
            ka.encode_into(&mut out);
            proptest::prop_assert_eq!(&out, &ea);
            proptest::prop_assert_eq!(MemKey::from_encoded(&ea).cmp(&ka), CmpOrdering::Equal);
            let last = MemKey::from_encoded(&ikey::last_key(&a));
            proptest::prop_assert_eq!(last.cmp(&kb), ikey::compare(&ikey::last_key(&a), &eb));
        }
    }
}
