//! Corruption tests for the table format: every byte flipped, truncations, huge length fields
//! and unknown versions. Each must end in `Error::Corruption` (or `UnsupportedVersion`) or in
//! correct data: never a panic, an abort on a huge allocation, or a wrong value.

use super::block::BlockHandle;
use super::bloom::FilterKind;
use super::testutil::{
    build, collect, model_get, model_iter, open, small_blocks, to_entries, versions,
};
use super::testutil::{Entries, MemFile, Version};
use super::{TableOptions, FOOTER_HANDLES_LEN, FOOTER_LEN, FORMAT_VERSION, TABLE_MAGIC};
use crate::codec::varint::Reader;
use crate::error::Error;
use crate::lsm::ikey::MAX_SEQNO;
use crate::lsm::iter::{Direction, InternalIterator};

/// Runs every read operation on `bytes`; each must give the right answer or Corruption.
/// Returns whether any operation reported Corruption.
fn check_damaged(bytes: Vec<u8>, vs: &[Version], entries: &Entries) -> bool {
    let is_corruption =
        |e: &Error| matches!(e, Error::Corruption { file, .. } if file == "test.sst");
    let file = MemFile::from_bytes(bytes);
    let table = match open(&file, 1 << 20) {
        Ok(t) => t,
        Err(e) => {
            assert!(is_corruption(&e), "open: {e:?}");
            return true;
        }
    };
    let mut detected = false;
    let mut keys: Vec<&Vec<u8>> = vs.iter().map(|v| &v.0).collect();
    keys.dedup();
    for key in keys {
        for snap in [MAX_SEQNO, 20, 0] {
            match table.get(key, snap) {
                Ok(got) => assert_eq!(got, model_get(vs, key, snap), "wrong value"),
                Err(e) => {
                    assert!(is_corruption(&e), "get: {e:?}");
                    detected = true;
                }
            }
        }
    }
    for dir in [Direction::Forward, Direction::Reverse] {
        let want = model_iter(entries, dir, None);
        let mut got = Vec::new();
        match table.iter(dir, None) {
            Ok(mut it) => {
                while it.valid() {
                    got.push((it.key().to_vec(), it.value().to_vec()));
                    if let Err(e) = it.advance() {
                        assert!(is_corruption(&e), "advance: {e:?}");
                        detected = true;
                        break;
                    }
                }
                assert_eq!(got[..], want[..got.len()], "wrong entries");
            }
            Err(e) => {
                assert!(is_corruption(&e), "iter: {e:?}");
                detected = true;
            }
        }
    }
    match table.verify() {
        Ok(n) => assert_eq!(n, entries.len() as u64),
        Err(e) => {
            assert!(is_corruption(&e), "verify: {e:?}");
            detected = true;
        }
    }
    detected
}

#[test]
fn every_byte_flipped_is_detected_never_misread() {
    let vs = versions(24);
    let entries = to_entries(&vs);
    let opts = TableOptions {
        block_size: 128,
        restart_interval: 3,
        bloom_bits_per_key: 10,
    };
    let (file, _) = build(&entries, opts);
    let good = file.bytes();
    assert!(!check_damaged(good.clone(), &vs, &entries));
    for i in 0..good.len() {
        for mask in [0x01u8, 0xFF] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            // Every byte is under a checksum, so verify (at least) must notice.
            assert!(
                check_damaged(bad, &vs, &entries),
                "flip at {i} went unnoticed"
            );
        }
    }
}

#[test]
fn large_table_sampled_flips() {
    let vs = versions(400);
    let entries = to_entries(&vs);
    let (file, _) = build(&entries, small_blocks());
    let good = file.bytes();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..150 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % good.len() as u64) as usize;
        let mut bad = good.clone();
        bad[i] ^= 1 << (x % 8);
        assert!(
            check_damaged(bad, &vs, &entries),
            "flip at {i} went unnoticed"
        );
    }
}

#[test]
fn truncated_files_are_corruption() {
    let vs = versions(30);
    let (file, _) = build(&to_entries(&vs), small_blocks());
    let good = file.bytes();
    for n in 0..good.len() {
        let r = open(&MemFile::from_bytes(good[..n].to_vec()), 1 << 20);
        assert!(
            matches!(r, Err(Error::Corruption { .. })),
            "truncated to {n}: {r:?}"
        );
    }
}

/// Rewrites the footer of `bytes` with `handles` (raw bytes) and `version`, and a valid crc.
fn reseal(bytes: &mut Vec<u8>, handles: &[u8], version: u32) {
    let at = bytes.len() - FOOTER_LEN;
    let mut footer = handles.to_vec();
    footer.resize(FOOTER_HANDLES_LEN, 0);
    footer.extend_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&footer);
    footer.extend_from_slice(&crc.to_le_bytes());
    footer.extend_from_slice(&TABLE_MAGIC.to_le_bytes());
    bytes.splice(at.., footer);
}

fn footer_handles(bytes: &[u8]) -> (BlockHandle, BlockHandle, u64) {
    let at = bytes.len() - FOOTER_LEN;
    let mut r = Reader::new(&bytes[at..]);
    let f = BlockHandle::decode_from(&mut r).expect("filter");
    let i = BlockHandle::decode_from(&mut r).expect("index");
    (f, i, r.u64().expect("entries"))
}

#[test]
fn unknown_version_is_reported() {
    let (file, _) = build(&to_entries(&versions(10)), TableOptions::default());
    let bytes = file.bytes();
    let at = bytes.len() - FOOTER_LEN;
    let handles = bytes[at..at + FOOTER_HANDLES_LEN].to_vec();
    for version in [0, 3, u32::MAX] {
        let mut bytes = bytes.clone();
        reseal(&mut bytes, &handles, version);
        let r = open(&MemFile::from_bytes(bytes), 1 << 20);
        assert!(
            matches!(
                r,
                Err(Error::UnsupportedVersion {
                    found,
                    supported: 2,
                    ..
                }) if found == version
            ),
            "{r:?}"
        );
    }
}

#[test]
fn huge_lengths_are_errors_not_aborts() {
    let (file, _) = build(&to_entries(&versions(50)), small_blocks());
    let good = file.bytes();
    let (f, i, entries) = footer_handles(&good);
    let huge = [
        u64::MAX,
        u64::MAX - 3,
        0xFFFF_FFFF,
        1 << 40,
        good.len() as u64,
    ];
    let mut cases = Vec::new();
    for &h in &huge {
        for which in 0..5 {
            let mut fields = [f.offset, f.size, i.offset, i.size, entries];
            fields[which] = h;
            let mut raw = Vec::new();
            for v in fields {
                crate::codec::varint::put_u64(&mut raw, v);
            }
            cases.push(raw);
        }
    }
    // Over-long varints in the footer.
    cases.push(vec![0xFF; FOOTER_HANDLES_LEN]);
    for raw in cases {
        let mut bytes = good.clone();
        reseal(&mut bytes, &raw, FORMAT_VERSION);
        match open(&MemFile::from_bytes(bytes), 1 << 20) {
            // A plausible but wrong entry count is only caught by verify.
            Ok(t) => assert!(
                matches!(t.verify(), Err(Error::Corruption { .. })),
                "{raw:?}"
            ),
            Err(e) => assert!(matches!(e, Error::Corruption { .. }), "{raw:?}: {e:?}"),
        }
    }
    // A data block claiming 0xFFFF_FFFF restarts, with a valid crc: caught on read.
    let mut bytes = good.clone();
    let mut it_bytes = bytes.clone();
    let table = open(&MemFile::from_bytes(good.clone()), 1 << 20).expect("open");
    let h = table.index().handle(1).expect("handle");
    let (start, end) = (h.offset as usize, (h.offset + h.size) as usize);
    bytes[end - 4..end].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[start..end]);
    bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    let t = open(&MemFile::from_bytes(bytes), 1 << 20).expect("first block intact");
    assert!(matches!(t.verify(), Err(Error::Corruption { offset, .. }) if offset == h.offset));
    // And a huge key length inside that block (valid crc).
    it_bytes[start + 1] = 0xFF;
    it_bytes[start + 2] = 0xFF;
    let crc = crc32fast::hash(&it_bytes[start..end]);
    it_bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    let t = open(&MemFile::from_bytes(it_bytes), 1 << 20).expect("first block intact");
    assert!(matches!(t.verify(), Err(Error::Corruption { .. })));
    let mut it = t
        .iter(Direction::Forward, None)
        .expect("first block intact");
    let mut result = Ok(());
    while it.valid() && result.is_ok() {
        result = it.advance();
    }
    assert!(matches!(result, Err(Error::Corruption { .. })));
    assert!(!it.valid());
}

/// Format v1 (classic bloom filter), as written before 2026-11-26: a table of `("a", seq 2,
/// Put, "x")` and `("b", seq 1, Delete)` at 10 bloom bits per key. Must keep opening.
const GOLDEN_V1: &str = concat!(
    "000a0161fffffffffffffffd0178000a0062fffffffffffffffe000000000001",
    "0000009134d170024c20a24010018c07f645de2d000a0262fffffffffffffffe",
    "0000230000000001000000cc1303712709341702000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000001",
    "0000000d2a9d3d524c697465535354",
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn golden_entries() -> Vec<Version> {
    use crate::lsm::ikey::Kind;
    vec![
        (b"a".to_vec(), 2, Kind::Put, b"x".to_vec()),
        (b"b".to_vec(), 1, Kind::Delete, Vec::new()),
    ]
}

/// Format v2 (blocked bloom filter) pinned byte for byte: the same table as [`GOLDEN_V1`]. A
/// change here is a format change: bump `FORMAT_VERSION`, keep the v1 and v2 fixtures opening,
/// and update docs/FORMAT.md.
const GOLDEN_V2: &str = concat!(
    "000a0161fffffffffffffffd0178000a0062fffffffffffffffe000000000001",
    "0000009134d17020000000010000004000000020000000000000010000000020",
    "0000000000000000000088000000000000000000000000000180000400000000",
    "000000000000400682fe4c1a000a0262fffffffffffffffe0000230000000001",
    "000000cc13037127416c17020000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000002000000f5a08af352",
    "4c697465535354",
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn format_v2_golden_bytes() {
    let (file, _) = build(&to_entries(&golden_entries()), TableOptions::default());
    assert_eq!(hex(&file.bytes()), GOLDEN_V2);
}

#[test]
fn format_v1_and_v2_goldens_open() -> crate::Result<()> {
    for (golden, version, kind) in [
        (GOLDEN_V1, 1, FilterKind::Classic),
        (GOLDEN_V2, 2, FilterKind::Blocked),
    ] {
        let bytes = unhex(golden);
        let at = bytes.len() - FOOTER_LEN + FOOTER_HANDLES_LEN;
        assert_eq!(bytes[at..at + 4], u32::to_le_bytes(version));
        let table = open(&MemFile::from_bytes(bytes), 1 << 20)?;
        assert_eq!(table.filter_kind(), Some(kind));
        let vs = golden_entries();
        for (k, _, _, _) in &vs {
            assert_eq!(table.get(k, MAX_SEQNO)?, model_get(&vs, k, MAX_SEQNO));
        }
        assert_eq!(table.get(b"c", MAX_SEQNO)?, None);
        assert_eq!(table.verify()?, 2);
    }
    Ok(())
}

/// A format-v1 table (classic bloom filter) of `versions(300)` with `small_blocks()`, written by
/// the builder of 2026-11-26 before the blocked filter: every key at every snapshot reads as
/// the model says, through the classic filter, and absent keys are mostly rejected by it.
#[test]
fn format_v1_fixture_reads_every_key() -> crate::Result<()> {
    let bytes = include_bytes!("fixtures/v1_classic_bloom.sst").to_vec();
    let table = open(&MemFile::from_bytes(bytes), 1 << 20)?;
    assert_eq!(table.filter_kind(), Some(FilterKind::Classic));
    let vs = versions(300);
    assert_eq!(table.verify()?, vs.len() as u64);
    let mut rejected = 0;
    for i in 0..300usize {
        let key = format!("key{:06}", i * 2).into_bytes();
        assert!(table.may_contain(&key));
        let base = (i as u64) * 10;
        for snap in [0, base, base + 1, base + 4, base + 7, MAX_SEQNO] {
            assert_eq!(
                table.get(&key, snap)?,
                model_get(&vs, &key, snap),
                "{i}@{snap}"
            );
        }
        let missing = format!("key{:06}", i * 2 + 1).into_bytes();
        rejected += usize::from(!table.may_contain(&missing));
        assert_eq!(table.get(&missing, MAX_SEQNO)?, None);
    }
    assert!(rejected > 280, "{rejected} of 300 absent keys rejected");
    let mut it = table.iter(Direction::Forward, None)?;
    assert_eq!(collect(&mut it, usize::MAX)?, to_entries(&vs));
    Ok(())
}

/// Bit flips in a v2 table's filter block (crc recomputed, so the decoder sees them): open
/// fails with `Corruption` at the filter's offset, or the table opens and answers every
/// lookup without panicking (a flipped filter bit may turn a present key into a miss: the crc
/// is what catches that in a real file).
#[test]
fn corrupted_blocked_filter_is_corruption_or_harmless() {
    let (file, _) = build(&to_entries(&versions(200)), small_blocks());
    let good = file.bytes();
    let (f, _, _) = footer_handles(&good);
    let (start, end) = (f.offset as usize, (f.offset + f.size) as usize);
    let mut errors = 0;
    for pos in (start..end).step_by(7).chain([end - 1]) {
        for flip in [0x01u8, 0x40, 0xFF] {
            let mut bytes = good.clone();
            bytes[pos] ^= flip;
            let crc = crc32fast::hash(&bytes[start..end]);
            bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
            match open(&MemFile::from_bytes(bytes), 1 << 20) {
                Ok(t) => {
                    for i in 0..50 {
                        let _ = t.get(format!("key{:06}", i).as_bytes(), MAX_SEQNO);
                    }
                }
                Err(Error::Corruption { offset, .. }) => {
                    assert_eq!(offset, f.offset);
                    errors += 1;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    }
    // Only the k byte is checked by the decoder: 0 and values above 30 fail.
    assert!(errors >= 2, "{errors}");
}

/// Keys out of order inside a data block whose crc is valid (only a writer bug makes one): a
/// block load does not check key order, so reads may miss but never panic or misreport an
/// error, and `verify` reports it.
#[test]
fn misordered_keys_with_a_valid_crc_are_caught_by_verify() {
    let vs = versions(50);
    let (file, _) = build(&to_entries(&vs), small_blocks());
    let mut bytes = file.bytes();
    let table = open(&MemFile::from_bytes(bytes.clone()), 1 << 20).expect("open");
    let h = table.index().handle(1).expect("handle");
    let (start, end) = (h.offset as usize, (h.offset + h.size) as usize);
    let block = &bytes[start..end];
    let restarts = u32::from_le_bytes(block[block.len() - 4..].try_into().expect("4 bytes"));
    assert!(restarts >= 2, "block 1 has {restarts} restarts");
    let at = block.len() - 4 - 4 * restarts as usize + 4;
    let second = u32::from_le_bytes(block[at..at + 4].try_into().expect("4 bytes")) as usize;
    // A restart entry shares nothing: [0][unshared][value_len][key...]; each length is one byte
    // here. Its first key byte becomes 0, below every key before it ("key...").
    assert_eq!(block[second], 0, "restart entry shares a prefix");
    bytes[start + second + 3] = 0;
    let crc = crc32fast::hash(&bytes[start..end]);
    bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());

    let t = open(&MemFile::from_bytes(bytes), 1 << 20).expect("open");
    assert!(matches!(t.verify(), Err(Error::Corruption { offset, .. }) if offset == h.offset));
    for (key, _, _, _) in &vs {
        let _ = t.get(key, MAX_SEQNO).expect("a read of a crc-valid block");
    }
    for dir in [Direction::Forward, Direction::Reverse] {
        let mut it = t.iter(dir, None).expect("iter");
        let mut n = 0;
        while it.valid() {
            it.advance().expect("advance");
            n += 1;
        }
        assert_eq!(n, vs.len(), "{dir:?}: every entry is still visited once");
    }
}
