//! `query_each` streams: a SELECT whose result is ~40 MB keeps the process's resident size
//! flat while its rows are handed over one at a time, where `query` (which collects them) grows
//! it by about the result's size. The second half shows that the measure can see the result.
//!
//! One test per file: resident size is per process, so no other test may run beside it.

#![cfg(target_os = "linux")]

use rustlite::{params, Database, Durability, Options, Value};

const ROWS: i64 = 40_000;
const BODY: usize = 1000;

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    rustlite_suite::resident_bytes().expect("VmRSS in /proc/self/status")
}

#[test]
fn streamed_rows_are_not_held_and_collected_ones_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A small block cache, so reading the table does not grow the process by itself.
    let opts = Options::default()
        .durability(Durability::Buffered)
        .block_cache_size(4 << 20);
    let db = Database::open_with(dir.path(), opts).expect("open");
    db.execute(
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
        params![],
    )
    .expect("create");
    let body = "x".repeat(BODY);
    for chunk in 0..ROWS / 1000 {
        let mut tx = db.begin().expect("begin");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            tx.query("INSERT INTO docs VALUES (?, ?)", params![i, body.as_str()])
                .expect("insert");
        }
        tx.commit().expect("commit");
    }
    db.flush().expect("flush"); // the rows live in tables, not in the memtable

    let result_bytes = ROWS as u64 * BODY as u64;
    let before = rss();
    let mut peak = before;
    let mut seen = 0i64;
    let n = db
        .query_each("SELECT id, body FROM docs", params![], |_, row| {
            assert_eq!(row[0], Value::Int(seen));
            seen += 1;
            if seen % 1000 == 0 {
                peak = peak.max(rss());
            }
            Ok(true)
        })
        .expect("query_each")
        .rows;
    assert_eq!(n, ROWS as u64);
    let streamed_growth = peak.saturating_sub(before);
    assert!(
        streamed_growth < result_bytes / 4,
        "streaming {result_bytes} bytes of rows grew the process by {streamed_growth} bytes"
    );

    let collected = db
        .query("SELECT id, body FROM docs", params![])
        .expect("query");
    let collected_growth = rss().saturating_sub(before);
    assert_eq!(collected.rows.len(), ROWS as usize);
    assert!(
        collected_growth > result_bytes / 2,
        "collecting {result_bytes} bytes of rows grew the process by only {collected_growth} bytes"
    );
}
