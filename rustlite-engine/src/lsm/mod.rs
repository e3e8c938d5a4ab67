//! The log-structured merge tree: where bytes live.
//!
//! Write path: a committed batch is appended to the write-ahead log ([`wal`]) as one crc-framed
//! record, then inserted into the active `memtable`. A full memtable becomes immutable, a new WAL
//! starts, and a background thread writes it out as a sorted [`sstable`] in level 0. The
//! `compaction` policy merges L0 into L1 and each level into the next when it outgrows its target;
//! every change to the set of live files is a crc-framed edit in the [`manifest`].
//!
//! Read path (each memtable first asks its key filter, `mem_filter`): memtable → immutable memtables → L0 files (newest first) → L1.. (one file per level,
//! found by binary search on key ranges); each SSTable consults its bloom filter before reading a
//! block, and blocks come through the shared block cache.

pub(crate) mod arena;
pub(crate) mod compaction;
pub mod ikey;
pub mod iter;
pub mod manifest;
pub(crate) mod mem_filter;
pub(crate) mod memtable;
pub(crate) mod merge;
pub(crate) mod skiplist;
pub mod sstable;
pub(crate) mod version;
pub mod wal;
