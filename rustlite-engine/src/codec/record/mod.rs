//! crc32 record framing, shared by the write-ahead log and the manifest.
//!
//! A framed file is a plain concatenation of records, with no file header and no padding:
//!
//! ```text
//! offset 0        4        8      9                 9 + len
//!        +--------+--------+------+-----------------+
//!        | crc32  | len    | type | payload         |  next record ...
//!        | u32 LE | u32 LE | u8   | len bytes       |
//!        +--------+--------+------+-----------------+
//!        crc32 (IEEE, crc32fast) covers len ++ type ++ payload
//! ```
//!
//! - `type` says what the payload is (`1` = WAL batch, `2` = manifest edit); `0` is reserved and
//!   never valid, so zero-filled space can never pass for a record.
//! - `len` is at most [`MAX_RECORD_LEN`]; a larger value marks the record invalid (nothing is
//!   allocated for it, the reader only ever slices the buffer it was given).
//!
//! # Torn tail or corruption?
//!
//! [`read_records`] walks records from offset 0. When the record at offset `p` is unusable (its
//! header or payload runs past the end of the buffer, its length is too large, its type is 0 or
//! its crc fails), it looks for *any* valid record (header in bounds, length that fits, crc that
//! matches) starting at any later offset `q > p`:
//! - none: the bytes from `p` on are a torn tail, the remains of a write that never completed
//!   (and so was never acknowledged). The reader returns the records before `p`,
//!   `valid_len = p` and `torn_tail = true`; the caller may truncate the file to `valid_len`.
//! - one: data after the damage was once written whole, so `p` cannot be a torn tail; the reader
//!   fails with [`Error::Corruption`] at offset `p`.
//!
//! [`scan_records`] returns such damage, with the valid records after it, instead of failing:
//! the WAL judges it by what those records say (see `lsm::wal`).
//!
//! The search costs O(1) per offset, whatever lengths the bytes after the damage claim: a
//! candidate is rejected on its header alone when it can be (type 0, length over the limit or
//! past the end of the buffer), and a long one is checked with crc arithmetic on prefix crcs
//! instead of checksumming its claimed length (`Resync`). It finds exactly the records a
//! checksum of every candidate would; checksumming each one made it quadratic (a one-bit flip
//! early in a 24 MiB value of `0x01` bytes, which reads as a 16.8 MiB length at every offset,
//! kept `open` busy for hours; now about 3 s in a debug build).
//!
//! The rule assumes the damaged bytes are a prefix-torn append. Two consequences to know:
//! a bit flip inside the *last* record reads as a torn tail (indistinguishable), and a torn
//! record whose *payload* happens to contain a well-formed framed record (e.g. a user value
//! holding a copy of a WAL file) reads as corruption.

use crate::error::{Error, Result};
use resync::Resync;
use std::ops::Range;

mod resync;

/// Bytes before the payload: crc32 (4) + len (4) + type (1).
pub const HEADER_LEN: usize = 9;

/// Largest payload a record may carry (256 MiB). Longer `len` fields are invalid on read and
/// refused on write.
pub const MAX_RECORD_LEN: usize = 256 << 20;

/// Appends one framed record holding `payload` to `out`.
///
/// Fails with [`Error::InvalidArgument`] (leaving `out` unchanged) if `rtype` is 0 or the
/// payload is longer than [`MAX_RECORD_LEN`].
///
/// ```
/// use rustlite_engine::codec::record::{encode_record, read_records};
/// let mut buf = Vec::new();
/// encode_record(&mut buf, 1, b"abc")?;
/// let recs = read_records(&buf, "example")?;
/// assert_eq!(recs.records.len(), 1);
/// assert_eq!(recs.payload(&buf, 0), Some(&b"abc"[..]));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn encode_record(out: &mut Vec<u8>, rtype: u8, payload: &[u8]) -> Result<()> {
    out.reserve(HEADER_LEN + payload.len());
    let start = begin_record(out);
    out.extend_from_slice(payload);
    finish_record(out, start, rtype)
}

/// Starts a record in place: appends a header placeholder to `out` and returns the record's
/// start offset. Append the payload to `out`, then call [`finish_record`] with that offset.
/// This frames a payload without copying it (the WAL encodes batches this way).
///
/// ```
/// use rustlite_engine::codec::record::{begin_record, finish_record, read_records};
/// let mut buf = Vec::new();
/// let start = begin_record(&mut buf);
/// buf.extend_from_slice(b"payload");
/// finish_record(&mut buf, start, 1)?;
/// assert_eq!(read_records(&buf, "x")?.payload(&buf, 0), Some(&b"payload"[..]));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn begin_record(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    start
}

/// Completes the record begun at `start` by [`begin_record`]: everything in `out` after its
/// header is the payload. On error (type 0, payload over [`MAX_RECORD_LEN`], bad `start`) `out`
/// is truncated back to `start` and [`Error::InvalidArgument`] is returned.
pub fn finish_record(out: &mut Vec<u8>, start: usize, rtype: u8) -> Result<()> {
    let result = fill_header(out, start, rtype);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn fill_header(out: &mut [u8], start: usize, rtype: u8) -> Result<()> {
    if rtype == 0 {
        return Err(Error::InvalidArgument("record type 0 is reserved".into()));
    }
    let record = out
        .get_mut(start..)
        .filter(|r| r.len() >= HEADER_LEN)
        .ok_or_else(|| Error::InvalidArgument("finish_record: no header at start".into()))?;
    let len32 = check_len(record.len() - HEADER_LEN)?;
    let (crc_field, rest) = record.split_at_mut(4);
    let (len_field, rest) = rest.split_at_mut(4);
    len_field.copy_from_slice(&len32.to_le_bytes());
    if let Some(t) = rest.first_mut() {
        *t = rtype;
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len_field);
    hasher.update(rest);
    crc_field.copy_from_slice(&hasher.finalize().to_le_bytes());
    Ok(())
}

/// The payload length as the header's `u32`, if it is within [`MAX_RECORD_LEN`].
fn check_len(len: usize) -> Result<u32> {
    u32::try_from(len)
        .ok()
        .filter(|&l| l as usize <= MAX_RECORD_LEN)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "record payload of {len} bytes exceeds the {MAX_RECORD_LEN}-byte limit"
            ))
        })
}

/// One record found by [`read_records`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The record's type byte (never 0).
    pub rtype: u8,
    /// Offset of the record's header in the buffer (for error messages).
    pub offset: u64,
    /// Where the payload lies in the buffer that was read.
    pub payload: Range<usize>,
}

/// What [`read_records`] found in a buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Records {
    /// The valid records, in file order.
    pub records: Vec<Record>,
    /// Length of the valid prefix: the end of the last valid record.
    pub valid_len: u64,
    /// Whether bytes after `valid_len` were dropped as a torn tail.
    pub torn_tail: bool,
}

impl Records {
    /// The payload of record `i`, sliced out of `buf` (the buffer that was read).
    pub fn payload<'a>(&self, buf: &'a [u8], i: usize) -> Option<&'a [u8]> {
        buf.get(self.records.get(i)?.payload.clone())
    }
}

/// Reads every record of a framed file held whole in `buf`. `file` names it in errors.
///
/// Returns the valid records and, if the buffer ends in a torn write, where the valid prefix
/// ends; fails with [`Error::Corruption`] if damage is followed by a valid record (see the
/// module docs for the rule). Payloads are ranges into `buf`: nothing is copied.
pub fn read_records(buf: &[u8], file: &str) -> Result<Records> {
    let (records, damage) = scan_records(buf);
    match damage {
        Some(d) => Err(d.into_error(file)),
        None => Ok(records),
    }
}

/// Damage that valid records follow (what [`read_records`] reports as corruption).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the first unusable record.
    pub offset: u64,
    /// Why it is unusable.
    pub reason: &'static str,
    /// Every valid record found after it, in file order (never empty).
    pub after: Vec<Record>,
}

impl Damage {
    /// The [`Error::Corruption`] this damage is, in `file`.
    pub fn into_error(self, file: &str) -> Error {
        let next = self.after.first().map_or(0, |r| r.offset);
        Error::corruption(
            file,
            self.offset,
            format!("{}; a valid record follows at offset {next}", self.reason),
        )
    }
}

/// Like [`read_records`], but damage followed by valid records is returned for the caller to
/// judge instead of failing: the WAL tells a torn overwrite of unsynced records (a page written
/// back before an earlier one) from corruption by what the later records say. `records` then
/// holds the valid prefix, with `torn_tail` set and `valid_len` at the damage.
///
/// ```
/// use rustlite_engine::codec::record::{encode_record, scan_records};
/// let mut buf = Vec::new();
/// encode_record(&mut buf, 1, b"first")?;
/// let damaged = buf.len();
/// encode_record(&mut buf, 1, b"second")?;
/// encode_record(&mut buf, 1, b"third")?;
/// buf[damaged + 9] ^= 1; // a payload byte of the second record
/// let (records, damage) = scan_records(&buf);
/// assert_eq!((records.records.len(), records.valid_len), (1, damaged as u64));
/// let damage = damage.expect("a valid record follows the damage");
/// assert_eq!((damage.offset, damage.after.len()), (damaged as u64, 1));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn scan_records(buf: &[u8]) -> (Records, Option<Damage>) {
    let mut out = Records::default();
    let mut pos = 0usize;
    let mut damage = None;
    while pos < buf.len() {
        match probe(buf, pos) {
            Ok(record) => {
                pos = record.payload.end;
                out.records.push(record);
            }
            Err(reason) => {
                out.torn_tail = true;
                let after = valid_records_from(buf, pos + 1);
                if !after.is_empty() {
                    damage = Some(Damage {
                        offset: pos as u64,
                        reason,
                        after,
                    });
                }
                break;
            }
        }
    }
    out.valid_len = pos as u64;
    (out, damage)
}

/// Every valid record starting at or after `from`: the first one found at any offset, then
/// record by record, searching again past any further damage. Linear in `buf` (see [`Resync`]).
fn valid_records_from(buf: &[u8], from: usize) -> Vec<Record> {
    let mut found = Vec::new();
    let mut resync = Resync::new(buf);
    let mut pos = from;
    while pos < buf.len() {
        match resync.record_at(pos) {
            Some(record) => {
                pos = record.payload.end;
                found.push(record);
            }
            None => pos += 1,
        }
    }
    found
}

/// Checks the record at `pos`, returning it if valid or why not.
fn probe(buf: &[u8], pos: usize) -> std::result::Result<Record, &'static str> {
    let header = pos
        .checked_add(HEADER_LEN)
        .and_then(|end| buf.get(pos..end))
        .ok_or("truncated record header")?;
    let (crc, rest) = header.split_at(4);
    let (len, rtype) = rest.split_at(4);
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| "bad header")?);
    let len = u32::from_le_bytes(len.try_into().map_err(|_| "bad header")?) as usize;
    let rtype = *rtype.first().ok_or("bad header")?;
    if len > MAX_RECORD_LEN {
        return Err("record length exceeds the maximum");
    }
    let start = pos + HEADER_LEN;
    let end = start + len;
    let covered = buf
        .get(pos + 4..end)
        .ok_or("record runs past the end of the file")?;
    if crc32fast::hash(covered) != crc {
        return Err("record checksum mismatch");
    }
    if rtype == 0 {
        return Err("record type 0 is reserved");
    }
    Ok(Record {
        rtype,
        offset: pos as u64,
        payload: start..end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use resync::{Resync, CHECKSUMMED};
    use std::cell::Cell;

    /// Three records; returns the buffer and the start offset of each.
    fn three() -> (Vec<u8>, [usize; 3]) {
        let mut buf = Vec::new();
        let a = buf.len();
        encode_record(&mut buf, 1, b"first record").expect("encode");
        let b = buf.len();
        encode_record(&mut buf, 2, &[7u8; 100]).expect("encode");
        let c = buf.len();
        encode_record(&mut buf, 1, b"third").expect("encode");
        (buf, [a, b, c])
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn golden_bytes() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 1, b"abc").expect("encode");
        // crc32(03000000 01 616263) = 0x9974273f, little-endian.
        assert_eq!(hex(&buf), "3f2774990300000001616263");
    }

    #[test]
    fn round_trip() {
        let (buf, starts) = three();
        let recs = read_records(&buf, "f").expect("read");
        assert!(!recs.torn_tail);
        assert_eq!(recs.valid_len, buf.len() as u64);
        let types: Vec<u8> = recs.records.iter().map(|r| r.rtype).collect();
        assert_eq!(types, [1, 2, 1]);
        let offsets: Vec<u64> = recs.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, starts.map(|s| s as u64));
        assert_eq!(recs.payload(&buf, 0), Some(&b"first record"[..]));
        assert_eq!(recs.payload(&buf, 1), Some(&[7u8; 100][..]));
        assert_eq!(recs.payload(&buf, 2), Some(&b"third"[..]));
        assert_eq!(recs.payload(&buf, 3), None);
    }

    #[test]
    fn empty_buffer_and_empty_payload() {
        assert_eq!(read_records(&[], "f").expect("read"), Records::default());
        let mut buf = Vec::new();
        encode_record(&mut buf, 9, b"").expect("encode");
        assert_eq!(buf.len(), HEADER_LEN);
        let recs = read_records(&buf, "f").expect("read");
        assert_eq!(recs.records.len(), 1);
        assert_eq!(recs.payload(&buf, 0), Some(&b""[..]));
    }

    #[test]
    fn refuses_type_zero_and_oversized_payloads() {
        let mut buf = vec![1, 2, 3];
        assert!(matches!(
            encode_record(&mut buf, 0, b"x"),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(buf, [1, 2, 3]);
        // An oversized payload, checked without allocating 256 MiB: a fake header length.
        let mut hdr = [0u8; HEADER_LEN + 4];
        assert!(fill_header(&mut hdr, 0, 1).is_ok());
        assert!(matches!(
            fill_header(&mut hdr, 5, 1),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(check_len(MAX_RECORD_LEN).ok(), Some(MAX_RECORD_LEN as u32));
        assert!(matches!(
            check_len(MAX_RECORD_LEN + 1),
            Err(Error::InvalidArgument(_))
        ));
        assert!(check_len(usize::MAX).is_err());
    }

    #[test]
    fn zero_header_is_not_a_record() {
        assert_ne!(crc32fast::hash(&[0u8; 5]), 0);
        let recs = read_records(&[0u8; HEADER_LEN], "f").expect("read");
        assert!(recs.torn_tail);
        assert_eq!(recs.valid_len, 0);
    }

    #[test]
    fn torn_at_every_offset_of_the_last_record() {
        let (buf, [_, _, last]) = three();
        for cut in last..buf.len() {
            let recs = read_records(&buf[..cut], "f").expect("torn tail is not corruption");
            assert_eq!(recs.records.len(), 2, "cut at {cut}");
            assert_eq!(recs.valid_len, last as u64, "cut at {cut}");
            assert_eq!(recs.torn_tail, cut > last, "cut at {cut}");
        }
    }

    #[test]
    fn zero_filled_tail_is_torn() {
        let (buf, _) = three();
        for n in 1..200 {
            let mut b = buf.clone();
            b.resize(buf.len() + n, 0);
            let recs = read_records(&b, "f").expect("zero tail");
            assert_eq!(recs.records.len(), 3);
            assert_eq!(recs.valid_len, buf.len() as u64);
            assert!(recs.torn_tail);
        }
    }

    #[test]
    fn any_flipped_bit_in_a_middle_record_is_corruption_at_its_offset() {
        let (buf, [_, mid, last]) = three();
        for i in mid..last {
            for bit in 0..8 {
                let mut b = buf.clone();
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << bit;
                }
                match read_records(&b, "000001.wal") {
                    Err(Error::Corruption { file, offset, .. }) => {
                        assert_eq!(file, "000001.wal");
                        assert_eq!(offset, mid as u64, "byte {i} bit {bit}");
                    }
                    other => panic!("byte {i} bit {bit}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn flipped_bit_in_the_last_record_reads_as_torn_tail() {
        let (mut buf, [_, _, last]) = three();
        if let Some(x) = buf.last_mut() {
            *x ^= 1;
        }
        let recs = read_records(&buf, "f").expect("read");
        assert_eq!(recs.records.len(), 2);
        assert_eq!(recs.valid_len, last as u64);
        assert!(recs.torn_tail);
    }

    #[test]
    fn max_len_field_is_never_allocated() {
        // A header claiming 0xFFFF_FFFF bytes: at the tail it is torn ...
        let (buf, _) = three();
        let mut b = buf.clone();
        b.extend_from_slice(&[0xAA, 0xBB, 0xCC, 0xDD, 0xFF, 0xFF, 0xFF, 0xFF, 1]);
        let recs = read_records(&b, "f").expect("read");
        assert_eq!((recs.records.len(), recs.torn_tail), (3, true));
        // ... and followed by a valid record it is corruption at its offset.
        let mut c = vec![0xAA, 0xBB, 0xCC, 0xDD, 0xFF, 0xFF, 0xFF, 0xFF, 1];
        c.extend_from_slice(&buf);
        assert!(matches!(
            read_records(&c, "f"),
            Err(Error::Corruption { offset: 0, .. })
        ));
        // A length just over the maximum whose bytes are all present is still refused.
        let mut d = Vec::new();
        let start = begin_record(&mut d);
        d.resize(HEADER_LEN + 16, 0);
        finish_record(&mut d, start, 1).expect("finish");
        if let Some(len) = d.get_mut(4..8) {
            len.copy_from_slice(&((MAX_RECORD_LEN as u32) + 1).to_le_bytes());
        }
        assert!(probe(&d, 0).is_err());
    }

    /// A valid record, a damaged one, `size` bytes in all of `word` repeated, then (if `tail`)
    /// a valid record. Returns the buffer and the damaged record's offset.
    fn damaged_then_words(word: u32, size: usize, tail: bool) -> (Vec<u8>, usize) {
        let mut buf = Vec::new();
        encode_record(&mut buf, 1, b"first").expect("encode");
        let damaged = buf.len();
        encode_record(&mut buf, 1, b"damaged").expect("encode");
        if let Some(x) = buf.get_mut(damaged + HEADER_LEN) {
            *x ^= 1;
        }
        while buf.len() < size {
            buf.extend_from_slice(&word.to_le_bytes());
        }
        if tail {
            encode_record(&mut buf, 1, b"last").expect("encode");
        }
        (buf, damaged)
    }

    /// Runs `scan_records`, returning its result and the bytes the resync checksummed.
    fn scan_counted(buf: &[u8]) -> ((Records, Option<Damage>), usize) {
        CHECKSUMMED.with(|c| c.set(0));
        let result = scan_records(buf);
        (result, CHECKSUMMED.with(Cell::get))
    }

    #[test]
    fn resync_cost_is_linear_after_damage_before_long_length_words() {
        // Every offset after the damage reads a length word: 0x0001_0000 (64 KiB, type byte
        // 0 at those offsets) or 0x0001_0001 (64 KiB at every other offset, type 1). Checking
        // each candidate by checksumming its length took 45 s for 1 MiB (quadratic).
        for word in [0x0001_0000, 0x0001_0001] {
            for size in [1 << 20, 2 << 20, 4 << 20] {
                let (buf, damaged) = damaged_then_words(word, size, false);
                let ((records, damage), cost) = scan_counted(&buf);
                assert_eq!(damage, None, "{word:#x} {size}: nothing valid follows");
                assert_eq!(records.records.len(), 1);
                assert_eq!(records.valid_len, damaged as u64);
                assert!(records.torn_tail);
                assert!(
                    cost <= 4 * buf.len(),
                    "{word:#x} {size}: {cost} bytes checksummed"
                );

                let (buf, damaged) = damaged_then_words(word, size, true);
                let ((records, damage), cost) = scan_counted(&buf);
                let damage = damage.expect("the last record follows the damage");
                assert_eq!(damage.offset, damaged as u64);
                let offsets: Vec<u64> = damage.after.iter().map(|r| r.offset).collect();
                assert_eq!(offsets, [(buf.len() - HEADER_LEN - 4) as u64]);
                assert_eq!(
                    (records.records.len(), records.valid_len),
                    (1, damaged as u64)
                );
                assert!(
                    cost <= 4 * buf.len(),
                    "{word:#x} {size}: {cost} bytes checksummed"
                );
            }
        }
    }

    /// Records of `lens`, each damaged or not by `flips`, with `gap` junk bytes before each.
    fn records_with_gaps(lens: &[usize], flips: &[Option<usize>], gap: u8) -> Vec<u8> {
        let mut buf = Vec::new();
        for (i, (&len, flip)) in lens.iter().zip(flips).enumerate() {
            buf.extend((0..gap).map(|j| j.wrapping_mul(31) ^ i as u8));
            let start = buf.len();
            let payload: Vec<u8> = (0..len).map(|j| (j % 251) as u8 ^ gap).collect();
            encode_record(&mut buf, 1 + (i % 3) as u8, &payload).expect("encode");
            if let Some(x) = flip.and_then(|f| buf.get_mut(start + f % (HEADER_LEN + len))) {
                *x ^= 0x10;
            }
        }
        buf
    }

    proptest! {
        #[test]
        fn resync_agrees_with_probe_at_every_offset(
            lens in proptest::collection::vec(0usize..300, 1..6),
            flips in proptest::collection::vec(proptest::option::of(0usize..400), 6),
            gap in 0u8..20,
            cut in 0usize..64,
        ) {
            let mut buf = records_with_gaps(&lens, &flips, gap);
            buf.truncate(buf.len().saturating_sub(cut));
            let mut resync = Resync::new(&buf);
            for pos in 0..buf.len() + 2 {
                prop_assert_eq!(resync.record_at(pos), probe(&buf, pos).ok(), "at {}", pos);
            }
        }

        #[test]
        fn garbage_tail_is_torn(garbage in proptest::collection::vec(any::<u8>(), 1..600)) {
            let (buf, _) = three();
            let mut b = buf.clone();
            b.extend_from_slice(&garbage);
            let recs = read_records(&b, "f").expect("garbage tail");
            prop_assert_eq!(recs.records.len(), 3);
            prop_assert_eq!(recs.valid_len, buf.len() as u64);
            prop_assert!(recs.torn_tail);
        }

        #[test]
        fn never_panics_on_arbitrary_input(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(recs) = read_records(&data, "f") {
                prop_assert!(recs.valid_len <= data.len() as u64);
                for i in 0..recs.records.len() {
                    prop_assert!(recs.payload(&data, i).is_some());
                }
            }
        }
    }
}
