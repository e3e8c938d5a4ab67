//! End-to-end tests of typed collections on disk, through the public API: CRUD across reopen,
//! every index kind, unique violations, index maintenance on update and delete, composite keys,
//! migrations, rollback, concurrent transactions and refused key changes.

use rustlite::{Collection, Database, Error, IndexType, Value};
use serde::{Deserialize, Serialize};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
#[collection(name = "users")]
struct User {
    #[key]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    age: u32,
    #[index(hash)]
    country: String,
    name: String,
    #[serde(default)]
    tags: Vec<String>,
    #[index(hash, unique)]
    nick: Option<String>,
}

fn user(id: u64, age: u32, country: &str) -> User {
    User {
        id,
        email: format!("u{id}@x.org"),
        age,
        country: country.into(),
        name: format!("user {id}"),
        tags: vec![],
        nick: None,
    }
}

fn ids(users: &[User]) -> Vec<u64> {
    users.iter().map(|u| u.id).collect()
}

/// Every index entry of the database, counted (index tag 0x02).
fn index_entries(db: &Database) -> rustlite::Result<usize> {
    let lo = [0x02u8];
    let hi = [0x03u8];
    let scan = db.engine().scan(
        std::ops::Bound::Included(&lo[..]),
        std::ops::Bound::Excluded(&hi[..]),
        rustlite::Direction::Forward,
    )?;
    let mut n = 0;
    for kv in scan {
        kv?;
        n += 1;
    }
    Ok(n)
}

#[test]
fn crud_and_every_index_kind_survive_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        let users = db.collection::<User>()?;
        for (id, age, c) in [(1, 30, "NO"), (2, 17, "UK"), (3, 45, "NO"), (4, 64, "FR")] {
            users.insert(&user(id, age, c))?;
        }
        let mut ada = user(5, 36, "UK");
        ada.nick = Some("ada".into());
        users.insert(&ada)?;
    }
    let db = Database::open(dir.path())?;
    let users = db.collection::<User>()?;
    assert_eq!(users.count()?, 5);
    assert_eq!(users.get(&3)?.map(|u| u.age), Some(45));
    assert_eq!(users.get(&99)?, None);
    assert_eq!(ids(&users.find(User::EMAIL, "u2@x.org")?), [2]);
    assert_eq!(ids(&users.find(User::COUNTRY, "NO")?), [1, 3]);
    assert_eq!(ids(&users.find(User::NICK, &Some("ada".to_string()))?), [5]);
    assert!(
        users.find(User::NICK, &None)?.is_empty(),
        "None is not indexed"
    );
    let adults: Vec<User> = users.range(User::AGE, 18..65)?.collect::<Result<_, _>>()?;
    assert_eq!(ids(&adults), [1, 5, 3, 4], "in age order");
    assert!(matches!(
        users.range(User::COUNTRY, "A".to_string()..),
        Err(Error::InvalidArgument(_))
    ));
    // A non-indexed field is found by a scan.
    assert_eq!(ids(&users.find(User::NAME, "user 4")?), [4]);
    let all: Vec<User> = users.iter()?.collect::<Result<_, _>>()?;
    assert_eq!(ids(&all), [1, 2, 3, 4, 5]);
    let some: Vec<User> = users.range_keys(2..4)?.collect::<Result<_, _>>()?;
    assert_eq!(ids(&some), [2, 3]);
    Ok(())
}

#[test]
fn unique_violations_apply_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let users = db.collection::<User>()?;
    users.insert(&user(1, 30, "NO"))?;
    let entries = index_entries(&db)?;
    let mut dup = user(2, 31, "UK");
    dup.email = "u1@x.org".into();
    match users.insert(&dup) {
        Err(Error::UniqueViolation { index, value }) => {
            assert_eq!(index, "users.email");
            assert_eq!(value, "u1@x.org");
        }
        other => panic!("expected a unique violation, got {other:?}"),
    }
    assert_eq!(users.get(&2)?, None);
    assert_eq!(
        index_entries(&db)?,
        entries,
        "no index entry of the refused write"
    );
    assert!(matches!(
        users.insert(&user(1, 1, "X")),
        Err(Error::AlreadyExists { .. })
    ));
    // Two `None` nicks do not clash on the unique hash index.
    users.insert(&user(3, 30, "NO"))?;
    assert!(matches!(
        users.update(&user(9, 1, "X")),
        Err(Error::NotFound(_))
    ));
    Ok(())
}

#[test]
fn updates_move_index_entries_and_deletes_remove_them() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let users = db.collection::<User>()?;
    users.insert(&user(1, 30, "NO"))?;
    users.insert(&user(2, 40, "UK"))?;
    let mut moved = user(1, 50, "FR");
    moved.email = "new@x.org".into();
    users.update(&moved)?;
    assert!(
        users.find(User::EMAIL, "u1@x.org")?.is_empty(),
        "old entry gone"
    );
    assert!(users.find(User::COUNTRY, "NO")?.is_empty());
    assert_eq!(ids(&users.find(User::AGE, &50)?), [1]);
    // The freed unique value can be taken again.
    let mut taker = user(2, 40, "UK");
    taker.email = "u1@x.org".into();
    users.upsert(&taker)?;
    assert_eq!(ids(&users.find(User::EMAIL, "u1@x.org")?), [2]);
    assert!(users.delete(&1)?);
    assert!(!users.delete(&1)?);
    assert!(users.find(User::EMAIL, "new@x.org")?.is_empty());
    // One document left, with 3 indexed non-null values (nick is None).
    assert_eq!(index_entries(&db)?, 3);
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
struct Line {
    #[key]
    order: u32,
    #[key]
    line: i16,
    sku: String,
}

#[test]
fn composite_keys_iterate_in_key_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let lines = db.collection::<Line>()?;
    for (order, line) in [(2, 1), (1, 10), (1, -2), (10, 0), (1, 2)] {
        lines.insert(&Line {
            order,
            line,
            sku: format!("{order}/{line}"),
        })?;
    }
    let keys: Vec<(u32, i16)> = lines
        .iter()?
        .map(|l| l.map(|l| l.key()))
        .collect::<Result<_, _>>()?;
    assert_eq!(keys, [(1, -2), (1, 2), (1, 10), (2, 1), (10, 0)]);
    let some: Vec<Line> = lines
        .range_keys((1, 2)..(2, 5))?
        .collect::<Result<_, _>>()?;
    assert_eq!(some.len(), 3);
    assert_eq!(lines.get(&(1, 10))?.map(|l| l.sku), Some("1/10".into()));
    Ok(())
}

mod v1 {
    #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    #[collection(name = "items")]
    pub struct Item {
        #[key]
        pub id: u32,
        #[index]
        pub color: String,
        pub size: u32,
    }
}

mod v2 {
    #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    #[collection(name = "items")]
    pub struct Item {
        #[key]
        pub id: u32,
        pub color: String,
        #[index(unique)]
        pub size: u32,
        #[serde(default)]
        pub weight: Option<f64>,
    }
}

mod v3 {
    #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    #[collection(name = "items")]
    pub struct Item {
        #[key]
        pub id: String,
        pub color: String,
    }
}

#[test]
fn migrations_add_and_drop_indexes_and_refuse_key_changes() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        let items = db.collection::<v1::Item>()?;
        for id in 0..50 {
            let color = ["red", "blue"][id as usize % 2].to_string();
            items.insert(&v1::Item {
                id,
                color,
                size: id * 10,
            })?;
        }
        assert_eq!(items.find(v1::Item::COLOR, "red")?.len(), 25);
        assert_eq!(index_entries(&db)?, 50);
    }
    let db = Database::open(dir.path())?;
    let items = db.collection::<v2::Item>()?;
    assert_eq!(
        index_entries(&db)?,
        50,
        "color entries dropped, size entries built"
    );
    let hit = items.find(v2::Item::SIZE, &120)?;
    assert_eq!(
        hit.iter().map(|i| (i.id, i.weight)).collect::<Vec<_>>(),
        [(12, None)]
    );
    let big: Vec<v2::Item> = items
        .range(v2::Item::SIZE, 470..)?
        .collect::<Result<_, _>>()?;
    assert_eq!(big.len(), 3);
    // Colors are found by a scan now.
    assert_eq!(items.find(v2::Item::COLOR, "blue")?.len(), 25);
    let table = db.engine().catalog()?.get("items").ok_or("no table")?;
    assert_eq!(table.indexes.len(), 1);
    assert!(table.field("weight").is_some());
    // A changed key type is refused, and leaves the collection as it was.
    match db.collection::<v3::Item>() {
        Err(Error::Schema(msg)) => assert!(msg.contains("key"), "{msg}"),
        other => panic!("expected a schema error, got {:?}", other.map(|_| ())),
    }
    assert_eq!(db.collection::<v2::Item>()?.count()?, 50);
    // Back to v1: the unique index goes, the color index is rebuilt.
    let items = db.collection::<v1::Item>()?;
    assert_eq!(items.find(v1::Item::COLOR, "blue")?.len(), 25);
    assert_eq!(index_entries(&db)?, 50);
    Ok(())
}

#[test]
fn a_migration_that_fails_changes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let items = db.collection::<v1::Item>()?;
    items.insert(&v1::Item {
        id: 1,
        color: "red".into(),
        size: 5,
    })?;
    items.insert(&v1::Item {
        id: 2,
        color: "red".into(),
        size: 5,
    })?;
    assert!(matches!(
        db.collection::<v2::Item>(),
        Err(Error::UniqueViolation { .. })
    ));
    assert_eq!(items.find(v1::Item::COLOR, "red")?.len(), 2);
    assert_eq!(index_entries(&db)?, 2);

    // The same inside a caller's transaction: the failed migration leaves nothing in it, and
    // the transaction's other writes commit.
    let mut tx = db.begin()?;
    assert!(matches!(
        tx.collection::<v2::Item>(),
        Err(Error::UniqueViolation { .. })
    ));
    tx.put("note", "x")?;
    tx.commit()?;
    assert_eq!(db.get("note")?, Some(b"x".to_vec()));
    assert_eq!(items.find(v1::Item::COLOR, "red")?.len(), 2);
    assert_eq!(index_entries(&db)?, 2);
    assert_eq!(items.count()?, 2);
    Ok(())
}

#[test]
fn rollback_leaves_no_row_or_index_entry() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    db.collection::<User>()?.insert(&user(1, 20, "NO"))?;
    let before = index_entries(&db)?;
    let mut tx = db.begin()?;
    {
        let users = tx.collection::<User>()?;
        users.insert(&user(2, 21, "UK"))?;
        users.update(&user(1, 99, "FR"))?;
        assert_eq!(
            ids(&users.find(User::AGE, &99)?),
            [1],
            "reads its own writes"
        );
        assert!(users.delete(&2)?);
        users.insert(&user(3, 22, "SE"))?;
    }
    tx.rollback();
    let users = db.collection::<User>()?;
    assert_eq!(index_entries(&db)?, before);
    assert_eq!(ids(&users.iter()?.collect::<Result<Vec<_>, _>>()?), [1]);
    assert_eq!(ids(&users.find(User::AGE, &20)?), [1]);

    let mut tx = db.begin()?;
    tx.collection::<User>()?.insert(&user(4, 23, "DK"))?;
    tx.commit()?;
    assert_eq!(ids(&users.find(User::COUNTRY, "DK")?), [4]);
    Ok(())
}

#[test]
fn concurrent_transactions_on_one_collection() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let users = db.collection::<User>()?;
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || -> rustlite::Result<()> {
                for i in 0..25u64 {
                    let id = t * 100 + i + 1;
                    // `transaction` retries conflicts 16 times; four threads hammering one
                    // document can exceed that, so retry further here.
                    let mut attempts = 0;
                    while let Err(e) = db.transaction(|tx| {
                        let users = tx.collection::<User>()?;
                        users.insert(&user(id, u32::try_from(i).unwrap_or(0), "NO"))?;
                        // Everyone also bumps one shared document: write-write conflicts, retried.
                        let mut shared = users.get(&0)?.unwrap_or_else(|| user(0, 0, "XX"));
                        shared.age += 1;
                        users.upsert(&shared)
                    }) {
                        attempts += 1;
                        if !e.is_retryable() || attempts > 100 {
                            return Err(e);
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "thread panicked")??;
    }
    assert_eq!(users.count()?, 101);
    assert_eq!(users.get(&0)?.map(|u| u.age), Some(100), "no lost update");
    assert_eq!(users.find(User::COUNTRY, "NO")?.len(), 100);
    assert_eq!(users.range(User::AGE, 0..25)?.count(), 100);
    // Racing inserts of one unique value: exactly one wins.
    let winners: Vec<bool> = (0..4u64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut u = user(1000 + t, 1, "SE");
                u.email = "same@x.org".into();
                db.collection::<User>().and_then(|c| c.insert(&u)).is_ok()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap_or(false))
        .collect();
    assert_eq!(winners.iter().filter(|w| **w).count(), 1);
    assert_eq!(users.find(User::EMAIL, "same@x.org")?.len(), 1);
    Ok(())
}

#[test]
fn old_documents_read_with_serde_default_fields() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    db.collection::<v1::Item>()?.insert(&v1::Item {
        id: 7,
        color: "red".into(),
        size: 1,
    })?;
    let item = db.collection::<v2::Item>()?.get(&7)?.ok_or("missing")?;
    assert_eq!((item.color.as_str(), item.weight), ("red", None));
    Ok(())
}

#[test]
fn seed_manual_indexes() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        db.create_index("names", IndexType::BTree)?;
        db.create_index("tags", IndexType::Hash)?;
        assert!(matches!(
            db.create_index("names", IndexType::Hash),
            Err(Error::AlreadyExists { .. })
        ));
        for (k, id) in [(&b"carol"[..], 3), (b"ada", 1), (b"bob", 2), (b"ada", 4)] {
            db.index_insert("names", k, id)?;
            db.index_insert("tags", k, id)?;
        }
    }
    let db = Database::open(dir.path())?;
    assert_eq!(db.index_find("names", b"ada")?, [1, 4]);
    assert_eq!(db.index_find("tags", b"bob")?, [2]);
    assert_eq!(db.index_find("tags", b"zed")?, Vec::<u64>::new());
    let range = db.index_range("names", &b"b"[..]..&b"c"[..])?;
    assert_eq!(range, [(b"bob".to_vec(), 2)]);
    assert!(matches!(
        db.index_range("tags", ..),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.index_find("nope", b"x"),
        Err(Error::NotFound(_))
    ));
    // Raw KV never sees rows, indexes or the catalog.
    assert_eq!(db.scan::<&[u8]>(..)?.count(), 0);
    let _ = Value::Null;
    Ok(())
}

/// A field serde leaves out when empty (`skip_serializing_if`) is nullable: a document without
/// it is stored, and reads back with its default. Before, the insert failed ("NOT NULL").
#[test]
fn fields_serde_may_leave_out_are_nullable() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "notes")]
    struct Note {
        #[key]
        id: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
    }
    let db = Database::in_memory()?;
    let notes = db.collection::<Note>()?;
    let bare = Note {
        id: 1,
        tags: vec![],
    };
    let tagged = Note {
        id: 2,
        tags: vec!["x".into()],
    };
    notes.insert(&bare)?;
    notes.insert(&tagged)?;
    assert_eq!(notes.get(&1)?, Some(bare));
    assert_eq!(notes.get(&2)?, Some(tagged));
    Ok(())
}

/// An indexed field whose type changes (integer to float) has its index rebuilt: the old
/// entries were keyed as integers, which lookups of the new type never find (and updates
/// never removed). Before, `find` missed the document, and after an update it came back twice.
#[test]
fn an_indexed_field_whose_type_changes_gets_its_index_rebuilt() -> TestResult {
    mod v1 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "items")]
        pub struct Item {
            #[key]
            pub id: u64,
            #[index]
            pub price: u32,
        }
    }
    mod v2 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "items")]
        pub struct Item {
            #[key]
            pub id: u64,
            #[index]
            pub price: f64,
        }
    }
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        let items = db.collection::<v1::Item>()?;
        items.insert(&v1::Item { id: 1, price: 5 })?;
        items.insert(&v1::Item { id: 2, price: 9 })?;
    }
    let db = Database::open(dir.path())?;
    let items = db.collection::<v2::Item>()?;
    let ids = |v: Vec<v2::Item>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(items.find(v2::Item::PRICE, &5.0)?), [1]);
    items.update(&v2::Item { id: 1, price: 6.5 })?;
    let all: Vec<v2::Item> = items
        .range(v2::Item::PRICE, ..)?
        .collect::<Result<_, _>>()?;
    assert_eq!(ids(all), [1, 2], "each document once, in price order");
    assert!(items.find(v2::Item::PRICE, &5.0)?.is_empty());
    assert!(items.delete(&1)?);
    let all: Vec<v2::Item> = items
        .range(v2::Item::PRICE, ..)?
        .collect::<Result<_, _>>()?;
    assert_eq!(ids(all), [2]);
    assert_eq!(index_entries(&db)?, 1);
    Ok(())
}

/// Opening an SQL-made table as a collection keeps the indexes made in SQL (a UNIQUE one still
/// refuses duplicates from either side); only indexes a declaration made (`table.field`) are
/// the collection's to drop. Before, the open dropped `users_email` and duplicates went in.
#[test]
fn opening_a_collection_keeps_indexes_made_in_sql() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "members")]
    struct Member {
        #[key]
        id: i64,
        email: String,
        #[index]
        age: u32,
    }
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        db.execute(
            "CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT, age INTEGER)",
            rustlite::params![],
        )?;
        db.execute(
            "CREATE UNIQUE INDEX members_email ON members (email)",
            rustlite::params![],
        )?;
        db.execute(
            "INSERT INTO members VALUES (1, 'a@x', 30)",
            rustlite::params![],
        )?;
    }
    for _ in 0..2 {
        let db = Database::open(dir.path())?;
        let members = db.collection::<Member>()?;
        let dup = Member {
            id: 2,
            email: "a@x".into(),
            age: 40,
        };
        assert!(matches!(
            members.insert(&dup),
            Err(Error::UniqueViolation { .. })
        ));
        assert_eq!(
            members.find(Member::AGE, &30)?.len(),
            1,
            "the declared index was built"
        );
        let plan = db.query(
            "EXPLAIN SELECT id FROM members WHERE email = 'a@x'",
            rustlite::params![],
        )?;
        assert!(
            format!("{:?}", plan.rows).contains("members_email"),
            "{:?}",
            plan.rows
        );
    }
    Ok(())
}

/// A SQL column `UNIQUE` constraint is an index named `table.column`, the name a declaration
/// gives its indexes; a type that does not declare that index must not drop it (it did: the
/// collection took it for one of its own, and duplicates went in from SQL and typed code).
/// The same holds inside a caller's transaction. A non-unique `table.field` index the type no
/// longer declares is still dropped.
#[test]
fn opening_a_collection_keeps_a_sql_unique_column_constraint() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "accounts")]
    struct Account {
        #[key]
        id: i64,
        email: Option<String>,
        nick: Option<String>,
    }
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        db.execute(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT UNIQUE, nick TEXT)",
            rustlite::params![],
        )?;
        // Named as a declaration would name it, not unique: the collection's to drop.
        db.execute(
            "CREATE INDEX \"accounts.nick\" ON accounts (nick)",
            rustlite::params![],
        )?;
        db.execute(
            "INSERT INTO accounts VALUES (1, 'a@x', 'ann')",
            rustlite::params![],
        )?;
    }
    for _ in 0..2 {
        let db = Database::open(dir.path())?;
        let mut tx = db.begin()?;
        tx.collection::<Account>()?;
        tx.commit()?;
        db.collection::<Account>()?;
        let dup = db.execute(
            "INSERT INTO accounts VALUES (2, 'a@x', 'bob')",
            rustlite::params![],
        );
        assert!(matches!(dup, Err(Error::UniqueViolation { .. })), "{dup:?}");
        let typed_dup = db.collection::<Account>()?.insert(&Account {
            id: 3,
            email: Some("a@x".into()),
            nick: None,
        });
        assert!(matches!(typed_dup, Err(Error::UniqueViolation { .. })));
        let plan = db.explain("SELECT id FROM accounts WHERE nick = 'ann'")?;
        assert!(
            !plan.contains("IndexScan"),
            "accounts.nick was not dropped: {plan}"
        );
    }
    // A type that declares the same unique index finds it up to date (it is not rebuilt and
    // keeps its mark), and a type that stops declaring it again leaves it in place.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "accounts")]
    struct Declaring {
        #[key]
        id: i64,
        #[index(unique)]
        email: Option<String>,
        nick: Option<String>,
    }
    let db = Database::open(dir.path())?;
    let mark = |db: &Database| -> Result<Option<(u32, bool)>, Box<dyn std::error::Error>> {
        let t = db.engine().catalog()?.get("accounts").ok_or("no table")?;
        Ok(t.index("accounts.email")
            .map(|ix| (ix.id, ix.def.sql_constraint)))
    };
    let before = mark(&db)?;
    db.collection::<Declaring>()?;
    assert_eq!(mark(&db)?, before, "same index, same mark");
    assert_eq!(before.map(|m| m.1), Some(true));
    db.collection::<Account>()?;
    let dup = db.execute(
        "INSERT INTO accounts VALUES (4, 'a@x', 'cy')",
        rustlite::params![],
    );
    assert!(matches!(dup, Err(Error::UniqueViolation { .. })), "{dup:?}");
    Ok(())
}

/// A field added to the type with `#[serde(default)]` (here indexed) is stored in the old
/// documents by the migration, so the new index, `find` and SQL all see its default. Before,
/// the documents were left as they were: `get` read the default, but `find` and SQL missed
/// every old document.
#[test]
fn a_field_added_with_a_default_is_stored_in_old_documents() -> TestResult {
    mod v1 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "tasks")]
        pub struct Task {
            #[key]
            pub id: u64,
            pub title: String,
        }
    }
    mod v2 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "tasks")]
        pub struct Task {
            #[key]
            pub id: u64,
            pub title: String,
            #[index]
            #[serde(default)]
            pub archived: bool,
        }
    }
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        let tasks = db.collection::<v1::Task>()?;
        for id in 1..=3 {
            tasks.insert(&v1::Task {
                id,
                title: format!("t{id}"),
            })?;
        }
    }
    let db = Database::open(dir.path())?;
    let tasks = db.collection::<v2::Task>()?;
    let ids = |v: Vec<v2::Task>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(tasks.find(v2::Task::ARCHIVED, &false)?), [1, 2, 3]);
    tasks.update(&v2::Task {
        id: 2,
        title: "t2".into(),
        archived: true,
    })?;
    assert_eq!(ids(tasks.find(v2::Task::ARCHIVED, &true)?), [2]);
    let open = db.query(
        "SELECT id FROM tasks WHERE archived = false ORDER BY id",
        rustlite::params![],
    )?;
    assert_eq!(
        open.rows,
        [vec![Value::Int(1)], vec![Value::Int(3)]],
        "SQL sees the stored default"
    );
    Ok(())
}

/// A `Vec<u8>` field is stored as bytes whichever side writes it: serde writes a `Vec<u8>` as an
/// array of integers, SQL a BLOB as bytes. Before, typed rows held arrays: a SQL `UPDATE` of any
/// other column failed on them ("column token is BLOB, got ARRAY"), a SQL duplicate of a typed
/// unique value went in (two index keys for the same bytes), and each side's lookups missed the
/// other side's rows. Keys of `Vec<u8>` take the same form.
#[test]
fn byte_fields_are_one_form_for_typed_code_and_sql() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "docs")]
    struct Doc {
        #[key]
        id: u32,
        #[index(unique)]
        token: Vec<u8>,
        n: i64,
    }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "blobs")]
    struct Blob {
        #[key]
        id: Vec<u8>,
        v: i64,
    }
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let docs = db.collection::<Doc>()?;
    docs.insert(&Doc {
        id: 1,
        token: vec![1, 2],
        n: 0,
    })?;
    db.execute("UPDATE docs SET n = 1 WHERE id = 1", rustlite::params![])?;
    let dup = db.execute(
        "INSERT INTO docs VALUES (2, X'0102', 0)",
        rustlite::params![],
    );
    assert!(matches!(dup, Err(Error::UniqueViolation { .. })), "{dup:?}");
    db.execute(
        "INSERT INTO docs VALUES (3, X'0304', 0)",
        rustlite::params![],
    )?;
    let ids = |v: Vec<Doc>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(ids(docs.find(Doc::TOKEN, &vec![1u8, 2])?), [1]);
    assert_eq!(ids(docs.find(Doc::TOKEN, &vec![3u8, 4])?), [3]);
    assert_eq!(docs.get(&3)?.map(|d| d.token), Some(vec![3, 4]));
    assert_eq!(docs.get(&1)?.map(|d| d.n), Some(1));
    let by_sql = db.query(
        "SELECT id FROM docs WHERE token = X'0102'",
        rustlite::params![],
    )?;
    assert_eq!(by_sql.rows, [vec![Value::Int(1)]]);

    let blobs = db.collection::<Blob>()?;
    blobs.insert(&Blob {
        id: vec![1, 2],
        v: 5,
    })?;
    assert_eq!(blobs.get(&vec![1u8, 2])?.map(|b| b.v), Some(5));
    let by_key = db.query(
        "SELECT v FROM blobs WHERE id = X'0102'",
        rustlite::params![],
    )?;
    assert_eq!(by_key.rows, [vec![Value::Int(5)]]);
    db.execute("INSERT INTO blobs VALUES (X'0103', 6)", rustlite::params![])?;
    let keys: Vec<Vec<u8>> = blobs
        .range_keys(vec![1u8, 2]..)?
        .map(|b| b.map(|b| b.id))
        .collect::<Result<_, _>>()?;
    assert_eq!(keys, [vec![1, 2], vec![1, 3]]);
    drop((docs, blobs, db));
    let db = Database::open(dir.path())?;
    assert_eq!(
        db.collection::<Blob>()?.get(&vec![1u8, 3])?.map(|b| b.v),
        Some(6)
    );
    Ok(())
}

/// A field serde writes through the user's own function (`with`, `serialize_with`) may take a
/// form unlike its Rust type's (here a `u64` as text): the schema declares it a document.
/// Before, it was declared `INTEGER` and every insert failed ("expects INTEGER, got TEXT").
#[test]
fn a_field_serialized_with_a_function_is_a_document() -> TestResult {
    mod as_text {
        use serde::{Deserialize, Deserializer, Serializer};
        pub fn serialize<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&n.to_string())
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
            String::deserialize(d)?
                .parse()
                .map_err(serde::de::Error::custom)
        }
    }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "counters")]
    struct Counter {
        #[key]
        id: u32,
        #[serde(with = "as_text")]
        big: u64,
    }
    let db = Database::in_memory()?;
    let counters = db.collection::<Counter>()?;
    let c = Counter {
        id: 1,
        big: u64::MAX,
    };
    counters.insert(&c)?;
    assert_eq!(counters.get(&1)?, Some(c));
    let text = db.query("SELECT big FROM counters", rustlite::params![])?;
    assert_eq!(text.rows, [vec![Value::Text(u64::MAX.to_string())]]);
    Ok(())
}

/// `range` uses a B-Tree index on the field even when another index on it (here the declared
/// hash index) comes first. Before, it took the first index on the field and refused the range.
#[test]
fn range_finds_a_btree_index_behind_a_hash_index() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "events")]
    struct Event {
        #[key]
        id: u32,
        #[index(hash)]
        ts: i64,
    }
    let db = Database::in_memory()?;
    let events = db.collection::<Event>()?;
    for (id, ts) in [(1, 30), (2, 10), (3, 20)] {
        events.insert(&Event { id, ts })?;
    }
    db.execute("CREATE INDEX events_ts ON events (ts)", rustlite::params![])?;
    let events = db.collection::<Event>()?;
    let ids: Vec<u32> = events
        .range(Event::TS, 10..30)?
        .map(|e| e.map(|e| e.id))
        .collect::<Result<_, _>>()?;
    assert_eq!(ids, [2, 3]);
    Ok(())
}

/// A field whose type changes from integer to float without an index: the migration rewrites
/// the documents, so `find` (a scan) compares floats with floats. Before, stored documents
/// kept `Int(5)` and `find(&5.0)` missed them, though `get` and SQL saw 5.0.
#[test]
fn an_unindexed_field_whose_type_changes_is_found() -> TestResult {
    mod v1 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "prices")]
        pub struct Item {
            #[key]
            pub id: u64,
            pub price: i64,
        }
    }
    mod v2 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "prices")]
        pub struct Item {
            #[key]
            pub id: u64,
            pub price: f64,
        }
    }
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        db.collection::<v1::Item>()?
            .insert(&v1::Item { id: 1, price: 5 })?;
    }
    let db = Database::open(dir.path())?;
    let items = db.collection::<v2::Item>()?;
    assert_eq!(items.find(v2::Item::PRICE, &5.0)?.len(), 1);
    Ok(())
}

/// Dropping a field from the type drops it from the stored documents, so a later version may
/// bring the name back with another type. Before, the old values stayed: the version re-adding
/// `note` as a number failed to open ("a stored document does not read as the type"), on every
/// open.
#[test]
fn a_removed_field_can_come_back_with_another_type() -> TestResult {
    mod v1 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "notes")]
        pub struct Note {
            #[key]
            pub id: u64,
            pub note: String,
        }
    }
    mod v2 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "notes")]
        pub struct Note {
            #[key]
            pub id: u64,
        }
    }
    mod v3 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "notes")]
        pub struct Note {
            #[key]
            pub id: u64,
            #[serde(default)]
            pub note: Option<u32>,
        }
    }
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        db.collection::<v1::Note>()?.insert(&v1::Note {
            id: 1,
            note: "hi".into(),
        })?;
    }
    {
        let db = Database::open(dir.path())?;
        assert!(db.collection::<v2::Note>()?.get(&1)?.is_some());
    }
    let db = Database::open(dir.path())?;
    let notes = db.collection::<v3::Note>()?;
    assert_eq!(notes.get(&1)?, Some(v3::Note { id: 1, note: None }));
    Ok(())
}

/// Opening a collection with a narrower type (an older binary, a projection of the same
/// collection) leaves the fields it lacks in the stored documents: the full type, opened again,
/// reads them back.
#[test]
fn a_narrower_type_leaves_the_fields_it_lacks() -> TestResult {
    mod full {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "people")]
        pub struct Person {
            #[key]
            pub id: u64,
            pub name: String,
            pub bio: String,
        }
    }
    mod narrow {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "people")]
        pub struct Person {
            #[key]
            pub id: u64,
            pub name: String,
        }
    }
    let dir = tempfile::tempdir()?;
    let ada = full::Person {
        id: 1,
        name: "Ada".into(),
        bio: "engines".into(),
    };
    {
        let db = Database::open(dir.path())?;
        db.collection::<full::Person>()?.insert(&ada)?;
    }
    {
        let db = Database::open(dir.path())?;
        let people = db.collection::<narrow::Person>()?;
        assert_eq!(people.get(&1)?.map(|p| p.name), Some("Ada".to_string()));
    }
    let db = Database::open(dir.path())?;
    assert_eq!(db.collection::<full::Person>()?.get(&1)?, Some(ada));
    Ok(())
}

/// `#[serde(with = "serde_bytes")]` writes a `Vec<u8>` as MessagePack bin, the form a `BLOB`
/// field stores anyway: the field stays `BLOB` (any other `with` makes it a document). A local
/// module of that name stands in for the crate.
#[test]
fn a_serde_bytes_field_stays_a_blob() -> TestResult {
    mod serde_bytes {
        use serde::{Deserialize, Deserializer, Serializer};
        pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            Vec::<u8>::deserialize(d)
        }
    }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "files")]
    struct File {
        #[key]
        id: u32,
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
    }
    let field = File::schema();
    let body = field.field("body").ok_or("no body field")?;
    assert_eq!(body.ty, rustlite::FieldType::Bytes);
    let db = Database::in_memory()?;
    let files = db.collection::<File>()?;
    let f = File {
        id: 1,
        body: vec![0, 255],
    };
    files.insert(&f)?;
    assert_eq!(files.get(&1)?, Some(f));
    let r = db.query(
        "SELECT id FROM files WHERE body = X'00FF'",
        rustlite::params![],
    )?;
    assert_eq!(r.rows, [vec![Value::Int(1)]]);
    Ok(())
}

/// A migration rewrites every stored document; a document committed by a writer of the old
/// type after the migration's snapshot would be left in the old shape (a field added with
/// `#[serde(default)]` missing from it, so `find` on that field missed the row for good). The
/// migration conflicts instead, as an index build does.
#[test]
fn a_migration_conflicts_with_a_row_committed_after_its_snapshot() -> TestResult {
    mod v1 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "items")]
        pub struct Item {
            #[key]
            pub id: u64,
            pub name: String,
        }
    }
    mod v2 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "items")]
        pub struct Item {
            #[key]
            pub id: u64,
            pub name: String,
            #[serde(default)]
            pub score: u32,
        }
    }
    let db = Database::in_memory()?;
    let old = db.collection::<v1::Item>()?;
    let item = |id| v1::Item {
        id,
        name: format!("item {id}"),
    };
    old.insert(&item(1))?;
    let mut migration = db.begin_with(rustlite::IsolationLevel::RepeatableRead)?;
    old.insert(&item(2))?; // commits after the migration's snapshot
    migration.collection::<v2::Item>()?;
    assert!(matches!(migration.commit(), Err(Error::Conflict(_))));
    // Retried (as `Database::collection` does), it sees and rewrites both documents.
    let new = db.collection::<v2::Item>()?;
    let mut found: Vec<u64> = new
        .find(v2::Item::SCORE, &0)?
        .iter()
        .map(|i| i.id)
        .collect();
    found.sort_unstable();
    assert_eq!(found, [1, 2]);
    Ok(())
}

/// A unique value another transaction gave up after this one's snapshot is not a violation: a
/// retry (with a fresh snapshot) succeeds, so the insert fails with a retryable
/// [`Error::Conflict`]. Before, it was a `UniqueViolation`, which `Database::transaction` does
/// not retry. A value still taken stays a `UniqueViolation`.
#[test]
fn a_unique_value_freed_after_the_snapshot_is_a_conflict() -> TestResult {
    for level in [
        rustlite::IsolationLevel::RepeatableRead,
        rustlite::IsolationLevel::Serializable,
    ] {
        let db = Database::in_memory()?;
        let users = db.collection::<User>()?;
        users.insert(&user(1, 30, "no"))?;
        users.insert(&user(3, 30, "no"))?;
        let mut tx = db.begin_with(level)?;
        // Row 1 takes another email, freeing its old one, and commits.
        users.update(&User {
            email: "new@x.org".into(),
            ..user(1, 30, "no")
        })?;
        let freed = User {
            email: "u1@x.org".into(),
            ..user(2, 30, "no")
        };
        let result = tx.collection::<User>()?.insert(&freed);
        assert!(
            matches!(result, Err(Error::Conflict(_))),
            "{level:?}: {result:?}"
        );
        // Still taken (by row 3, at the snapshot and now): a violation.
        let mut tx = db.begin_with(level)?;
        let taken = User {
            email: "u3@x.org".into(),
            ..user(4, 30, "no")
        };
        let result = tx.collection::<User>()?.insert(&taken);
        assert!(
            matches!(result, Err(Error::UniqueViolation { .. })),
            "{level:?}: {result:?}"
        );
        // Retried from the start, as `Database::transaction` does, the freed value goes in.
        let mut tx = db.begin_with(level)?;
        tx.collection::<User>()?.insert(&freed)?;
        tx.commit()?;
        assert_eq!(ids(&users.find(User::EMAIL, "u1@x.org")?), [2]);
    }
    Ok(())
}

/// At ReadCommitted and ReadUncommitted each read sees the latest commit, plus the
/// transaction's own writes. An index read of a row the transaction wrote, which another
/// transaction then committed a change of, saw the other's index entries beside its own: `find`
/// returned the row for a value it does not hold, `range` returned it twice, and a row the
/// transaction deleted was "an index entry points to a missing row" (`Corruption`). The
/// transaction's own version decides (it cannot commit, but what it reads stays consistent).
#[test]
fn index_reads_at_read_committed_follow_the_transactions_own_writes() -> TestResult {
    for level in [
        rustlite::IsolationLevel::ReadCommitted,
        rustlite::IsolationLevel::ReadUncommitted,
    ] {
        let db = Database::in_memory()?;
        let users = db.collection::<User>()?;
        users.insert(&user(1, 10, "no"))?;
        users.insert(&user(2, 50, "se"))?;
        let mut tx = db.begin_with(level)?;
        tx.collection::<User>()?.update(&user(1, 20, "dk"))?;
        users.update(&user(1, 30, "fi"))?; // another transaction commits
        {
            let mine = tx.collection::<User>()?;
            assert!(mine.find(User::AGE, &30)?.is_empty(), "{level:?}");
            assert!(mine.find(User::COUNTRY, "fi")?.is_empty(), "{level:?}");
            assert_eq!(ids(&mine.find(User::AGE, &20)?), [1], "{level:?}");
            assert_eq!(ids(&mine.find(User::COUNTRY, "dk")?), [1], "{level:?}");
            let all: Vec<User> = mine.range(User::AGE, 0..100)?.collect::<Result<_, _>>()?;
            assert_eq!(ids(&all), [1, 2], "{level:?}: each row once");
        }
        let rows = tx.query("SELECT id FROM users WHERE age >= 0 ORDER BY id", [])?;
        assert_eq!(rows.rows, [[Value::Int(1)], [Value::Int(2)]], "{level:?}");
        assert!(matches!(tx.commit(), Err(Error::Conflict(_))), "{level:?}");

        // A row the transaction deleted, changed by another: not there, and no corruption.
        let mut tx = db.begin_with(level)?;
        assert!(tx.collection::<User>()?.delete(&2)?);
        users.update(&user(2, 60, "se"))?;
        {
            let mine = tx.collection::<User>()?;
            assert!(mine.find(User::AGE, &60)?.is_empty(), "{level:?}");
            assert!(mine.find(User::COUNTRY, "se")?.is_empty(), "{level:?}");
            let all: Vec<User> = mine.range(User::AGE, ..)?.collect::<Result<_, _>>()?;
            assert_eq!(ids(&all), [1], "{level:?}");
        }
        let rows = tx.query("SELECT id FROM users WHERE age = 60", [])?;
        assert!(rows.rows.is_empty(), "{level:?}");
    }
    Ok(())
}

/// A transaction's typed handle at ReadCommitted reads the latest commit, so it must read it
/// with the latest schema: an index dropped after the handle was opened has no entries left,
/// and `find` through it returned nothing.
#[test]
fn a_handle_at_read_committed_follows_a_dropped_index() -> TestResult {
    let db = Database::in_memory()?;
    let users = db.collection::<User>()?;
    users.insert(&user(1, 10, "no"))?;
    db.execute("CREATE INDEX by_name ON users (name)", [])?;
    for level in [
        rustlite::IsolationLevel::ReadCommitted,
        rustlite::IsolationLevel::ReadUncommitted,
    ] {
        let mut tx = db.begin_with(level)?;
        let mine = tx.collection::<User>()?;
        assert_eq!(ids(&mine.find(User::NAME, "user 1")?), [1]);
        db.execute("DROP INDEX by_name", [])?;
        assert_eq!(ids(&mine.find(User::NAME, "user 1")?), [1], "{level:?}");
        db.execute("CREATE INDEX by_name ON users (name)", [])?;
        assert_eq!(ids(&mine.find(User::NAME, "user 1")?), [1], "{level:?}");
    }
    Ok(())
}

/// A migration that removes one field and adds another keeps the removed field's values in
/// the documents, as a migration that only removes fields does: a type that brings the field
/// back finds them. Before, the rewrite for the added field dropped them (the documents were
/// read as the new type and written back), and the first type then failed to read any
/// document ("missing field `age`").
#[test]
fn a_migration_that_adds_a_field_keeps_the_values_of_one_it_removes() -> TestResult {
    mod n1 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "folk")]
        pub struct P {
            #[key]
            pub id: u32,
            pub name: String,
            pub age: u32,
        }
    }
    mod n2 {
        use serde::{Deserialize, Serialize};
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
        #[collection(name = "folk")]
        pub struct P {
            #[key]
            pub id: u32,
            pub name: String,
            #[serde(default)]
            pub email: Option<String>,
        }
    }
    let dir = tempfile::tempdir()?;
    let ada = n1::P {
        id: 1,
        name: "ada".into(),
        age: 36,
    };
    {
        let db = Database::open(dir.path())?;
        db.collection::<n1::P>()?.insert(&ada)?;
    }
    {
        let db = Database::open(dir.path())?;
        let folk = db.collection::<n2::P>()?;
        let p = folk.get(&1)?.ok_or("row 1")?;
        assert_eq!((p.name.as_str(), p.email), ("ada", None));
        // The added field is stored, so SQL sees it.
        let rows = db.query("SELECT email FROM folk WHERE id = 1", [])?;
        assert_eq!(rows.rows, [[Value::Null]]);
    }
    let db = Database::open(dir.path())?;
    assert_eq!(db.collection::<n1::P>()?.get(&1)?, Some(ada));
    Ok(())
}

/// `range` on a field without a B-Tree index says what to do instead: add `#[index]`, or, for
/// a key field (which cannot carry `#[index]`), use `range_keys`. Before, a key field was also
/// told to add `#[index]`, which the derive refuses.
#[test]
fn range_without_a_btree_index_says_what_to_use() -> TestResult {
    let db = Database::in_memory()?;
    let users = db.collection::<User>()?;
    users.insert(&user(1, 30, "no"))?;
    let message = |r: Result<rustlite::Iter<User>, Error>| match r {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {:?}", other.map(|_| ())),
    };
    assert!(message(users.range(User::ID, 0..10)).contains("use range_keys"));
    assert!(
        message(users.range(User::NAME, "a".to_string().."z".to_string())).contains("#[index]")
    );
    assert!(
        message(users.range(User::COUNTRY, "a".to_string().."z".to_string())).contains("#[index]")
    );
    assert_eq!(
        ids(&users.range_keys(0..10)?.collect::<Result<Vec<_>, _>>()?),
        [1]
    );
    Ok(())
}
