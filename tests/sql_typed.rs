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
