//! Recovery from crashes and damage, on real files.
//!
//! On open the engine replays the WAL into an L0 table and deletes the WAL, so a WAL holding
//! data exists only while a database is open. These tests therefore take *crash images*: copies
//! of every file of an open database (except `LOCK`) taken between operations, which is what a
//! process killed at that moment leaves on disk ([`copy_crash_image`]).
//!
//! - torn WAL tails (cut anywhere in the last records, zero-filled or garbage tails appended):
//!   every record before the damage is recovered, the damaged one is not, no error;
//! - a bit flipped in a WAL record followed by valid records: `Error::Corruption`, never a panic;
//! - bits flipped in an SSTable's data blocks, filter, index and footer: open, reads or
//!   `verify()` report `Error::Corruption`; never a panic, never a wrong value;
//! - a damaged manifest or `CURRENT`, or `CURRENT` missing beside tables: `Error::Corruption`;
//! - crash images taken at many points of a workload with flushes and compactions all open to
//!   exactly the acknowledged state.
//!
//! `RUSTLITE_LONG=1` tries many more offsets and bits.

use rustlite::{Database, Durability, Error, Options, WriteBatch};
use rustlite_suite::{copy_crash_image, files_with_suffix, flip_bit, long_mode, Rng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: usize) -> Vec<u8> {
    format!("key{i:04}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}-{}", "v".repeat(i % 23)).into_bytes()
}

fn collect(db: &Database) -> Result<Model, Error> {
    db.scan::<&[u8]>(..)?.collect()
}

fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let files = files_with_suffix(dir, suffix).expect("list");
    assert_eq!(
        files.len(),
        1,
        "expected one *{suffix} in {dir:?}: {files:?}"
    );
    files.into_iter().next().expect("one file")
}

/// Offsets of the records of a framed file (`[crc u32][len u32 LE][type u8][payload]`), and where
/// they end: a WAL is preallocated, so its records are followed by zeros to the end of the file
/// (a manifest is not).
fn record_offsets(bytes: &[u8]) -> (Vec<usize>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(header) = bytes.get(pos..pos + 9) {
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let len = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
        out.push(pos);
        pos += 9 + len;
    }
    assert!(
        bytes[pos..].iter().all(|&b| b == 0),
        "records, then only zeros, tile the file"
    );
    (out, pos)
}

/// A crash image holding a WAL with `n` durable puts (`key(i) = value(i)`), no tables.
fn wal_image(n: usize) -> tempfile::TempDir {
    let live = tempfile::tempdir().expect("tempdir");
    let image = tempfile::tempdir().expect("tempdir");
    let db = Database::open(live.path()).expect("open");
    for i in 0..n {
        db.put(key(i), value(i)).expect("put");
    }
    copy_crash_image(live.path(), image.path()).expect("copy");
    drop(db);
    image
}

/// A fresh copy of `image` to damage.
fn copy_of(image: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_crash_image(image, dir.path()).expect("copy");
    dir
}

fn first_n(n: usize) -> Model {
    (0..n).map(|i| (key(i), value(i))).collect()
}

#[test]
fn crash_image_with_a_whole_wal_recovers_everything() {
    let image = wal_image(20);
    assert!(files_with_suffix(image.path(), ".sst")
        .expect("ls")
        .is_empty());
    let db = Database::open(image.path()).expect("open image");
    assert_eq!(collect(&db).expect("scan"), first_n(20));
}

#[test]
fn torn_wal_tail_drops_only_the_torn_record() {
    const N: usize = 20;
    let image = wal_image(N);
    let wal = only_file(image.path(), ".wal");
    let bytes = std::fs::read(&wal).expect("read wal");
    let (offsets, end) = record_offsets(&bytes);
    assert_eq!(offsets.len(), N, "one record per durable put");
    let mut cuts = Vec::new();
    // Every byte offset inside the last record; sampled offsets inside the two before it.
    let last = offsets[N - 1];
    cuts.extend((last..end).map(|c| (c, N - 1)));
    for r in [N - 3, N - 2] {
        let (start, end) = (offsets[r], offsets[r + 1]);
        let step = if long_mode() { 1 } else { 5 };
        cuts.extend((start..end).step_by(step).map(|c| (c, r)));
    }
    for (cut, torn_record) in cuts {
        let dir = copy_of(image.path());
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(wal.file_name().expect("name")))
            .expect("open wal");
        f.set_len(cut as u64).expect("truncate");
        drop(f);
        let db =
            Database::open(dir.path()).unwrap_or_else(|e| panic!("cut at {cut}: open failed: {e}"));
        assert_eq!(
            collect(&db).expect("scan"),
            first_n(torn_record),
            "cut at byte {cut} (inside record {torn_record})"
        );
        // The recovered database keeps working and the torn record stays gone.
        db.put(b"after", b"cut").expect("put after recovery");
        drop(db);
        let db = Database::open(dir.path()).expect("reopen");
        assert_eq!(db.get(key(torn_record)).expect("get"), None);
        assert_eq!(db.get(b"after").expect("get"), Some(b"cut".to_vec()));
    }
}

#[test]
fn zero_filled_and_garbage_tails_are_ignored() {
    const N: usize = 12;
    let image = wal_image(N);
    let wal_name = only_file(image.path(), ".wal")
        .file_name()
        .expect("name")
        .to_owned();
    let mut rng = Rng(99);
    let mut tails: Vec<(String, Vec<u8>)> = vec![
        ("1 zero byte".into(), vec![0]),
        ("9 zero bytes".into(), vec![0; 9]),
        ("4 KiB of zeros".into(), vec![0; 4096]),
        ("0xFF bytes".into(), vec![0xFF; 100]),
    ];
    for len in [1usize, 3, 9, 17, 100, 5000] {
        tails.push((
            format!("{len} random bytes"),
            (0..len).map(|_| rng.next_u64() as u8).collect(),
        ));
    }
    // A plausible header promising more bytes than follow.
    let mut header = vec![1, 2, 3, 4];
    header.extend_from_slice(&1000u32.to_le_bytes());
    header.push(1);
    tails.push(("a header with a short payload".into(), header));
    for (what, tail) in tails {
        let dir = copy_of(image.path());
        let path = dir.path().join(&wal_name);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&tail);
        std::fs::write(&path, bytes).expect("write");
        let db = Database::open(dir.path()).unwrap_or_else(|e| panic!("{what}: open: {e}"));
        assert_eq!(collect(&db).expect("scan"), first_n(N), "{what}");
    }
}

#[test]
fn bit_flip_before_valid_wal_records_is_corruption() {
    const N: usize = 16;
    let image = wal_image(N);
    let wal = only_file(image.path(), ".wal");
    let wal_name = wal.file_name().expect("name").to_owned();
    let bytes = std::fs::read(&wal).expect("read");
    let (offsets, _) = record_offsets(&bytes);
    let mut rng = Rng(7);
    let flips = if long_mode() { 2000 } else { 60 };
    let mut targets: Vec<(usize, u8)> = Vec::new();
    // Every field of record 5: crc, len, type, payload.
    for off in [0usize, 3, 4, 7, 8, 9, 12, 20] {
        targets.push((offsets[5] + off, (off % 8) as u8));
    }
    // Random flips anywhere before the last record.
    let last = offsets[N - 1];
    while targets.len() < flips {
        targets.push((rng.below(last as u64) as usize, rng.below(8) as u8));
    }
    for (offset, bit) in targets {
        let dir = copy_of(image.path());
        flip_bit(&dir.path().join(&wal_name), offset as u64, bit).expect("flip");
        match Database::open(dir.path()) {
            Err(Error::Corruption { file, .. }) => {
                assert!(file.ends_with(".wal"), "offset {offset}: blamed {file}")
            }
            Err(e) => panic!("offset {offset} bit {bit}: expected Corruption, got {e}"),
            Ok(db) => panic!(
                "offset {offset} bit {bit}: damage before valid records was not reported ({} keys)",
                collect(&db).map(|m| m.len()).unwrap_or(0)
            ),
        }
    }
}

/// A closed database with exactly one table of several data blocks, and the table's regions.
struct SstImage {
    dir: tempfile::TempDir,
    sst_name: std::ffi::OsString,
    model: Model,
    /// `[0, data_end)` data blocks, `[filter.0, filter.1)` filter block + crc, then index, footer.
    data_end: usize,
    filter: (usize, usize),
    index: (usize, usize),
    len: usize,
}

fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    v
}

fn sst_image() -> SstImage {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open");
    let mut model = Model::new();
    let mut batch = WriteBatch::new();
    for i in 0..600 {
        batch.put(key(i), value(i));
        model.insert(key(i), value(i));
    }
    db.write_batch(batch).expect("batch");
    db.flush().expect("flush");
    drop(db);
    let sst = only_file(dir.path(), ".sst");
    let bytes = std::fs::read(&sst).expect("read");
    let len = bytes.len();
    let footer = &bytes[len - 64..];
    let mut pos = 0;
    let filter_off = varint(footer, &mut pos) as usize;
    let filter_size = varint(footer, &mut pos) as usize;
    let index_off = varint(footer, &mut pos) as usize;
    let index_size = varint(footer, &mut pos) as usize;
    assert_eq!(filter_off + filter_size + 4, index_off, "filter then index");
    assert_eq!(index_off + index_size + 4, len - 64, "index then footer");
    assert!(filter_off > 8 << 10, "several data blocks: {filter_off}");
    SstImage {
        sst_name: sst.file_name().expect("name").to_owned(),
        dir,
        model,
        data_end: filter_off,
        filter: (filter_off, index_off),
        index: (index_off, len - 64),
        len,
    }
}

/// Opens, reads every key and scans a damaged copy. Returns whether any step reported
/// corruption; panics on a wrong value or any other error.
fn probe_damaged(dir: &Path, model: &Model, what: &str) -> bool {
    let db = match Database::open(dir) {
        Ok(db) => db,
        Err(Error::Corruption { .. }) => return true,
        Err(e) => panic!("{what}: open: expected Ok or Corruption, got {e}"),
    };
    let mut reported = false;
    let mut check = |r: Result<(), Error>| match r {
        Ok(()) => {}
        Err(Error::Corruption { .. }) => reported = true,
        Err(e) => panic!("{what}: expected Ok or Corruption, got {e}"),
    };
    for (k, v) in model {
        check(db.get(k).map(|got| {
            assert_eq!(got.as_ref(), Some(v), "{what}: wrong value for {k:?}");
        }));
    }
    // A missing key must stay missing, not turn into some value.
    check(db.get(b"absent").map(|got| assert_eq!(got, None, "{what}")));
    match db.scan::<&[u8]>(..) {
        Ok(it) => {
            for item in it {
                check(item.map(|(k, v)| {
                    assert_eq!(
                        model.get(&k),
                        Some(&v),
                        "{what}: scan returned a wrong entry"
                    );
                }));
            }
        }
        Err(e) => check(Err(e)),
    }
    check(db.verify().map(|_| ()));
    reported
}

#[test]
fn sstable_bit_flips_are_reported_never_wrong_values() {
    let img = sst_image();
    let mut rng = Rng(2024);
    let per_region = if long_mode() { 400 } else { 12 };
    let regions = [
        ("data", 0, img.data_end),
        ("filter", img.filter.0, img.filter.1),
        ("index", img.index.0, img.index.1),
        ("footer", img.index.1, img.len),
    ];
    for (region, start, end) in regions {
        let mut offsets: Vec<usize> = (0..per_region)
            .map(|_| start + rng.below((end - start) as u64) as usize)
            .collect();
        offsets.extend([start, end - 1]);
        for offset in offsets {
            let bit = rng.below(8) as u8;
            let dir = copy_of(img.dir.path());
            flip_bit(&dir.path().join(&img.sst_name), offset as u64, bit).expect("flip");
            let what = format!("{region} byte {offset} bit {bit}");
            assert!(
                probe_damaged(dir.path(), &img.model, &what),
                "{what}: the flip went unreported"
            );
        }
    }
}

#[test]
fn truncated_sstable_is_corruption() {
    let img = sst_image();
    for cut in [0, 1, 63, 64, img.len / 2, img.len - 65, img.len - 1] {
        let dir = copy_of(img.dir.path());
        let path = dir.path().join(&img.sst_name);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        f.set_len(cut as u64).expect("truncate");
        drop(f);
        let what = format!("table cut to {cut} bytes");
        assert!(probe_damaged(dir.path(), &img.model, &what), "{what}");
    }
}

/// A closed database whose manifest holds several edits (open + flushes).
fn manifest_image() -> (tempfile::TempDir, Model) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open");
    let mut model = Model::new();
    for round in 0..3 {
        for i in 0..50 {
            db.put(key(i * 3 + round), value(i)).expect("put");
            model.insert(key(i * 3 + round), value(i));
        }
        db.flush().expect("flush");
    }
    drop(db);
    (dir, model)
}

fn expect_corruption(dir: &Path, what: &str) {
    match Database::open(dir) {
        Err(Error::Corruption { .. }) => {}
        Err(e) => panic!("{what}: expected Corruption, got {e}"),
        Ok(_) => panic!("{what}: opened a damaged database"),
    }
}

#[test]
fn manifest_and_current_damage_is_corruption() {
    let (image, model) = manifest_image();
    let manifest = std::fs::read_dir(image.path())
        .expect("ls")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("MANIFEST-"))
        })
        .expect("a manifest");
    let manifest_name = manifest.file_name().expect("name").to_owned();
    let bytes = std::fs::read(&manifest).expect("read");
    let (offsets, _) = record_offsets(&bytes);
    assert!(offsets.len() >= 3, "several edits: {offsets:?}");

    // Flips in every record but the last (the last one reads as a torn tail by design).
    let mut rng = Rng(5);
    let last = offsets[offsets.len() - 1];
    let n = if long_mode() { 500 } else { 30 };
    for _ in 0..n {
        let offset = rng.below(last as u64);
        let bit = rng.below(8) as u8;
        let dir = copy_of(image.path());
        flip_bit(&dir.path().join(&manifest_name), offset, bit).expect("flip");
        expect_corruption(dir.path(), &format!("manifest byte {offset} bit {bit}"));
    }
    // A flip in the last edit loses at most that edit, which must not lose data: the tables it
    // added are then unreferenced. The engine must either report it or still read everything.
    {
        let dir = copy_of(image.path());
        flip_bit(&dir.path().join(&manifest_name), last as u64 + 12, 1).expect("flip");
        match Database::open(dir.path()) {
            Err(Error::Corruption { .. }) => {}
            Err(e) => panic!("last manifest edit damaged: expected Corruption, got {e}"),
            Ok(db) => assert_eq!(
                collect(&db).expect("scan"),
                model,
                "a damaged last manifest edit silently lost data"
            ),
        }
    }

    // CURRENT: garbage, empty, naming a missing manifest, missing altogether.
    let current = |dir: &Path, content: Option<&[u8]>| {
        let path = dir.join("CURRENT");
        match content {
            Some(c) => std::fs::write(path, c).expect("write CURRENT"),
            None => std::fs::remove_file(path).expect("remove CURRENT"),
        }
    };
    for (what, content) in [
        ("garbage CURRENT", Some(&b"\x00\xffnot a manifest"[..])),
        ("empty CURRENT", Some(&b""[..])),
        ("CURRENT without newline", Some(&b"MANIFEST-000002"[..])),
        (
            "CURRENT naming a missing manifest",
            Some(&b"MANIFEST-999999\n"[..]),
        ),
        ("CURRENT missing beside tables", None),
    ] {
        let dir = copy_of(image.path());
        current(dir.path(), content);
        expect_corruption(dir.path(), what);
    }
    // A missing manifest (CURRENT intact) and a truncated-to-empty manifest.
    let dir = copy_of(image.path());
    std::fs::remove_file(dir.path().join(&manifest_name)).expect("rm");
    expect_corruption(dir.path(), "manifest missing");
    let dir = copy_of(image.path());
    std::fs::write(dir.path().join(&manifest_name), b"").expect("empty");
    expect_corruption(dir.path(), "manifest empty");

    // The undamaged image still opens with all its data.
    let dir = copy_of(image.path());
    let db = Database::open(dir.path()).expect("undamaged copy");
    assert_eq!(collect(&db).expect("scan"), model);
}

#[test]
fn crash_images_between_operations_hold_every_acknowledged_commit() {
    // Inline jobs: between two calls nothing is in flight, so a file-by-file copy is a state a
    // real crash could leave.
    let opts = Options {
        memtable_size: 16 << 10,
        l0_compaction_trigger: 2,
        l1_target_size: 48 << 10,
        target_file_size: 16 << 10,
        block_size: 1024,
        background_compaction: false,
        ..Options::default()
    };
    for durability in [Durability::Immediate, Durability::Buffered] {
        let live = tempfile::tempdir().expect("tempdir");
        let db =
            Database::open_with(live.path(), opts.clone().durability(durability)).expect("open");
        let mut model = Model::new();
        let mut rng = Rng(11);
        let mut images = Vec::new();
        let steps = if long_mode() { 3000 } else { 400 };
        for step in 0..steps {
            let k = key(rng.below(150) as usize);
            match rng.below(10) {
                0 => {
                    db.delete(&k).expect("delete");
                    model.remove(&k);
                }
                1 => {
                    let mut batch = WriteBatch::new();
                    for j in 0..5 {
                        let k = key(rng.below(150) as usize);
                        batch.put(&k, value(step + j));
                        model.insert(k, value(step + j));
                    }
                    db.write_batch(batch).expect("batch");
                }
                _ => {
                    let v = value(step).repeat(1 + step % 7);
                    db.put(&k, &v).expect("put");
                    model.insert(k, v);
                }
            }
            if step % 97 == 50 {
                db.compact().expect("compact");
            }
            if step % 23 == 0 {
                let image = tempfile::tempdir().expect("tempdir");
                copy_crash_image(live.path(), image.path()).expect("copy");
                images.push((step, image, model.clone()));
            }
        }
        let stats = db.stats();
        assert!(
            stats.levels.iter().skip(1).any(|l| l.files > 0),
            "workload reached L1+: {stats:?}"
        );
        drop(db);
        for (step, image, model) in &images {
            let what = format!("{durability:?} image after step {step}");
            let db = Database::open_with(image.path(), opts.clone())
                .unwrap_or_else(|e| panic!("{what}: open: {e}"));
            assert!(
                collect(&db).expect("scan") == *model,
                "{what}: state differs from the acknowledged commits"
            );
            db.verify()
                .unwrap_or_else(|e| panic!("{what}: verify: {e}"));
        }
    }
}
