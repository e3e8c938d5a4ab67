//! The per-table bloom filter over USER keys, so a point lookup of an absent key reads no data
//! block.
//!
//! ```text
//! +--------------------------------------+--------+
//! | filter bits (m bytes, bit i = byte   | k (u8) |
//! | i/8, mask 1 << (i%8))                |        |
//! +--------------------------------------+--------+
//! ```
//! Keys are user keys, not internal keys: every version of a key shares one entry, and a lookup
//! at any snapshot tests the same bits. `bits = max(64, keys * bits_per_key)` rounded up to whole
//! bytes; `k = round(bits_per_key * ln 2)` clamped to `1..=30`. Probe positions use double
//! hashing from one 64-bit xxh3 hash `h`: `g_i = (h + i * delta) mod bits` with
//! `delta = rotr(h, 33) | 1`. At 10 bits per key the false-positive rate is about 1 %.
//!
//! An empty filter block (zero bytes) means the table was written without a filter:
//! [`BloomFilter::may_contain`] then always answers `true`.

use xxhash_rust::xxh3::xxh3_64;

/// A decoded bloom filter (borrowing nothing; the table keeps it in memory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BloomFilter {
    bits: Vec<u8>,
    k: u8,
}

/// The hash a filter is built from: xxh3-64 of the user key.
pub fn hash_key(user_key: &[u8]) -> u64 {
    xxh3_64(user_key)
}

fn probes(h: u64, k: u8, nbits: u64) -> impl Iterator<Item = u64> {
    let delta = h.rotate_right(33) | 1;
    (0..u64::from(k)).map(move |i| h.wrapping_add(i.wrapping_mul(delta)) % nbits)
}

fn num_probes(bits_per_key: usize) -> u8 {
    let k = (bits_per_key as f64 * std::f64::consts::LN_2).round();
    k.clamp(1.0, 30.0) as u8
}

impl BloomFilter {
    /// Builds the serialized filter (`[bits][k]`) for keys given by their [`hash_key`] hashes.
    /// Returns an empty vector when `bits_per_key == 0` (no filter).
    pub fn build(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
        if bits_per_key == 0 {
            return Vec::new();
        }
        let k = num_probes(bits_per_key);
        let nbits = hashes.len().saturating_mul(bits_per_key).max(64);
        let nbytes = nbits.div_ceil(8);
        let nbits = (nbytes * 8) as u64;
        let mut out = vec![0u8; nbytes + 1];
        for &h in hashes {
            for bit in probes(h, k, nbits) {
                if let Some(b) = out.get_mut((bit / 8) as usize) {
                    *b |= 1 << (bit % 8);
                }
            }
        }
        if let Some(last) = out.last_mut() {
            *last = k;
        }
        out
    }

    /// Decodes a filter block (checksum already verified). `Ok(None)` for the empty "no filter"
    /// block; `Err(reason)` if `k` is outside `1..=30`.
    pub fn decode(mut block: Vec<u8>) -> Result<Option<BloomFilter>, String> {
        let Some(k) = block.pop() else {
            return Ok(None);
        };
        if !(1..=30).contains(&k) {
            return Err(format!("bloom filter with {k} probes"));
        }
        if block.is_empty() {
            return Err("bloom filter without bits".to_string());
        }
        Ok(Some(BloomFilter { bits: block, k }))
    }

    /// Whether `user_key` may be in the set (`false` = certainly absent).
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.may_contain_hash(hash_key(user_key))
    }

    /// [`may_contain`](Self::may_contain) for a precomputed [`hash_key`].
    pub fn may_contain_hash(&self, h: u64) -> bool {
        let nbits = (self.bits.len() as u64) * 8;
        probes(h, self.k, nbits).all(|bit| {
            self.bits
                .get((bit / 8) as usize)
                .is_some_and(|b| b & (1 << (bit % 8)) != 0)
        })
    }

    /// Number of probes per key.
    pub fn num_probes(&self) -> u8 {
        self.k
    }

    /// Size in bytes of the bit array.
    pub fn size_bytes(&self) -> usize {
        self.bits.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(keys: impl Iterator<Item = Vec<u8>>, bits: usize) -> BloomFilter {
        let hashes: Vec<u64> = keys.map(|k| hash_key(&k)).collect();
        BloomFilter::decode(BloomFilter::build(&hashes, bits))
            .expect("valid")
            .expect("present")
    }

    #[test]
    fn no_false_negatives_and_about_one_percent_false_positives() {
        let n = 10_000;
        let f = filter((0..n).map(|i| format!("present-{i}").into_bytes()), 10);
        assert_eq!(f.num_probes(), 7);
        for i in 0..n {
            assert!(f.may_contain(format!("present-{i}").as_bytes()));
        }
        let trials = 100_000;
        let fp = (0..trials)
            .filter(|i| f.may_contain(format!("absent-{i}").as_bytes()))
            .count();
        let rate = fp as f64 / trials as f64;
        assert!(rate < 0.02, "false-positive rate {rate}");
    }

    #[test]
    fn probe_count_is_clamped() {
        assert_eq!(num_probes(1), 1);
        assert_eq!(num_probes(100), 30);
        assert!(BloomFilter::build(&[1, 2], 0).is_empty());
    }

    #[test]
    fn empty_and_bad_encodings() {
        assert_eq!(BloomFilter::decode(Vec::new()), Ok(None));
        assert!(BloomFilter::decode(vec![0, 0, 0, 0]).is_err());
        assert!(BloomFilter::decode(vec![0xFF; 9]).is_err());
        assert!(BloomFilter::decode(vec![7]).is_err());
        // A filter over no keys rejects everything.
        let f = filter(std::iter::empty(), 10);
        assert!(!f.may_contain(b"anything"));
    }
}
