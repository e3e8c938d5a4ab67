//! The block cache shared by all open tables: decoded, checksum-verified blocks keyed by
//! (file number, block offset), bounded by their total size in bytes.
//!
//! ```text
//! (file number u64, block offset u64) --> Arc<Block>     weight = block bytes + 64 overhead
//! ```
//! It wraps `quick_cache::sync::Cache`, whose eviction policy is S3-FIFO: a small probationary
//! FIFO plus a main FIFO with a ghost list. It approximates LRU but is scan-resistant: a long
//! iterator touching each block once does not flush the hot working set of point lookups. The
//! cache is sharded internally, so concurrent readers rarely contend.
//!
//! Table numbers are never reused, so stale entries of a deleted table are harmless; they age out
//! or can be dropped eagerly with [`BlockCache::remove_file`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use super::block::Block;
use crate::error::Result;

/// Fixed per-entry bookkeeping added to each block's weight.
const ENTRY_OVERHEAD: u64 = 64;

#[derive(Clone, Copy, Debug, Default)]
struct BlockWeighter;

impl Weighter<(u64, u64), Arc<Block>> for BlockWeighter {
    fn weight(&self, _key: &(u64, u64), block: &Arc<Block>) -> u64 {
        block.size_bytes() as u64 + ENTRY_OVERHEAD
    }
}

/// Counters of a [`BlockCache`].
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
    hits: AtomicU64,
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
        BlockCache {
            cache: Cache::with_weighter(items, capacity_bytes as u64, BlockWeighter),
            hits: AtomicU64::new(0),
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
        let mut missed = false;
        let block = self.cache.get_or_insert_with(&(file_number, offset), || {
            missed = true;
            load()
        })?;
        if missed {
            self.misses.fetch_add(1, Ordering::Relaxed);
        } else {
            self.hits.fetch_add(1, Ordering::Relaxed);
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
            hits: self.hits.load(Ordering::Relaxed),
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
    fn load_errors_are_not_cached() {
        let cache = BlockCache::new(1 << 20);
        let r = cache.get_or_load(1, 0, || Err(crate::Error::corruption("f", 0, "bad")));
        assert!(r.is_err());
        let ok = cache.get_or_load(1, 0, || Ok(block(1))).expect("load");
        assert_eq!(ok.len(), 1);
    }
}
