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
//! A hit is one shard lookup and an `Arc` clone: [`BlockCache::get_or_load`] tries a plain `get`
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

use quick_cache::sync::Cache;
use quick_cache::Weighter;

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

/// Hands each thread a stripe index, round-robin.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: Cell<Option<usize>> = const { Cell::new(None) };
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

#[derive(Clone, Copy, Debug, Default)]
struct BlockWeighter;

impl Weighter<(u64, u64), Arc<Block>> for BlockWeighter {
    fn weight(&self, _key: &(u64, u64), block: &Arc<Block>) -> u64 {
        block.size_bytes() as u64 + ENTRY_OVERHEAD
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
    cache: Cache<(u64, u64), Arc<Block>, BlockWeighter>,
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
        let cache = Cache::with_weighter(items, capacity_bytes as u64, BlockWeighter);
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
        let key = (file_number, offset);
        if let Some(block) = self.cache.get(&key) {
            self.count_hit();
            return Ok(block);
        }
        self.load_slow(key, load)
    }

    #[inline]
    fn count_hit(&self) {
        if let Some(s) = self.hits.get(stripe_index()) {
            s.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The miss path: coalesces concurrent loaders of one block (a loader that finds the block
    /// inserted by another while it waited counts as a hit).
    #[inline(never)]
    fn load_slow(
        &self,
        key: (u64, u64),
        load: impl FnOnce() -> Result<Arc<Block>>,
    ) -> Result<Arc<Block>> {
        let (file_number, offset) = key;
        let mut missed = false;
        let block = self.cache.get_or_insert_with(&(file_number, offset), || {
            missed = true;
            load()
        })?;
        if missed {
            self.misses.fetch_add(1, Ordering::Relaxed);
        } else {
            self.count_hit();
        }
        Ok(block)
    }

    /// Drops every cached block of `file_number` (after the table is deleted). Walks the whole
    /// cache, so call it once per deleted file, not per read.
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
    fn load_errors_are_not_cached() {
        let cache = BlockCache::new(1 << 20);
        let r = cache.get_or_load(1, 0, || Err(crate::Error::corruption("f", 0, "bad")));
        assert!(r.is_err());
        let ok = cache.get_or_load(1, 0, || Ok(block(1))).expect("load");
        assert_eq!(ok.len(), 1);
    }
}
