//! Blocks: the unit of I/O and caching inside a table (data blocks and the index block).
//!
//! ```text
//! entry:  [shared varint][unshared varint][value_len varint][key suffix: unshared bytes][value]
//! block:  [entry 0]...[entry m-1][restart 0 u32 LE]...[restart r-1 u32 LE][r u32 LE]
//! disk:   [block][crc32 of block, u32 LE]                     handle = [offset varint][size varint]
//! ```
//! Each key is stored as the length of the prefix it shares with the previous key plus the rest
//! (prefix compression). Every `restart_interval` entries the chain restarts (`shared = 0`) and
//! the entry's offset is recorded in the trailer, so a seek binary-searches the restart keys
//! (stored whole) with [`ikey::compare`] and then scans at most one restart interval. The
//! restart array is decoded when a block is loaded, with 16 bytes of each restart key taken after
//! the prefix all of them share, so the binary search runs on that in-memory array (see
//! [`Block`] and `SharedPrefix`). A cursor's seek (and a move to a block's first entry) then
//! prefetches the ~1.5 KiB after the restart it lands on: walking entries is a chain of
//! dependent loads (each entry's position comes from the previous one's lengths), and on a
//! block not in the CPU caches each new line would be a miss of its own; prefetched, they
//! arrive together. A table cursor whose seek lands that close to its block's end also
//! prefetches the next block's header (`Block::prefetch_header`), which a short scan reaches.
//! A point lookup (`Block::seek_in_place`) prefetches the same way, the restart interval it
//! walks (to the next restart's first entry, at most `WALK_BYTES`).
//!
//! Invariants checked by [`Block::decode`] (so a corrupt block is rejected once, on load, and
//! never causes a panic or a huge allocation): the trailer fits, restart 0 is 0 and restarts
//! strictly increase, every entry's fields lie inside the entry area, `shared` never exceeds the
//! previous key, restart entries have `shared = 0`, and entries end exactly at the trailer. That
//! walk reads lengths only: key order is checked by `Table::verify` (and, for new tables, by the
//! builder), not on every load. A block's crc is checked before it is decoded, so misordered keys
//! can only come from a writer bug; they make a search miss, never panic. Accessors still
//! bounds-check and report [`Error::Corruption`] with the file name and the block's file offset.

use std::cmp::Ordering;
use std::sync::Arc;

use smallvec::SmallVec;

use super::index::{Position, SharedPrefix};
use crate::codec::varint::{self, Reader};
use crate::error::{Error, Result};
use crate::lsm::ikey;

/// Where a block lives in its file: `[offset varint][size varint]`; `size` excludes the crc.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockHandle {
    /// Offset of the block's first byte in the file.
    pub offset: u64,
    /// Length of the block in bytes, without the 4-byte crc that follows it.
    pub size: u64,
}

impl BlockHandle {
    /// The longest encoding of a handle (two 10-byte varints).
    pub const MAX_ENCODED_LEN: usize = 20;

    /// Appends `[offset varint][size varint]`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        varint::put_u64(out, self.offset);
        varint::put_u64(out, self.size);
    }

    /// Reads a handle from `r`; `None` on truncated or malformed varints.
    pub fn decode_from(r: &mut Reader<'_>) -> Option<BlockHandle> {
        let offset = r.u64()?;
        let size = r.u64()?;
        Some(BlockHandle { offset, size })
    }

    /// Decodes a handle that must fill `buf` exactly (an index entry's value).
    pub fn decode_exact(buf: &[u8]) -> Option<BlockHandle> {
        let mut r = Reader::new(buf);
        let h = BlockHandle::decode_from(&mut r)?;
        r.is_empty().then_some(h)
    }

    /// Offset just past the block's crc; `None` on overflow.
    pub fn end_with_crc(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(super::BLOCK_TRAILER_LEN as u64)
    }
}

/// Builds one block in memory. Keys must be added in strictly ascending [`ikey::compare`] order
/// (the [`super::TableBuilder`] checks this).
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    /// A restart also begins once the entries since the last one span this many bytes.
    restart_bytes: usize,
    counter: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// A builder restarting prefix compression every `restart_interval` entries (at least 1).
    pub fn new(restart_interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            restart_interval: restart_interval.max(1),
            restart_bytes: usize::MAX,
            counter: 0,
            last_key: Vec::new(),
            entries: 0,
        }
    }

    /// Also begins a restart once the entries since the last restart span `bytes` bytes, so
    /// a restart interval of large entries is not a long scan: a point lookup reads at most
    /// about `bytes` of entries after the restart its binary search lands on. Data blocks use
    /// an eighth of the block size, which keeps a full block within the restarts a [`Block`]
    /// holds inline.
    pub fn restart_every_bytes(mut self, bytes: usize) -> Self {
        self.restart_bytes = bytes.max(1);
        self
    }

    /// Appends an entry. The block's entry area must stay below 4 GiB (offsets are u32).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let since_restart = self
            .restarts
            .last()
            .map_or(0, |r| self.buf.len() - *r as usize);
        let shared = if self.counter < self.restart_interval && since_restart < self.restart_bytes {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        } else {
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
            0
        };
        let suffix = key.get(shared..).unwrap_or_default();
        varint::put_u64(&mut self.buf, shared as u64);
        varint::put_u64(&mut self.buf, suffix.len() as u64);
        varint::put_u64(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(suffix);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(suffix);
        self.counter += 1;
        self.entries += 1;
    }

    /// Size of the block if it were finished now.
    pub fn estimated_size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Whether no entry was added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The last key added (empty if none).
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Appends the restart trailer and returns the finished block bytes; call [`reset`](Self::reset) next.
    pub fn finish(&mut self) -> &[u8] {
        for r in &self.restarts {
            self.buf.extend_from_slice(&r.to_le_bytes());
        }
        self.buf
            .extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        &self.buf
    }

    /// Clears the builder for the next block, keeping its buffers.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.last_key.clear();
        self.entries = 0;
    }
}

/// One decoded entry's location inside a block.
struct RawEntry<'a> {
    shared: usize,
    suffix: &'a [u8],
    value_start: usize,
    value_end: usize,
    next: usize,
}

/// Restart points kept inline in the [`Block`] (a 4 KiB block restarts about every 512 bytes:
/// up to 8 restarts; spilled, they cost a lookup one more dependent cache miss).
const INLINE_RESTARTS: usize = 8;

/// Up to this many restarts, a block search scans their words rather than bisecting them
/// (`Block::restart_scan`).
const LINEAR_RESTARTS: usize = 16;

/// One restart point, decoded when the block is loaded.
#[derive(Clone, Copy, Debug, Default)]
struct Restart {
    /// 16 bytes of the restart key's user key, after the prefix all restart keys share
    /// ([`SharedPrefix::word`]).
    prefix: u128,
    /// Offset of the restart entry from the block start.
    offset: u32,
}

/// A validated, immutable block (checksum already verified by the reader).
///
/// The restart array is decoded once, when the block is loaded (and then cached with it), into
/// `restarts`: each restart's offset and 16 bytes of its key (`SharedPrefix`). A search compares
/// those prefixes, which sit inline beside the block's header, and touches the block's bytes
/// only at the restart it lands on (or where two prefixes tie): on a cold block that saves the
/// cache misses of reading the trailer and of decoding each probed restart key.
pub struct Block {
    data: Vec<u8>,
    /// Where the restart array starts (= end of the entries).
    entries_end: usize,
    num_restarts: usize,
    entries: usize,
    restarts: SmallVec<[Restart; INLINE_RESTARTS]>,
    /// The prefix shared by every restart key's user key.
    shared: SharedPrefix,
    file: Arc<str>,
    offset: u64,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("file", &self.file)
            .field("offset", &self.offset)
            .field("size", &self.data.len())
            .field("entries", &self.entries)
            .finish()
    }
}

impl Block {
    /// Validates `data` (a block without its crc) read from `file` at `offset`. See the module
    /// docs for the checks; any failure is [`Error::Corruption`].
    pub fn decode(data: Vec<u8>, file: Arc<str>, offset: u64) -> Result<Block> {
        let corrupt = |reason: &str| Error::corruption(&*file, offset, format!("block: {reason}"));
        let len = data.len();
        let n_bytes = data
            .get(len.wrapping_sub(4)..)
            .filter(|_| len >= 4)
            .ok_or_else(|| corrupt("shorter than its trailer"))?;
        let num_restarts = read_u32(n_bytes).ok_or_else(|| corrupt("bad trailer"))? as usize;
        let max_restarts = (len - 4) / 4;
        if num_restarts == 0 || num_restarts > max_restarts {
            return Err(corrupt(&format!(
                "restart count {num_restarts} out of range (block of {len} bytes)"
            )));
        }
        let entries_end = len - 4 - 4 * num_restarts;
        let mut block = Block {
            data,
            entries_end,
            num_restarts,
            entries: 0,
            restarts: SmallVec::with_capacity(num_restarts),
            shared: SharedPrefix::default(),
            file: file.clone(),
            offset,
        };
        // Restarts: first is 0, strictly increasing, inside the entry area (an empty block has
        // the single restart 0 == entries_end).
        let mut prev: Option<usize> = None;
        for i in 0..num_restarts {
            let r = block
                .trailer_restart(i)
                .ok_or_else(|| corrupt("bad restart"))?;
            let ok = match prev {
                None => r == 0,
                Some(p) => r > p && r < entries_end,
            };
            if !ok {
                return Err(corrupt(&format!(
                    "restart {i} at {r} out of order or range"
                )));
            }
            prev = Some(r);
            let offset = u32::try_from(r).map_err(|_| corrupt("bad restart"))?;
            block.restarts.push(Restart { prefix: 0, offset });
        }
        if entries_end == 0 {
            if num_restarts != 1 {
                return Err(corrupt("empty block with several restarts"));
            }
            return Ok(block);
        }
        // Walk every entry once, checking its structure: only lengths, no key is rebuilt (key
        // order is `Table::verify`'s to check; the block's crc already passed).
        let mut key_len = 0usize;
        let mut pos = 0usize;
        let mut next_restart = 0usize;
        let mut count = 0usize;
        while pos < entries_end {
            let e = block
                .entry_at(pos)
                .ok_or_else(|| corrupt(&format!("entry at {pos} overruns the block")))?;
            let at_restart = block.restart(next_restart) == Some(pos);
            if at_restart {
                if e.shared != 0 {
                    return Err(corrupt(&format!("restart entry at {pos} shares a prefix")));
                }
                next_restart += 1;
            } else if block.restart(next_restart).is_some_and(|r| r < pos) {
                return Err(corrupt("restart point inside an entry"));
            }
            if e.shared > key_len {
                return Err(corrupt(&format!(
                    "entry at {pos} shares more than the previous key"
                )));
            }
            key_len = e.shared + e.suffix.len();
            pos = e.next;
            count += 1;
        }
        if pos != entries_end || next_restart != num_restarts {
            return Err(corrupt("entries do not line up with the restart array"));
        }
        let shared = SharedPrefix::of(block.restart_key(0)?, block.restart_key(num_restarts - 1)?);
        let mut words: SmallVec<[u128; INLINE_RESTARTS]> = SmallVec::with_capacity(num_restarts);
        for i in 0..num_restarts {
            words.push(shared.word(block.restart_key(i)?));
        }
        for (r, w) in block.restarts.iter_mut().zip(words) {
            r.prefix = w;
        }
        block.shared = shared;
        block.entries = count;
        Ok(block)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether the block has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Bytes held (for the cache's weigher): the block and any restarts spilled to the heap.
    pub fn size_bytes(&self) -> usize {
        let spilled = if self.restarts.spilled() {
            self.restarts.capacity() * std::mem::size_of::<Restart>()
        } else {
            0
        };
        self.data.len() + spilled + self.shared.heap_bytes()
    }

    /// Asks the CPU to fetch the lines of this block's header (the restart words a seek
    /// searches, and `Arc`'s counts just before it), ahead of a cursor that will read it.
    #[inline]
    pub(crate) fn prefetch_header(&self) {
        let counts = 2 * std::mem::size_of::<usize>();
        let start = std::ptr::from_ref(self).cast::<u8>().wrapping_sub(counts);
        for at in (0..counts + std::mem::size_of::<Block>()).step_by(64) {
            prefetch_addr(start.wrapping_add(at));
        }
    }

    /// File offset the block was read from.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// A cursor over the block (unpositioned: call a seek first).
    pub fn iter(self: &Arc<Self>) -> BlockIter {
        BlockIter {
            block: Arc::clone(self),
            key: Vec::new(),
            current: self.entries_end,
            next: self.entries_end,
            value: (0, 0),
            valid: false,
        }
    }

    fn corrupt(&self, reason: &str) -> Error {
        Error::corruption(&*self.file, self.offset, format!("block: {reason}"))
    }

    /// Offset of restart `i`, from the decoded array.
    #[inline]
    fn restart(&self, i: usize) -> Option<usize> {
        self.restarts.get(i).map(|r| r.offset as usize)
    }

    /// Offset of restart `i` as stored in the block's trailer (used while decoding).
    fn trailer_restart(&self, i: usize) -> Option<usize> {
        if i >= self.num_restarts {
            return None;
        }
        let at = self.entries_end.checked_add(i.checked_mul(4)?)?;
        Some(read_u32(self.data.get(at..at.checked_add(4)?)?)? as usize)
    }

    /// Decodes the entry header at `pos`. The three lengths are nearly always below 128, so
    /// one-byte varints take a fast path (as LevelDB's `DecodeEntry` does); anything else goes
    /// through the general [`Reader`].
    #[inline]
    fn entry_at(&self, pos: usize) -> Option<RawEntry<'_>> {
        let area = self.data.get(..self.entries_end)?;
        let rest = area.get(pos..)?;
        let (shared, unshared, value_len, header) = match rest {
            [a, b, c, ..] if (a | b | c) < 0x80 => {
                (usize::from(*a), usize::from(*b), usize::from(*c), 3)
            }
            _ => {
                let mut r = Reader::new(rest);
                (r.usize()?, r.usize()?, r.usize()?, r.position())
            }
        };
        let suffix_end = header.checked_add(unshared)?;
        let suffix = rest.get(header..suffix_end)?;
        let value_end = suffix_end.checked_add(value_len)?;
        if value_end > rest.len() {
            return None;
        }
        let value_start = pos.checked_add(suffix_end)?;
        let next = pos.checked_add(value_end)?;
        Some(RawEntry {
            shared,
            suffix,
            value_start,
            value_end: next,
            next,
        })
    }

    /// How many restart points lie strictly before entry offset `pos` (restarts ascend).
    fn restarts_before(&self, pos: usize) -> Result<usize> {
        let (mut lo, mut hi) = (0usize, self.num_restarts);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let r = self
                .restart(mid)
                .ok_or_else(|| self.corrupt("bad restart"))?;
            if r < pos {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The full key of restart point `i` (stored whole, `shared = 0`).
    #[inline]
    fn restart_key(&self, i: usize) -> Result<&[u8]> {
        let e = self
            .restart(i)
            .and_then(|p| self.entry_at(p))
            .ok_or_else(|| self.corrupt("bad restart entry"))?;
        if e.shared != 0 {
            return Err(self.corrupt("restart entry shares a prefix"));
        }
        Ok(e.suffix)
    }

    /// Index of the last restart whose key is < `target` (0 if none). Places the target
    /// against the restart keys' shared prefix, then compares the decoded 16-byte words after it
    /// and reads a restart key from the block only when they tie (see `SharedPrefix` for why
    /// differing words decide).
    fn restart_search(&self, target: &[u8]) -> Result<usize> {
        let last = self.num_restarts.saturating_sub(1);
        let tp = match self.shared.locate(target) {
            Position::Below => return Ok(0),
            Position::Above => return Ok(last),
            Position::Within(word) => word,
        };
        if self.restarts.len() <= LINEAR_RESTARTS {
            return self.restart_scan(target, tp);
        }
        let (mut left, mut right) = (0usize, last);
        while left < right {
            let mid = left + (right - left).div_ceil(2);
            let rp = self
                .restarts
                .get(mid)
                .ok_or_else(|| self.corrupt("bad restart"))?
                .prefix;
            let less = match rp.cmp(&tp) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => ikey::compare(self.restart_key(mid)?, target) == Ordering::Less,
            };
            if less {
                left = mid;
            } else {
                right = mid - 1;
            }
        }
        Ok(left)
    }

    /// [`restart_search`](Self::restart_search) over a few restarts: counts the words below
    /// the target's word `tp` over the whole array instead of bisecting it. The loads do not
    /// depend on each other, so on a cold block the lines of the array arrive together instead
    /// of one dependent cache miss per bisection step. Words ascend with the keys, so the
    /// restarts with a lower word come first, then those with an equal word (decided on the
    /// full key, read from the block).
    #[inline]
    fn restart_scan(&self, target: &[u8], tp: u128) -> Result<usize> {
        // Restart 0 is the answer when no other is below the target, so it is never read.
        let mut n = 1 + self
            .restarts
            .iter()
            .skip(1)
            .map(|r| usize::from(r.prefix < tp))
            .sum::<usize>();
        while self.restarts.get(n).is_some_and(|r| r.prefix == tp) {
            if ikey::compare(self.restart_key(n)?, target) != Ordering::Less {
                break;
            }
            n += 1;
        }
        Ok(n - 1)
    }

    /// Finds the first entry whose key is >= `buf[..target_len]` without allocating: the key is
    /// rebuilt in `buf[target_len..]` (left there on return) and its value is returned. `None`
    /// when every key is smaller.
    pub fn seek_in_place(&self, buf: &mut Vec<u8>, target_len: usize) -> Result<Option<&[u8]>> {
        let target = buf
            .get(..target_len)
            .ok_or_else(|| self.corrupt("bad seek"))?;
        let restart = self.restart_search(target)?;
        let mut pos = self
            .restart(restart)
            .ok_or_else(|| self.corrupt("bad restart"))?;
        // The walk to the target crosses this restart interval at most (and reads the next
        // one's first entry): each entry's place depends on the one before, so its lines are
        // asked for together rather than missed one after the other.
        let interval_end = self.restart(restart + 1).unwrap_or(self.entries_end);
        let walk_end = (interval_end.saturating_add(64))
            .min(pos.saturating_add(WALK_BYTES))
            .min(self.entries_end);
        if let Some(walk) = self.data.get(pos..walk_end) {
            prefetch(walk);
        }
        buf.truncate(target_len);
        while pos < self.entries_end {
            let e = self
                .entry_at(pos)
                .ok_or_else(|| self.corrupt(&format!("entry at {pos} overruns the block")))?;
            let keep = target_len
                .checked_add(e.shared)
                .filter(|k| *k <= buf.len())
                .ok_or_else(|| self.corrupt("shared prefix longer than the previous key"))?;
            buf.truncate(keep);
            buf.extend_from_slice(e.suffix);
            let (t, k) = buf.split_at(target_len);
            if ikey::compare(k, t) != Ordering::Less {
                let v = self
                    .data
                    .get(e.value_start..e.value_end)
                    .ok_or_else(|| self.corrupt("bad value"))?;
                return Ok(Some(v));
            }
            pos = e.next;
        }
        Ok(None)
    }
}

/// The most bytes from the restart a point lookup lands on that [`Block::seek_in_place`] asks
/// the CPU to fetch (its restart interval: in data blocks of the default size, ~512 bytes).
const WALK_BYTES: usize = 1024;

/// Bytes from the restart a seek lands on that [`BlockIter::seek`] asks the CPU to fetch: the
/// scan to the target (at most a restart interval, ~512 bytes in data blocks) and the ten or so
/// entries of a short range scan after it (~1.3 KiB of 16-byte keys and 100-byte values).
pub(crate) const PREFETCH_BYTES: usize = 1536;

/// Asks the CPU to fetch the cache lines of `bytes`, so lines that a walk over entries would
/// read one after the other (each entry's position depends on the previous entry's lengths)
/// arrive together. A hint: nothing is read, and it costs one instruction per line.
#[inline]
fn prefetch(bytes: &[u8]) {
    // Every 64th byte and the last one: a byte in each line `bytes` touches.
    for b in bytes.iter().step_by(64).chain(bytes.last()) {
        prefetch_addr(std::ptr::from_ref(b).cast());
    }
}

/// Asks the CPU to fetch the cache line holding `addr`. Only a hint: nothing is read through
/// the pointer, so any address is sound.
#[inline]
fn prefetch_addr(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch only hints the cache: it neither reads nor writes memory and
        // never faults, whatever the address; SSE is in x86_64's baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(addr.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

#[inline]
fn read_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

/// A cursor over one block, owning an `Arc` of it (so table iterators are `'static`).
///
/// Moves both ways: `prev` rescans from the restart point before the current entry (at most
/// one restart interval), as in LevelDB.
pub struct BlockIter {
    block: Arc<Block>,
    key: Vec<u8>,
    current: usize,
    next: usize,
    value: (usize, usize),
    valid: bool,
}

impl BlockIter {
    /// Whether the cursor is on an entry.
    #[inline]
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// The current key (meaningful only when valid).
    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current value (meaningful only when valid).
    #[inline]
    pub fn value(&self) -> &[u8] {
        self.block
            .data
            .get(self.value.0..self.value.1)
            .unwrap_or_default()
    }

    /// The block under the cursor.
    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }

    fn seek_to_restart(&mut self, i: usize) -> Result<()> {
        self.key.clear();
        self.valid = false;
        self.next = self
            .block
            .restart(i)
            .ok_or_else(|| self.block.corrupt("bad restart"))?;
        Ok(())
    }

    /// Decodes the entry at `self.next`; clears `valid` at the end of the block.
    fn parse_next(&mut self) -> Result<()> {
        let b = &*self.block;
        if self.next >= b.entries_end {
            self.valid = false;
            self.current = b.entries_end;
            return Ok(());
        }
        let e = b
            .entry_at(self.next)
            .ok_or_else(|| b.corrupt(&format!("entry at {} overruns the block", self.next)))?;
        if e.shared > self.key.len() {
            self.valid = false;
            return Err(b.corrupt("shared prefix longer than the previous key"));
        }
        self.key.truncate(e.shared);
        self.key.extend_from_slice(e.suffix);
        self.current = self.next;
        self.next = e.next;
        self.value = (e.value_start, e.value_end);
        self.valid = true;
        Ok(())
    }

    /// Prefetches the [`PREFETCH_BYTES`] from the entry the cursor reads next (up to the
    /// block's end).
    #[inline]
    fn prefetch_ahead(&self) {
        let from = self.next;
        let to = from
            .saturating_add(PREFETCH_BYTES)
            .min(self.block.entries_end);
        prefetch(self.block.data.get(from..to).unwrap_or_default());
    }

    /// Bytes of entries from the current one to the block's end (0 when invalid).
    #[inline]
    pub fn bytes_left(&self) -> usize {
        if self.valid {
            self.block.entries_end.saturating_sub(self.current)
        } else {
            0
        }
    }

    /// Positions at the first entry (invalid if the block is empty).
    pub fn seek_to_first(&mut self) -> Result<()> {
        self.seek_to_restart(0)?;
        self.prefetch_ahead();
        self.parse_next()
    }

    /// Positions at the last entry (invalid if the block is empty).
    pub fn seek_to_last(&mut self) -> Result<()> {
        self.seek_to_restart(self.block.num_restarts.saturating_sub(1))?;
        loop {
            self.parse_next()?;
            if !self.valid || self.next >= self.block.entries_end {
                return Ok(());
            }
        }
    }

    /// Positions at the first entry with key >= `target` (invalid if none).
    pub fn seek(&mut self, target: &[u8]) -> Result<()> {
        let i = self.block.restart_search(target)?;
        self.seek_to_restart(i)?;
        self.prefetch_ahead();
        loop {
            self.parse_next()?;
            if !self.valid || ikey::compare(&self.key, target) != Ordering::Less {
                return Ok(());
            }
        }
    }

    /// Positions at the last entry with key <= `target` (invalid if none).
    pub fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.seek(target)?;
        if !self.valid {
            return self.seek_to_last();
        }
        if ikey::compare(&self.key, target) != Ordering::Equal {
            self.move_prev()?;
        }
        Ok(())
    }

    /// Moves to the next entry (invalid past the last).
    pub fn move_next(&mut self) -> Result<()> {
        if !self.valid {
            return Ok(());
        }
        self.parse_next()
    }

    /// Moves to the previous entry (invalid before the first).
    pub fn move_prev(&mut self) -> Result<()> {
        if !self.valid {
            return Ok(());
        }
        let original = self.current;
        // The restart to rescan from, the last one strictly before the current entry, is found
        // here by binary search rather than tracked on every forward step.
        let Some(restart) = self.block.restarts_before(original)?.checked_sub(1) else {
            self.valid = false;
            self.current = self.block.entries_end;
            self.next = self.block.entries_end;
            return Ok(());
        };
        self.seek_to_restart(restart)?;
        loop {
            self.parse_next()?;
            if !self.valid || self.next >= original {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::Kind;

    fn keys(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| ikey::encode(format!("k{:05}", i * 2).as_bytes(), 7, Kind::Put))
            .collect()
    }

    fn build(keys: &[Vec<u8>], interval: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(interval);
        for (i, k) in keys.iter().enumerate() {
            b.add(k, format!("value{i}").as_bytes());
        }
        let bytes = b.finish().to_vec();
        Arc::new(Block::decode(bytes, "t.sst".into(), 100).expect("valid block"))
    }

    #[test]
    fn restarts_also_begin_every_restart_bytes() {
        // 16-entry interval, but 100-byte values and a 300-byte cap: a restart every 3 entries
        // (the entries after a restart reach 300 bytes at the third).
        let ks = keys(40);
        let mut b = BlockBuilder::new(16).restart_every_bytes(300);
        for k in &ks {
            b.add(k, &[7u8; 100]);
        }
        let block = Arc::new(Block::decode(b.finish().to_vec(), "t.sst".into(), 0).expect("block"));
        assert_eq!(block.num_restarts, 14);
        let first = block.restart(1).expect("restart 1");
        assert!(
            (300..450).contains(&first),
            "first restart interval of {first} bytes"
        );
        let mut buf = Vec::new();
        for (i, k) in ks.iter().enumerate() {
            buf.clear();
            buf.extend_from_slice(k);
            let value = block.seek_in_place(&mut buf, k.len()).expect("seek");
            assert_eq!(value, Some(&[7u8; 100][..]), "entry {i}");
            assert_eq!(&buf[k.len()..], &k[..]);
        }
    }

    #[test]
    fn round_trip_and_seek_all_intervals() {
        // 100, 50, 34 restarts bisected; 10 and 7 scanned (`LINEAR_RESTARTS`).
        for interval in [1, 2, 3, 10, 16] {
            let ks = keys(100);
            let block = build(&ks, interval);
            assert_eq!(block.len(), 100);
            let mut it = block.iter();
            it.seek_to_first().expect("seek");
            for (i, k) in ks.iter().enumerate() {
                assert!(it.valid());
                assert_eq!(it.key(), &k[..]);
                assert_eq!(it.value(), format!("value{i}").as_bytes());
                it.move_next().expect("next");
            }
            assert!(!it.valid());
            // Reverse walk.
            it.seek_to_last().expect("last");
            for k in ks.iter().rev() {
                assert_eq!(it.key(), &k[..]);
                it.move_prev().expect("prev");
            }
            assert!(!it.valid());
            // Seeks: exact, between, before, after.
            for (i, k) in ks.iter().enumerate() {
                it.seek(k).expect("seek");
                assert_eq!(it.key(), &k[..]);
                let between = ikey::encode(format!("k{:05}", i * 2 + 1).as_bytes(), 7, Kind::Put);
                it.seek(&between).expect("seek");
                assert_eq!(it.valid(), i + 1 < ks.len());
                if let Some(n) = ks.get(i + 1) {
                    assert_eq!(it.key(), &n[..]);
                }
                it.seek_for_prev(&between).expect("sfp");
                assert_eq!(it.key(), &k[..]);
                let mut buf = between.clone();
                let got = block.seek_in_place(&mut buf, between.len()).expect("sip");
                assert_eq!(got.is_some(), i + 1 < ks.len());
            }
            let (a, z) = (
                ikey::encode(b"a", 1, Kind::Put),
                ikey::encode(b"z", 1, Kind::Put),
            );
            it.seek(&a).expect("seek");
            assert_eq!(it.key(), &ks[0][..]);
            it.seek_for_prev(&a).expect("sfp");
            assert!(!it.valid());
            it.seek(&z).expect("seek");
            assert!(!it.valid());
            it.seek_for_prev(&z).expect("sfp");
            assert_eq!(it.key(), &ks[99][..]);
            // Targets against the prefix the keys share ("k00"): shorter, equal, inside it,
            // past it; placed as a linear search places them.
            for t in [
                &b"k"[..],
                b"k0",
                b"k00",
                b"k000",
                b"k001",
                b"k002",
                b"k01",
                b"j9",
            ] {
                for seq in [0, 7, ikey::MAX_SEQNO] {
                    let p = ikey::encode(t, seq, Kind::Put);
                    it.seek(&p).expect("seek");
                    let want = ks.iter().find(|k| ikey::compare(k, &p) != Ordering::Less);
                    assert_eq!(
                        it.valid().then(|| it.key().to_vec()).as_ref(),
                        want,
                        "{t:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn seeks_among_restarts_with_tied_words() {
        // Many versions of few user keys: restart words tie and the full keys decide, both
        // when the restarts are scanned and when they are bisected.
        let mut ks = Vec::new();
        for user in [&b"apple"[..], b"banana", b"cherry"] {
            for seq in (0..12u64).rev() {
                ks.push(ikey::encode(user, seq * 2 + 1, Kind::Put));
            }
        }
        for interval in [1, 2, 3, 4, 6] {
            let block = build(&ks, interval);
            let restarts = block.num_restarts;
            assert_eq!(restarts, ks.len().div_ceil(interval));
            for user in [&b"apple"[..], b"banana", b"cherry", b"b", b"bz", b"d"] {
                for seq in 0..26u64 {
                    for kind in [Kind::Delete, Kind::Put] {
                        let t = ikey::encode(user, seq, kind);
                        let want = ks
                            .iter()
                            .position(|k| ikey::compare(k, &t) != Ordering::Less);
                        let mut buf = t.clone();
                        let got = block.seek_in_place(&mut buf, t.len()).expect("seek");
                        assert_eq!(got.is_some(), want.is_some(), "{interval} {t:?}");
                        if let Some(w) = want {
                            assert_eq!(&buf[t.len()..], &ks[w][..], "{interval} {t:?}");
                            assert_eq!(got, Some(format!("value{w}").as_bytes()));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bytes_left_counts_to_the_end_of_the_entries() {
        let ks = keys(20);
        let block = build(&ks, 4);
        let mut it = block.iter();
        assert_eq!(it.bytes_left(), 0, "unpositioned");
        it.seek_to_first().expect("first");
        assert_eq!(it.bytes_left(), block.entries_end);
        let mut last = it.bytes_left();
        for _ in 1..ks.len() {
            it.move_next().expect("next");
            assert!(it.bytes_left() < last && it.bytes_left() > 0);
            last = it.bytes_left();
        }
        it.move_next().expect("past the end");
        assert_eq!(it.bytes_left(), 0);
        // A prefetch hint on a header read nothing and changed nothing.
        block.prefetch_header();
        it.seek(&ks[7]).expect("seek");
        assert_eq!(it.key(), &ks[7][..]);
    }

    #[test]
    fn empty_block() {
        let block = build(&[], 16);
        assert!(block.is_empty());
        let mut it = block.iter();
        it.seek_to_first().expect("first");
        assert!(!it.valid());
        it.seek_to_last().expect("last");
        assert!(!it.valid());
        it.seek(b"x").expect("seek");
        assert!(!it.valid());
    }

    #[test]
    fn malformed_blocks_are_corruption() {
        let good = {
            let mut b = BlockBuilder::new(2);
            for k in keys(5) {
                b.add(&k, b"v");
            }
            b.finish().to_vec()
        };
        let bad_inputs: Vec<Vec<u8>> = vec![
            vec![],
            vec![1, 2, 3],
            0u32.to_le_bytes().to_vec(),
            0xFFFF_FFFFu32.to_le_bytes().to_vec(),
            [0u32.to_le_bytes(), 0xFFFF_FFFFu32.to_le_bytes()].concat(),
            // A huge varint length in the first entry.
            [
                vec![0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0],
                0u32.to_le_bytes().to_vec(),
                1u32.to_le_bytes().to_vec(),
            ]
            .concat(),
            // Over-long varint.
            [
                vec![0xFF; 11],
                0u32.to_le_bytes().to_vec(),
                1u32.to_le_bytes().to_vec(),
            ]
            .concat(),
        ];
        for input in bad_inputs {
            let r = Block::decode(input.clone(), "t.sst".into(), 9);
            assert!(
                matches!(r, Err(Error::Corruption { ref file, offset: 9, .. }) if file == "t.sst"),
                "{input:?} -> {r:?}"
            );
        }
        // Every single-byte flip and every truncation: a clean error or a block that still
        // decodes (then it must iterate without panicking).
        for i in 0..good.len() {
            for bit in [0x01u8, 0x80, 0xFF] {
                let mut b = good.clone();
                b[i] ^= bit;
                if let Ok(block) = Block::decode(b, "t.sst".into(), 0) {
                    let block = Arc::new(block);
                    let mut it = block.iter();
                    let _ = it.seek_to_last();
                    while it.valid() && it.move_prev().is_ok() {}
                }
            }
        }
        for n in 0..good.len() {
            let _ = Block::decode(good[..n].to_vec(), "t.sst".into(), 0);
        }
    }

    #[test]
    fn handle_round_trip() {
        let h = BlockHandle {
            offset: u64::MAX,
            size: 12345,
        };
        let mut buf = Vec::new();
        h.encode_into(&mut buf);
        assert!(buf.len() <= BlockHandle::MAX_ENCODED_LEN);
        assert_eq!(BlockHandle::decode_exact(&buf), Some(h));
        buf.push(0);
        assert_eq!(BlockHandle::decode_exact(&buf), None);
        assert_eq!(h.end_with_crc(), None);
    }
}
