//! Writing a table: entries in, one immutable `.sst` file out.
//!
//! ```text
//! add(k0,v0) .. add(kN,vN)                                finish()
//!   |                                                       |
//!   v  cut at ~block_size                                   v
//! [data block 0][crc] [data block 1][crc] ... [filter][crc] [index][crc] [footer 64 B] -> sync
//!         \__ index entry: (last key of block 0, handle) __/
//! ```
//! The builder owns the [`WritableFile`] and buffers output so the file sees few large appends
//! (one per ~64 KiB, not one per entry). Keys must be internal keys in strictly ascending
//! [`ikey::compare`] order; anything else is [`Error::InvalidArgument`] and leaves the builder
//! unchanged. The bloom filter is built over distinct user keys at `finish`. The format is in
//! the [`super`] module docs.

use std::cmp::Ordering;

use super::block::{BlockBuilder, BlockHandle};
use super::bloom::{self, BloomFilter};
use super::{TableOptions, FOOTER_HANDLES_LEN, FOOTER_LEN, FORMAT_VERSION, TABLE_MAGIC};
use crate::codec::varint;
use crate::error::{Error, Result};
use crate::lsm::ikey;
use crate::storage::WritableFile;

/// Appends are batched to about this many bytes.
const WRITE_BUFFER: usize = 64 * 1024;
/// A data block restarts its prefix compression at least every `block_size / 8` bytes of
/// entries (and every `restart_interval` entries): with 100-byte values that is every 4 entries
/// instead of 16, so a point lookup scans about 2 entries after its restart instead of 8 (each
/// a cache line or two of a block just fetched), for ~1 % more bytes on disk; a 4 KiB block then
/// has at most about 8 restarts, which the decoded [`Block`](super::block::Block) keeps inline.
const RESTART_BYTES_DIVISOR: usize = 8;
/// The largest key + value one entry may hold (block offsets are u32).
pub const MAX_ENTRY_LEN: usize = 1 << 30;

/// What a finished table holds (for the manifest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    /// Length of the file in bytes.
    pub file_size: u64,
    /// Smallest internal key (empty for an empty table).
    pub smallest: Vec<u8>,
    /// Largest internal key (empty for an empty table).
    pub largest: Vec<u8>,
    /// Number of entries (versions, tombstones included).
    pub entries: u64,
}

/// Writes one table. See the module docs.
///
/// ```
/// # use rustlite_engine::lsm::sstable::{TableBuilder, TableOptions};
/// # use rustlite_engine::lsm::ikey::{self, Kind};
/// # fn demo(file: Box<dyn rustlite_engine::storage::WritableFile>) -> rustlite_engine::Result<()> {
/// let mut b = TableBuilder::new(file, "000012.sst".into(), TableOptions::default());
/// b.add(&ikey::encode(b"apple", 3, Kind::Put), b"red")?;
/// b.add(&ikey::encode(b"pear", 5, Kind::Delete), b"")?;
/// let info = b.finish()?;
/// assert_eq!(info.entries, 2);
/// # Ok(()) }
/// ```
pub struct TableBuilder {
    file: Box<dyn WritableFile>,
    file_name: String,
    opts: TableOptions,
    /// Bytes produced but not yet appended to `file`.
    out: Vec<u8>,
    /// Total bytes produced (appended + buffered): the next block's offset.
    offset: u64,
    data: BlockBuilder,
    index: BlockBuilder,
    /// xxh3 of each distinct user key, for the bloom filter.
    key_hashes: Vec<u64>,
    smallest: Vec<u8>,
    last_key: Vec<u8>,
    entries: u64,
}

impl TableBuilder {
    /// Starts a table written to `file` (named `file_name` in messages).
    pub fn new(file: Box<dyn WritableFile>, file_name: String, opts: TableOptions) -> Self {
        let block_size = opts.block_size.max(64);
        TableBuilder {
            data: BlockBuilder::new(opts.restart_interval)
                .restart_every_bytes(block_size / RESTART_BYTES_DIVISOR),
            index: BlockBuilder::new(1),
            file,
            file_name,
            out: Vec::with_capacity(WRITE_BUFFER + block_size),
            offset: 0,
            key_hashes: Vec::new(),
            smallest: Vec::new(),
            last_key: Vec::new(),
            entries: 0,
            opts: TableOptions { block_size, ..opts },
        }
    }

    /// Adds an entry. `ikey` must be a valid internal key greater than every key added before.
    pub fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        let Some(parsed) = ikey::parse(ikey) else {
            return Err(Error::InvalidArgument(format!(
                "{}: not an internal key ({} bytes)",
                self.file_name,
                ikey.len()
            )));
        };
        if self.entries > 0 && ikey::compare(&self.last_key, ikey) != Ordering::Less {
            return Err(Error::InvalidArgument(format!(
                "{}: keys added out of order",
                self.file_name
            )));
        }
        if ikey.len().saturating_add(value.len()) > MAX_ENTRY_LEN {
            return Err(Error::InvalidArgument(format!(
                "{}: entry of {} bytes exceeds {MAX_ENTRY_LEN}",
                self.file_name,
                ikey.len().saturating_add(value.len())
            )));
        }
        if self.entries == 0 || ikey::user_key(&self.last_key) != parsed.user_key {
            self.key_hashes.push(bloom::hash_key(parsed.user_key));
        }
        if self.entries == 0 {
            self.smallest = ikey.to_vec();
        }
        self.data.add(ikey, value);
        self.last_key.clear();
        self.last_key.extend_from_slice(ikey);
        self.entries += 1;
        if self.data.estimated_size() >= self.opts.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Bytes the file would have if finished now (without filter, index and footer).
    pub fn estimated_size(&self) -> u64 {
        self.offset + self.data.estimated_size() as u64
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Entries added so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes the last data block, the filter, the index and the footer, then syncs the file.
    pub fn finish(mut self) -> Result<TableInfo> {
        if !self.data.is_empty() {
            self.flush_data_block()?;
        }
        let filter = BloomFilter::build(&self.key_hashes, self.opts.bloom_bits_per_key);
        let filter_handle = write_block(&mut self.out, &mut self.offset, &filter);
        let index_handle = write_block(&mut self.out, &mut self.offset, self.index.finish());

        let mut footer = Vec::with_capacity(FOOTER_LEN);
        filter_handle.encode_into(&mut footer);
        index_handle.encode_into(&mut footer);
        varint::put_u64(&mut footer, self.entries);
        footer.resize(FOOTER_HANDLES_LEN, 0);
        footer.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&footer);
        footer.extend_from_slice(&crc.to_le_bytes());
        footer.extend_from_slice(&TABLE_MAGIC.to_le_bytes());
        self.out.extend_from_slice(&footer);
        self.offset += footer.len() as u64;

        self.flush_out()?;
        self.file.sync()?;
        Ok(TableInfo {
            file_size: self.offset,
            smallest: self.smallest,
            largest: self.last_key,
            entries: self.entries,
        })
    }

    fn flush_data_block(&mut self) -> Result<()> {
        let handle = write_block(&mut self.out, &mut self.offset, self.data.finish());
        self.data.reset();
        let mut encoded = Vec::with_capacity(BlockHandle::MAX_ENCODED_LEN);
        handle.encode_into(&mut encoded);
        self.index.add(&self.last_key, &encoded);
        if self.out.len() >= WRITE_BUFFER {
            self.flush_out()?;
        }
        Ok(())
    }

    fn flush_out(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            self.file.append(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }
}

/// Buffers `block` and its crc at `*offset` in `out`; returns its handle.
fn write_block(out: &mut Vec<u8>, offset: &mut u64, block: &[u8]) -> BlockHandle {
    let handle = BlockHandle {
        offset: *offset,
        size: block.len() as u64,
    };
    out.extend_from_slice(block);
    out.extend_from_slice(&crc32fast::hash(block).to_le_bytes());
    *offset += (block.len() + super::BLOCK_TRAILER_LEN) as u64;
    handle
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::Kind;
    use crate::lsm::sstable::testutil::MemFile;

    fn builder() -> TableBuilder {
        TableBuilder::new(
            Box::new(MemFile::default()),
            "b.sst".to_string(),
            TableOptions::default(),
        )
    }

    #[test]
    fn rejects_out_of_order_duplicate_and_malformed_keys() -> Result<()> {
        let mut b = builder();
        assert!(b.is_empty());
        b.add(&ikey::encode(b"b", 5, Kind::Put), b"v")?;
        let bad = [
            ikey::encode(b"b", 5, Kind::Put),               // duplicate
            ikey::encode(b"b", 6, Kind::Put),               // newer version after older
            ikey::encode(b"a", 9, Kind::Put),               // smaller user key
            b"short".to_vec(),                              // not an internal key
            ikey::encode(b"c", 1, Kind::Put)[..9].to_vec(), // truncated
        ];
        for k in bad {
            assert!(
                matches!(b.add(&k, b""), Err(Error::InvalidArgument(_))),
                "{k:?}"
            );
        }
        // The builder is unchanged by rejected adds.
        b.add(&ikey::encode(b"b", 4, Kind::Delete), b"")?;
        b.add(&ikey::encode(b"c", 1, Kind::Put), b"v")?;
        assert_eq!(b.entries(), 3);
        let info = b.finish()?;
        assert_eq!(info.entries, 3);
        assert_eq!(info.smallest, ikey::encode(b"b", 5, Kind::Put));
        assert_eq!(info.largest, ikey::encode(b"c", 1, Kind::Put));
        Ok(())
    }

    #[test]
    fn estimated_size_tracks_output() -> Result<()> {
        let file = MemFile::default();
        let mut b = TableBuilder::new(
            Box::new(file.clone()),
            "b.sst".to_string(),
            TableOptions::default(),
        );
        let mut last = 0;
        for i in 0..5_000u64 {
            b.add(
                &ikey::encode(format!("key{i:08}").as_bytes(), 1, Kind::Put),
                &[7u8; 50],
            )?;
            let est = b.estimated_size();
            assert!(est >= last);
            last = est;
        }
        assert!(last > 5_000 * 50);
        let info = b.finish()?;
        assert!(info.file_size >= last);
        assert!(info.file_size < last + last / 10);
        assert_eq!(file.bytes().len() as u64, info.file_size);
        Ok(())
    }
}
