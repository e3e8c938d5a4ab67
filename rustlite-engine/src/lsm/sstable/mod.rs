//! Sorted string tables: immutable, checksummed files of internal keys in [`ikey::compare`] order.
//!
//! A memtable flush or a compaction writes a table with a [`TableBuilder`]; readers open it as a
//! [`Table`] (footer, index and bloom filter in memory), look keys up with [`Table::get`] and scan
//! with [`Table::iter`]. Data blocks come through the shared, byte-bounded [`BlockCache`].
//!
//! | file | owns |
//! |---|---|
//! | [`block`] | data/index block encoding (prefix compression, restart points), block handles, in-block search |
//! | [`bloom`] | the per-table bloom filter over user keys (blocked; classic in version-1 files) |
//! | [`cache`] | the shared block cache keyed by (file number, block offset) |
//! | [`files`] | table files under the engine's budget of open descriptors (closed and reopened) |
//! | [`index`] | a table's index decoded at open into flat arrays for binary search |
//! | [`builder`] | writing a table: blocks, filter, index, footer |
//! | [`table`] | reading a table: open, point lookups, iterators, verification |
//!
//! # File format (version 2; version 1 is still read)
//!
//! ```text
//! +--------------+-------+-----+----------------+-------+--------------+-------+--------------+-------+--------+
//! | data block 0 | crc32 | ... | data block n-1 | crc32 | filter block | crc32 | index block  | crc32 | footer |
//! +--------------+-------+-----+----------------+-------+--------------+-------+--------------+-------+--------+
//!                  u32 LE, crc32 (crc32fast / IEEE) of the block bytes just before it
//! ```
//! A *block handle* is `[offset varint][size varint]`: where a block starts and its length
//! without the 4-byte crc that follows it. Varints are LEB128 ([`crate::codec::varint`]).
//!
//! Data and index block (a restart every `restart_interval` entries or `block_size / 8` bytes of
//! entries, whichever comes first; the index restarts at every entry):
//! ```text
//! entry:   [shared varint][unshared varint][value_len varint][key suffix: unshared][value: value_len]
//! block:   [entry 0][entry 1]...[entry m-1][restart 0 u32 LE]...[restart r-1 u32 LE][r u32 LE]
//! ```
//! `shared` is the length of the prefix shared with the previous entry's key; it is 0 at every
//! restart point, whose offset (from the block start) is listed in the trailer. `restart 0` is 0
//! and restarts strictly increase. An empty block is `[0u32 LE][1u32 LE]`.
//!
//! - Data block entries: key = internal key ([`crate::lsm::ikey`]), value = user value (empty
//!   for tombstones); strictly ascending by [`ikey::compare`] within and across blocks.
//! - Index block entries: one per data block, key = that block's last internal key, value =
//!   the block's handle.
//!
//! Filter block (see [`bloom`]): version 2, a blocked bloom filter `[64-byte lines][k u8]`
//! whose probes for one key all fall in one line (one cache line per lookup); version 1, the
//! classic `[filter bits: m bytes][k u8]` with probes over the whole array. The two versions
//! differ in nothing else. An empty filter block means "no filter" (`bloom_bits_per_key == 0`).
//!
//! Footer (fixed 64 bytes, at the end of the file):
//! ```text
//! 0                                                          48          52        56            64
//! +----------------+----------------+---------------+---------+-----------+---------+-------------+
//! | filter handle  | index handle   | entries       | zero    | version   | crc32   | magic       |
//! | 2 varints      | 2 varints      | varint        | padding | u32 LE =2 | u32 LE  | u64 LE      |
//! +----------------+----------------+---------------+---------+-----------+---------+-------------+
//! crc32 covers bytes 0..52; magic = "RLiteSST" (the file's last 8 bytes read as ASCII).
//! ```
//! Opening checks, in order: length >= 64, magic, footer crc, version (1 or 2; any other gives
//! [`crate::Error::UnsupportedVersion`]; later versions must keep the last 16 bytes' layout),
//! then each handle against the file length before anything is allocated.
//!
//! [`ikey::compare`]: crate::lsm::ikey::compare

pub mod block;
pub mod bloom;
pub mod builder;
pub mod cache;
pub mod files;
pub mod index;
pub mod table;

#[cfg(test)]
mod corruption_tests;
#[cfg(test)]
mod testutil;

pub use block::{Block, BlockHandle};
pub use bloom::BloomFilter;
pub use builder::{TableBuilder, TableInfo};
pub use cache::{BlockCache, CacheStats};
pub use files::{TableFile, TableFiles};
pub use index::TableIndex;
pub use table::{Table, TableIter};

/// Knobs for writing tables.
///
/// ```
/// use rustlite_engine::lsm::sstable::TableOptions;
/// let opts = TableOptions { block_size: 8192, ..TableOptions::default() };
/// assert_eq!(opts.restart_interval, 16);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// Target uncompressed size of a data block in bytes (a block is cut once it reaches this).
    pub block_size: usize,
    /// Entries between restart points in data blocks (values below 1 are treated as 1). A
    /// data block also restarts once the entries since its last restart span `block_size / 8`
    /// bytes, whichever comes first.
    pub restart_interval: usize,
    /// Bloom filter bits per distinct user key; 0 writes no filter.
    pub bloom_bits_per_key: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
        }
    }
}

/// Length of the fixed footer at the end of every table.
pub const FOOTER_LEN: usize = 64;
/// Bytes at the start of the footer holding the handles, the entry count and zero padding.
pub const FOOTER_HANDLES_LEN: usize = 48;
/// The on-disk format version this build writes (and reads): 2 = blocked bloom filter.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build reads: 1 = classic bloom filter, otherwise as 2.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// The table magic number: the file's last 8 bytes spell `RLiteSST`.
pub const TABLE_MAGIC: u64 = u64::from_le_bytes(*b"RLiteSST");
/// Length of the crc32 that follows every block.
pub const BLOCK_TRAILER_LEN: usize = 4;
