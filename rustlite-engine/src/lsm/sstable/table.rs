//! Reading a table: open (footer, filter, index), point lookups, cursors, verification.
//!
//! ```text
//! open:  [footer 64 B] -> magic, crc, version -> filter handle, index handle, entries
//!        [index block] -> decoded into a TableIndex (flat arrays), every entry checked: ikey
//!                         parses, handles contiguous from 0
//!        [filter block] -> in memory;  [data block 0] -> smallest key (through the cache)
//! get:   bloom(user key)? --no--> None (no data block read)
//!          | maybe
//!        index: first block whose last key >= seek key (binary search over the decoded index)
//!        block (its table slot, else the cache, else the file, crc-checked): first entry >=
//!          seek key; same user key? -> version
//! iter:  index position + data-block cursor, in either direction
//! ```
//! Layout and footer are described in the [`super`] module docs. Every length read from the
//! file is checked against the file's size before anything is allocated, and every failed check
//! is [`Error::Corruption`] naming the file and the offset of the block or footer at fault.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::sync::Arc;

use super::block::{Block, BlockHandle, BlockIter, PREFETCH_BYTES};
use super::bloom::{self, BloomFilter, FilterKind};
use super::cache::{BlockCache, BlockSlots};
use super::index::TableIndex;
use super::{
    BLOCK_TRAILER_LEN, FOOTER_HANDLES_LEN, FOOTER_LEN, FORMAT_VERSION, OLDEST_FORMAT_VERSION,
    TABLE_MAGIC,
};
use crate::codec::varint::Reader;
use crate::error::{Error, Result};
use crate::lsm::ikey::{self, Kind, SeqNo};
use crate::lsm::iter::{Direction, InternalIterator};
use crate::storage::RandomAccessFile;

/// An open, immutable table. Shared as `Arc<Table>` by readers and iterators.
///
/// ```
/// # use std::sync::Arc;
/// # use rustlite_engine::lsm::sstable::{BlockCache, Table};
/// # use rustlite_engine::lsm::ikey::MAX_SEQNO;
/// # fn demo(file: Arc<dyn rustlite_engine::storage::RandomAccessFile>) -> rustlite_engine::Result<()> {
/// let cache = Arc::new(BlockCache::new(8 << 20));
/// let table = Table::open(file, 12, "000012.sst".into(), cache)?;
/// if let Some((seq, kind, value)) = table.get(b"apple", MAX_SEQNO)? {
///     println!("{seq} {kind:?} {value:?}");
/// }
/// # Ok(()) }
/// ```
pub struct Table {
    file: Arc<dyn RandomAccessFile>,
    number: u64,
    name: Arc<str>,
    size: u64,
    cache: Arc<BlockCache>,
    /// Data block `i` while the cache holds it (reads skip the cache's hash lookup).
    slots: Arc<BlockSlots>,
    index: TableIndex,
    filter: Option<BloomFilter>,
    /// End of the data blocks (= the filter block's offset).
    data_end: u64,
    smallest: Vec<u8>,
    largest: Vec<u8>,
    entries: u64,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("number", &self.number)
            .field("name", &self.name)
            .field("size", &self.size)
            .field("entries", &self.entries)
            .finish()
    }
}

thread_local! {
    /// [`Table::get`]'s per-thread key buffer.
    static GET_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A [`Table::get`] buffer grown past this (by a huge key) is freed after the call.
const MAX_KEPT_GET_BUF: usize = 4096;

/// Reads the block at `handle` (which must end by `limit`) and checks its crc.
fn read_block_bytes(
    file: &dyn RandomAccessFile,
    name: &str,
    handle: BlockHandle,
    limit: u64,
) -> Result<Vec<u8>> {
    let corrupt = |reason: String| Error::corruption(name, handle.offset, reason);
    let end = handle
        .end_with_crc()
        .filter(|end| *end <= limit)
        .ok_or_else(|| corrupt(format!("block of {} bytes runs past {limit}", handle.size)))?;
    let len = usize::try_from(end - handle.offset)
        .map_err(|_| corrupt("block too large for memory".to_string()))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, handle.offset)?;
    let body_len = len - BLOCK_TRAILER_LEN;
    let (body, crc) = buf.split_at(body_len);
    let stored = crc
        .try_into()
        .map(u32::from_le_bytes)
        .map_err(|_| corrupt("missing crc".to_string()))?;
    if crc32fast::hash(body) != stored {
        return Err(corrupt("block checksum mismatch".to_string()));
    }
    buf.truncate(body_len);
    Ok(buf)
}

impl Table {
    /// Opens a table: checks the footer (magic, crc, then version:
    /// [`Error::UnsupportedVersion`]), loads and checks the filter and index blocks, and reads
    /// the first data block for [`smallest`](Self::smallest).
    pub fn open(
        file: Arc<dyn RandomAccessFile>,
        file_number: u64,
        file_name: String,
        cache: Arc<BlockCache>,
    ) -> Result<Arc<Table>> {
        let name: Arc<str> = file_name.into();
        let size = file.len();
        let footer_off = size.checked_sub(FOOTER_LEN as u64).ok_or_else(|| {
            Error::corruption(
                &*name,
                0,
                format!("{size} bytes is shorter than a table footer"),
            )
        })?;
        let corrupt =
            |reason: &str| Error::corruption(&*name, footer_off, format!("footer: {reason}"));
        let mut footer = [0u8; FOOTER_LEN];
        file.read_exact_at(&mut footer, footer_off)?;
        let (head, tail) = footer.split_at(FOOTER_HANDLES_LEN);
        let (version, rest) = tail.split_at(4);
        let (crc, magic) = rest.split_at(4);
        let magic = u64::from_le_bytes(magic.try_into().map_err(|_| corrupt("bad length"))?);
        if magic != TABLE_MAGIC {
            return Err(corrupt("bad magic number (not a table)"));
        }
        let crc = u32::from_le_bytes(crc.try_into().map_err(|_| corrupt("bad length"))?);
        let crc_region = footer.get(..FOOTER_HANDLES_LEN + 4).unwrap_or_default();
        if crc32fast::hash(crc_region) != crc {
            return Err(corrupt("checksum mismatch"));
        }
        let version = u32::from_le_bytes(version.try_into().map_err(|_| corrupt("bad length"))?);
        // Version 1 differs from 2 only in its filter block's layout.
        let filter_kind = match version {
            OLDEST_FORMAT_VERSION => FilterKind::Classic,
            FORMAT_VERSION => FilterKind::Blocked,
            _ => {
                return Err(Error::UnsupportedVersion {
                    file: name.to_string(),
                    found: version,
                    supported: FORMAT_VERSION,
                })
            }
        };
        let mut r = Reader::new(head);
        let (filter_h, index_h, entries) = (|| {
            Some((
                BlockHandle::decode_from(&mut r)?,
                BlockHandle::decode_from(&mut r)?,
                r.u64()?,
            ))
        })()
        .ok_or_else(|| corrupt("bad handles"))?;
        if filter_h.end_with_crc() != Some(index_h.offset)
            || index_h.end_with_crc() != Some(footer_off)
        {
            return Err(corrupt("filter and index handles do not tile the file"));
        }

        let filter_bytes = read_block_bytes(&*file, &name, filter_h, footer_off)?;
        let filter = BloomFilter::decode(filter_bytes, filter_kind)
            .map_err(|reason| Error::corruption(&*name, filter_h.offset, reason))?;
        let index_bytes = read_block_bytes(&*file, &name, index_h, footer_off)?;
        let index_block = Arc::new(Block::decode(index_bytes, name.clone(), index_h.offset)?);
        // Every index entry: an internal key and a handle, data blocks tiling [0, filter).
        let index = TableIndex::decode(&index_block, &name, index_h.offset, filter_h.offset)?;
        drop(index_block);
        let largest = index.last_key().to_vec();
        if (entries == 0) != index.is_empty() || entries > size {
            return Err(corrupt("entry count does not match the index"));
        }

        let mut table = Table {
            file,
            number: file_number,
            name,
            size,
            cache,
            slots: BlockSlots::new(index.len()),
            index,
            filter,
            data_end: filter_h.offset,
            smallest: Vec::new(),
            largest,
            entries,
        };
        if let Some(first) = table.index.handle(0) {
            let block = table.data_block(0, first)?;
            let mut b = block.iter();
            b.seek_to_first()?;
            if !b.valid() {
                return Err(table.corrupt(block.offset(), "empty data block"));
            }
            table.smallest = b.key().to_vec();
        }
        Ok(Arc::new(table))
    }

    fn corrupt(&self, offset: u64, reason: &str) -> Error {
        Error::corruption(&*self.name, offset, reason)
    }

    /// Data block `i`, at `handle` (from the checked index), through its slot or the cache.
    fn data_block(&self, i: usize, handle: BlockHandle) -> Result<Arc<Block>> {
        self.cache
            .get_or_load_slot(&self.slots, i, self.number, handle.offset, || {
                self.load_block(handle)
            })
    }

    /// Runs `f` on data block `i` (at `handle`), borrowed from its slot when it is cached.
    #[inline]
    fn with_data_block<R>(
        &self,
        i: usize,
        handle: BlockHandle,
        f: impl FnOnce(&Block) -> Result<R>,
    ) -> Result<R> {
        self.cache.with_slot(
            &self.slots,
            i,
            self.number,
            handle.offset,
            || self.load_block(handle),
            f,
        )
    }

    /// Reads and decodes the data block at `handle` from the file.
    fn load_block(&self, handle: BlockHandle) -> Result<Arc<Block>> {
        let bytes = read_block_bytes(&*self.file, &self.name, handle, self.data_end)?;
        Ok(Arc::new(Block::decode(
            bytes,
            self.name.clone(),
            handle.offset,
        )?))
    }

    /// The layout of the table's bloom filter (`None`: written without one).
    pub fn filter_kind(&self) -> Option<FilterKind> {
        self.filter.as_ref().map(BloomFilter::kind)
    }

    /// Whether the bloom filter admits `user_key` (always `true` without a filter).
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.filter.as_ref().is_none_or(|f| f.may_contain(user_key))
    }

    /// The newest version of `user_key` with seqno `<= snapshot`: `(seq, kind, value)`, the
    /// value empty for a tombstone. Consults the bloom filter first (a negative reads nothing),
    /// then the in-memory index, then one data block through the cache.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Option<(SeqNo, Kind, Vec<u8>)>> {
        self.get_hashed(user_key, bloom::hash_key(user_key), snapshot)
    }

    /// [`get`](Self::get) with the key's [`bloom::hash_key`] computed by the caller, so a
    /// lookup that consults several tables hashes the key once.
    pub fn get_hashed(
        &self,
        user_key: &[u8],
        hash: u64,
        snapshot: SeqNo,
    ) -> Result<Option<(SeqNo, Kind, Vec<u8>)>> {
        let mut out = None;
        self.get_visit(user_key, hash, snapshot, &mut |seq, kind, value| {
            out = Some((seq, kind, value.to_vec()));
        })?;
        Ok(out)
    }

    /// [`get_hashed`](Self::get_hashed) without copying the value: `visit` runs on the newest
    /// version `<= snapshot` (the value empty for a tombstone) borrowed from its data block.
    /// Returns whether a version was found (then `visit` ran once).
    pub fn get_visit(
        &self,
        user_key: &[u8],
        hash: u64,
        snapshot: SeqNo,
        visit: &mut dyn FnMut(SeqNo, Kind, &[u8]),
    ) -> Result<bool> {
        if !self
            .filter
            .as_ref()
            .is_none_or(|f| f.may_contain_hash(hash))
        {
            return Ok(false);
        }
        // One buffer: the seek key, then room where blocks rebuild the keys they compare.
        // It is reused per thread (no allocation per lookup); a re-entrant call, which does
        // not happen today, would fall back to a fresh one.
        GET_BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                let r = self.get_with_buf(&mut buf, user_key, snapshot, visit);
                if buf.capacity() > MAX_KEPT_GET_BUF {
                    *buf = Vec::new();
                }
                r
            }
            Err(_) => self.get_with_buf(&mut Vec::new(), user_key, snapshot, visit),
        })
    }

    fn get_with_buf(
        &self,
        buf: &mut Vec<u8>,
        user_key: &[u8],
        snapshot: SeqNo,
        visit: &mut dyn FnMut(SeqNo, Kind, &[u8]),
    ) -> Result<bool> {
        // The seek key uses the smallest kind byte so a tombstone at exactly `snapshot` is found.
        let seek_len = user_key.len() + ikey::TRAILER_LEN;
        buf.clear();
        buf.reserve(2 * seek_len + 16);
        ikey::encode_into(buf, user_key, snapshot, Kind::Delete);
        let i = self.index.seek(buf);
        let Some(handle) = self.index.handle(i) else {
            return Ok(false);
        };
        self.with_data_block(i, handle, |block| {
            let Some(value) = block.seek_in_place(buf, seek_len)? else {
                return Err(self.corrupt(block.offset(), "index key beyond the block's last key"));
            };
            let found = buf.get(seek_len..).unwrap_or_default();
            let parsed = ikey::parse(found)
                .ok_or_else(|| self.corrupt(block.offset(), "entry key is not an internal key"))?;
            if parsed.user_key != user_key {
                return Ok(false);
            }
            visit(parsed.seq, parsed.kind, value);
            Ok(true)
        })
    }

    /// A cursor in direction `dir`. Forward starts at the first entry with ikey `>= start`
    /// (the first entry if `None`); reverse at the last entry with ikey `<= start` (the last
    /// entry if `None`) and walks backwards. Errors reading later blocks surface from `advance`.
    pub fn iter(self: &Arc<Self>, dir: Direction, start: Option<&[u8]>) -> Result<TableIter> {
        self.iter_with(dir, start, true)
    }

    /// A forward iterator over every entry for a compaction: it reads blocks the cache holds
    /// from the cache and the others from the file, without caching them, so a compaction's
    /// pass over its inputs (which are about to be deleted) evicts no block readers use.
    pub fn compaction_iter(self: &Arc<Self>) -> Result<TableIter> {
        self.iter_with(Direction::Forward, None, false)
    }

    fn iter_with(
        self: &Arc<Self>,
        dir: Direction,
        start: Option<&[u8]>,
        fill_cache: bool,
    ) -> Result<TableIter> {
        let mut it = TableIter {
            table: Arc::clone(self),
            dir,
            index: 0,
            data: None,
            fill_cache,
        };
        it.position(start)?;
        Ok(it)
    }

    /// Reads every data block from the file (bypassing the cache) and checks checksums, block
    /// structure, strict key order within and across blocks, that every key is an internal
    /// key, that each index key is its block's last key and the footer's entry count. Returns
    /// the number of entries.
    pub fn verify(&self) -> Result<u64> {
        let mut count = 0u64;
        let mut prev: Vec<u8> = Vec::new();
        for i in 0..self.index.len() {
            let handle = self
                .index
                .handle(i)
                .ok_or_else(|| self.corrupt(self.data_end, "bad index entry"))?;
            let bytes = read_block_bytes(&*self.file, &self.name, handle, self.data_end)?;
            let block = Arc::new(Block::decode(bytes, self.name.clone(), handle.offset)?);
            let mut it = block.iter();
            it.seek_to_first()?;
            if !it.valid() {
                return Err(self.corrupt(handle.offset, "empty data block"));
            }
            while it.valid() {
                if ikey::parse(it.key()).is_none() {
                    return Err(self.corrupt(handle.offset, "key is not an internal key"));
                }
                if count > 0 && ikey::compare(&prev, it.key()) != Ordering::Less {
                    return Err(self.corrupt(handle.offset, "keys out of order across blocks"));
                }
                prev.clear();
                prev.extend_from_slice(it.key());
                count += 1;
                it.move_next()?;
            }
            if prev != self.index.key(i) {
                return Err(self.corrupt(handle.offset, "index key is not the block's last key"));
            }
        }
        if count != self.entries {
            return Err(self.corrupt(
                self.size.saturating_sub(FOOTER_LEN as u64),
                &format!("footer says {} entries, blocks hold {count}", self.entries),
            ));
        }
        Ok(count)
    }

    /// The decoded index (tests inspect handles through it).
    #[cfg(test)]
    pub(crate) fn index(&self) -> &TableIndex {
        &self.index
    }

    /// The table's file number.
    pub fn file_number(&self) -> u64 {
        self.number
    }

    /// The table's file name (as used in error messages).
    pub fn file_name(&self) -> &str {
        &self.name
    }

    /// The open file (a backup copies a table through it, without a descriptor of its own).
    pub(crate) fn file(&self) -> &Arc<dyn RandomAccessFile> {
        &self.file
    }

    /// Keeps the file readable by this table after its name is removed (a compaction deletes
    /// its inputs while older versions may still read them): see
    /// [`RandomAccessFile::keep_open`].
    pub fn keep_file_open(&self) -> Result<()> {
        self.file.keep_open()
    }

    /// The file's size in bytes.
    pub fn file_size(&self) -> u64 {
        self.size
    }

    /// The smallest internal key (empty for an empty table).
    pub fn smallest(&self) -> &[u8] {
        &self.smallest
    }

    /// The largest internal key (empty for an empty table).
    pub fn largest(&self) -> &[u8] {
        &self.largest
    }

    /// Number of entries (versions and tombstones).
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

/// A cursor over one table; holds the `Arc<Table>`, so it is `'static` and `Send`.
///
/// The index side is a plain position into the table's [`TableIndex`] (`index == len` once
/// exhausted in either direction); the data side is a cursor over the block at that position.
pub struct TableIter {
    table: Arc<Table>,
    dir: Direction,
    index: usize,
    data: Option<BlockIter>,
    /// Whether blocks read from the file are cached (not for compactions).
    fill_cache: bool,
}

impl TableIter {
    fn index_valid(&self) -> bool {
        self.index < self.table.index.len()
    }

    /// Loads the data block at the index position (or clears `data` past the end).
    fn load_block(&mut self) -> Result<()> {
        self.data = None;
        if let Some(handle) = self.table.index.handle(self.index) {
            let block = if self.fill_cache {
                self.table.data_block(self.index, handle)?
            } else {
                match self.table.slots.peek(self.index) {
                    Some(block) => block,
                    None => self.table.load_block(handle)?,
                }
            };
            self.data = Some(block.iter());
        }
        Ok(())
    }

    fn data_valid(&self) -> bool {
        self.data.as_ref().is_some_and(BlockIter::valid)
    }

    /// Moves across blocks until the data cursor is on an entry or the index is exhausted.
    fn skip_exhausted_blocks(&mut self) -> Result<()> {
        while !self.data_valid() && self.index_valid() {
            let len = self.table.index.len();
            self.index = match self.dir {
                Direction::Forward => self.index + 1,
                Direction::Reverse => self.index.checked_sub(1).unwrap_or(len),
            };
            self.load_block()?;
            if let Some(d) = self.data.as_mut() {
                match self.dir {
                    Direction::Forward => d.seek_to_first()?,
                    Direction::Reverse => d.seek_to_last()?,
                }
            }
        }
        Ok(())
    }

    fn position(&mut self, start: Option<&[u8]>) -> Result<()> {
        let len = self.table.index.len();
        match (self.dir, start) {
            (Direction::Forward, None) => {
                self.index = 0;
                self.load_block()?;
                if let Some(d) = self.data.as_mut() {
                    d.seek_to_first()?;
                }
            }
            (Direction::Forward, Some(s)) => {
                self.index = self.table.index.seek(s);
                self.load_block()?;
                if let Some(d) = self.data.as_mut() {
                    d.seek(s)?;
                    // A short scan from here would run into the next block: fetch its header
                    // now, while this block's entries are read.
                    if d.bytes_left() < PREFETCH_BYTES {
                        self.table.slots.prefetch(self.index + 1);
                    }
                }
            }
            (Direction::Reverse, None) => {
                self.index = len.checked_sub(1).unwrap_or(len);
                self.load_block()?;
                if let Some(d) = self.data.as_mut() {
                    d.seek_to_last()?;
                }
            }
            (Direction::Reverse, Some(s)) => {
                // The first block whose last key >= s holds the answer or the block before
                // it does; past every block, the last block does.
                self.index = self.table.index.seek(s);
                if self.index >= len {
                    self.index = len.checked_sub(1).unwrap_or(len);
                }
                self.load_block()?;
                if let Some(d) = self.data.as_mut() {
                    d.seek_for_prev(s)?;
                }
            }
        }
        self.skip_exhausted_blocks()
    }

    fn step(&mut self) -> Result<()> {
        if let Some(d) = self.data.as_mut() {
            match self.dir {
                Direction::Forward => d.move_next()?,
                Direction::Reverse => d.move_prev()?,
            }
        }
        self.skip_exhausted_blocks()
    }

    /// The table this cursor reads.
    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.data_valid()
    }

    fn key(&self) -> &[u8] {
        self.data.as_ref().map(BlockIter::key).unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        self.data.as_ref().map(BlockIter::value).unwrap_or_default()
    }

    fn advance(&mut self) -> Result<()> {
        if !self.data_valid() {
            return Ok(());
        }
        let r = self.step();
        if r.is_err() {
            // A failed cursor is exhausted, never positioned on stale data.
            self.data = None;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::MAX_SEQNO;
    use crate::lsm::sstable::testutil::{
        build, collect, model_get, model_iter, open, small_blocks, to_entries, versions, Entries,
        Version,
    };
    use crate::lsm::sstable::TableOptions;

    #[test]
    fn round_trip_ten_thousand_entries_over_many_blocks() -> Result<()> {
        let vs = versions(5_100);
        let entries = to_entries(&vs);
        assert!(entries.len() >= 10_000);
        let (file, info) = build(&entries, TableOptions::default());
        assert_eq!(info.entries, entries.len() as u64);
        assert_eq!(info.file_size, file.bytes().len() as u64);
        assert_eq!(info.smallest, entries[0].0);
        assert_eq!(info.largest, entries[entries.len() - 1].0);
        // Few large appends, one sync.
        assert!(file.appends.load(std::sync::atomic::Ordering::SeqCst) < 20);
        assert_eq!(file.syncs.load(std::sync::atomic::Ordering::SeqCst), 1);

        let table = open(&file, 1 << 20)?;
        assert!(table.index.len() > 50, "only {} blocks", table.index.len());
        assert!(table.index.size_bytes() < 64 * table.index.len() + 4096);
        assert_eq!(table.entries(), info.entries);
        assert_eq!(table.smallest(), &info.smallest[..]);
        assert_eq!(table.largest(), &info.largest[..]);
        assert_eq!(table.file_size(), info.file_size);
        assert_eq!(table.file_number(), 7);
        assert_eq!(table.verify()?, info.entries);

        let mut fwd = table.iter(Direction::Forward, None)?;
        assert_eq!(collect(&mut fwd, usize::MAX)?, entries);
        let mut rev = table.iter(Direction::Reverse, None)?;
        let reversed: Entries = entries.iter().rev().cloned().collect();
        assert_eq!(collect(&mut rev, usize::MAX)?, reversed);
        // Exhausted cursors stay exhausted.
        rev.advance()?;
        assert!(!rev.valid());
        Ok(())
    }

    #[test]
    fn get_at_snapshots_including_tombstones() -> Result<()> {
        let vs = versions(1_500);
        let (file, _) = build(&to_entries(&vs), small_blocks());
        let table = open(&file, 1 << 20)?;
        for i in 0..1_500usize {
            let key = format!("key{:06}", i * 2).into_bytes();
            let base = (i as u64) * 10;
            for snap in [
                0,
                base,
                base + 1,
                base + 2,
                base + 4,
                base + 5,
                base + 7,
                base + 8,
                MAX_SEQNO,
            ] {
                assert_eq!(
                    table.get(&key, snap)?,
                    model_get(&vs, &key, snap),
                    "key {i} at {snap}"
                );
            }
            let missing = format!("key{:06}", i * 2 + 1).into_bytes();
            assert_eq!(table.get(&missing, MAX_SEQNO)?, None);
        }
        assert_eq!(table.get(b"", MAX_SEQNO)?, None);
        assert_eq!(table.get(b"zzz", MAX_SEQNO)?, None);
        Ok(())
    }

    #[test]
    fn tombstone_at_exactly_the_snapshot_is_found() -> Result<()> {
        // Kind::Delete (0) sorts before Kind::Put (1) at one seqno, so the seek key must use
        // the smallest kind byte.
        let vs: Vec<Version> = vec![
            (b"k".to_vec(), 5, Kind::Delete, Vec::new()),
            (b"k".to_vec(), 3, Kind::Put, b"old".to_vec()),
        ];
        let (file, _) = build(&to_entries(&vs), TableOptions::default());
        let table = open(&file, 1 << 20)?;
        assert_eq!(table.get(b"k", 5)?, Some((5, Kind::Delete, Vec::new())));
        assert_eq!(table.get(b"k", 4)?, Some((3, Kind::Put, b"old".to_vec())));
        assert_eq!(table.get(b"k", 2)?, None);
        Ok(())
    }

    #[test]
    fn iterate_from_every_kind_of_start() -> Result<()> {
        let vs = versions(300);
        let entries = to_entries(&vs);
        let (file, _) = build(&entries, small_blocks());
        let table = open(&file, 1 << 20)?;
        let mut starts: Vec<Vec<u8>> = vec![
            ikey::encode(b"", MAX_SEQNO, Kind::Put),
            ikey::encode(b"a", 0, Kind::Put),
            ikey::last_key(b"key"),
            ikey::encode(b"zzz", MAX_SEQNO, Kind::Put),
            ikey::last_key(b"zzz"),
        ];
        for (k, s, _, _) in &vs {
            let up = k.clone();
            starts.push(ikey::encode(&up, *s, Kind::Put)); // exact (or just before a tombstone)
            starts.push(ikey::encode(&up, *s, Kind::Delete)); // exact tombstone / just after a put
            starts.push(ikey::encode(&up, s + 1, Kind::Put)); // between versions
            starts.push(ikey::last_key(&up)); // after the key's oldest version
            let mut next = up.clone();
            next.push(0);
            starts.push(ikey::encode(&next, MAX_SEQNO, Kind::Put)); // between user keys
        }
        for (i, s) in starts.iter().enumerate() {
            for dir in [Direction::Forward, Direction::Reverse] {
                let want = model_iter(&entries, dir, Some(s));
                let limit = if i % 50 == 0 { usize::MAX } else { 3 };
                let mut it = table.iter(dir, Some(s))?;
                let got = collect(&mut it, limit)?;
                assert_eq!(got[..], want[..got.len()], "start {i} {dir:?}");
                assert_eq!(got.len(), want.len().min(limit), "start {i} {dir:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn bloom_negative_reads_no_data_block() -> Result<()> {
        let vs = versions(2_000);
        let (file, _) = build(&to_entries(&vs), TableOptions::default());
        let table = open(&file, 1 << 20)?;
        let before = file.reads();
        let stats = table.cache.stats();
        let mut negatives = 0;
        for i in 0..2_000 {
            let missing = format!("key{:06}", i * 2 + 1).into_bytes();
            if !table.may_contain(&missing) {
                negatives += 1;
                assert_eq!(table.get(&missing, MAX_SEQNO)?, None);
                assert_eq!(file.reads(), before, "bloom negative read a block");
            }
        }
        assert!(negatives > 1_900, "{negatives} negatives");
        assert_eq!(table.cache.stats().misses, stats.misses);
        assert_eq!(table.cache.stats().hits, stats.hits);
        // A present key reads one block, then the cache serves it.
        let key = format!("key{:06}", 1_000 * 2).into_bytes();
        assert!(table.get(&key, MAX_SEQNO)?.is_some());
        assert_eq!(file.reads(), before + 1);
        assert!(table.get(&key, MAX_SEQNO)?.is_some());
        assert_eq!(file.reads(), before + 1);
        Ok(())
    }

    #[test]
    fn empty_table() -> Result<()> {
        let (file, info) = build(&[], TableOptions::default());
        assert_eq!(info.entries, 0);
        let table = open(&file, 1 << 20)?;
        assert_eq!(table.get(b"a", MAX_SEQNO)?, None);
        assert!(!table.iter(Direction::Forward, None)?.valid());
        assert!(!table.iter(Direction::Reverse, None)?.valid());
        assert_eq!(table.verify()?, 0);
        assert!(table.smallest().is_empty());
        Ok(())
    }

    #[test]
    fn without_a_filter() -> Result<()> {
        let vs = versions(100);
        let opts = TableOptions {
            bloom_bits_per_key: 0,
            ..small_blocks()
        };
        let (file, _) = build(&to_entries(&vs), opts);
        let table = open(&file, 1 << 20)?;
        assert!(table.may_contain(b"anything"));
        assert_eq!(
            table.get(b"key000002", MAX_SEQNO)?,
            model_get(&vs, b"key000002", MAX_SEQNO)
        );
        assert_eq!(table.get(b"key000003", MAX_SEQNO)?, None);
        Ok(())
    }

    /// User keys with shared prefixes and an empty key, so prefix compression and the
    /// user-key/trailer boundary of `ikey::compare` are exercised.
    fn model_user_key(k: u8) -> Vec<u8> {
        match k {
            0 => Vec::new(),
            1 => vec![0],
            2 => vec![0xFF; 3],
            _ => format!("u{}", k).into_bytes(),
        }
    }

    fn check_model(ops: &[(u8, u64, bool, Vec<u8>)], opts: TableOptions, probes: &[(u8, u64)]) {
        use std::collections::BTreeMap;
        let mut map: BTreeMap<ikey::InternalKey, Vec<u8>> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for (k, seq, put, v) in ops {
            // One version per (user key, seq), as the engine guarantees.
            if !seen.insert((*k, *seq)) {
                continue;
            }
            let kind = if *put { Kind::Put } else { Kind::Delete };
            let v = if *put { v.clone() } else { Vec::new() };
            map.insert(
                ikey::InternalKey(ikey::encode(&model_user_key(*k), *seq, kind)),
                v,
            );
        }
        let entries: Entries = map.iter().map(|(k, v)| (k.0.clone(), v.clone())).collect();
        let (file, info) = build(&entries, opts);
        assert_eq!(info.entries, entries.len() as u64);
        let table = open(&file, 4096).expect("open");
        assert_eq!(table.verify().expect("verify"), entries.len() as u64);
        let mut it = table.iter(Direction::Forward, None).expect("iter");
        assert_eq!(collect(&mut it, usize::MAX).expect("scan"), entries);
        let mut it = table.iter(Direction::Reverse, None).expect("iter");
        let rev: Entries = entries.iter().rev().cloned().collect();
        assert_eq!(collect(&mut it, usize::MAX).expect("scan"), rev);
        for (k, snap) in probes {
            let uk = model_user_key(*k);
            let want = map
                .range(ikey::InternalKey(ikey::encode(&uk, *snap, Kind::Delete))..)
                .next()
                .and_then(|(ik, v)| {
                    let p = ikey::parse(&ik.0)?;
                    (p.user_key == uk.as_slice()).then(|| (p.seq, p.kind, v.clone()))
                });
            assert_eq!(
                table.get(&uk, *snap).expect("get"),
                want,
                "get {uk:?}@{snap}"
            );
            for kind in [Kind::Delete, Kind::Put] {
                let start = ikey::encode(&uk, *snap, kind);
                for dir in [Direction::Forward, Direction::Reverse] {
                    let mut it = table.iter(dir, Some(&start)).expect("iter");
                    let got = collect(&mut it, 4).expect("scan");
                    let want = model_iter(&entries, dir, Some(&start));
                    assert_eq!(got[..], want[..want.len().min(4)], "{dir:?} from {start:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn matches_a_btreemap_model(
            ops in proptest::collection::vec(
                (0u8..40, 0u64..30, proptest::bool::ANY, proptest::collection::vec(0u8..=255, 0..24)),
                0..300,
            ),
            block_size in 32usize..700,
            restart_interval in 1usize..9,
            bloom_bits_per_key in 0usize..14,
            probes in proptest::collection::vec((0u8..44, 0u64..32), 1..30),
        ) {
            let opts = TableOptions { block_size, restart_interval, bloom_bits_per_key };
            check_model(&ops, opts, &probes);
        }
    }

    #[test]
    fn iterators_are_send_and_static() {
        fn assert_send_static<T: Send + 'static>() {}
        assert_send_static::<TableIter>();
        assert_send_static::<Arc<Table>>();
    }
}
