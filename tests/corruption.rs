//! Damaged files: random bit flips and bursts in WALs, SSTables, the manifest and `CURRENT`,
//! huge length fields, compaction over a corrupt input, and `verify()`'s report.
//!
//! Every case opens a copy of a small database held in a [`MemStorage`] (fast: no disk) and
//! damages one file of the copy. The promise checked is the same everywhere: **the engine
//! returns the right data or [`Error::Corruption`], never a wrong value, never a panic**; and
//! where the damage must be found (anything but a torn WAL or manifest tail), it is found and
//! reported with the file and the offset of the damaged record or block.
//!
//! - WAL flips (`wal_*`): damage in any record but the last must fail `open` with `Corruption`
//!   at that record's offset. Damage in the last record is indistinguishable from a torn write
//!   (the crash cut the append short, so it was never acknowledged): recovery must then end
//!   exactly at the previous record. Counted separately.
//! - SSTable flips (`sstable_*`): data, filter, index and footer blocks in turn; `open`, `get`
//!   of every key, a full scan and `verify` must each return the right data or `Corruption`,
//!   and at least one of them must report the damage.
//! - Manifest and `CURRENT` flips: `open` fails with `Corruption` or yields exactly the right data.
//!
//! Counts: CI runs 2,000 WAL flips, 200 WAL bursts and 2,000 SSTable flips; `RUSTLITE_LONG=1`
//! runs 10,000 flips, 1,000 bursts and 20,000 SSTable flips (`cargo test --release --test
//! corruption` keeps the long mode to a few minutes).

use rustlite_engine::codec::record;
use rustlite_engine::codec::varint;
use rustlite_engine::lsm::manifest::{Edit, VersionEdit, EDIT_RECORD};
use rustlite_engine::lsm::sstable::{FOOTER_HANDLES_LEN, FOOTER_LEN, FORMAT_VERSION, TABLE_MAGIC};
use rustlite_engine::storage::{MemStorage, Storage};
use rustlite_engine::{Direction, Engine, Error, Options, WriteBatch};
use rustlite_suite::{long_mode, Rng};
use std::collections::BTreeMap;
use std::ops::{Bound, Range};
use std::sync::Arc;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn opts() -> Options {
    Options {
        memtable_size: 16 << 10,
        block_size: 512,
        l0_compaction_trigger: 4,
        l1_target_size: 64 << 10,
        target_file_size: 16 << 10,
        block_cache_size: 256 << 10,
        background_compaction: false,
        ..Options::default()
    }
}

/// A deep copy of `src` (a `MemStorage` clone would share the files).
fn deep_copy(src: &MemStorage) -> MemStorage {
    let out = MemStorage::new();
    for name in src.list().expect("list") {
        let data = src.read_all(&name).expect("read");
        out.create(&name)
            .expect("create")
            .append(&data)
            .expect("append");
    }
    out
}

/// A copy of `src` with file `name` replaced by `data`.
fn with_file(src: &MemStorage, name: &str, data: &[u8]) -> MemStorage {
    let out = deep_copy(src);
    out.create(name)
        .expect("create")
        .append(data)
        .expect("write");
    out
}

fn open(storage: &MemStorage) -> rustlite_engine::Result<Engine> {
    Engine::open_with_storage(Arc::new(storage.clone()), opts())
}

fn read_all(engine: &Engine) -> rustlite_engine::Result<Model> {
    engine
        .scan(Bound::Unbounded, Bound::Unbounded, Direction::Forward)?
        .collect()
}

fn files(storage: &MemStorage, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = storage
        .list()
        .expect("list")
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn manifest_name(storage: &MemStorage) -> String {
    files(storage, "")
        .into_iter()
        .find(|n| n.starts_with("MANIFEST-"))
        .expect("a manifest")
}

fn is_corruption(e: &Error) -> bool {
    matches!(e, Error::Corruption { .. })
}

// ---- WAL ------------------------------------------------------------------------------------

/// A closed database whose WAL holds `commits` batches (the memtable never fills), the WAL's
/// name, and the model state after each prefix of the commits.
fn wal_db(commits: usize) -> (MemStorage, String, Vec<Model>) {
    let storage = MemStorage::new();
    let o = Options {
        memtable_size: 64 << 20,
        ..opts()
    };
    let engine = Engine::open_with_storage(Arc::new(storage.clone()), o).expect("open");
    let mut rng = Rng(7);
    let mut model = Model::new();
    let mut states = vec![model.clone()];
    for c in 0..commits {
        let mut batch = WriteBatch::new();
        for _ in 0..1 + rng.below(8) {
            let key = format!("key{:03}", rng.below(100)).into_bytes();
            let value = vec![b'a' + (c % 26) as u8; 1 + rng.below(60) as usize];
            batch.put(&key, &value);
            model.insert(key, value);
        }
        engine.write(batch).expect("write");
        states.push(model.clone());
    }
    drop(engine);
    let wal = files(&storage, ".wal").pop().expect("a WAL");
    (storage, wal, states)
}

/// Start offsets of the WAL's records.
fn record_starts(bytes: &[u8], name: &str) -> Vec<usize> {
    let recs = record::read_records(bytes, name).expect("intact WAL");
    assert!(!recs.torn_tail);
    recs.records.iter().map(|r| r.offset as usize).collect()
}

#[derive(Default, Debug)]
struct WalCounts {
    corruption_at_record: u64,
    tail_recovered: u64,
}

/// Opens `storage` with the WAL damaged over `damage`; checks the outcome.
fn check_wal_damage(
    storage: &MemStorage,
    wal: &str,
    bytes: &[u8],
    damage: Range<usize>,
    starts: &[usize],
    states: &[Model],
    counts: &mut WalCounts,
) {
    let last = *starts.last().expect("records");
    let first_damaged = starts
        .iter()
        .rposition(|&s| s <= damage.start)
        .expect("damage after the first record start");
    let what = format!("WAL damaged over {damage:?} (record {first_damaged})");
    match open(&with_file(storage, wal, bytes)) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert!(
                damage.start < last,
                "{what}: tail damage reported as corruption"
            );
            assert_eq!(file, wal, "{what}");
            assert_eq!(offset, starts[first_damaged] as u64, "{what}: wrong offset");
            counts.corruption_at_record += 1;
        }
        Err(e) => panic!("{what}: {e}"),
        Ok(engine) => {
            assert!(
                damage.start >= last,
                "{what}: damage before the last record went unnoticed"
            );
            let got = read_all(&engine).expect("scan");
            assert!(
                got == states[states.len() - 2],
                "{what}: recovery did not stop exactly before the torn last record"
            );
            engine.verify().expect("verify after recovery");
            counts.tail_recovered += 1;
        }
    }
}

#[test]
fn wal_random_bit_flips() {
    let (storage, wal, states) = wal_db(60);
    let good = storage.read_all(&wal).expect("read");
    let starts = record_starts(&good, &wal);
    let last = *starts.last().expect("records");
    let mut rng = Rng(1);
    let mut counts = WalCounts::default();
    let (body, tail) = if long_mode() {
        (10_000, 1_000)
    } else {
        (2_000, 200)
    };
    for i in 0..body + tail {
        // `body` flips before the last record, then `tail` flips inside it.
        let at = if i < body {
            rng.below(last as u64) as usize
        } else {
            last + rng.below((good.len() - last) as u64) as usize
        };
        let mut bytes = good.clone();
        bytes[at] ^= 1 << rng.below(8);
        check_wal_damage(
            &storage,
            &wal,
            &bytes,
            at..at + 1,
            &starts,
            &states,
            &mut counts,
        );
    }
    eprintln!("WAL bit flips: {counts:?}");
    assert_eq!(counts.corruption_at_record, body);
    assert_eq!(counts.tail_recovered, tail);
}

/// Damage in the last record of a WAL that a later WAL with commits follows is corruption, not
/// a torn tail: each WAL is durable before the next one gets its first record, so a power loss
/// tears only the newest. Recovery used to drop the later WAL (and its acknowledged commits).
#[test]
fn damage_at_the_end_of_a_wal_that_a_later_wal_follows_is_corruption() {
    use rustlite_engine::lsm::ikey::Kind;
    use rustlite_engine::lsm::wal::{encode_batch, wal_file_name, WalWriter};
    let (storage, wal, states) = wal_db(20);
    let mut bytes = storage.read_all(&wal).expect("read");
    let last = *record_starts(&bytes, &wal).last().expect("records");
    bytes[last + 1] ^= 0x10; // the last record's checksum
    let damaged = with_file(&storage, &wal, &bytes);
    // Alone, the newest WAL: a torn tail, recovered up to the record before.
    let engine = open(&deep_copy(&damaged)).expect("a torn tail of the newest WAL opens");
    assert!(read_all(&engine).expect("scan") == states[states.len() - 2]);
    drop(engine);

    let number: u64 = wal.trim_end_matches(".wal").parse().expect("WAL number");
    let later = wal_file_name(number + 10);
    // A later WAL without a record (created by a switch that then failed): still a torn tail.
    let empty = deep_copy(&damaged);
    empty.create(&later).expect("create");
    let engine = open(&empty).expect("an empty later WAL is skipped");
    assert!(read_all(&engine).expect("scan") == states[states.len() - 2]);
    drop(engine);
    // A later WAL holding a commit: the damage is not a torn write.
    let with_commit = deep_copy(&damaged);
    let mut w = WalWriter::create(&with_commit, number + 10).expect("create");
    let mut buf = Vec::new();
    encode_batch(
        &mut buf,
        1_000,
        0,
        [(Kind::Put, &b"later"[..], &b"commit"[..])],
    )
    .expect("encode");
    w.append(&buf).expect("append");
    match open(&with_commit) {
        Err(Error::Corruption { file, .. }) => assert_eq!(file, wal),
        Err(e) => panic!("expected corruption in {wal}, got {e}"),
        Ok(_) => panic!("a damaged WAL followed by a WAL with commits opened"),
    }
}

/// A stray file whose number no engine would make (up to `u64::MAX`) neither overflows the file
/// counter nor steers it: the database opens, and its new files get ordinary numbers.
#[test]
fn a_stray_file_with_a_huge_number_is_left_out_of_the_file_counter() {
    use rustlite_engine::lsm::manifest::sst_file_name;
    let (storage, _, states) = wal_db(5);
    let stray = sst_file_name(u64::MAX);
    storage.create(&stray).expect("create");
    let engine = open(&storage).expect("open beside a stray file");
    assert!(read_all(&engine).expect("scan") == states[states.len() - 1]);
    engine.put(b"after", b"stray").expect("put");
    engine.flush().expect("flush");
    drop(engine);
    let engine = open(&storage).expect("reopen");
    assert_eq!(engine.get(b"after").expect("get"), Some(b"stray".to_vec()));
}

#[test]
fn wal_random_bursts() {
    let (storage, wal, states) = wal_db(60);
    let good = storage.read_all(&wal).expect("read");
    let starts = record_starts(&good, &wal);
    let last = *starts.last().expect("records");
    let mut rng = Rng(2);
    let mut counts = WalCounts::default();
    let bursts = if long_mode() { 1_000 } else { 200 };
    for _ in 0..bursts {
        // 2..64 bytes of damage (each byte xor a random non-zero byte), ending before the last
        // record: a torn write damages only the end of a file.
        let len = (2 + rng.below(63) as usize).min(last);
        let at = rng.below((last - len + 1) as u64) as usize;
        let mut bytes = good.clone();
        for b in &mut bytes[at..at + len] {
            *b ^= 1 + rng.below(255) as u8;
        }
        check_wal_damage(
            &storage,
            &wal,
            &bytes,
            at..at + len,
            &starts,
            &states,
            &mut counts,
        );
    }
    eprintln!("WAL bursts: {counts:?}");
    assert_eq!(counts.corruption_at_record, bursts);
}

#[test]
fn wal_huge_length_fields_are_errors() {
    let (storage, wal, _) = wal_db(5);
    let good = storage.read_all(&wal).expect("read");
    // A record header claiming 0xFFFF_FFFF payload bytes before valid records: corruption.
    let mut bytes = vec![0xAA, 0xBB, 0xCC, 0xDD, 0xFF, 0xFF, 0xFF, 0xFF, 1];
    bytes.extend_from_slice(&good);
    let r = open(&with_file(&storage, &wal, &bytes));
    assert!(
        matches!(r, Err(Error::Corruption { offset: 0, .. })),
        "{r:?}"
    );
    // Batch payloads with a valid crc but a huge count or key/value length.
    let seq = 1_000u64.to_be_bytes();
    let mut payloads = Vec::new();
    for huge in [u64::MAX, 0xFFFF_FFFF] {
        let mut p = seq.to_vec();
        varint::put_u64(&mut p, huge); // op count
        payloads.push(p);
        let mut p = seq.to_vec();
        varint::put_u64(&mut p, 1);
        p.push(1); // put
        varint::put_u64(&mut p, huge); // key length
        payloads.push(p);
        let mut p = seq.to_vec();
        varint::put_u64(&mut p, 1);
        p.push(1);
        varint::put_length_prefixed(&mut p, b"k");
        varint::put_u64(&mut p, huge); // value length
        payloads.push(p);
    }
    payloads.push(vec![0xFF; 40]); // over-long varints
    let mut p = u64::MAX.to_be_bytes().to_vec(); // seqno u64::MAX: the next commit would overflow
    varint::put_u64(&mut p, 0);
    payloads.push(p);
    for p in payloads {
        for before in [true, false] {
            let mut bytes = Vec::new();
            if !before {
                bytes.extend_from_slice(&good);
            }
            let at = bytes.len() as u64;
            record::encode_record(&mut bytes, 1, &p).expect("frame");
            if before {
                bytes.extend_from_slice(&good);
            }
            let r = open(&with_file(&storage, &wal, &bytes));
            assert!(
                // (recovery names the file but not the record for an out-of-range seqno)
                matches!(&r, Err(Error::Corruption { file, offset, reason })
                    if *file == wal && (*offset == at || reason.contains("seqno"))),
                "payload {p:?}: {r:?}"
            );
        }
    }
}

// ---- SSTables -------------------------------------------------------------------------------

/// A closed database with several tables in L0 and L1 (overwrites and deletes included) and its
/// contents.
fn table_db() -> (MemStorage, Model) {
    let storage = MemStorage::new();
    let engine = open(&storage).expect("open");
    let mut rng = Rng(3);
    let mut model = Model::new();
    for round in 0..3 {
        for _ in 0..150 {
            let mut batch = WriteBatch::new();
            for _ in 0..4 {
                let key = format!("key{:04}", rng.below(300)).into_bytes();
                if rng.below(8) == 0 {
                    batch.delete(&key);
                    model.remove(&key);
                } else {
                    let value = format!("{round}-{}", "v".repeat(rng.below(80) as usize));
                    batch.put(&key, value.as_bytes());
                    model.insert(key, value.into_bytes());
                }
            }
            engine.write(batch).expect("write");
        }
        engine.flush().expect("flush");
        if round == 0 {
            engine.compact(true).expect("compact");
        }
    }
    let levels: Vec<usize> = engine.stats().levels.iter().map(|l| l.files).collect();
    assert!(
        levels[0] >= 2 && levels[1..].iter().any(|&files| files >= 1),
        "levels {levels:?}"
    );
    drop(engine);
    // Settle: one more open folds the (empty) WAL and rewrites the manifest.
    let engine = open(&storage).expect("reopen");
    assert_eq!(read_all(&engine).expect("scan"), model);
    drop(engine);
    (storage, model)
}

/// The regions of a table file: data blocks, filter block, index block, footer.
fn table_regions(bytes: &[u8]) -> [Range<usize>; 4] {
    let footer = &bytes[bytes.len() - FOOTER_LEN..];
    let mut r = varint::Reader::new(footer);
    let mut next = || r.u64().expect("footer varint") as usize;
    let (f_off, f_size, i_off, i_size) = (next(), next(), next(), next());
    [
        0..f_off,
        f_off..f_off + f_size + 4,
        i_off..i_off + i_size + 4,
        bytes.len() - FOOTER_LEN..bytes.len(),
    ]
}

/// Runs open, every get, a scan and verify on `storage`; returns whether anything reported
/// corruption. Panics on a wrong value or any other error.
fn check_reads(storage: &MemStorage, model: &Model, what: &str) -> bool {
    let engine = match open(storage) {
        Ok(e) => e,
        Err(e) if is_corruption(&e) => return true,
        Err(e) => panic!("{what}: open: {e}"),
    };
    let mut detected = false;
    let keys = (0..300).map(|i| format!("key{i:04}").into_bytes());
    for key in keys {
        match engine.get(&key) {
            Ok(v) => assert_eq!(v.as_ref(), model.get(&key), "{what}: wrong value"),
            Err(e) if is_corruption(&e) => detected = true,
            Err(e) => panic!("{what}: get: {e}"),
        }
    }
    let mut it = engine
        .scan(Bound::Unbounded, Bound::Unbounded, Direction::Forward)
        .expect("scan");
    let mut expected = model.iter();
    for item in &mut it {
        match item {
            Ok((k, v)) => assert_eq!(
                Some((&k, &v)),
                expected.next(),
                "{what}: scan returned a wrong entry"
            ),
            Err(e) if is_corruption(&e) => {
                detected = true;
                break;
            }
            Err(e) => panic!("{what}: scan: {e}"),
        }
    }
    match engine.verify() {
        Ok(_) => {}
        Err(e) if is_corruption(&e) => detected = true,
        Err(e) => panic!("{what}: verify: {e}"),
    }
    detected
}

#[test]
fn sstable_random_bit_flips_by_region() {
    let (storage, model) = table_db();
    let tables: Vec<(String, Vec<u8>)> = files(&storage, ".sst")
        .into_iter()
        .map(|n| {
            let b = storage.read_all(&n).expect("read");
            (n, b)
        })
        .collect();
    let flips = if long_mode() { 20_000 } else { 2_000 };
    let mut rng = Rng(4);
    let mut detected = [0u64; 4];
    for i in 0..flips {
        let region = i % 4;
        let (name, good) = &tables[rng.below(tables.len() as u64) as usize];
        let range = table_regions(good)[region].clone();
        let at = range.start + rng.below(range.len() as u64) as usize;
        let mut bytes = good.clone();
        bytes[at] ^= 1 << rng.below(8);
        let what = format!("{name} byte {at} (region {region})");
        if check_reads(&with_file(&storage, name, &bytes), &model, &what) {
            detected[region] += 1;
        } else {
            panic!("{what}: the flip went unnoticed by open, get, scan and verify");
        }
    }
    eprintln!(
        "SSTable bit flips: {flips} over {} tables, detected (data, filter, index, footer) = \
         {detected:?}, 0 wrong values, 0 panics",
        tables.len()
    );
}

/// Rewrites the footer of `bytes` with the raw `handles` and a valid crc.
fn reseal(bytes: &mut Vec<u8>, handles: &[u8]) {
    let at = bytes.len() - FOOTER_LEN;
    let mut footer = handles.to_vec();
    footer.resize(FOOTER_HANDLES_LEN, 0);
    footer.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&footer);
    footer.extend_from_slice(&crc.to_le_bytes());
    footer.extend_from_slice(&TABLE_MAGIC.to_le_bytes());
    bytes.splice(at.., footer);
}

#[test]
fn sstable_huge_footer_fields_are_errors() {
    let (storage, model) = table_db();
    let name = files(&storage, ".sst").remove(0);
    let good = storage.read_all(&name).expect("read");
    let [_, filter, index, footer] = table_regions(&good);
    let mut r = varint::Reader::new(&good[footer]);
    let fields: Vec<u64> = (0..5).map(|_| r.u64().expect("field")).collect();
    assert_eq!(fields[0] as usize, filter.start);
    assert_eq!(fields[2] as usize, index.start);
    for huge in [u64::MAX, 0xFFFF_FFFF, u64::MAX - 3] {
        for which in 0..5 {
            let mut f = fields.clone();
            f[which] = huge;
            let mut raw = Vec::new();
            for v in f {
                varint::put_u64(&mut raw, v);
            }
            let mut bytes = good.clone();
            reseal(&mut bytes, &raw);
            let what = format!("footer field {which} = {huge:#x}");
            assert!(
                check_reads(&with_file(&storage, &name, &bytes), &model, &what),
                "{what}: not detected"
            );
        }
    }
}

// ---- manifest and CURRENT -----------------------------------------------------------------

/// A closed database whose manifest holds several edits (flushes and a compaction after the
/// snapshot record).
fn manifest_db() -> (MemStorage, Model) {
    let (storage, mut model) = table_db();
    let engine = open(&storage).expect("open");
    for i in 0..400u32 {
        let key = format!("key{:04}", i % 300).into_bytes();
        let value = format!("m{i}").into_bytes();
        engine.put(&key, &value).expect("put");
        model.insert(key, value);
        if i % 100 == 99 {
            engine.flush().expect("flush");
        }
    }
    engine.compact(true).expect("compact");
    drop(engine);
    (storage, model)
}

#[test]
fn manifest_and_current_flips() {
    let (storage, model) = manifest_db();
    let manifest = manifest_name(&storage);
    let good = storage.read_all(&manifest).expect("read");
    let edits = record::read_records(&good, &manifest).expect("manifest");
    assert!(edits.records.len() >= 3, "{} edits", edits.records.len());
    let last = edits.records.last().expect("edit").offset as usize;
    let (mut corruption, mut intact) = (0u64, 0u64);
    let mut check = |name: &str, bytes: &[u8], what: String, must_detect: bool| match open(
        &with_file(&storage, name, bytes),
    ) {
        Err(e) if is_corruption(&e) => corruption += 1,
        Err(e) => panic!("{what}: {e}"),
        Ok(engine) => {
            assert!(!must_detect, "{what}: not detected");
            let got = read_all(&engine).expect("scan");
            assert!(got == model, "{what}: opened with the wrong data");
            intact += 1;
        }
    };
    let mut rng = Rng(5);
    let n = if long_mode() { 5_000 } else { 500 };
    for _ in 0..n {
        let at = rng.below(good.len() as u64) as usize;
        let mut bytes = good.clone();
        bytes[at] ^= 1 << rng.below(8);
        check(
            &manifest,
            &bytes,
            format!("{manifest} byte {at}"),
            at < last,
        );
    }
    let current = storage.read_all("CURRENT").expect("CURRENT");
    for at in 0..current.len() {
        for bit in 0..8 {
            let mut bytes = current.clone();
            bytes[at] ^= 1 << bit;
            check(
                "CURRENT",
                &bytes,
                format!("CURRENT byte {at} bit {bit}"),
                false,
            );
        }
    }
    eprintln!(
        "manifest ({} edits) and CURRENT flips: {corruption} corruption, {intact} opened with \
         the right data",
        edits.records.len()
    );
}

#[test]
fn manifest_huge_length_fields_are_errors() {
    let (storage, _) = manifest_db();
    let manifest = manifest_name(&storage);
    let good = storage.read_all(&manifest).expect("read");
    let mut payloads = Vec::new();
    for huge in [u64::MAX, 0xFFFF_FFFF] {
        // AddFile with a huge level, number, size, entry count, or key length.
        for which in 0..6 {
            let mut p = vec![1u8, 1]; // format version, TAG_ADD_FILE
            for (i, v) in [0u64, 999_999, 4096, 10].iter().enumerate() {
                varint::put_u64(&mut p, if i == which { huge } else { *v });
            }
            if which == 4 {
                varint::put_u64(&mut p, huge); // smallest key length
            } else {
                varint::put_length_prefixed(&mut p, b"a\x00\x00\x00\x00\x00\x00\x00\x01\x01");
                if which == 5 {
                    varint::put_u64(&mut p, huge); // largest key length
                } else {
                    varint::put_length_prefixed(&mut p, b"b\x00\x00\x00\x00\x00\x00\x00\x01\x01");
                }
            }
            payloads.push(p);
        }
    }
    payloads.push(
        VersionEdit(vec![Edit::DeleteFile {
            level: u32::MAX,
            number: u64::MAX,
        }])
        .encode(),
    );
    payloads.push(vec![
        1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    // Counters: harmless before the snapshot record (which sets them again), so only last.
    let counters = [
        Edit::NextFileNumber(u64::MAX),
        Edit::LogNumber(u64::MAX),
        Edit::LastSeq(u64::MAX),
    ];
    for edit in counters {
        let mut bytes = good.clone();
        let edit = VersionEdit(vec![edit]);
        record::encode_record(&mut bytes, EDIT_RECORD, &edit.encode()).expect("frame");
        let r = open(&with_file(&storage, &manifest, &bytes));
        assert!(
            matches!(&r, Err(Error::Corruption { file, .. }) if *file == manifest),
            "{edit:?} as the last edit: {:?}",
            r.map(|_| ())
        );
    }
    for p in payloads {
        // Before the other edits (always detected) and as the last edit (a whole, checksummed
        // record: it is applied, so it must be refused too).
        for before in [true, false] {
            let mut bytes = Vec::new();
            if !before {
                bytes.extend_from_slice(&good);
            }
            record::encode_record(&mut bytes, EDIT_RECORD, &p).expect("frame");
            if before {
                bytes.extend_from_slice(&good);
            }
            let r = open(&with_file(&storage, &manifest, &bytes));
            assert!(
                matches!(&r, Err(Error::Corruption { .. })),
                "payload {p:?} (first: {before}): {:?}",
                r.map(|_| ())
            );
        }
    }
}

// ---- compaction and verify -----------------------------------------------------------------

/// Flips a bit inside the last data block of `name` (`open` reads the first one); returns the
/// damaged bytes and the offset of the flipped byte.
fn damage_last_data_block(storage: &MemStorage, name: &str) -> (Vec<u8>, u64) {
    let mut bytes = storage.read_all(name).expect("read");
    let [data, ..] = table_regions(&bytes);
    let at = data.end - 10; // before the block's 4-byte crc and restart trailer
    bytes[at] ^= 0x10;
    (bytes, at as u64)
}

#[test]
fn compaction_refuses_a_corrupt_input_and_keeps_it() {
    let (storage, model) = table_db();
    for name in files(&storage, ".sst") {
        let good = storage.read_all(&name).expect("read");
        let damaged = with_file(&storage, &name, &damage_last_data_block(&storage, &name).0);
        let engine = open(&damaged).expect("open reads only the first data block");
        let r = engine.compact(true);
        assert!(
            matches!(&r, Err(Error::Corruption { file, .. }) if *file == name),
            "{name}: compaction over a corrupt input returned {r:?}"
        );
        drop(engine);
        // The corrupt table is still there and still live: repairing its bytes brings every
        // value back.
        assert!(damaged.exists(&name).expect("exists"), "{name} was deleted");
        let repaired = with_file(&damaged, &name, &good);
        let engine = open(&repaired).expect("reopen after repair");
        assert_eq!(read_all(&engine).expect("scan"), model, "{name}: data lost");
        engine.verify().expect("verify after repair");
        engine.compact(true).expect("compaction after repair");
        assert_eq!(read_all(&engine).expect("scan"), model);
    }
}

#[test]
fn verify_reports_the_damaged_table_block() {
    let (storage, _) = table_db();
    for name in files(&storage, ".sst") {
        let (bytes, at) = damage_last_data_block(&storage, &name);
        let engine = open(&with_file(&storage, &name, &bytes)).expect("open");
        match engine.verify() {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, name);
                // The offset of the damaged block: at most a block (512 bytes + one entry)
                // before the flipped byte.
                assert!(
                    offset > 0 && offset <= at && at - offset < 2048,
                    "{offset} {at}"
                );
            }
            other => panic!("{name}: verify returned {other:?}"),
        }
    }
}

#[test]
fn verify_reports_a_damaged_live_wal_and_manifest() {
    // Through the facade on a real directory: damage files of an open database.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = rustlite::Database::open(dir.path()).expect("open");
    for i in 0..20u32 {
        db.put(format!("k{i}"), [b'x'; 100]).expect("put");
    }
    db.flush().expect("flush"); // a manifest edit after the snapshot
    for i in 0..20u32 {
        db.put(format!("w{i}"), [b'y'; 100]).expect("put");
    }
    db.verify().expect("intact");
    let wal = rustlite_suite::files_with_suffix(dir.path(), ".wal")
        .expect("list")
        .pop()
        .expect("live WAL");
    rustlite_suite::flip_bit(&wal, 20, 3).expect("flip");
    match db.verify() {
        Err(Error::Corruption { file, offset, .. }) => {
            assert!(wal.ends_with(&file), "{file}");
            assert_eq!(offset, 0);
        }
        other => panic!("damaged WAL: verify returned {other:?}"),
    }
    rustlite_suite::flip_bit(&wal, 20, 3).expect("repair");
    db.verify().expect("repaired");
    let manifest = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().contains("MANIFEST-"))
        .expect("manifest");
    rustlite_suite::flip_bit(&manifest, 12, 0).expect("flip");
    match db.verify() {
        Err(Error::Corruption { file, offset, .. }) => {
            assert!(manifest.ends_with(&file), "{file}");
            assert_eq!(offset, 0);
        }
        other => panic!("damaged manifest: verify returned {other:?}"),
    }
}

/// A stored key or document nesting arrays far deeper than `value::MAX_NESTING` (damage or a
/// hostile writer of raw engine keys) is an error when read, never a stack overflow: before,
/// a row key of 0x07 bytes made SQL's rowid allocation and `UPDATE` abort the process, and a
/// document nested 600 deep aborted `SELECT`.
#[test]
fn deeply_nested_stored_keys_and_documents_are_errors() {
    use rustlite_engine::catalog::Catalog;
    use rustlite_engine::table;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = rustlite::Database::open(dir.path()).expect("open");
    db.execute("CREATE TABLE t (v TEXT)", []).expect("create");
    db.execute("CREATE TABLE d (id INTEGER PRIMARY KEY, v DOCUMENT)", [])
        .expect("create");
    db.execute("INSERT INTO t VALUES ('a')", [])
        .expect("insert");
    db.execute("INSERT INTO d VALUES (1, NULL)", [])
        .expect("insert");
    let engine = db.engine();
    let id = |name: &str| {
        Catalog::table(&mut engine.snapshot(), name)
            .expect("catalog")
            .expect("table")
            .id
    };
    let doc = rustlite::Value::Map(vec![("v".into(), rustlite::Value::Text("b".into()))]);
    let mut key = table::row_prefix(id("t"));
    key.extend(std::iter::repeat_n(0x07, 50_000));
    engine
        .put(&key, &doc.to_msgpack().expect("doc"))
        .expect("plant");
    // A document {"id": 2, "v": [[[…nil…]]]} 600 arrays deep.
    let mut deep = vec![0x82, 0xa2, b'i', b'd', 0x02, 0xa1, b'v'];
    deep.extend(std::iter::repeat_n(0x91, 600));
    deep.push(0xc0);
    let mut key = table::row_prefix(id("d"));
    key.extend(table::encode_pk(&[rustlite::Value::Int(2)]).expect("pk"));
    engine.put(&key, &deep).expect("plant");
    engine.flush().expect("flush");
    drop(db);
    // Reopened, the rowid allocation reads the table's last key.
    let db = rustlite::Database::open(dir.path()).expect("reopen");
    assert!(db.execute("INSERT INTO t VALUES ('c')", []).is_err());
    assert!(db.execute("UPDATE t SET v = 'x'", []).is_err());
    assert!(db.query("SELECT v FROM d WHERE id = 2", []).is_err());
    assert!(db.query("SELECT * FROM d", []).is_err());
    let fine = db
        .query("SELECT id FROM d WHERE id = 1", [])
        .expect("row 1");
    assert_eq!(fine.rows.len(), 1);
}

/// Stored row bytes that do not decode (a document that is not MessagePack, a row key that is
/// not a key encoding) are `Error::Corruption`, as every other damaged byte on disk is; they
/// were `Serialization` and `InvalidArgument` errors, which read as the caller's mistake.
#[test]
fn undecodable_stored_rows_are_corruption() {
    use rustlite_engine::catalog::Catalog;
    use rustlite_engine::table;
    let db = rustlite::Database::in_memory().expect("open");
    db.execute("CREATE TABLE d (id INTEGER PRIMARY KEY, v TEXT)", [])
        .expect("create");
    db.execute("INSERT INTO d VALUES (1, 'a')", [])
        .expect("insert");
    let engine = db.engine();
    let t = Catalog::table(&mut engine.snapshot(), "d")
        .expect("catalog")
        .expect("table");
    let mut key = table::row_prefix(t.id);
    key.extend(table::encode_pk(&[rustlite::Value::Int(2)]).expect("pk"));
    engine.put(&key, &[0xc1]).expect("plant"); // 0xc1 is never MessagePack
    let is_corruption = |r: Result<rustlite::QueryResult, rustlite::Error>| match r {
        Err(rustlite::Error::Corruption { .. }) => true,
        other => {
            eprintln!("{other:?}");
            false
        }
    };
    assert!(is_corruption(db.query("SELECT v FROM d WHERE id = 2", [])));
    assert!(is_corruption(db.query("SELECT * FROM d", [])));
    let mut bad_key = table::row_prefix(t.id);
    bad_key.push(0xee); // no key encoding starts with 0xee
    engine.put(&bad_key, &[0x80]).expect("plant");
    engine.delete(&key).expect("unplant");
    assert!(is_corruption(db.execute("UPDATE d SET v = 'x'", [])));
}
