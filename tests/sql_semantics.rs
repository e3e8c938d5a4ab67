//! End-to-end SQL semantics that an independent review of the SQL layer found wrong, each
//! checked through the access path that went wrong and through a full scan, which must agree:
//! `?` parameters bound in text order, `IS [NOT] TRUE/FALSE` on NULL, `-0.0` against `0`, and
//! integer constants against REAL columns whose floats cannot hold them exactly, and joins whose
//! `=` compares values of kinds that cannot be compared (by hash and by nested loop).

use rustlite::{params, Database, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn ids(db: &Database, sql: &str, p: &[Value]) -> rustlite::Result<Vec<Value>> {
    Ok(db
        .query(sql, p)?
        .rows
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect())
}

fn ints(v: &[i64]) -> Vec<Value> {
    v.iter().map(|&i| Value::Int(i)).collect()
}

#[test]
fn question_mark_parameters_are_bound_in_text_order() -> TestResult {
    let db = Database::in_memory()?;
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", params![])?;
    db.execute("INSERT INTO t VALUES (1), (2), (3), (4), (5)", params![])?;
    // `LIMIT offset, count` and `OFFSET … LIMIT …` name the offset first.
    let q = "SELECT id FROM t ORDER BY id LIMIT ?, ?";
    assert_eq!(ids(&db, q, &params![1, 3])?, ints(&[2, 3, 4]));
    let q = "SELECT id FROM t ORDER BY id OFFSET ? LIMIT ?";
    assert_eq!(ids(&db, q, &params![3, 1])?, ints(&[4]));
    let q = "SELECT id FROM t ORDER BY id LIMIT ? OFFSET ?";
    assert_eq!(ids(&db, q, &params![1, 3])?, ints(&[4]));

    // A join's ON clause comes after the (sub)query to its right in the text.
    db.execute(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, w INTEGER)",
        params![],
    )?;
    db.execute(
        "CREATE TABLE b (id INTEGER PRIMARY KEY, v INTEGER)",
        params![],
    )?;
    db.execute("INSERT INTO a VALUES (1, 100)", params![])?;
    db.execute("INSERT INTO b VALUES (1, 5)", params![])?;
    let q = "SELECT a.id FROM a JOIN (SELECT id FROM b WHERE v = ?) s ON s.id = a.id AND a.w = ?";
    assert_eq!(ids(&db, q, &params![5, 100])?, ints(&[1]));
    let q = "SELECT a.id FROM a JOIN b ON b.id = a.id AND b.v = ? WHERE a.w = ?";
    assert_eq!(ids(&db, q, &params![5, 100])?, ints(&[1]));
    Ok(())
}

/// More parameter values than the statement takes are refused, through a fresh plan and a
/// reused one: before, extra values were ignored, so a `?` quoted into a string literal went
/// unnoticed and the statement ran with one condition fewer than its author meant.
#[test]
fn extra_parameter_values_are_refused() -> TestResult {
    let db = Database::in_memory()?;
    db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)", params![])?;
    db.execute("INSERT INTO t VALUES (1, 'x'), (2, '?')", params![])?;
    let quoted = db.execute("DELETE FROM t WHERE a = ? AND b = '?'", params![1, "x"]);
    assert!(
        matches!(&quoted, Err(rustlite::Error::Sql(m)) if m.contains("takes 1")),
        "{quoted:?}"
    );
    assert_eq!(ids(&db, "SELECT a FROM t ORDER BY a", &[])?, ints(&[1, 2]));
    let q = "SELECT a FROM t WHERE a = ?";
    for _ in 0..2 {
        assert_eq!(ids(&db, q, &params![2])?, ints(&[2]));
        assert!(ids(&db, q, &params![2, 3]).is_err(), "reused plan");
        assert!(ids(&db, q, &[]).is_err(), "missing value");
    }
    Ok(())
}

/// A document where the table layer cannot store one (an indexed column) is `Error::Sql`, as
/// every problem with a statement is (it was `Error::Schema`).
#[test]
fn a_document_in_an_indexed_column_is_an_sql_error() -> TestResult {
    let db = Database::in_memory()?;
    db.execute(
        "CREATE TABLE d (id INTEGER PRIMARY KEY, doc DOCUMENT)",
        params![],
    )?;
    db.execute("CREATE INDEX d_doc ON d (doc)", params![])?;
    let map = Value::Map(vec![("a".into(), Value::Int(1))]);
    for sql in [
        "INSERT INTO d VALUES (1, ?)",
        "UPDATE d SET doc = ? WHERE id = 2",
    ] {
        db.execute("INSERT INTO d VALUES (2, 'x')", params![]).ok();
        let r = db.execute(sql, std::slice::from_ref(&map));
        assert!(
            matches!(&r, Err(rustlite::Error::Sql(m)) if m.contains("nested document")),
            "{sql}: {r:?}"
        );
    }
    Ok(())
}

#[test]
fn is_true_and_is_false_are_never_null() -> TestResult {
    let db = Database::in_memory()?;
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, b BOOLEAN)",
        params![],
    )?;
    db.execute(
        "INSERT INTO t VALUES (1, NULL), (2, TRUE), (3, FALSE)",
        params![],
    )?;
    let cases: [(&str, &[i64]); 6] = [
        ("b IS TRUE", &[2]),
        ("b IS FALSE", &[3]),
        ("NOT (b IS TRUE)", &[1, 3]),
        ("b IS NOT TRUE", &[1, 3]),
        ("b IS NOT FALSE", &[1, 2]),
        ("(b IS FALSE) = FALSE", &[1, 2]),
    ];
    for (cond, want) in cases {
        let q = format!("SELECT id FROM t WHERE {cond} ORDER BY id");
        assert_eq!(ids(&db, &q, &[])?, ints(want), "{cond}");
    }
    let row = db.query(
        "SELECT b IS TRUE, b IS FALSE FROM t WHERE id = 1",
        params![],
    )?;
    assert_eq!(row.rows, [vec![Value::Bool(false), Value::Bool(false)]]);
    Ok(())
}

#[test]
fn negative_zero_is_found_by_key_and_index_lookups_of_zero() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        db.execute("CREATE TABLE k (r REAL PRIMARY KEY, v TEXT)", params![])?;
        db.execute(
            "CREATE TABLE x (id INTEGER PRIMARY KEY, r REAL UNIQUE)",
            params![],
        )?;
        db.execute("INSERT INTO k VALUES (-0.0, 'neg')", params![])?;
        db.execute("INSERT INTO x VALUES (1, -0.0)", params![])?;
        assert!(
            db.execute("INSERT INTO x VALUES (2, 0.0)", params![])
                .is_err(),
            "0.0 = -0.0 in a UNIQUE column"
        );
    }
    let db = Database::open(dir.path())?;
    for q in [
        "SELECT v FROM k WHERE r = 0",
        "SELECT v FROM k WHERE r = 0.0",
        "SELECT v FROM k WHERE r = -0.0",
        "SELECT v FROM k WHERE r >= 0",
        "SELECT v FROM k WHERE r + 0 = 0",
    ] {
        assert_eq!(ids(&db, q, &[])?, [Value::from("neg")], "{q}");
    }
    for q in [
        "SELECT id FROM x WHERE r = 0",
        "SELECT id FROM x WHERE r BETWEEN 0 AND 1",
        "SELECT id FROM x WHERE r * 1 = 0",
    ] {
        assert_eq!(ids(&db, q, &[])?, ints(&[1]), "{q}");
    }
    Ok(())
}

#[test]
fn integer_constants_against_real_columns_compare_exactly_on_every_path() -> TestResult {
    let db = Database::in_memory()?;
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, r REAL)", params![])?;
    db.execute("CREATE INDEX t_r ON t (r)", params![])?;
    db.execute("CREATE TABLE k (r REAL PRIMARY KEY, id INTEGER)", params![])?;
    // 2^53 and 2^53 + 4: the integers between them have no float of their own.
    for (id, r) in [(1, "9007199254740992.0"), (2, "9007199254740996.0")] {
        db.execute(&format!("INSERT INTO t VALUES ({id}, {r})"), params![])?;
        db.execute(&format!("INSERT INTO k VALUES ({r}, {id})"), params![])?;
    }
    let cases: [(&str, &[i64]); 5] = [
        ("r = 9007199254740993", &[]),
        ("r > 9007199254740995", &[2]),
        ("r < 9007199254740993", &[1]),
        ("r BETWEEN 9007199254740993 AND 9007199254740996", &[2]),
        ("r = 9007199254740992", &[1]),
    ];
    for (cond, want) in cases {
        for table in ["t", "k"] {
            let q = format!("SELECT id FROM {table} WHERE {cond} ORDER BY id");
            let scan = format!(
                "SELECT id FROM {table} WHERE r + 0 {} ORDER BY id",
                &cond[2..]
            );
            assert_eq!(ids(&db, &q, &[])?, ints(want), "{q}");
            assert_eq!(ids(&db, &scan, &[])?, ints(want), "{scan}");
        }
    }
    Ok(())
}

#[test]
fn a_join_comparing_text_with_integers_is_a_type_mismatch_by_hash_and_by_loop() -> TestResult {
    let db = Database::in_memory()?;
    db.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT)", params![])?;
    db.execute(
        "CREATE TABLE b (id INTEGER PRIMARY KEY, y INTEGER)",
        params![],
    )?;
    db.execute("INSERT INTO a VALUES (1, '7'), (2, NULL)", params![])?;
    db.execute("INSERT INTO b VALUES (1, 7), (2, NULL)", params![])?;
    let plan = |q: &str| -> rustlite::Result<String> {
        let rows = db.query(&format!("EXPLAIN {q}"), params![])?.rows;
        Ok(format!("{rows:?}"))
    };
    let hash = "SELECT a.id FROM a JOIN b ON a.x = b.y";
    let hash_left = "SELECT a.id FROM a LEFT JOIN b ON b.y = a.x";
    let hash_key_pair = "SELECT a.id FROM a JOIN b ON a.id = b.id AND a.x = b.y";
    let nested = "SELECT a.id FROM a JOIN b ON a.x = b.y OR a.id > 5";
    for q in [hash, hash_left, hash_key_pair] {
        assert!(plan(q)?.contains("HashJoin"), "{q}: {}", plan(q)?);
    }
    assert!(
        plan(nested)?.contains("NestedLoopJoin"),
        "{}",
        plan(nested)?
    );
    for q in [hash, hash_left, hash_key_pair, nested] {
        match db.query(q, params![]) {
            Err(rustlite::Error::Sql(m)) => assert!(m.contains("type mismatch"), "{q}: {m}"),
            other => panic!("{q}: expected a type mismatch, got {other:?}"),
        }
    }
    // NULLs compare with anything (to NULL): no error when only NULLs meet the other kind,
    // nor when one side is empty.
    db.execute("DELETE FROM b WHERE id = 1", params![])?;
    assert_eq!(ids(&db, hash, params![].as_slice())?, ints(&[]));
    assert_eq!(ids(&db, hash_left, params![].as_slice())?, ints(&[1, 2]));
    db.execute("DELETE FROM b", params![])?;
    assert_eq!(ids(&db, hash, params![].as_slice())?, ints(&[]));
    // Same kinds still join: an integer against a REAL key.
    db.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, z REAL)", params![])?;
    db.execute("INSERT INTO c VALUES (1, 1.0), (2, 2.5)", params![])?;
    let q = "SELECT b2.id FROM c JOIN a b2 ON b2.id = c.z";
    assert_eq!(ids(&db, q, params![].as_slice())?, ints(&[1]));
    Ok(())
}

#[test]
fn constraints_name_columns_case_insensitively() -> TestResult {
    let db = Database::in_memory()?;
    db.execute(
        "CREATE TABLE t (id INTEGER, name TEXT, n INTEGER, PRIMARY KEY (ID), UNIQUE (Name))",
        params![],
    )?;
    db.execute("CREATE INDEX t_n ON t (N)", params![])?;
    db.execute("INSERT INTO t VALUES (1, 'a', 5), (2, 'b', 5)", params![])?;
    let dup_key = db.execute("INSERT INTO t VALUES (1, 'c', 6)", params![]);
    assert!(dup_key.is_err(), "{dup_key:?}");
    let dup_name = db.execute("INSERT INTO t VALUES (3, 'a', 6)", params![]);
    assert!(
        matches!(dup_name, Err(rustlite::Error::UniqueViolation { .. })),
        "{dup_name:?}"
    );
    assert_eq!(
        ids(&db, "SELECT id FROM t WHERE n = 5", &[])?,
        ints(&[1, 2])
    );
    assert_eq!(
        ids(&db, "SELECT id FROM t WHERE name = 'b'", &[])?,
        ints(&[2])
    );
    let unknown = db.execute("CREATE TABLE u (id INTEGER, PRIMARY KEY (nope))", params![]);
    assert!(
        matches!(unknown, Err(rustlite::Error::Sql(_))),
        "{unknown:?}"
    );
    Ok(())
}

/// A select-list alias inside a HAVING or ORDER BY expression stands for its item, as SQLite
/// reads it; a name that is also an input column means the column. Expected rows are SQLite's.
#[test]
fn aliases_inside_having_and_order_by_expressions() -> TestResult {
    let db = Database::in_memory()?;
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, g TEXT, v INTEGER)",
        params![],
    )?;
    db.execute(
        "INSERT INTO t VALUES (1, 'a', 1), (2, 'a', 2), (3, 'b', 5), (4, 'c', 0)",
        params![],
    )?;
    let rows =
        |sql: &str| -> rustlite::Result<Vec<Vec<Value>>> { Ok(db.query(sql, params![])?.rows) };
    let text = |s: &str| Value::Text(s.into());
    assert_eq!(
        rows("SELECT g, count(*) AS c FROM t GROUP BY g HAVING c > 1")?,
        [[text("a"), Value::Int(2)]]
    );
    assert_eq!(
        rows("SELECT g, count(*) AS c FROM t GROUP BY g HAVING c > 0 AND g <> 'a' ORDER BY g")?,
        [[text("b"), Value::Int(1)], [text("c"), Value::Int(1)]]
    );
    assert_eq!(
        rows("SELECT g, sum(v) AS s FROM t GROUP BY g ORDER BY s * -1")?,
        [
            [text("b"), Value::Int(5)],
            [text("a"), Value::Int(3)],
            [text("c"), Value::Int(0)]
        ]
    );
    assert_eq!(
        ids(&db, "SELECT v AS x FROM t ORDER BY x + 0 DESC", &[])?,
        ints(&[5, 2, 1, 0])
    );
    // `v` is an input column too: the column wins (SQLite: 3, 2, 1, 4).
    assert_eq!(
        ids(&db, "SELECT id AS v FROM t ORDER BY -v", &[])?,
        ints(&[3, 2, 1, 4])
    );
    let unknown = db.query(
        "SELECT g, count(*) AS c FROM t GROUP BY g HAVING nope > 1",
        params![],
    );
    assert!(matches!(unknown, Err(rustlite::Error::Sql(m)) if m.contains("nope")));
    Ok(())
}
