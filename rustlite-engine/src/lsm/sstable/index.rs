//! A table's index, decoded once at open into flat arrays that a binary search probes without
//! decoding anything.
//!
//! On disk the index is a block (restart interval 1) of `(last internal key of data block i,
//! handle of block i)` entries; see the [`super`] module docs. Searching that block costs three
//! varint decodes per probe before a key can be compared. [`TableIndex::decode`] walks it once
//! and keeps:
//!
//! ```text
//! prefixes: [p0][p1]...[pn-1]        u128: 16 bytes of each user key (after the shared
//!                                    prefix), big-endian, 0-padded
//! ends:     [e0][e1]...[en-1]        u32: key i is keys[e(i-1)..e(i)] (e(-1) = 0)
//! keys:     [key 0][key 1]...[key n-1]   the full internal keys, back to back
//! handles:  [h0][h1]...[hn-1]        offset and size of data block i
//! ```
//!
//! A probe first compares the 16-byte prefixes, a dense array (16 bytes an entry) that stays in
//! the CPU caches; only when they are equal does it compare the full keys with
//! [`ikey::compare`]. Differing zero-padded prefixes order two byte strings exactly as the
//! strings do (a string that ends inside the prefix pads with zeros, and it is a prefix of the
//! other exactly when the padded words compare lower), so the shortcut never changes an answer.
//!
//! The 16 bytes are taken *after* the prefix every user key of the index shares
//! (`SharedPrefix`). Keys of one table's rows share `[0x01][table id][tag]` and the high
//! bytes of their integer keys: 8 bytes from byte 0 were all equal and decided nothing (every
//! probe a full-key `memcmp`), 16 cover such a key whole even when a file also holds other key
//! spaces (its shared prefix is then empty). A target that does not start with the shared
//! prefix is below or above every key, decided by that comparison alone. Data blocks use the
//! same scheme for their restart keys, whose shared prefix is usually long.
//!
//! Memory is bounded by the index block itself, which is already read and crc-checked whole:
//! `keys` is at most its size, and each entry adds 36 bytes (prefix, end, handle), while an
//! entry on disk is at least 12 bytes (three varints, a 9-byte key trailer).
//!
//! Invariants checked by [`TableIndex::decode`] (any failure is [`Error::Corruption`] at the
//! index block's offset): every key is an internal key, keys ascend strictly, together they
//! are no longer than the block (so a damaged shared-prefix length cannot make them larger),
//! handles are non-empty and tile `[0, data_end)` in order.

use std::cmp::Ordering;
use std::sync::Arc;

use smallvec::SmallVec;

use super::block::{Block, BlockHandle};
use crate::error::{Error, Result};
use crate::lsm::ikey;

/// The decoded index of one table. See the module docs.
#[derive(Debug, Default)]
pub struct TableIndex {
    /// What every key's user key starts with; `prefixes` are taken after it.
    shared: SharedPrefix,
    prefixes: Vec<u128>,
    ends: Vec<u32>,
    keys: Vec<u8>,
    handles: Vec<BlockHandle>,
}

/// The first 16 bytes of `bytes` as a big-endian word, zero-padded. Two byte strings whose
/// words differ compare as their words do (see the module docs); equal words decide nothing.
#[inline]
fn word_of(bytes: &[u8]) -> u128 {
    let mut word = [0u8; 16];
    let n = bytes.len().min(16);
    if let (Some(dst), Some(src)) = (word.get_mut(..n), bytes.get(..n)) {
        dst.copy_from_slice(src);
    }
    u128::from_be_bytes(word)
}

/// Where a search target stands against a sorted set of keys whose user keys all start with
/// one `SharedPrefix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    /// Below every key.
    Below,
    /// Above every key.
    Above,
    /// It starts with the shared prefix too: the word of its user key after the prefix, to
    /// compare with the keys' words (equal words: compare the full keys).
    Within(u128),
}

/// The longest prefix shared by the user keys of a sorted set of internal keys (that of the
/// first and the last key), and the 16-byte words of what follows it. See the module docs.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedPrefix {
    bytes: SmallVec<[u8; 16]>,
}

impl SharedPrefix {
    /// The prefix shared by every key of a sorted set whose first and last internal keys are
    /// `first` and `last`.
    pub(crate) fn of(first: &[u8], last: &[u8]) -> SharedPrefix {
        let (a, b) = (ikey::user_key(first), ikey::user_key(last));
        let n = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        SharedPrefix {
            bytes: SmallVec::from_slice(a.get(..n).unwrap_or_default()),
        }
    }

    /// Bytes held on the heap (a prefix longer than the inline 16).
    pub(crate) fn heap_bytes(&self) -> usize {
        if self.bytes.spilled() {
            self.bytes.capacity()
        } else {
            0
        }
    }

    /// The word of internal key `ikey` of the set (the 16 bytes of its user key after the
    /// shared prefix).
    #[inline]
    pub(crate) fn word(&self, ikey: &[u8]) -> u128 {
        word_of(
            ikey::user_key(ikey)
                .get(self.bytes.len()..)
                .unwrap_or_default(),
        )
    }

    /// Where the internal key `target` stands against every key of the set. Exact: a user key
    /// that differs from the shared prefix within it (or is a proper prefix of it) orders
    /// against every key of the set as it orders against the prefix.
    #[inline]
    pub(crate) fn locate(&self, target: &[u8]) -> Position {
        let user = ikey::user_key(target);
        let shared = self.bytes.as_slice();
        match user.get(..shared.len()) {
            Some(head) => match head.cmp(shared) {
                Ordering::Less => Position::Below,
                Ordering::Greater => Position::Above,
                Ordering::Equal => {
                    Position::Within(word_of(user.get(shared.len()..).unwrap_or_default()))
                }
            },
            // Shorter than the prefix: below every key unless it differs upwards.
            None => match user.cmp(shared.get(..user.len()).unwrap_or_default()) {
                Ordering::Greater => Position::Above,
                _ => Position::Below,
            },
        }
    }
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
            shared: SharedPrefix::default(),
            prefixes: Vec::with_capacity(n),
            ends: Vec::with_capacity(n),
            keys: Vec::with_capacity(block.size_bytes()),
            handles: Vec::with_capacity(n),
        };
        let mut it = block.iter();
        it.seek_to_last()?;
        let last = if it.valid() {
            it.key().to_vec()
        } else {
            Vec::new()
        };
        it.seek_to_first()?;
        if it.valid() {
            index.shared = SharedPrefix::of(it.key(), &last);
        }
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
            // Restart interval 1: every key is stored whole, so together they fit in the block
            // (a shared-prefix entry could rebuild a long key from a few bytes, again and again).
            if index.keys.len() + key.len() > block.size_bytes() {
                return Err(corrupt("keys larger than the index block"));
            }
            if let Some(&prev_end) = index.ends.last() {
                let prev_start = (index.ends.len().checked_sub(2))
                    .and_then(|i| index.ends.get(i))
                    .map_or(0, |&e| e as usize);
                let prev = index.keys.get(prev_start..prev_end as usize);
                if prev.is_none_or(|prev| ikey::compare(prev, key) != Ordering::Less) {
                    return Err(corrupt("keys out of order"));
                }
            }
            index.prefixes.push(index.shared.word(key));
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
        let tp = match self.shared.locate(target) {
            Position::Below => return 0,
            Position::Above => return self.len(),
            Position::Within(word) => word,
        };
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
            + self.shared.heap_bytes()
            + self.prefixes.capacity() * 16
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

    /// Keys that share a long prefix (a table's row keys): a target below, above, shorter
    /// than, equal to or inside that prefix is placed as a linear search places it.
    #[test]
    fn seek_past_a_shared_prefix_matches_a_linear_search() {
        let base = b"\x01\0\0\0\x07\x03\x80\0\0\0\0";
        let uks: Vec<Vec<u8>> = [
            &b"\x01\x02"[..],
            b"\x01\x03",
            b"\x02\x00",
            b"\x02\x00\x01",
            b"\x09",
        ]
        .iter()
        .map(|tail| [&base[..], tail].concat())
        .collect();
        let refs: Vec<&[u8]> = uks.iter().map(Vec::as_slice).collect();
        let (index, keys) = index_of(&refs);
        assert_eq!(index.shared.bytes.as_slice(), &base[..]);
        let mut targets: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\x01".to_vec(),
            base[..5].to_vec(),
            b"\x01\0\0\0\x07\x02\xff".to_vec(),
            b"\x01\0\0\0\x07\x04".to_vec(),
            base.to_vec(),
            b"\x02".to_vec(),
        ];
        for uk in &uks {
            targets.push(uk.clone());
            targets.push([&uk[..], b"\0"].concat());
            targets.push(uk[..uk.len() - 1].to_vec());
        }
        for t in &targets {
            for seq in [0, 97, 100, ikey::MAX_SEQNO] {
                let p = ikey::encode(t, seq, Kind::Put);
                let want = keys
                    .iter()
                    .position(|k| ikey::compare(k, &p) != Ordering::Less)
                    .unwrap_or(keys.len());
                assert_eq!(index.seek(&p), want, "{p:?}");
            }
        }
    }

    /// An index block built as the writer never builds one, from `(key, handle)` entries with
    /// `restart_interval` (the writer uses 1), checked the way a table's open checks it.
    fn decode_crafted(
        entries: &[(Vec<u8>, BlockHandle)],
        restart_interval: usize,
        data_end: u64,
    ) -> Result<TableIndex> {
        let mut b = BlockBuilder::new(restart_interval);
        for (k, h) in entries {
            let mut v = Vec::new();
            h.encode_into(&mut v);
            b.add(k, &v);
        }
        let block = Arc::new(Block::decode(b.finish().to_vec(), "t".into(), 0)?);
        TableIndex::decode(&block, "t", 0, data_end)
    }

    /// Crafted (checksum-valid) index blocks: entries that share a long prefix rebuilt 1 MiB
    /// keys from a few bytes each, and `keys` grew ~1000× the block before any check (4,000
    /// such entries asked for gigabytes); keys out of order decoded although the module
    /// promised they were checked.
    #[test]
    fn crafted_index_blocks_are_refused() {
        let handles = |n: u64| {
            (0..n).map(|i| BlockHandle {
                offset: i * (10 + 4),
                size: 10,
            })
        };
        let long = vec![b'p'; 1 << 20];
        let entries: Vec<(Vec<u8>, BlockHandle)> = handles(64)
            .enumerate()
            .map(|(i, h)| {
                let mut uk = long.clone();
                uk.extend_from_slice(&(i as u32).to_be_bytes());
                (ikey::encode(&uk, 1, Kind::Put), h)
            })
            .collect();
        let end = 64 * 14;
        let e = decode_crafted(&entries, 1 << 30, end).err();
        assert!(
            matches!(&e, Some(Error::Corruption { reason, .. }) if reason.contains("larger than the index block")),
            "{e:?}"
        );
        // Stored whole (restart interval 1), the same keys are a valid index.
        assert_eq!(
            decode_crafted(&entries, 1, end).map(|i| i.len()).ok(),
            Some(64)
        );

        let k = |uk: &[u8]| ikey::encode(uk, 1, Kind::Put);
        let hs: Vec<BlockHandle> = handles(3).collect();
        let unordered = [(k(b"a"), hs[0]), (k(b"c"), hs[1]), (k(b"b"), hs[2])];
        let e = decode_crafted(&unordered, 1, 3 * 14).err();
        assert!(
            matches!(&e, Some(Error::Corruption { reason, .. }) if reason.contains("out of order")),
            "{e:?}"
        );
        let repeated = [(k(b"a"), hs[0]), (k(b"a"), hs[1])];
        assert!(decode_crafted(&repeated, 1, 2 * 14).is_err());
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
