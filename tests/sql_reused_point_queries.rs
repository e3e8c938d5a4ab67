//! A reused point query takes the fast path (a plan kept per thread, checked against the
//! catalog cache, the key read straight from its parameter, the row decoded in column order);
//! through the public API its answers must equal the general path's: the same query made
//! non-simple by an `ORDER BY` (bound and run through the executor), and the query with the
//! key as a literal (planned on each call). Covered: NULL columns, missing keys, parameters of
//! other types, a transaction's own writes, and DDL between two executions of the statement.

use rustlite::{params, Database, Result, Value};

const FAST: &str = "SELECT * FROM orders WHERE id = ?";
const ORDERED: &str = "SELECT * FROM orders WHERE id = ? ORDER BY id";

/// The literal of `v` in SQL, when it has one.
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("NULL".into()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_finite() => Some(format!("{f:?}")),
        Value::Text(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        Value::Bool(b) => Some(b.to_string().to_uppercase()),
        _ => None,
    }
}

/// Runs the fast query twice (the first call plans, the second reuses) and the general ones,
/// and checks they agree: equal rows, or all fail.
fn check(db: &Database, key: &Value) -> Result<Option<Vec<Vec<Value>>>> {
    let first = db.query(FAST, [key.clone()]);
    let reused = db.query(FAST, [key.clone()]);
    let ordered = db.query(ORDERED, [key.clone()]);
    let rows = |r: &Result<rustlite::QueryResult>| r.as_ref().ok().map(|r| r.rows.clone());
    assert_eq!(rows(&first), rows(&reused), "{key:?}");
    assert_eq!(rows(&reused), rows(&ordered), "{key:?}");
    if let Some(lit) = literal(key) {
        let planned = db.query(&format!("SELECT * FROM orders WHERE id = {lit}"), params![]);
        // A literal the planner refuses outright (a type error) may fail where a parameter
        // finds no row; when both answer, they agree.
        if let (Some(a), Some(b)) = (rows(&reused), rows(&planned)) {
            assert_eq!(a, b, "{key:?} as {lit}");
        }
    }
    if let (Ok(a), Ok(b)) = (&reused, &ordered) {
        assert_eq!(*a.columns, *b.columns);
    }
    Ok(rows(&reused))
}

fn orders(db: &Database) -> Result<()> {
    db.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER, status TEXT)",
        params![],
    )?;
    db.execute(
        "INSERT INTO orders VALUES (1, 10, 990, 'paid'), (2, 11, NULL, NULL), (3, 12, -5, ''), \
         (4, 13, 7, 'sh''ipped')",
        params![],
    )?;
    Ok(())
}

#[test]
fn reused_point_queries_answer_as_the_general_path() -> Result<()> {
    let db = Database::in_memory()?;
    orders(&db)?;
    let keys = [
        Value::Int(1),
        Value::Int(2),
        Value::Int(3),
        Value::Int(4),
        Value::Int(999),
        Value::Int(-1),
        Value::Null,
        Value::Float(2.0),
        Value::Float(2.5),
        Value::Float(f64::NAN),
        Value::Text("2".into()),
        Value::Bool(true),
        Value::Bytes(vec![2]),
    ];
    for key in &keys {
        check(&db, key)?;
    }
    assert_eq!(
        check(&db, &Value::Int(2))?,
        Some(vec![vec![
            Value::Int(2),
            Value::Int(11),
            Value::Null,
            Value::Null
        ]])
    );
    assert_eq!(check(&db, &Value::Int(999))?, Some(vec![]));
    assert_eq!(
        check(&db, &Value::Float(2.0))?,
        check(&db, &Value::Int(2))?,
        "an integral float finds the integer key"
    );
    // Missing parameters fail on both paths.
    assert!(db.query(FAST, params![]).is_err());
    assert!(db.query(ORDERED, params![]).is_err());
    Ok(())
}

#[test]
fn reused_point_queries_see_a_transactions_own_writes() -> Result<()> {
    let db = Database::in_memory()?;
    orders(&db)?;
    check(&db, &Value::Int(5))?; // planned and kept
    let mut tx = db.begin()?;
    tx.query("INSERT INTO orders VALUES (5, 1, 2, 'new')", params![])?;
    let inside = tx.query(FAST, [Value::Int(5)])?;
    assert_eq!(inside.rows.len(), 1);
    assert_eq!(
        db.query(FAST, [Value::Int(5)])?.rows.len(),
        0,
        "not committed"
    );
    tx.commit()?;
    assert_eq!(check(&db, &Value::Int(5))?, Some(inside.rows));
    Ok(())
}

#[test]
fn reused_point_queries_follow_ddl_between_executions() -> Result<()> {
    let db = Database::in_memory()?;
    orders(&db)?;
    let before = check(&db, &Value::Int(1))?;
    // An index does not change the answer.
    db.execute("CREATE INDEX orders_user ON orders (user_id)", params![])?;
    assert_eq!(check(&db, &Value::Int(1))?, before);
    // Dropped: both paths fail, the reused statement included.
    db.execute("DROP TABLE orders", params![])?;
    assert_eq!(check(&db, &Value::Int(1))?, None);
    assert!(db.query(FAST, [Value::Int(1)]).is_err());
    // Recreated with other columns, another order and a text key: the statement follows.
    db.execute(
        "CREATE TABLE orders (status TEXT, id TEXT PRIMARY KEY, amount FLOAT)",
        params![],
    )?;
    db.execute(
        "INSERT INTO orders VALUES ('x', '1', 1.5), (NULL, 'k', NULL)",
        params![],
    )?;
    let r = db.query(FAST, [Value::Text("1".into())])?;
    assert_eq!(*r.columns, ["status", "id", "amount"]);
    assert_eq!(
        r.rows,
        [[
            Value::Text("x".into()),
            Value::Text("1".into()),
            Value::Float(1.5)
        ]]
    );
    for key in [
        Value::Text("1".into()),
        Value::Text("k".into()),
        Value::Text("missing".into()),
        Value::Int(1),
        Value::Null,
    ] {
        check(&db, &key)?;
    }
    // Dropped and recreated as it was: the old answers again.
    db.execute("DROP TABLE orders", params![])?;
    orders(&db)?;
    assert_eq!(check(&db, &Value::Int(1))?, before);
    Ok(())
}
