//! The block cache shared by all open tables: decoded, checksum-verified blocks keyed by
//! (file number, block offset), bounded by their total size in bytes.
//!
//! ```text
//! (file number u64, block offset u64) --> Arc<Block>     weight = block bytes + 64 overhead
//! ```
//! It wraps `quick_cache::sync::Cache`, whose eviction policy is S3-FIFO: a small probationary
//! FIFO plus a main FIFO with a ghost list. It approximates LRU but is scan-resistant: a long
//! iterator touching each block once does not flush the hot working set of point lookups. The
//! cache is sharded internally (quick_cache's default, 4 shards per core: 16 per core measured
//! ~9 % slower single-threaded on seek + 100, so the default stays).
//!
//! Each open table also has [`BlockSlots`]: one slot per data block, holding the block while
//! the cache does, so a read of a cached block is an index into the table's slots instead of a
//! hash lookup (the shard lock, the hash probe, the entry and its reference counter were ~12 %
//! of a point read, each a likely cache miss):
//!
//! ```text
//! Table --Arc--> BlockSlots [ slot 0 | slot 1 | ... ]      slot i = Some(block i) iff cached
//!                              ^ set by the loader, before the insert that may evict it
//! cache entry (file, offset) -> CachedBlock { block, (Arc<BlockSlots>, i) }
//!                              on eviction: slot i cleared if it still holds that block
//! ```
//! Invariant: a slot holds a block only while the cache does (plus the moment between the
//! loader's store and the insert), so the slots never keep blocks beyond the cache's budget.
//! Slot reads bypass the cache's S3-FIFO access counters, so one slot hit in
//! `TOUCH_EVERY` (8) per thread also goes through the cache's `get`, which keeps the eviction
//! policy's view of which blocks are hot (approximately: sampled, not every hit).
//!
//! A miss in the slots falls back to the cache: [`BlockCache::get_or_load`] tries a plain `get`
//! first and only on a miss goes through `get_or_insert_with`, whose placeholder makes concurrent
//! loaders of one block wait for the first. Hits are counted in per-thread-striped counters (a
//! cache line each), so threads hitting the cache do not bounce one shared counter; misses are
//! rare and share one.
//!
//! Table numbers are never reused, so stale entries of a deleted table are harmless; they age out
//! or can be dropped eagerly with [`BlockCache::remove_file`].

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

use super::block::Block;
use crate::error::Result;

/// Fixed per-entry bookkeeping added to each block's weight.
const ENTRY_OVERHEAD: u64 = 64;

/// Number of hit-counter stripes (a power of two).
const STRIPES: usize = 16;

/// One hit counter on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// One slot hit in this many (per thread) also touches the cache's own entry (see the module
/// docs).
const TOUCH_EVERY: u32 = 8;

/// Hands each thread a stripe index, round-robin.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: Cell<Option<usize>> = const { Cell::new(None) };
    /// Slot hits since this thread last touched the cache's entry.
    static SLOT_HITS: Cell<u32> = const { Cell::new(0) };
}

/// This thread's stripe index in `0..STRIPES`.
#[inline]
fn stripe_index() -> usize {
    STRIPE.with(|s| match s.get() {
        Some(i) => i,
        None => {
            let i = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
            s.set(Some(i));
            i
        }
    })
}

/// One table's direct slots: slot `i` holds data block `i` while the cache holds it. See the
/// module docs.
pub struct BlockSlots {
    slots: Box<[ArcSwapOption<Block>]>,
}

impl std::fmt::Debug for BlockSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockSlots")
            .field("len", &self.slots.len())
            .finish()
    }
}

impl BlockSlots {
    /// Empty slots for a table of `blocks` data blocks.
    pub fn new(blocks: usize) -> Arc<BlockSlots> {
        Arc::new(BlockSlots {
            slots: (0..blocks).map(|_| ArcSwapOption::empty()).collect(),
        })
    }

    /// Data block `i` if its slot holds it (the cache does), without counting a hit or
    /// touching the cache.
    pub fn peek(&self, i: usize) -> Option<Arc<Block>> {
        self.slots.get(i).and_then(ArcSwapOption::load_full)
    }

    /// Asks the CPU to fetch the header of data block `i` if its slot holds it, without
    /// taking a reference.
    #[inline]
    pub fn prefetch(&self, i: usize) {
        if let Some(block) = self.slots.get(i).map(ArcSwapOption::load) {
            if let Some(b) = block.as_ref() {
                b.prefetch_header();
            }
        }
    }

    /// Clears slot `i` if it still holds `block` (a newer copy loaded since stays).
    fn clear(&self, i: usize, block: &Arc<Block>) {
        if let Some(slot) = self.slots.get(i) {
            let current = slot.load();
            if current.as_ref().is_some_and(|b| Arc::ptr_eq(b, block)) {
                slot.compare_and_swap(&*current, None);
            }
        }
    }

    /// How many slots hold a block (tests check that evictions empty them).
    #[cfg(test)]
    fn filled(&self) -> usize {
        self.slots.iter().filter(|s| s.load().is_some()).count()
    }
}

/// A cache entry: the block and the table slot it fills, if any.
#[derive(Clone)]
struct CachedBlock {
    block: Arc<Block>,
    slot: Option<(Arc<BlockSlots>, usize)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct BlockWeighter;

impl Weighter<(u64, u64), CachedBlock> for BlockWeighter {
    fn weight(&self, _key: &(u64, u64), entry: &CachedBlock) -> u64 {
        entry.block.size_bytes() as u64 + ENTRY_OVERHEAD
    }
}

/// Empties a block's table slot when the cache evicts (or refuses) the block.
#[derive(Clone, Copy, Debug, Default)]
struct ClearSlot;

impl Lifecycle<(u64, u64), CachedBlock> for ClearSlot {
    type RequestState = ();

    fn begin_request(&self) {}

    fn on_evict(&self, _state: &mut (), _key: (u64, u64), entry: CachedBlock) {
        if let Some((slots, i)) = &entry.slot {
            slots.clear(*i, &entry.block);
        }
    }
}

/// Counters of a [`BlockCache`], as reported in `Stats::cache`.
///
/// ```
/// use rustlite_engine::{Direction, Engine, Options};
/// use std::ops::Bound::Unbounded;
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(b"k", b"v")?;
/// db.flush()?; // the key now lives in an SSTable, read through the block cache
/// assert_eq!(db.get(b"k")?, Some(b"v".to_vec()));
/// let cache = db.stats().cache;
/// assert!(cache.hits + cache.misses > 0);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to read the block from its file.
    pub misses: u64,
    /// Current total weight (block bytes plus overhead) held.
    pub size_bytes: u64,
}

/// A byte-bounded cache of decoded blocks. See the module docs.
pub struct BlockCache {
    cache: Cache<(u64, u64), CachedBlock, BlockWeighter, DefaultHashBuilder, ClearSlot>,
    hits: Box<[Stripe; STRIPES]>,
    misses: AtomicU64,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity", &self.cache.capacity())
            .field("stats", &self.stats())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding at most about `capacity_bytes` of blocks (0 disables caching).
    ///
    /// ```
    /// use rustlite_engine::lsm::sstable::BlockCache;
    /// let cache = BlockCache::new(8 << 20);
    /// assert_eq!(cache.stats().hits, 0);
    /// ```
    pub fn new(capacity_bytes: usize) -> Self {
        let items = (capacity_bytes / 4096).max(16);
        let cache = Cache::with(
            items,
            capacity_bytes as u64,
            BlockWeighter,
            DefaultHashBuilder::default(),
            ClearSlot,
        );
        BlockCache {
            cache,
            hits: Box::default(),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached block of (`file_number`, `offset`), or the result of `load`, which is then
    /// cached. Concurrent loaders of one block wait for the first instead of reading it twice.
    pub fn get_or_load(
        &self,
        file_number: u64,
        offset: u64,
        load: impl FnOnce() -> Result<Arc<Block>>,
    ) -> Result<Arc<Block>> {
        self.cached_or_load((file_number, offset), None, load)
    }

    /// Data block `i` of a table whose slots are `slots`, cached at (`file_number`, `offset`):
    /// from its slot when filled (no hash lookup), else as [`get_or_load`](Self::get_or_load),
    /// filling the slot when it loads the block.
    #[inline]
    pub fn get_or_load_slot(
        &self,
        slots: &Arc<BlockSlots>,
        i: usize,
        file_number: u64,
        offset: u64,
        load: impl FnOnce() -> Result<Arc<Block>>,
    ) -> Result<Arc<Block>> {
        if let Some(block) = slots.slots.get(i).and_then(ArcSwapOption::load_full) {
            self.slot_hit(file_number, offset);
            return Ok(block);
        }
        self.slot_miss(slots, i, file_number, offset, load)
    }

    /// [`get_or_load_slot`](Self::get_or_load_slot) for a caller that only borrows the block:
    /// `f` runs on it without taking a reference count when the slot is filled.
    #[inline]
    pub fn with_slot<R>(
        &self,
        slots: &Arc<BlockSlots>,
        i: usize,
        file_number: u64,
        offset: u64,
        load: impl FnOnce() -> Result<Arc<Block>>,
        f: impl FnOnce(&Block) -> Result<R>,
    ) -> Result<R> {
        if let Some(slot) = slots.slots.get(i) {
            let guard = slot.load();
            if let Some(block) = guard.as_ref() {
                self.slot_hit(file_number, offset);
                return f(block);
            }
        }
        let block = self.slot_miss(slots, i, file_number, offset, load)?;
        f(&block)
    }

    /// Counts a slot hit; one in `TOUCH_EVERY` also touches the cache's entry.
    #[inline]
    fn slot_hit(&self, file_number: u64, offset: u64) {
        self.count_hit();
        let touch = SLOT_HITS.with(|n| {
            let hits = n.get() + 1;
            n.set(if hits >= TOUCH_EVERY { 0 } else { hits });
            hits >= TOUCH_EVERY
        });
        if touch {
            drop(self.cache.get(&(file_number, offset)));
        }
    }

    /// An empty slot: the cache (which fills the slot on a load).
    #[inline(never)]
    fn slot_miss(
        &self,
        slots: &Arc<BlockSlots>,
        i: usize,
        file_number: u64,
        offset: u64,
        load: impl FnOnce() -> Result<Arc<Block>>,
    ) -> Result<Arc<Block>> {
        self.cached_or_load((file_number, offset), Some((slots, i)), load)
    }

    /// The cached block under `key`, or [`load_slow`](Self::load_slow)'s (filling `slot`).
    #[inline]
    fn cached_or_load(
        &self,
        key: (u64, u64),
        slot: Option<(&Arc<BlockSlots>, usize)>,
        load: impl FnOnce() -> Result<Arc<Block>>,
    ) -> Result<Arc<Block>> {
        if let Some(entry) = self.cache.get(&key) {
            self.count_hit();
            return Ok(entry.block);
        }
        self.load_slow(key, slot, load)
    }

    #[inline]
    fn count_hit(&self) {
        if let Some(s) = self.hits.get(stripe_index()) {
            s.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The miss path: coalesces concurrent loaders of one block (a loader that finds the block
    /// inserted by another while it waited counts as a hit). The loader fills `slot` before the
    /// block is inserted, so an eviction, which clears the slot, always comes after.
    #[inline(never)]
    fn load_slow(
        &self,
        key: (u64, u64),
        slot: Option<(&Arc<BlockSlots>, usize)>,
        load: impl FnOnce() -> Result<Arc<Block>>,
    ) -> Result<Arc<Block>> {
        let mut missed = false;
        let entry = self.cache.get_or_insert_with(&key, || {
            missed = true;
            let block = load()?;
            if let Some((slots, i)) = slot {
                if let Some(s) = slots.slots.get(i) {
                    s.store(Some(Arc::clone(&block)));
                }
            }
            Ok::<_, crate::Error>(CachedBlock {
                block,
                slot: slot.map(|(slots, i)| (Arc::clone(slots), i)),
            })
        })?;
        if missed {
            self.misses.fetch_add(1, Ordering::Relaxed);
        } else {
            self.count_hit();
        }
        Ok(entry.block)
    }

    /// Drops every cached block of `file_number` (after the table is deleted). Walks the whole
    /// cache, so call it once per deleted file, not per read.
    /// The table's slots are left as they are: the table is gone or going, and they go with it.
    pub fn remove_file(&self, file_number: u64) {
        self.cache.retain(|(f, _), _| *f != file_number);
    }

    /// Hit and miss counts since creation, and the current size.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.iter().map(|s| s.0.load(Ordering::Relaxed)).sum(),
            misses: self.misses.load(Ordering::Relaxed),
            size_bytes: self.cache.weight(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::sstable::block::BlockBuilder;

    fn block(n: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(16);
        for i in 0..n {
            b.add(format!("key{i:05}-trailer").as_bytes(), &[0u8; 100]);
        }
        Arc::new(Block::decode(b.finish().to_vec(), "t".into(), 0).expect("block"))
    }

    #[test]
    fn prefetching_a_slot_is_a_hint_only() {
        let cache = BlockCache::new(1 << 20);
        let slots = BlockSlots::new(2);
        // Empty, filled, and past the last slot: no effect on what is cached or counted.
        slots.prefetch(0);
        slots.prefetch(7);
        let got = cache
            .get_or_load_slot(&slots, 0, 1, 0, || Ok(block(3)))
            .expect("load");
        slots.prefetch(0);
        assert_eq!(slots.filled(), 1);
        assert_eq!(got.len(), 3);
        assert_eq!((cache.stats().hits, cache.stats().misses), (0, 1));
    }

    #[test]
    fn hits_misses_and_bound() {
        let cache = BlockCache::new(64 * 1024);
        let b = block(30); // ~3.5 KiB
        for round in 0..2 {
            for off in 0..10u64 {
                let got = cache.get_or_load(1, off, || Ok(b.clone())).expect("load");
                assert_eq!(got.len(), 30);
                let _ = round;
            }
        }
        let s = cache.stats();
        assert_eq!(s.misses, 10);
        assert_eq!(s.hits, 10);
        // Far more than capacity: the size stays bounded.
        for off in 10..200u64 {
            cache.get_or_load(2, off, || Ok(b.clone())).expect("load");
        }
        assert!(cache.stats().size_bytes <= 64 * 1024);
        cache.remove_file(2);
        cache.remove_file(1);
        assert_eq!(cache.stats().size_bytes, 0);
    }

    #[test]
    fn hits_from_many_threads_are_all_counted() {
        let cache = Arc::new(BlockCache::new(1 << 20));
        let b = block(1);
        cache.get_or_load(1, 0, || Ok(b.clone())).expect("load");
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        cache
                            .get_or_load(1, 0, || Err(crate::Error::corruption("f", 0, "no")))
                            .expect("hit");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(cache.stats().hits, 2000);
        assert_eq!(cache.stats().misses, 1);
    }

    #[test]
    fn slots_hold_exactly_the_cached_blocks() {
        let b = block(30); // ~3.5 KiB
        let weight = b.size_bytes() as u64 + ENTRY_OVERHEAD;
        let cache = BlockCache::new(64 * 1024);
        let slots = BlockSlots::new(200);
        let fail = || Err(crate::Error::corruption("f", 0, "not cached"));
        for i in 0..200 {
            let got = cache
                .get_or_load_slot(&slots, i, 3, i as u64, || Ok(block(30)))
                .expect("load");
            assert_eq!(got.len(), 30);
        }
        // Evictions emptied the slots of evicted blocks: what the slots hold fits the budget,
        // and every filled slot is a block the cache still has.
        let filled: Vec<usize> = (0..200)
            .filter(|&i| slots.slots[i].load().is_some())
            .collect();
        assert!(!filled.is_empty());
        assert!(
            filled.len() as u64 * weight <= 64 * 1024,
            "{filled:?} filled"
        );
        let cached: Vec<usize> = (0..200)
            .filter(|&i| cache.cache.peek(&(3, i as u64)).is_some())
            .collect();
        assert_eq!(filled, cached);
        // A filled slot is read without loading and counts as a hit.
        for &i in &filled {
            let len = cache
                .with_slot(&slots, i, 3, i as u64, fail, |b| Ok(b.len()))
                .expect("slot hit");
            assert_eq!(len, 30);
        }
        assert_eq!(cache.stats().misses, 200);
        assert_eq!(cache.stats().hits, filled.len() as u64);

        // A cache of zero bytes admits nothing, so no slot stays filled.
        let none = BlockCache::new(0);
        let slots = BlockSlots::new(4);
        for i in 0..4 {
            none.get_or_load_slot(&slots, i, 1, i as u64, || Ok(block(1)))
                .expect("load");
        }
        assert_eq!(slots.filled(), 0);
    }

    #[test]
    fn slots_match_the_cache_after_concurrent_loads_and_evictions() {
        let cache = Arc::new(BlockCache::new(64 * 1024));
        let slots = BlockSlots::new(300);
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (cache, slots) = (Arc::clone(&cache), Arc::clone(&slots));
                std::thread::spawn(move || {
                    let mut x = t + 1;
                    for _ in 0..3_000 {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let i = ((x >> 33) % 300) as usize;
                        let got = cache
                            .with_slot(&slots, i, 5, i as u64, || Ok(block(30)), |b| Ok(b.len()))
                            .expect("read");
                        assert_eq!(got, 30);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let filled: Vec<usize> = (0..300)
            .filter(|&i| slots.slots[i].load().is_some())
            .collect();
        let cached: Vec<usize> = (0..300)
            .filter(|&i| cache.cache.peek(&(5, i as u64)).is_some())
            .collect();
        assert_eq!(filled, cached);
    }

    #[test]
    fn load_errors_are_not_cached() {
        let cache = BlockCache::new(1 << 20);
        let r = cache.get_or_load(1, 0, || Err(crate::Error::corruption("f", 0, "bad")));
        assert!(r.is_err());
        let ok = cache.get_or_load(1, 0, || Ok(block(1))).expect("load");
        assert_eq!(ok.len(), 1);
    }
}
