//! The memtable: recent versions in an arena skiplist with lock-free readers.
//!
//! The versions live in a [`SkipList`] ordered as [`ikey::compare`](crate::lsm::ikey::compare)
//! orders encoded internal keys (user key ascending, newest version first), so readers never
//! block the writer and a point read is one `lower_bound` seek. Each node sits in the list's
//! arena with its encoded key and value right behind it: an insert is one bump allocation,
//! cursors hand out slices of the arena without copying, and dropping a flushed memtable frees a
//! few large chunks instead of two allocations per entry. Each memtable belongs to one WAL file
//! (`wal_number`): when the memtable is flushed to an SSTable, that WAL becomes obsolete.
//!
//! Writers insert only while holding the engine's write role (one leader at a time; recovery
//! replays alone), and the list enforces one writer with an uncontended mutex. The leader
//! publishes the new seqno after inserting, so a reader at snapshot `s` never sees a
//! half-applied batch: it skips every entry with a seqno above `s`. A batch that writes a key
//! twice inserts the same (key, seqno) twice; the list then shows only the last write.
//! A batch goes in through [`Memtable::insert_batch`], whose skiplist searches for the batch's
//! ops overlap their cache misses (the row and index entries of a typed insert).
//!
//! A point read first asks the memtable's [`MemFilter`] (a bloom filter over the user keys), so
//! a key the memtable does not hold costs one cache line instead of a skiplist walk: the
//! existence and uniqueness probes before a typed insert are mostly such misses.

use crate::error::Result;
use crate::lsm::ikey::{self, Kind, SeqNo, TRAILER_LEN};
use crate::lsm::iter::{Direction, InternalIterator};
use crate::lsm::mem_filter::MemFilter;
use crate::lsm::skiplist::{NodePtr, Probe, SkipList};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes counted per entry on top of its key, trailer and value by [`Memtable::approximate_size`].
const ENTRY_OVERHEAD: usize = 64;

/// An in-memory sorted buffer of versions, backed by one WAL file.
#[derive(Debug)]
pub struct Memtable {
    list: SkipList,
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

    /// An empty memtable whose key filter and arena chunks are sized for `budget` bytes of
    /// entries.
    pub fn with_budget(wal_number: u64, budget: usize) -> Self {
        Memtable {
            list: SkipList::new(budget),
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

    /// Inserts one version. Deletes store an empty value. Called by one writer at a time; a
    /// concurrent second caller waits. The write path and recovery insert whole commits with
    /// [`insert_batch`](Self::insert_batch); tests insert single versions.
    #[cfg(test)]
    pub fn insert(&self, seq: SeqNo, kind: Kind, key: &[u8], value: &[u8]) {
        let value = match kind {
            Kind::Put => value,
            Kind::Delete => &[],
        };
        self.size.fetch_add(
            key.len() + TRAILER_LEN + value.len() + ENTRY_OVERHEAD,
            Ordering::Relaxed,
        );
        // Before the entry: a reader that finds the entry finds its bits (module docs of
        // `mem_filter`).
        self.filter.insert(key);
        self.list.insert(key, seq, kind, value);
        self.max_seq.fetch_max(seq, Ordering::Relaxed);
    }

    /// Inserts the versions `ops` (kind, key, value) of one batch, all of seqno `seq`, as
    /// [`insert`](Self::insert) one after the other would (a key written twice reads as its
    /// last write), but with one hold of the list's writer lock and one update of the size and
    /// seqno counters, and with the skiplist searches of up to four ops overlapping (see
    /// `SkipList::insert_batch`): a transaction's row and index entries cost little more than
    /// one insert's cache misses.
    pub fn insert_batch<'a, I>(&self, seq: SeqNo, ops: I)
    where
        I: Iterator<Item = (Kind, &'a [u8], &'a [u8])> + Clone,
    {
        let ops = ops.map(|(kind, key, value)| match kind {
            Kind::Put => (key, kind, value),
            Kind::Delete => (key, kind, &[][..]),
        });
        let mut size = 0;
        for (key, _, value) in ops.clone() {
            size += key.len() + TRAILER_LEN + value.len() + ENTRY_OVERHEAD;
            // Before the entries: a reader that finds an entry finds its bits.
            self.filter.insert(key);
        }
        self.size.fetch_add(size, Ordering::Relaxed);
        self.list.insert_batch(seq, ops);
        self.max_seq.fetch_max(seq, Ordering::Relaxed);
    }

    /// The highest seqno inserted (0 when empty).
    pub fn max_seq(&self) -> SeqNo {
        self.max_seq.load(Ordering::Relaxed)
    }

    /// Approximate memory used, in bytes: keys, trailers and values plus 64 bytes per entry,
    /// the estimate the memtable switch (`memtable_size`) has always used. The arena's real
    /// usage is smaller per entry (a 16-byte header and 8 bytes per link level, ~11 on average)
    /// but grows in chunks; switching on it changes when memtables flush, which is a separate
    /// change (see `SkipList::used`).
    pub fn approximate_size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    /// Number of versions held.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The newest version of `key` with seqno `<= snapshot`: `(seq, kind, value)`.
    #[cfg(test)]
    pub fn get(&self, key: &[u8], snapshot: SeqNo) -> Option<(SeqNo, Kind, Vec<u8>)> {
        let hash = crate::lsm::sstable::bloom::hash_key(key);
        let mut out = None;
        self.get_visit(key, hash, snapshot, &mut |seq, kind, value| {
            out = Some((seq, kind, value.to_vec()));
        });
        out
    }

    /// The newest version of `key` with seqno `<= snapshot`, given the key's
    /// [`hash_key`](crate::lsm::sstable::bloom::hash_key) computed by the caller (a point read
    /// hashes the key once for every memtable's filter and every table's): `visit` runs on it
    /// in place, the value borrowed from the skiplist (no copy). Returns whether one was found
    /// (then `visit` ran once).
    pub fn get_visit(
        &self,
        key: &[u8],
        hash: u64,
        snapshot: SeqNo,
        visit: &mut dyn FnMut(SeqNo, Kind, &[u8]),
    ) -> bool {
        if !self.filter.may_contain_hash(hash) {
            return false;
        }
        let Some(entry) = self.list.lower_bound(&Probe::new(key, snapshot)) else {
            return false;
        };
        match ikey::parse(entry.key()) {
            Some(found) if found.user_key == key => {
                visit(found.seq, found.kind, entry.value());
                true
            }
            _ => false,
        }
    }

    /// A cursor over the memtable in `dir`, starting at the first entry `>= start` (forward) or
    /// the last entry `<= start` (reverse); `None` starts at the respective end.
    pub fn iter(self: &Arc<Self>, dir: Direction, start: Option<&[u8]>) -> MemtableIter {
        let list = &self.list;
        let entry = match (dir, start) {
            (Direction::Forward, None) => list.first(),
            (Direction::Reverse, None) => list.last(),
            (Direction::Forward, Some(k)) => list.lower_bound(&Probe::from_encoded(k)),
            (Direction::Reverse, Some(k)) => list.upper_bound(&Probe::from_encoded(k)),
        };
        let node = entry.map(|e| e.detach());
        MemtableIter {
            mem: Arc::clone(self),
            dir,
            node,
        }
    }
}

/// A cursor over a memtable. It points into the memtable's arena, which the `Arc` it holds keeps
/// alive, and hands out keys and values without copying.
pub struct MemtableIter {
    mem: Arc<Memtable>,
    dir: Direction,
    /// The current node of `mem.list` (`None`: exhausted).
    node: Option<NodePtr>,
}

impl MemtableIter {
    fn entry(&self) -> Option<crate::lsm::skiplist::Entry<'_>> {
        // SAFETY: `node` was detached from an entry of `self.mem.list` (in `Memtable::iter` or
        // `advance`), and `self.mem` keeps that list alive for as long as `self` lives.
        self.node.map(|n| unsafe { self.mem.list.attach(n) })
    }
}

impl InternalIterator for MemtableIter {
    fn valid(&self) -> bool {
        self.node.is_some()
    }
    fn key(&self) -> &[u8] {
        self.entry().map_or(&[], |e| e.key())
    }
    fn value(&self) -> &[u8] {
        self.entry().map_or(&[], |e| e.value())
    }
    fn advance(&mut self) -> Result<()> {
        let next = self.entry().and_then(|e| match self.dir {
            Direction::Forward => e.next(),
            Direction::Reverse => e.prev(),
        });
        self.node = next.map(|e| e.detach());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey;
    use std::collections::BTreeMap;

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
    fn a_batch_inserts_as_its_ops_one_by_one() {
        let m = Memtable::new(1);
        m.insert(1, Kind::Put, b"b", b"old");
        let ops = [
            (Kind::Put, &b"b"[..], &b"1"[..]),
            (Kind::Put, b"a", b"2"),
            (Kind::Delete, b"b", b"ignored"),
        ];
        m.insert_batch(7, ops.iter().copied());
        assert_eq!(m.get(b"a", 7), Some((7, Kind::Put, b"2".to_vec())));
        // The last write of a key wins; a delete stores no value.
        assert_eq!(m.get(b"b", 7), Some((7, Kind::Delete, Vec::new())));
        assert_eq!(m.get(b"b", 6), Some((1, Kind::Put, b"old".to_vec())));
        assert_eq!((m.len(), m.max_seq()), (3, 7));
        let one_by_one = Memtable::new(1);
        one_by_one.insert(1, Kind::Put, b"b", b"old");
        for (kind, k, v) in ops {
            one_by_one.insert(7, kind, k, v);
        }
        assert_eq!(m.approximate_size(), one_by_one.approximate_size());
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

    /// One writer inserts (publishing each seqno after its batch, as the engine does) while
    /// readers iterate both ways and probe: every entry they see is sorted and fully written, and
    /// at a published snapshot `s` they see exactly the versions `<= s`, each as its last write.
    #[test]
    fn readers_see_sorted_complete_entries_while_one_writer_inserts() {
        use std::sync::atomic::AtomicBool;
        const BATCHES: u64 = 4000;
        // Batch `s` writes key `s % 61`; every third batch writes it twice (the last write wins).
        let key = |s: u64| format!("key{:03}", s % 61).into_bytes();
        let value = |s: u64| {
            let len = (s % 13) as usize * 7;
            let mut v = s.to_be_bytes().to_vec();
            v.resize(8 + len, (s % 251) as u8);
            v
        };
        let m = Arc::new(Memtable::with_budget(1, 1 << 20));
        let published = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|r| {
                let (m, published, done) =
                    (Arc::clone(&m), Arc::clone(&published), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut rounds = 0u64;
                    while !done.load(Ordering::Acquire) || rounds < 3 {
                        rounds += 1;
                        let s = published.load(Ordering::Acquire);
                        let dir = if (rounds + r).is_multiple_of(2) {
                            Direction::Forward
                        } else {
                            Direction::Reverse
                        };
                        let mut it = m.iter(dir, None);
                        let mut prev: Option<Vec<u8>> = None;
                        let mut visible = 0u64;
                        while it.valid() {
                            let k = it.key().to_vec();
                            let p = ikey::parse(&k).expect("fully written key");
                            if let Some(prev) = &prev {
                                let want = match dir {
                                    Direction::Forward => std::cmp::Ordering::Less,
                                    Direction::Reverse => std::cmp::Ordering::Greater,
                                };
                                assert_eq!(
                                    ikey::compare(prev, &k),
                                    want,
                                    "sorted, one entry per version"
                                );
                            }
                            assert_eq!(p.user_key, key(p.seq).as_slice());
                            if p.seq <= s {
                                assert_eq!(
                                    it.value(),
                                    value(p.seq).as_slice(),
                                    "last write of {}",
                                    p.seq
                                );
                                visible += 1;
                            }
                            prev = Some(k);
                            it.advance().expect("memtable advance");
                        }
                        assert_eq!(visible, s, "versions <= {s}");
                        if s > 0 {
                            let probe = s - rounds % s.min(100);
                            // Alternately at its own seqno and just before: then an older version.
                            let snap = probe - rounds % 2;
                            let newest = (1..=snap).rev().find(|t| key(*t) == key(probe));
                            let got = m.get(&key(probe), snap);
                            assert_eq!(got.map(|g| (g.0, g.2)), newest.map(|t| (t, value(t))));
                        }
                    }
                    rounds
                })
            })
            .collect();
        for s in 1..=BATCHES {
            if s.is_multiple_of(3) {
                m.insert(
                    s,
                    Kind::Put,
                    &key(s),
                    b"overwritten by the batch's last write",
                );
            }
            m.insert(s, Kind::Put, &key(s), &value(s));
            published.store(s, Ordering::Release);
        }
        done.store(true, Ordering::Release);
        for r in readers {
            assert!(r.join().expect("reader panicked") >= 3);
        }
        assert_eq!(m.len() as u64, BATCHES);
    }

    /// The newest version of `key` at or below `snap` in a model of batches: `(seq, kind, value)`.
    type Model = BTreeMap<(Vec<u8>, std::cmp::Reverse<SeqNo>), (Kind, Vec<u8>)>;

    fn model_get(model: &Model, key: &[u8], snap: SeqNo) -> Option<(SeqNo, Kind, Vec<u8>)> {
        let from = (key.to_vec(), std::cmp::Reverse(snap));
        model
            .range(from..)
            .next()
            .filter(|((k, _), _)| k.as_slice() == key)
            .map(|((_, s), (kind, v))| (s.0, *kind, v.clone()))
    }

    proptest::proptest! {
        /// Many versions of a few keys (puts, deletes, a batch writing a key twice): a point read
        /// at every snapshot returns what a `BTreeMap` of the versions does.
        #[test]
        fn point_reads_at_every_snapshot_match_a_btreemap(
            batches in proptest::collection::vec(
                proptest::collection::vec(
                    (0u8..4, proptest::bool::weighted(0.2), proptest::collection::vec(proptest::num::u8::ANY, 0..3)),
                    1..4),
                1..40),
        ) {
            let m = Memtable::with_budget(1, 1 << 16);
            let mut model = Model::new();
            let key = |k: u8| vec![b'k'; usize::from(k)];
            for (i, ops) in batches.iter().enumerate() {
                let seq = i as SeqNo + 1;
                for (k, del, v) in ops {
                    let (kind, v) = if *del { (Kind::Delete, Vec::new()) } else { (Kind::Put, v.clone()) };
                    m.insert(seq, kind, &key(*k), &v);
                    model.insert((key(*k), std::cmp::Reverse(seq)), (kind, v));
                }
            }
            proptest::prop_assert_eq!(m.len(), model.len());
            for snap in 0..=batches.len() as SeqNo + 1 {
                for k in 0..5u8 {
                    proptest::prop_assert_eq!(m.get(&key(k), snap), model_get(&model, &key(k), snap), "key {} at {}", k, snap);
                }
            }
        }
    }

    /// One writer inserts versions of three keys (one per seqno, every seventh a tombstone) and
    /// publishes each seqno, while readers read every key at the published snapshot and just
    /// below it. Nearly every insert links a node right in front of the one a reader is about to
    /// return, which is the race a seek must survive (see the skiplist's
    /// `a_seek_racing_an_insert_returns_the_node_it_compared`): each read must be exactly the
    /// newest version at or below its snapshot.
    #[test]
    fn point_reads_at_published_snapshots_are_exact_while_one_writer_inserts() {
        use std::sync::atomic::AtomicBool;
        const KEYS: u64 = 3;
        const BATCHES: u64 = 30_000;
        let key = |s: u64| format!("key{}", s % KEYS).into_bytes();
        let kind = |s: u64| {
            if s.is_multiple_of(7) {
                Kind::Delete
            } else {
                Kind::Put
            }
        };
        let value = move |s: u64| match kind(s) {
            Kind::Put => s.to_be_bytes().to_vec(),
            Kind::Delete => Vec::new(),
        };
        // The newest seqno <= snap that wrote the key of `k` (seqnos are 1..).
        let newest = |k: u64, snap: u64| {
            let t = snap.checked_sub((snap + KEYS - k % KEYS) % KEYS)?;
            (t > 0).then_some(t)
        };
        let m = Arc::new(Memtable::with_budget(1, 4 << 20));
        let published = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (m, published, done) =
                    (Arc::clone(&m), Arc::clone(&published), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut reads = 0u64;
                    while !done.load(Ordering::Acquire) {
                        let s = published.load(Ordering::Acquire);
                        for snap in [s, s.saturating_sub(1)] {
                            for k in 0..KEYS {
                                let want = newest(k, snap).map(|t| (t, kind(t), value(t)));
                                assert_eq!(m.get(&key(k), snap), want, "key {k} at {snap}");
                                reads += 1;
                            }
                        }
                    }
                    reads
                })
            })
            .collect();
        for s in 1..=BATCHES {
            m.insert(s, kind(s), &key(s), &value(s));
            published.store(s, Ordering::Release);
        }
        done.store(true, Ordering::Release);
        for r in readers {
            assert!(r.join().expect("reader panicked") > 0);
        }
    }
}
