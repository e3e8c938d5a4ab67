//! Tables declared without a primary key: their hidden row ids never make concurrent inserts
//! conflict, and survive a reopen without handing out an id a row still holds.

use rustlite::{params, Database, Error, Value};
use std::collections::BTreeSet;

fn messages(db: &Database) -> BTreeSet<(String, i64)> {
    let r = db
        .query("SELECT msg, n FROM logs", params![])
        .expect("select");
    r.rows
        .iter()
        .map(|row| match (&row[0], &row[1]) {
            (Value::Text(m), Value::Int(n)) => (m.clone(), *n),
            other => panic!("unexpected row {other:?}"),
        })
        .collect()
}

#[test]
fn concurrent_inserts_into_a_table_without_a_key_never_conflict() {
    let db = Database::in_memory().expect("open");
    db.execute("CREATE TABLE logs (msg TEXT, n INTEGER)", params![])
        .expect("create");
    std::thread::scope(|s| {
        for t in 0..4 {
            let db = db.clone();
            s.spawn(move || {
                for i in 0..500 {
                    let sql = format!("INSERT INTO logs VALUES ('t{t}', {i})");
                    match db.execute(&sql, params![]) {
                        Ok(_) => {}
                        Err(e @ Error::Conflict(_)) => panic!("insert {t}/{i} conflicted: {e}"),
                        Err(e) => panic!("insert {t}/{i}: {e}"),
                    }
                }
            });
        }
    });
    let got = messages(&db);
    let want: BTreeSet<_> = (0..4)
        .flat_map(|t| (0..500).map(move |i| (format!("t{t}"), i)))
        .collect();
    assert_eq!(got, want, "every insert is there once");
}

#[test]
fn row_ids_after_a_reopen_start_past_every_stored_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        db.execute("CREATE TABLE logs (msg TEXT, n INTEGER)", params![])
            .expect("create");
        for i in 0..3 {
            db.execute("INSERT INTO logs VALUES ('before', ?)", params![i])
                .expect("insert");
        }
        // A rolled-back insert uses up an id; nothing else changes.
        let mut tx = db.begin().expect("begin");
        tx.query("INSERT INTO logs VALUES ('rolled back', 0)", params![])
            .expect("insert");
        tx.rollback();
    }
    let db = Database::open(dir.path()).expect("reopen");
    for i in 0..3 {
        db.execute("INSERT INTO logs VALUES ('after', ?)", params![i])
            .expect("insert after reopen");
    }
    let got = messages(&db);
    let want: BTreeSet<_> = ["before", "after"]
        .iter()
        .flat_map(|m| (0..3).map(move |i| (m.to_string(), i)))
        .collect();
    assert_eq!(
        got, want,
        "no row written after the reopen replaced one from before"
    );
}
