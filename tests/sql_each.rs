//! `query_each` / `query_each_as`: rows handed over one at a time as the executor produces
//! them. Every query shape gives exactly the rows `query` collects, in the same order; the
//! function stops a query early, fails it with its error, and is never called for writes.

use rustlite::{params, Database, Error, Value};
use serde::Deserialize;

fn db_with_rows(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).expect("open");
    db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT)",
        params![],
    )
    .expect("create users");
    db.execute("CREATE INDEX users_country ON users (country)", params![])
        .expect("index");
    db.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER)",
        params![],
    )
    .expect("create orders");
    let mut tx = db.begin().expect("begin");
    for id in 0..300i64 {
        let country = ["UK", "US", "FI"][(id % 3) as usize];
        tx.query(
            "INSERT INTO users VALUES (?, ?, ?)",
            params![id, format!("user{id:03}"), country],
        )
        .expect("insert user");
        for o in 0..3i64 {
            tx.query(
                "INSERT INTO orders VALUES (?, ?, ?)",
                params![id * 10 + o, id, (id * 7 + o) % 100],
            )
            .expect("insert order");
        }
    }
    tx.commit().expect("commit");
    db
}

/// Every row `query_each` hands over, with the column names it gave.
fn each(db: &Database, sql: &str, params: &[Value]) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut rows = Vec::new();
    let summary = db
        .query_each(sql, params, |columns, row| {
            assert_eq!(columns.len(), row.len(), "{sql}");
            rows.push(row);
            Ok(true)
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(summary.rows, rows.len() as u64, "{sql}");
    (summary.columns.to_vec(), rows)
}

#[test]
fn each_query_shape_hands_over_exactly_the_collected_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_rows(dir.path());
    let queries: &[(&str, Vec<Value>)] = &[
        ("SELECT * FROM users", vec![]),
        ("SELECT name FROM users WHERE id = ?", vec![Value::Int(42)]),
        (
            "SELECT name FROM users WHERE id = ?",
            vec![Value::Int(4242)],
        ),
        (
            "SELECT id, name FROM users WHERE id BETWEEN ? AND ?",
            vec![Value::Int(10), Value::Int(20)],
        ),
        (
            "SELECT name FROM users WHERE country = ? ORDER BY name DESC LIMIT 5 OFFSET 2",
            vec![Value::Text("FI".into())],
        ),
        (
            "SELECT DISTINCT country FROM users ORDER BY country",
            vec![],
        ),
        (
            "SELECT country, COUNT(*), SUM(id) FROM users GROUP BY country HAVING COUNT(*) > 1",
            vec![],
        ),
        (
            "SELECT u.name, SUM(o.amount) FROM users u JOIN orders o ON o.user_id = u.id \
             WHERE u.id < 50 GROUP BY u.name ORDER BY u.name",
            vec![],
        ),
        (
            "SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.amount > u.id \
             WHERE u.id > 295",
            vec![],
        ),
        ("EXPLAIN SELECT * FROM users WHERE id = 1", vec![]),
    ];
    // Twice: the second run of a SELECT reuses its plan (the fast path of single-table reads).
    for round in 0..2 {
        for (sql, params) in queries {
            let collected = db.query(sql, params).expect("query");
            let (columns, rows) = each(&db, sql, params);
            assert_eq!(columns, *collected.columns, "round {round}: {sql}");
            assert_eq!(rows, collected.rows, "round {round}: {sql}");
        }
    }
    let (_, all) = each(&db, "SELECT * FROM users", &[]);
    assert_eq!(all.len(), 300);

    // Inside a transaction, its own uncommitted rows are handed over too.
    let mut tx = db.begin().unwrap();
    tx.query("INSERT INTO users VALUES (1000, 'late', 'SE')", params![])
        .unwrap();
    let mut names = Vec::new();
    let n = tx
        .query_each(
            "SELECT name FROM users WHERE country = 'SE'",
            params![],
            |_, row| {
                names.push(row[0].clone());
                Ok(true)
            },
        )
        .unwrap()
        .rows;
    assert_eq!((n, names), (1, vec![Value::Text("late".into())]));
    // A failing function fails its statement only: the transaction goes on and commits.
    let err = tx
        .query_each("SELECT name FROM users", params![], |_, _| {
            Err(Error::InvalidArgument("enough".into()))
        })
        .unwrap_err();
    assert!(err.to_string().contains("enough"), "{err}");
    tx.query("INSERT INTO users VALUES (1001, 'later', 'SE')", params![])
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        each(&db, "SELECT COUNT(*) FROM users WHERE country = 'SE'", &[]).1,
        [[Value::Int(2)]]
    );
}

#[test]
fn the_function_stops_a_query_or_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_rows(dir.path());
    for sql in [
        "SELECT id FROM users",             // scan (reused plan the second time)
        "SELECT id FROM users ORDER BY id", // sorted: stops while handing over
        "SELECT u.id FROM users u JOIN orders o ON o.user_id = u.id", // join probe
        "SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.amount > 1000", // padded rows
        "SELECT user_id, SUM(amount) FROM orders GROUP BY user_id", // groups
        "SELECT id FROM users LIMIT 20 OFFSET 3", // a limit above the stop
        "SELECT name FROM users WHERE country = 'UK'", // index scan
    ] {
        for _ in 0..2 {
            let mut calls = 0;
            let n = db
                .query_each(sql, params![], |_, _| {
                    calls += 1;
                    Ok(calls < 7)
                })
                .unwrap()
                .rows;
            assert_eq!((n, calls), (7, 7), "{sql}");
        }
    }
    // EXPLAIN's lines stop too.
    let mut lines = 0;
    db.query_each(
        "EXPLAIN SELECT u.id FROM users u JOIN orders o ON o.user_id = u.id",
        params![],
        |_, _| {
            lines += 1;
            Ok(false)
        },
    )
    .unwrap();
    assert_eq!(lines, 1);

    // An error from the function is the query's error; the database goes on.
    let err = db
        .query_each("SELECT id FROM users", params![], |_, row| {
            if row[0] == Value::Int(5) {
                return Err(Error::InvalidArgument("stop at five".into()));
            }
            Ok(true)
        })
        .unwrap_err();
    assert!(err.to_string().contains("stop at five"), "{err}");
    assert_eq!(
        each(&db, "SELECT COUNT(*) FROM users", &[]).1,
        [[Value::Int(300)]]
    );

    // A write hands over no rows, and commits as `execute` does.
    let summary = db
        .query_each(
            "DELETE FROM orders WHERE user_id < 10",
            params![],
            |_, _| panic!("a write has no rows"),
        )
        .unwrap();
    assert_eq!((summary.rows, summary.rows_affected), (0, 30));
    assert!(summary.columns.is_empty());
    assert_eq!(
        each(&db, "SELECT COUNT(*) FROM orders", &[]).1,
        [[Value::Int(870)]]
    );
}

#[test]
fn typed_rows_are_decoded_one_at_a_time() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Total {
        name: String,
        total: i64,
    }
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_rows(dir.path());
    let sql = "SELECT u.name AS name, SUM(o.amount) AS total FROM users u \
               JOIN orders o ON o.user_id = u.id GROUP BY u.name ORDER BY u.name";
    let collected: Vec<Total> = db.query_as(sql, params![]).unwrap();
    let mut streamed = Vec::new();
    let n = db
        .query_each_as(sql, params![], |t: Total| {
            streamed.push(t);
            Ok(true)
        })
        .unwrap()
        .rows;
    assert_eq!(n, 300);
    assert_eq!(streamed, collected);

    // A row that does not fit the type fails the query with a serialization error.
    #[derive(Debug, Deserialize)]
    struct Wrong {
        #[allow(dead_code)]
        name: i64,
    }
    let err = db
        .query_each_as("SELECT name FROM users", params![], |_: Wrong| Ok(true))
        .unwrap_err();
    assert!(matches!(err, Error::Serialization(_)), "{err}");

    // Across a reopen, from disk.
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    let mut again = Vec::new();
    db.query_each_as(sql, params![], |t: Total| {
        again.push(t);
        Ok(true)
    })
    .unwrap();
    assert_eq!(again, collected);
}
