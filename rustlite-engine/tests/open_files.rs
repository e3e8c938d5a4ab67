//! The open-file budget (`Options::max_open_files`) end to end, on real files: a database of
//! many more tables than the budget reads every key and scans in order while the process's
//! descriptors (`/proc/self/fd`) stay within the budget, reopens the same way, and an iterator
//! opened before a compaction deleted its (long closed) table files still reads every entry.
//!
//! One test in its own binary: the descriptor count is the whole process's, so no other test
//! may open files meanwhile.

use rustlite_engine::{Direction, Durability, Engine, Options, Result};
use std::collections::BTreeMap;
use std::ops::Bound::Unbounded;
use std::path::Path;

const BUDGET: usize = 16;
const TABLES: usize = 60;
const KEYS_PER_TABLE: usize = 40;
/// Descriptors besides the budget's tables: `LOCK`, the WAL, the manifest, the directory a
/// sync opens for a moment, and a table a reader finishes on just after it was closed.
const SLACK: usize = 8;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

fn options() -> Options {
    Options {
        durability: Durability::Buffered,
        background_compaction: false,
        // Every flush stays an L0 table until the test compacts.
        l0_compaction_trigger: 1_000,
        l0_stop_writes: 2_000,
        // No cached blocks and small ones: reads go to a table's file, and an iterator
        // positioned in a table still has blocks of it to read.
        block_cache_size: 0,
        block_size: 256,
        target_file_size: 8 << 10,
        ..Options::default()
    }
    .max_open_files(BUDGET)
}

fn table_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".sst"))
                .count()
        })
        .unwrap_or(0)
}

/// Reads every key and scans both ways, checking the descriptors as it goes.
fn check_all(db: &Engine, model: &BTreeMap<Vec<u8>, Vec<u8>>, limit: usize) -> Result<()> {
    for (i, (k, v)) in model.iter().enumerate() {
        assert_eq!(db.get(k)?.as_ref(), Some(v), "key {k:?}");
        if i % 8 == 0 {
            assert!(open_descriptors() <= limit, "{} open", open_descriptors());
        }
    }
    for dir in [Direction::Forward, Direction::Reverse] {
        let mut expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if dir == Direction::Reverse {
            expected.reverse();
        }
        let mut got = Vec::new();
        for (i, entry) in db.scan(Unbounded, Unbounded, dir)?.enumerate() {
            got.push(entry?);
            if i % 8 == 0 {
                assert!(open_descriptors() <= limit, "{} open", open_descriptors());
            }
        }
        assert!(got == expected, "{dir:?} scan differs from the model");
    }
    Ok(())
}

#[test]
fn a_database_of_many_more_tables_than_its_open_file_budget() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db");
    let base = open_descriptors();
    let limit = base + BUDGET + SLACK;
    let mut model = BTreeMap::new();
    {
        let db = Engine::open(&path, options())?;
        // Every table spans the whole key range, and later tables overwrite some keys.
        for t in 0..TABLES {
            for i in 0..KEYS_PER_TABLE {
                let key = format!(
                    "key{:05}",
                    (i * TABLES + t * 7) % (TABLES * KEYS_PER_TABLE / 2)
                );
                let value = format!("table {t} entry {i}");
                db.put(key.as_bytes(), value.as_bytes())?;
                model.insert(key.into_bytes(), value.into_bytes());
            }
            db.flush()?;
            assert!(open_descriptors() <= limit, "{} open", open_descriptors());
        }
        assert_eq!(table_files(&path), TABLES);
        check_all(&db, &model, limit)?;
    }
    // Reopening opens every table (to load its index) within the budget too.
    let db = Engine::open(&path, options())?;
    assert!(open_descriptors() <= limit, "{} open", open_descriptors());
    check_all(&db, &model, limit)?;

    // An iterator holds the version of the 60 L0 tables; a full compaction replaces them and
    // deletes their files, most of which the budget had closed.
    let mut iter = db.scan(Unbounded, Unbounded, Direction::Forward)?;
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(iter.next().transpose()?);
    }
    db.compact(true)?;
    assert!(
        table_files(&path) < TABLES,
        "the compaction deleted its inputs"
    );
    for entry in iter {
        got.push(entry?);
    }
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert!(got == expected, "the old iterator lost entries");
    // Its tables (pinned open outside the budget) are closed once it is dropped.
    assert!(open_descriptors() <= limit, "{} open", open_descriptors());
    check_all(&db, &model, limit)?;
    Ok(())
}
