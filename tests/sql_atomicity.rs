//! A failed SQL statement leaves no partial write, also inside an explicit transaction, where
//! the transaction goes on with what the earlier statements wrote.

use rustlite::{params, Database, Error};

#[test]
fn failed_statement_inside_a_transaction_is_undone_and_the_transaction_goes_on() {
    let db = Database::in_memory().expect("open");
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT UNIQUE)",
        params![],
    )
    .expect("create");
    let mut tx = db.begin().expect("begin");
    tx.query("INSERT INTO t VALUES (1, 'a'), (2, 'b')", params![])
        .expect("first insert");
    // Row 3 is written before the duplicate key 1 fails the statement.
    let err = tx
        .query("INSERT INTO t VALUES (3, 'c'), (1, 'z')", params![])
        .expect_err("duplicate key");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    // A unique violation after a write in the same statement is undone too.
    let err = tx
        .query("INSERT INTO t VALUES (4, 'd'), (5, 'a')", params![])
        .expect_err("unique violation");
    assert!(matches!(err, Error::UniqueViolation { .. }), "{err}");
    let ids = tx
        .query("SELECT id FROM t ORDER BY id", params![])
        .expect("select");
    assert_eq!(ids.rows.len(), 2, "{:?}", ids.rows);
    // The freed unique values are usable: no index entry of rows 3 or 4 survived.
    tx.query("INSERT INTO t VALUES (6, 'c'), (7, 'd')", params![])
        .expect("insert after failures");
    tx.commit().expect("commit");
    let r = db
        .query("SELECT id, email FROM t ORDER BY id", params![])
        .expect("select");
    let ids: Vec<String> = r.rows.iter().map(|row| row[0].to_string()).collect();
    assert_eq!(ids, ["1", "2", "6", "7"]);
    let by_email = db
        .query("SELECT id FROM t WHERE email = 'c'", params![])
        .expect("index lookup");
    assert_eq!(by_email.rows.len(), 1);
    assert_eq!(by_email.rows[0][0].to_string(), "6");
}

/// A failed statement also lets go of what it guarded: a `CREATE UNIQUE INDEX` that meets a
/// duplicate guarded every row of its table for its backfill, and a failed `INSERT` at
/// ReadCommitted guarded the row it read for update. Kept, those guards made the transaction
/// conflict with any later commit to the table although the statement had been undone.
#[test]
fn a_failed_statement_leaves_no_guard_behind() {
    use rustlite::IsolationLevel::{ReadCommitted, RepeatableRead};
    for (level, failing) in [
        (RepeatableRead, "CREATE UNIQUE INDEX tv ON t (v)"),
        (ReadCommitted, "INSERT INTO t VALUES (1, 9)"),
    ] {
        let db = Database::in_memory().expect("open");
        db.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
            params![],
        )
        .expect("create");
        db.execute("INSERT INTO t VALUES (1, 5), (2, 5)", params![])
            .expect("insert");
        let mut tx = db.begin_with(level).expect("begin");
        assert!(tx.query(failing, params![]).is_err(), "{failing}");
        tx.put("k", "v").expect("put");
        // An unrelated commit to the table, then to the row the failed insert read.
        db.execute("INSERT INTO t VALUES (3, 7)", params![])
            .expect("insert");
        db.execute("UPDATE t SET v = 6 WHERE id = 1", params![])
            .expect("update");
        tx.commit()
            .unwrap_or_else(|e| panic!("{level:?} after {failing}: {e}"));
        assert_eq!(db.get("k").expect("get"), Some(b"v".to_vec()));
    }
}
