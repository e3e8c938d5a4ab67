//! A transaction is atomic on disk: after a reopen, or after a crash that cut the WAL anywhere
//! inside its record, either every one of its writes is there or none is.
//!
//! Crash images: the engine folds the WAL into a table when it opens and then deletes it, so the
//! live WAL exists on disk only while the database is open. A crash image is therefore taken by
//! copying every file but `LOCK` while the database is still open (with `Durability::Immediate`
//! every acknowledged commit is in the WAL file by then), and each cut is opened from a fresh copy.

use rustlite::{Database, Durability, Error, Options, Result};
use rustlite_suite::files_with_suffix;
use std::collections::BTreeMap;
use std::path::Path;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Options that make the 200-key transactions below larger than a memtable.
fn small() -> Options {
    Options {
        memtable_size: 64 << 10,
        l1_target_size: 256 << 10,
        target_file_size: 64 << 10,
        block_cache_size: 1 << 20,
        ..Options::default()
    }
}

fn contents(db: &Database) -> Model {
    db.scan::<&[u8]>(..)
        .expect("scan")
        .collect::<Result<Model>>()
        .expect("scan")
}

/// One buffered write: `Some(value)` puts, `None` deletes.
type Op = (Vec<u8>, Option<Vec<u8>>);

fn apply(model: &Model, ops: &[Op]) -> Model {
    let mut out = model.clone();
    for (k, v) in ops {
        match v {
            Some(v) => out.insert(k.clone(), v.clone()),
            None => out.remove(k),
        };
    }
    out
}

fn run(db: &Database, ops: &[Op]) -> rustlite::Transaction {
    let mut tx = db.begin().expect("begin");
    for (k, v) in ops {
        match v {
            Some(v) => tx.put(k, v).expect("put"),
            None => tx.delete(k).expect("delete"),
        }
    }
    tx
}

fn seed(db: &Database, n: usize) -> Model {
    let mut model = Model::new();
    db.transaction(|tx| {
        for i in 0..n {
            let (k, v) = (format!("k/{i:04}"), format!("old-{i}"));
            tx.put(&k, &v)?;
            model.insert(k.into_bytes(), v.into_bytes());
        }
        Ok(())
    })
    .expect("seed");
    model
}

/// 200 inserts of new keys with `value_len`-byte values, plus overwrites of every fourth seeded
/// key and deletes of every third (a key both overwritten and deleted ends deleted).
fn big_ops(tag: &str, seeded: usize, value_len: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    for i in 0..200 {
        let v = format!("{tag}-{i}-{}", "v".repeat(value_len));
        ops.push((format!("{tag}/{i:04}").into_bytes(), Some(v.into_bytes())));
    }
    for i in (0..seeded).step_by(4) {
        let k = format!("k/{i:04}").into_bytes();
        ops.push((k, Some(format!("{tag}-over-{i}").into_bytes())));
    }
    for i in (0..seeded).step_by(3) {
        ops.push((format!("k/{i:04}").into_bytes(), None));
    }
    ops
}

#[test]
fn many_key_transactions_are_all_or_nothing_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = || small().durability(Durability::Buffered);
    let db = Database::open_with(dir.path(), opts()).expect("open");
    let seeded = seed(&db, 300);

    // Committed: 200 inserts of 1 KiB values (three memtables' worth) + overwrites + deletes.
    let committed_ops = big_ops("a", 300, 1024);
    let after_a = apply(&seeded, &committed_ops);
    run(&db, &committed_ops).commit().expect("commit");
    assert_eq!(contents(&db), after_a);

    // Rolled back, and dropped without commit: nothing of them is ever written.
    run(&db, &big_ops("b", 300, 64)).rollback();
    drop(run(&db, &big_ops("c", 300, 64)));

    // Refused at commit: a concurrent commit of one of its keys wins first.
    let loser = run(&db, &big_ops("d", 300, 64));
    db.put("k/0000", "winner").expect("put");
    let mut expected = after_a.clone();
    expected.insert(b"k/0000".to_vec(), b"winner".to_vec());
    match loser.commit() {
        Err(Error::Conflict(_)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(contents(&db), expected);
    drop(db);

    let db = Database::open_with(dir.path(), opts()).expect("reopen");
    assert_eq!(contents(&db), expected, "after reopen");
    db.compact().expect("compact");
    drop(db);
    let db = Database::open_with(dir.path(), opts()).expect("reopen after compaction");
    assert_eq!(contents(&db), expected, "after compaction and reopen");
}

/// The database's files except `LOCK`, read while it is open.
fn crash_image(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        if name != "LOCK" && path.is_file() {
            files.push((name, std::fs::read(&path).expect("read")));
        }
    }
    files
}

/// Writes `image` into `dir` with the newest WAL cut to `cut` bytes.
fn restore(image: &[(String, Vec<u8>)], wal: &str, cut: usize, dir: &Path) {
    for (name, bytes) in image {
        let bytes = if name == wal {
            bytes.get(..cut).expect("cut inside the WAL")
        } else {
            bytes
        };
        std::fs::write(dir.join(name), bytes).expect("write");
    }
}

/// The newest WAL's name and where its records end. WALs are preallocated: the records
/// (`[crc u32][len u32 LE][type u8][payload]`) are followed by zeros to the end of the file.
fn newest_wal(dir: &Path) -> (String, u64) {
    let wals = files_with_suffix(dir, ".wal").expect("list");
    let path = wals.last().expect("an open database has a WAL");
    let name = path
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let bytes = std::fs::read(path).expect("read");
    let mut end = 0;
    while let Some(header) = bytes.get(end..end + 9) {
        if header.iter().all(|&b| b == 0) {
            break;
        }
        end += 9 + u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
    }
    (name, end as u64)
}

/// Commits `ops` as the last transaction, takes a crash image, and opens it with the WAL cut at
/// every `step`-th offset inside the transaction's record (always including its first and last
/// byte and the uncut file): the database must hold exactly the state before the transaction,
/// or, uncut, exactly the state after it. Returns the record's length.
fn cut_last_record(seeded: usize, ops: &[Op], step: usize) -> usize {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open_with(dir.path(), Options::default()).expect("open");
    // Earlier commits: a seeded batch, then single-key commits, then another transaction.
    let mut before = seed(&db, seeded);
    for i in 0..5 {
        db.put(format!("single/{i}"), format!("s{i}")).expect("put");
        before.insert(
            format!("single/{i}").into_bytes(),
            format!("s{i}").into_bytes(),
        );
    }
    let earlier: Vec<Op> = vec![
        (b"k/0001".to_vec(), Some(b"earlier".to_vec())),
        (b"single/0".to_vec(), None),
    ];
    run(&db, &earlier).commit().expect("commit");
    let before = apply(&before, &earlier);
    let after = apply(&before, ops);

    let (wal, start) = newest_wal(dir.path());
    run(&db, ops).commit().expect("commit");
    let (wal_after, end) = newest_wal(dir.path());
    assert_eq!(wal, wal_after, "the commit went to the same WAL");
    let (start, end) = (start as usize, end as usize);
    assert!(end > start, "the transaction's record is in the WAL");
    let image = crash_image(dir.path());
    drop(db);

    let mut cuts: Vec<usize> = (start..end).step_by(step.max(1)).collect();
    cuts.extend([start + 1, end - 1, end]);
    cuts.sort_unstable();
    cuts.dedup();
    let checked = cuts.len();
    for cut in cuts {
        let copy = tempfile::tempdir().expect("tempdir");
        restore(&image, &wal, cut, copy.path());
        let db = Database::open(copy.path()).unwrap_or_else(|e| {
            panic!("open with the WAL cut at {cut} (record {start}..{end}): {e}")
        });
        let expected = if cut == end { &after } else { &before };
        let got = contents(&db);
        assert!(
            &got == expected,
            "WAL cut at {cut} (record {start}..{end}): expected the state {} the transaction",
            if cut == end { "after" } else { "before" }
        );
        if cut == start + 1 || cut == end - 1 || cut == end {
            // The recovered database accepts new commits, and they survive another reopen
            // (the torn tail must not swallow or corrupt them).
            let more: Vec<Op> = vec![
                (b"k/0002".to_vec(), Some(b"later".to_vec())),
                (b"z/later".to_vec(), Some(b"z".to_vec())),
            ];
            run(&db, &more).commit().expect("commit after recovery");
            drop(db);
            let db = Database::open(copy.path()).expect("reopen after recovery");
            assert_eq!(
                contents(&db),
                apply(expected, &more),
                "cut at {cut}, reopened"
            );
        }
    }
    eprintln!("record of {} bytes: {checked} cuts checked", end - start);
    end - start
}

#[test]
fn wal_cut_at_every_byte_of_the_last_record_drops_the_whole_transaction() {
    let ops: Vec<Op> = (0..12)
        .map(|i| {
            (
                format!("t/{i:02}").into_bytes(),
                Some(format!("new-{i}").into_bytes()),
            )
        })
        .chain((0..4).map(|i| (format!("k/{:04}", 2 * i).into_bytes(), None)))
        .chain([(b"k/0001".to_vec(), Some(b"overwritten".to_vec()))])
        .collect();
    let len = cut_last_record(8, &ops, 1);
    assert!(len > 100, "record of {len} bytes");
}

#[test]
fn wal_cut_inside_a_200_key_transaction_drops_all_of_it() {
    let ops = big_ops("big", 60, 16);
    assert!(ops.len() > 200);
    // Every 61st byte by default; every byte with RUSTLITE_LONG=1 (~7,500 opens, ~5 min debug).
    let long = std::env::var_os("RUSTLITE_LONG").is_some_and(|v| v != "0");
    let len = cut_last_record(60, &ops, if long { 1 } else { 61 });
    assert!(len > 4000, "record of {len} bytes");
}
