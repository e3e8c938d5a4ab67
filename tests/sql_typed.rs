//! SQL and typed collections are the same tables: structs inserted through the typed layer
//! come back through `query_as::<T>`, SQL writes are visible to typed handles (with index
//! maintenance), and a table created with `CREATE TABLE` opens as a typed collection.

use rustlite::{params, Collection, Database, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
#[collection(name = "users")]
struct User {
    #[key]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    age: u32,
    nick: Option<String>,
    address: Address,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    city: String,
    zip: String,
}

fn user(id: u64, email: &str, age: u32, city: &str) -> User {
    User {
        id,
        email: email.into(),
        age,
        nick: id.is_multiple_of(2).then(|| format!("n{id}")),
        address: Address {
            city: city.into(),
            zip: format!("{id:05}"),
        },
    }
}

#[test]
fn typed_rows_round_trip_through_query_as() -> rustlite::Result<()> {
    let db = Database::in_memory()?;
    let users = db.collection::<User>()?;
    let all = [
        user(1, "a@x", 30, "oslo"),
        user(2, "b@x", 40, "rome"),
        user(3, "c@x", 50, "oslo"),
    ];
    for u in &all {
        users.insert(u)?;
    }
    let back: Vec<User> = db.query_as("SELECT * FROM users ORDER BY id", params![])?;
    assert_eq!(back, all);
    let oslo: Vec<User> = db.query_as(
        "SELECT * FROM users WHERE address.city = ? ORDER BY id DESC",
        params!["oslo"],
    )?;
    assert_eq!(oslo, [all[2].clone(), all[0].clone()]);
    let r = db.query(
        "SELECT u.address.zip FROM users u WHERE u.id = 2",
        params![],
    )?;
    assert_eq!(r.rows, [[Value::Text("00002".into())]]);
    // The planner uses the typed layer's indexes.
    let plan = db.explain("SELECT * FROM users WHERE email = 'b@x'")?;
    assert!(
        plan.contains("IndexScan users.email = 'b@x' via users.email"),
        "{plan}"
    );
    let plan = db.explain("SELECT * FROM users WHERE age > 35")?;
    assert!(
        plan.contains("IndexScan users.age (35, +inf) via users.age"),
        "{plan}"
    );
    Ok(())
}

#[test]
fn sql_writes_are_seen_by_typed_handles_and_keep_indexes() -> rustlite::Result<()> {
    let db = Database::in_memory()?;
    let users = db.collection::<User>()?;
    users.insert(&user(1, "a@x", 30, "oslo"))?;
    db.execute(
        "UPDATE users SET email = 'z@x', age = 31 WHERE id = 1",
        params![],
    )?;
    let u = users.get(&1)?.expect("row 1");
    assert_eq!((u.email.as_str(), u.age), ("z@x", 31));
    assert_eq!(users.find(User::EMAIL, "z@x")?.len(), 1);
    assert!(users.find(User::EMAIL, "a@x")?.is_empty());
    // A unique violation from SQL comes from the same index code.
    users.insert(&user(2, "b@x", 20, "rome"))?;
    let err = db.execute("UPDATE users SET email = 'b@x' WHERE id = 1", params![]);
    assert!(
        matches!(err, Err(rustlite::Error::UniqueViolation { .. })),
        "{err:?}"
    );
    db.execute("DELETE FROM users WHERE age < 25", params![])?;
    assert!(users.get(&2)?.is_none());
    assert!(users.find(User::EMAIL, "b@x")?.is_empty());
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
#[collection(name = "items")]
struct Item {
    #[key]
    id: i64,
    #[index(unique)]
    sku: String,
    price: f64,
    stock: Option<i64>,
}

#[test]
fn sql_created_table_opens_as_typed_collection() -> rustlite::Result<()> {
    let db = Database::in_memory()?;
    db.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, price REAL NOT NULL, stock INTEGER)",
        params![],
    )?;
    db.execute(
        "INSERT INTO items VALUES (1, 'a-1', 9.5, 3), (2, 'b-2', 20, NULL)",
        params![],
    )?;
    let items = db.collection::<Item>()?;
    assert_eq!(
        items.get(&2)?,
        Some(Item {
            id: 2,
            sku: "b-2".into(),
            price: 20.0,
            stock: None
        })
    );
    items.insert(&Item {
        id: 3,
        sku: "c-3".into(),
        price: 1.25,
        stock: Some(7),
    })?;
    let cheap: Vec<Item> = db.query_as(
        "SELECT * FROM items WHERE price < ? ORDER BY price",
        params![10],
    )?;
    assert_eq!(cheap.iter().map(|i| i.id).collect::<Vec<_>>(), [3, 1]);
    let mut tx = db.begin()?;
    tx.query(
        "UPDATE items SET stock = stock + 1 WHERE stock IS NOT NULL",
        params![],
    )?;
    let stocks: Vec<Value> = tx
        .query("SELECT stock FROM items ORDER BY id", params![])?
        .rows
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(stocks, [Value::Int(4), Value::Null, Value::Int(8)]);
    tx.commit()?;
    assert_eq!(items.get(&3)?.and_then(|i| i.stock), Some(8));
    Ok(())
}

#[test]
fn failed_statement_leaves_nothing() -> rustlite::Result<()> {
    let db = Database::in_memory()?;
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE)",
        params![],
    )?;
    db.execute("INSERT INTO t VALUES (1, 'a')", params![])?;
    assert!(db
        .execute("INSERT INTO t VALUES (2, 'b'), (3, 'a')", params![])
        .is_err());
    let n = db.query("SELECT count(*) FROM t", params![])?;
    assert_eq!(n.rows, [[Value::Int(1)]]);
    // The failed statement's index entry for 'b' is gone too.
    db.execute("INSERT INTO t VALUES (4, 'b')", params![])?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
#[collection(name = "d")]
struct Reading {
    #[key]
    id: i64,
    x: f64,
    y: f64,
}

/// SQL never makes a NaN, but a typed `f64` field stores one (of either sign). Every NaN is one
/// value above `+inf` for SQL as for the index's keys: column `x` is indexed and `y` holds the
/// same values unindexed, so an index scan and a full scan must give the same rows, and `=`,
/// ORDER BY, GROUP BY and MIN/MAX agree on that order.
#[test]
fn stored_nan_orders_alike_through_an_index_and_a_scan() -> rustlite::Result<()> {
    let db = Database::in_memory()?;
    db.execute(
        "CREATE TABLE d (id INTEGER PRIMARY KEY, x REAL, y REAL)",
        params![],
    )?;
    db.execute("CREATE INDEX dx ON d (x)", params![])?;
    let readings = db.collection::<Reading>()?;
    for (id, v) in [
        (1, -1.0),
        (2, 1.0),
        (3, f64::INFINITY),
        (4, f64::NEG_INFINITY),
        (8, -f64::NAN),
        (9, f64::NAN),
    ] {
        readings.insert(&Reading { id, x: v, y: v })?;
    }
    let ids = |sql: &str| -> rustlite::Result<Vec<Value>> {
        Ok(db
            .query(sql, params![])?
            .rows
            .into_iter()
            .flatten()
            .collect())
    };
    let int = |ids: &[i64]| ids.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>();
    for (cond, expected) in [
        ("< 0", int(&[1, 4])),
        ("<= 1", int(&[1, 2, 4])),
        ("> 0", int(&[2, 3, 8, 9])),
        (">= 1e999", int(&[3, 8, 9])),
        ("> 1e999", int(&[8, 9])),
        ("BETWEEN -1e999 AND 1e999", int(&[1, 2, 3, 4])),
    ] {
        let indexed = format!("SELECT id FROM d WHERE x {cond} ORDER BY id");
        let plan = db.explain(&indexed)?;
        assert!(plan.contains("IndexScan d.x"), "{plan}");
        assert_eq!(ids(&indexed)?, expected, "{indexed}");
        let scanned = format!("SELECT id FROM d WHERE y {cond} ORDER BY id");
        assert_eq!(ids(&scanned)?, expected, "{scanned}");
    }
    // `=` holds the two NaNs equal, as GROUP BY does.
    assert_eq!(
        ids("SELECT b.id FROM d a JOIN d b ON a.y < b.y WHERE a.id = 3 ORDER BY b.id")?,
        int(&[8, 9])
    );
    assert_eq!(
        ids("SELECT count(*) FROM d a, d b WHERE a.y = b.y AND a.id <> b.id")?,
        int(&[2])
    );
    assert_eq!(
        ids("SELECT count(*) FROM d GROUP BY y ORDER BY count(*) DESC LIMIT 1")?,
        int(&[2])
    );
    // ORDER BY puts both NaNs last (first descending), whichever their sign.
    let order = int(&[4, 1, 2, 3]);
    let asc = ids("SELECT id FROM d ORDER BY y, id")?;
    assert_eq!(asc.get(..4), Some(order.as_slice()));
    assert_eq!(asc.get(4..), Some(int(&[8, 9]).as_slice()));
    let desc = ids("SELECT id FROM d ORDER BY y DESC, id")?;
    assert_eq!(desc.get(..2), Some(int(&[8, 9]).as_slice()));
    // SQL writes no NaN: copying or recomputing a stored one writes NULL.
    db.execute(
        "CREATE TABLE copy (id INTEGER PRIMARY KEY, x REAL)",
        params![],
    )?;
    db.execute("INSERT INTO copy SELECT id, x FROM d", params![])?;
    assert_eq!(
        ids("SELECT id FROM copy WHERE x IS NULL ORDER BY id")?,
        int(&[8, 9])
    );
    assert_eq!(
        ids("SELECT id FROM d WHERE -y IS NULL ORDER BY id")?,
        int(&[8, 9])
    );
    // MAX is a NaN (the largest value), through the index as through the scan.
    let r = db.query("SELECT min(y), max(y), min(x), max(x) FROM d", params![])?;
    let row = r.rows.first().cloned().unwrap_or_default();
    assert_eq!(row.first(), Some(&Value::Float(f64::NEG_INFINITY)));
    assert!(matches!(row.get(1), Some(Value::Float(f)) if f.is_nan()));
    assert_eq!(row.get(2), Some(&Value::Float(f64::NEG_INFINITY)));
    assert!(matches!(row.get(3), Some(Value::Float(f)) if f.is_nan()));
    Ok(())
}
