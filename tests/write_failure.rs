//! After a write-path I/O failure the database is poisoned: it refuses every write
//! ([`Error::Poisoned`], until reopened) and keeps answering reads — raw gets and scans, SQL
//! queries, `EXPLAIN`, read-only transactions — as the `Error` docs and RELIABILITY.md say.

use rustlite::{params, Database, Error, Options, Value};
use rustlite_engine::storage::faulty::FaultyStorage;
use std::sync::Arc;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn a_poisoned_database_refuses_writes_and_still_reads() -> TestResult {
    let fs = FaultyStorage::new();
    let options = Options {
        background_compaction: false,
        ..Options::default()
    };
    let db = Database::open_with_storage(Arc::new(fs.clone()), options)?;
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", params![])?;
    db.execute("INSERT INTO t VALUES (1, 'a')", params![])?;
    db.put("k", "v")?;

    fs.fail_at(fs.ops() + 1, true); // every mutating I/O from now on fails
    assert!(
        db.put("lost", "x").is_err(),
        "the failed commit reports an error"
    );
    assert!(matches!(db.put("k2", "v"), Err(Error::Poisoned(_))));

    // Reads go on.
    assert_eq!(db.get("k")?, Some(b"v".to_vec()));
    assert_eq!(db.get("lost")?, None);
    assert_eq!(db.scan_prefix("k")?.count(), 1);
    let rows = db.query("SELECT v FROM t WHERE id = ?", params![1])?.rows;
    assert_eq!(rows, [[Value::Text("a".into())]]);
    assert!(db
        .explain("SELECT v FROM t WHERE id = 1")?
        .contains("KeyLookup"));
    let mut seen = 0;
    db.query_each("SELECT id FROM t", params![], |_, _| {
        seen += 1;
        Ok(true)
    })?;
    assert_eq!(seen, 1);
    let read = db.transaction(|tx| tx.get("k"))?;
    assert_eq!(read, Some(b"v".to_vec()));

    // Writes stay refused, by every path.
    let mut tx = db.begin()?;
    assert_eq!(tx.get("k")?, Some(b"v".to_vec()));
    tx.put("x", "y")?;
    assert!(matches!(tx.commit(), Err(Error::Poisoned(_))));
    let insert = db.execute("INSERT INTO t VALUES (2, 'b')", params![]);
    assert!(matches!(insert, Err(Error::Poisoned(_))), "{insert:?}");
    let from_query = db.query("INSERT INTO t VALUES (3, 'c')", params![]);
    assert!(
        matches!(from_query, Err(Error::Poisoned(_))),
        "{from_query:?}"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM t", params![])?.rows,
        [[Value::Int(1)]]
    );
    Ok(())
}

/// A flush that fails at any I/O step leaves no table file of its own behind: an application
/// retrying under a full disk added a partial table with each attempt (until the next open).
/// A failure once the table is written (its manifest edit) poisons the database, whose next
/// open removes the table if the manifest does not name it.
#[test]
fn a_failed_flush_removes_the_tables_it_wrote() -> TestResult {
    use rustlite_engine::storage::Storage;
    let tables = |fs: &FaultyStorage| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(fs
            .live()
            .list()?
            .iter()
            .filter(|n| n.ends_with(".sst"))
            .count())
    };
    let mut failures = 0;
    for step in 1..40 {
        let fs = FaultyStorage::new();
        let options = Options {
            background_compaction: false,
            target_file_size: 4096,
            ..Options::default()
        };
        let db = Database::open_with_storage(Arc::new(fs.clone()), options)?;
        for i in 0..200u32 {
            db.put(i.to_be_bytes(), [7u8; 100])?;
        }
        fs.fail_at(fs.ops() + step, false);
        let flushed = db.flush();
        fs.clear_fault();
        let live: usize = db.engine().stats().levels.iter().map(|l| l.files).sum();
        if flushed.is_err() {
            failures += 1;
            if matches!(db.put("probe", "x"), Err(Error::Poisoned(_))) {
                drop(db);
                let db = Database::open_with_storage(Arc::new(fs.live()), Options::default())?;
                let live: usize = db.engine().stats().levels.iter().map(|l| l.files).sum();
                assert_eq!(tables(&fs)?, live, "step {step}, reopened: {flushed:?}");
                assert_eq!(db.get(7u32.to_be_bytes())?, Some(vec![7u8; 100]));
                continue;
            }
            assert_eq!(tables(&fs)?, live, "step {step}: {flushed:?}");
        }
        db.flush()?;
        assert_eq!(db.get(7u32.to_be_bytes())?, Some(vec![7u8; 100]));
    }
    assert!(failures > 5, "the fault hit {failures} steps of the flush");
    Ok(())
}
