//! A table's index, decoded once at open into flat arrays that a binary search probes without
//! decoding anything.
//!
//! On disk the index is a block (restart interval 1) of `(last internal key of data block i,
//! handle of block i)` entries; see the [`super`] module docs. Searching that block costs three
//! varint decodes per probe before a key can be compared. [`TableIndex::decode`] walks it once
//! and keeps:
//!
//! ```text
//! prefixes: [p0][p1]...[pn-1]        u64: the first 8 bytes of each user key, big-endian, 0-padded
//! ends:     [e0][e1]...[en-1]        u32: key i is keys[e(i-1)..e(i)] (e(-1) = 0)
//! keys:     [key 0][key 1]...[key n-1]   the full internal keys, back to back
//! handles:  [h0][h1]...[hn-1]        offset and size of data block i
//! ```
//!
//! A probe first compares the 8-byte prefixes, a dense array (8 bytes an entry) that stays in
//! the CPU caches; only when they are equal does it compare the full keys with
//! [`ikey::compare`]. Differing zero-padded prefixes order two byte strings exactly as the
//! strings do (a string that ends inside the prefix pads with zeros, and it is a prefix of the
//! other exactly when the padded words compare lower), so the shortcut never changes an answer.
//!
//! Memory is bounded by the index block itself, which is already read and crc-checked whole:
//! `keys` is at most its size, and each entry adds 28 bytes (prefix, end, handle), while an
//! entry on disk is at least 12 bytes (three varints, a 9-byte key trailer).
//!
//! Invariants checked by [`TableIndex::decode`] (any failure is [`Error::Corruption`] at the
//! index block's offset): every key is an internal key, keys ascend strictly (checked by
//! [`Block::decode`]), handles are non-empty and tile `[0, data_end)` in order.

use std::cmp::Ordering;
use std::sync::Arc;

use super::block::{Block, BlockHandle};
use crate::error::{Error, Result};
use crate::lsm::ikey;

/// The decoded index of one table. See the module docs.
#[derive(Debug, Default)]
pub struct TableIndex {
    prefixes: Vec<u64>,
    ends: Vec<u32>,
    keys: Vec<u8>,
    handles: Vec<BlockHandle>,
}

/// The first 8 bytes of an internal key's user key as a big-endian word, zero-padded. Two keys
/// whose prefixes differ compare as their prefixes do (see the module docs); equal prefixes
/// decide nothing. Data blocks use it for their restart keys too.
#[inline]
pub(crate) fn prefix_of(ikey: &[u8]) -> u64 {
    let user = ikey::user_key(ikey);
    let mut word = [0u8; 8];
    let n = user.len().min(8);
    if let (Some(dst), Some(src)) = (word.get_mut(..n), user.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_be_bytes(word)
}

impl TableIndex {
    /// Decodes and checks `block` (the index block, read from `file` at `offset`) whose data
    /// blocks must tile `[0, data_end)`.
    pub fn decode(
        block: &Arc<Block>,
        file: &str,
        offset: u64,
        data_end: u64,
    ) -> Result<TableIndex> {
        let corrupt = |reason: &str| Error::corruption(file, offset, format!("index: {reason}"));
        let n = block.len();
        let mut index = TableIndex {
            prefixes: Vec::with_capacity(n),
            ends: Vec::with_capacity(n),
            keys: Vec::with_capacity(block.size_bytes()),
            handles: Vec::with_capacity(n),
        };
        let mut it = block.iter();
        it.seek_to_first()?;
        let mut expected = 0u64;
        while it.valid() {
            let key = it.key();
            if ikey::parse(key).is_none() {
                return Err(corrupt("key is not an internal key"));
            }
            let h = BlockHandle::decode_exact(it.value())
                .filter(|h| h.offset == expected && h.size > 0)
                .ok_or_else(|| corrupt("bad data block handle"))?;
            expected = h
                .end_with_crc()
                .filter(|e| *e <= data_end)
                .ok_or_else(|| corrupt("data block past the data area"))?;
            index.prefixes.push(prefix_of(key));
            index.keys.extend_from_slice(key);
            let end = u32::try_from(index.keys.len()).map_err(|_| corrupt("index too large"))?;
            index.ends.push(end);
            index.handles.push(h);
            it.move_next()?;
        }
        if expected != data_end {
            return Err(corrupt("data blocks do not end at the filter"));
        }
        Ok(index)
    }

    /// Number of data blocks.
    #[inline]
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether the table has no data blocks.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// The last internal key of data block `i` (empty if `i` is out of range).
    #[inline]
    pub fn key(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            None => 0,
            Some(p) => self.ends.get(p).map_or(0, |e| *e as usize),
        };
        let end = self.ends.get(i).map_or(0, |e| *e as usize);
        self.keys.get(start..end).unwrap_or_default()
    }

    /// The handle of data block `i`.
    #[inline]
    pub fn handle(&self, i: usize) -> Option<BlockHandle> {
        self.handles.get(i).copied()
    }

    /// The last key of the last block (empty for an empty table).
    pub fn last_key(&self) -> &[u8] {
        self.key(self.len().wrapping_sub(1))
    }

    /// The first block whose last key is `>= target` by [`ikey::compare`] (the only block that
    /// can hold the first entry `>= target`); [`len`](Self::len) when every key is smaller.
    #[inline]
    pub fn seek(&self, target: &[u8]) -> usize {
        let tp = prefix_of(target);
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let less = match self.prefixes.get(mid).map(|p| p.cmp(&tp)) {
                Some(Ordering::Less) => true,
                Some(Ordering::Greater) | None => false,
                Some(Ordering::Equal) => ikey::compare(self.key(mid), target) == Ordering::Less,
            };
            if less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Bytes held (keys plus per-entry arrays).
    pub fn size_bytes(&self) -> usize {
        self.keys.capacity()
            + self.prefixes.capacity() * 8
            + self.ends.capacity() * 4
            + self.handles.capacity() * std::mem::size_of::<BlockHandle>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::Kind;
    use crate::lsm::sstable::block::BlockBuilder;

    fn index_of(user_keys: &[&[u8]]) -> (TableIndex, Vec<Vec<u8>>) {
        let mut b = BlockBuilder::new(1);
        let mut keys = Vec::new();
        let mut off = 0u64;
        for (i, uk) in user_keys.iter().enumerate() {
            let k = ikey::encode(uk, 100 - i as u64, Kind::Put);
            let h = BlockHandle {
                offset: off,
                size: 10,
            };
            off = h.end_with_crc().expect("end");
            let mut v = Vec::new();
            h.encode_into(&mut v);
            b.add(&k, &v);
            keys.push(k);
        }
        let block = Arc::new(Block::decode(b.finish().to_vec(), "t".into(), 0).expect("block"));
        (
            TableIndex::decode(&block, "t", 0, off).expect("index"),
            keys,
        )
    }

    #[test]
    fn seek_matches_a_linear_search() {
        // Short keys, keys that share 8-byte prefixes, a key that is a prefix of the next.
        let uks: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"\0\0",
            b"a",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghA",
            b"abcdefghB",
            b"abcdefgi",
            b"b",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        let (index, keys) = index_of(&uks);
        assert_eq!(index.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.key(i), &k[..]);
            assert_eq!(index.handle(i).map(|h| h.size), Some(10));
        }
        assert_eq!(index.last_key(), &keys[keys.len() - 1][..]);
        let mut probes: Vec<Vec<u8>> = keys.clone();
        for uk in &uks {
            for seq in [0, 50, 95, 100, ikey::MAX_SEQNO] {
                probes.push(ikey::encode(uk, seq, Kind::Delete));
                let mut longer = uk.to_vec();
                longer.push(0);
                probes.push(ikey::encode(&longer, seq, Kind::Put));
            }
        }
        for p in &probes {
            let want = keys
                .iter()
                .position(|k| ikey::compare(k, p) != Ordering::Less)
                .unwrap_or(keys.len());
            assert_eq!(index.seek(p), want, "{p:?}");
        }
    }

    #[test]
    fn empty_index() {
        let (index, _) = index_of(&[]);
        assert!(index.is_empty());
        assert_eq!(index.seek(&ikey::encode(b"x", 1, Kind::Put)), 0);
        assert!(index.last_key().is_empty());
        assert_eq!(index.handle(0), None);
    }
}
