//! The memtable's key filter: a concurrent, blocked bloom filter over the user keys inserted,
//! so a point read of a key the memtable does not hold skips the skiplist walk.
//!
//! ```text
//!  bits: [ block 0: 8 × AtomicU64 (512 bits) ][ block 1 ] ... [ block n-1 ]
//!  h = xxh3_64(user key)          (the SSTable bloom's hash_key)
//!  block = (h >> 32) * n >> 32    (one cache line per key)
//!  bit i = (lo + i * delta) mod 512, lo = h as u32, delta = (h >> 17) | 1, i < PROBES
//! ```
//! A writer sets the key's bits before inserting the version into the skiplist; both happen
//! before the commit's seqno is published (release), and a reader at any snapshot took that
//! snapshot from the published seqno (acquire), so every version a reader may see has its bits
//! visible: the filter has no false negatives for visible versions. A version being inserted
//! concurrently with a later seqno may be missed, as the snapshot would skip it anyway.
//!
//! Sized for the memtable's byte budget at an assumed minimum of [`BYTES_PER_KEY`] bytes per
//! entry and [`BITS_PER_KEY`] bits per key (about 1 % of the budget); a memtable holding more
//! keys than that still answers correctly, with more false positives.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::lsm::sstable::bloom::hash_key;

/// Bytes of memtable budget assumed per key when sizing the filter.
pub const BYTES_PER_KEY: usize = 128;
/// Filter bits per expected key.
pub const BITS_PER_KEY: usize = 10;
/// Probes per key, all inside one 512-bit block.
const PROBES: u32 = 6;
const WORDS_PER_BLOCK: usize = 8;
/// The largest filter built (bytes), whatever the budget.
const MAX_BYTES: usize = 16 << 20;

/// See the module docs.
#[derive(Debug)]
pub struct MemFilter {
    words: Box<[AtomicU64]>,
    blocks: u64,
}

impl MemFilter {
    /// A filter for a memtable of `budget` bytes.
    pub fn for_budget(budget: usize) -> Self {
        let bits = (budget / BYTES_PER_KEY)
            .saturating_mul(BITS_PER_KEY)
            .min(MAX_BYTES * 8);
        let blocks = bits.div_ceil(WORDS_PER_BLOCK * 64).max(1);
        let words = (0..blocks * WORDS_PER_BLOCK)
            .map(|_| AtomicU64::new(0))
            .collect();
        MemFilter {
            words,
            blocks: blocks as u64,
        }
    }

    /// Size of the bit array in bytes (about 1% of the memtable budget; not counted in the
    /// memtable's `approximate_size`, which drives flushes).
    #[cfg(test)]
    pub fn size_bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// The word index and mask of each probe of hash `h`.
    fn probes(&self, h: u64) -> impl Iterator<Item = (usize, u64)> {
        let block = ((h >> 32) * self.blocks) >> 32;
        let base = block as usize * WORDS_PER_BLOCK;
        let lo = h as u32;
        let delta = ((h >> 17) as u32) | 1;
        (0..PROBES).map(move |i| {
            let bit = lo.wrapping_add(i.wrapping_mul(delta)) & 511;
            (base + (bit >> 6) as usize, 1u64 << (bit & 63))
        })
    }

    /// Records `user_key`.
    pub fn insert(&self, user_key: &[u8]) {
        for (word, mask) in self.probes(hash_key(user_key)) {
            if let Some(w) = self.words.get(word) {
                w.fetch_or(mask, Ordering::Release);
            }
        }
    }

    /// Whether `user_key` may have been inserted (`false` = certainly not).
    #[cfg(test)]
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.may_contain_hash(hash_key(user_key))
    }

    /// Whether a key whose [`hash_key`] is `h` may have been inserted; a point read
    /// computes the hash once for this filter and every table's.
    #[inline]
    pub fn may_contain_hash(&self, h: u64) -> bool {
        self.probes(h).all(|(word, mask)| {
            self.words
                .get(word)
                .is_none_or(|w| w.load(Ordering::Acquire) & mask != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let n = 10_000;
        let f = MemFilter::for_budget(n * BYTES_PER_KEY);
        for i in 0..n {
            f.insert(format!("present-{i}").as_bytes());
        }
        for i in 0..n {
            assert!(f.may_contain(format!("present-{i}").as_bytes()));
        }
        let trials = 100_000;
        let fp = (0..trials)
            .filter(|i| f.may_contain(format!("absent-{i}").as_bytes()))
            .count();
        let rate = fp as f64 / trials as f64;
        assert!(rate < 0.03, "false-positive rate {rate}");
    }

    #[test]
    fn tiny_and_overfull_filters_stay_correct() {
        let f = MemFilter::for_budget(0);
        assert_eq!(f.size_bytes(), 64);
        assert!(!f.may_contain(b"x"));
        for i in 0..10_000u32 {
            f.insert(&i.to_be_bytes());
        }
        assert!((0..10_000u32).all(|i| f.may_contain(&i.to_be_bytes())));
        assert_eq!(
            MemFilter::for_budget(64 << 20).size_bytes(),
            (64 << 20) / BYTES_PER_KEY * BITS_PER_KEY / 8
        );
    }
}
