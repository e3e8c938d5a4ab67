//! End-to-end tests of what `#[derive(Collection)]` declares for field types the struct spells
//! indirectly: type aliases, newtypes, and types serde writes as nil. The column a field gets
//! decides how values are normalized (an integer in a float column is a float), whether the
//! key changed, and whether a nil is accepted.

use std::marker::PhantomData;

use rustlite::{Collection, Database, Error, FieldType, Value};
use serde::{Deserialize, Serialize};

type TestResult = Result<(), Box<dyn std::error::Error>>;

type Price = f64;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Cost(f64);

/// An indexed float field behind an alias or a newtype is a float column: a SQL integer
/// stored into it is a float, found by typed lookups of the same value. Before, such a field
/// was a `DOCUMENT` column (chosen by spelling), the integer stayed an integer, and `find` and
/// `range` returned only the typed row.
#[test]
fn an_aliased_or_wrapped_float_is_a_float_column() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "goods")]
    struct Good {
        #[key]
        id: u64,
        #[index]
        price: Price,
        #[index]
        cost: Cost,
        list: Price,
    }
    let db = Database::in_memory()?;
    let goods = db.collection::<Good>()?;
    db.execute(
        "INSERT INTO goods (id, price, cost, list) VALUES (1, 2, 3, 4)",
        rustlite::params![],
    )?;
    goods.insert(&Good {
        id: 2,
        price: 2.0,
        cost: Cost(3.0),
        list: 4.0,
    })?;
    let ids = |found: Vec<Good>| found.into_iter().map(|g| g.id).collect::<Vec<_>>();
    assert_eq!(ids(goods.find(Good::PRICE, &2.0)?), [1, 2]);
    assert_eq!(ids(goods.find(Good::COST, &Cost(3.0))?), [1, 2]);
    // Not indexed: found by a scan, which normalizes the same way.
    assert_eq!(ids(goods.find(Good::LIST, &4.0)?), [1, 2]);
    let in_range: Vec<u64> = goods
        .range(Good::PRICE, 1.5..2.5)?
        .map(|g| g.map(|g| g.id))
        .collect::<Result<_, _>>()?;
    assert_eq!(in_range, [1, 2]);
    assert_eq!(goods.get(&1)?.map(|g| g.cost), Some(Cost(3.0)));
    let kinds: Vec<FieldType> = Good::schema().fields.iter().map(|f| f.ty).collect();
    assert_eq!(
        kinds,
        [
            FieldType::Int,
            FieldType::Float,
            FieldType::Float,
            FieldType::Float
        ]
    );
    Ok(())
}

type Token = Vec<u8>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Body(Vec<u8>);

/// A byte vector behind an alias or a newtype is a `BLOB` column like `Vec<u8>`: typed code
/// and SQL write one form and find each other's rows, and a unique index sees a SQL duplicate.
/// Before, it was a `DOCUMENT` column holding serde's array of integers.
#[test]
fn an_aliased_or_wrapped_byte_vector_is_a_blob() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "docs")]
    struct Doc {
        #[key]
        id: u32,
        #[index(unique)]
        token: Token,
        body: Body,
    }
    let db = Database::in_memory()?;
    let docs = db.collection::<Doc>()?;
    docs.insert(&Doc {
        id: 1,
        token: vec![1, 2],
        body: Body(vec![9]),
    })?;
    let dup = db.execute(
        "INSERT INTO docs VALUES (2, X'0102', X'09')",
        rustlite::params![],
    );
    assert!(matches!(dup, Err(Error::UniqueViolation { .. })), "{dup:?}");
    db.execute(
        "INSERT INTO docs VALUES (3, X'0304', X'0a')",
        rustlite::params![],
    )?;
    let by_sql = db.query(
        "SELECT id FROM docs WHERE token = X'0102' AND body = X'09'",
        rustlite::params![],
    )?;
    assert_eq!(by_sql.rows, [vec![Value::Int(1)]]);
    let found = docs.find(Doc::TOKEN, &vec![3u8, 4])?;
    assert_eq!(
        found,
        [Doc {
            id: 3,
            token: vec![3, 4],
            body: Body(vec![10])
        }]
    );
    let kinds: Vec<FieldType> = Doc::schema().fields.iter().map(|f| f.ty).collect();
    assert_eq!(kinds, [FieldType::Int, FieldType::Bytes, FieldType::Bytes]);
    Ok(())
}

mod keyed_u64 {
    #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    #[collection(name = "accounts")]
    pub struct Account {
        #[key]
        pub id: u64,
        pub owner: String,
    }
}

mod keyed_alias {
    pub type Id = u64;

    #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    #[collection(name = "accounts")]
    pub struct Account {
        #[key]
        pub id: Id,
        pub owner: String,
    }
}

mod keyed_newtype {
    #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
    pub struct AccountId(pub u64);

    #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    #[collection(name = "accounts")]
    pub struct Account {
        #[key]
        pub id: AccountId,
        pub owner: String,
    }
}

/// A key field whose type becomes an alias of the same type (or a newtype serde writes as that
/// type) is the same key: the collection opens and finds its documents. Before, the alias was
/// a `DOCUMENT` key and opening failed with "a key cannot change in place".
#[test]
fn a_key_behind_an_alias_or_a_newtype_is_the_same_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        let accounts = db.collection::<keyed_u64::Account>()?;
        accounts.insert(&keyed_u64::Account {
            id: 7,
            owner: "ada".into(),
        })?;
    }
    let db = Database::open(dir.path())?;
    let accounts = db.collection::<keyed_alias::Account>()?;
    assert_eq!(accounts.get(&7)?.map(|a| a.owner), Some("ada".into()));
    let accounts = db.collection::<keyed_newtype::Account>()?;
    let id = keyed_newtype::AccountId(7);
    assert_eq!(accounts.get(&id)?.map(|a| a.owner), Some("ada".into()));
    let key_type = db.engine().catalog()?.get("accounts").ok_or("no table")?;
    assert_eq!(key_type.field("id").map(|f| f.ty), Some(FieldType::Int));
    Ok(())
}

type MaybeNick = Option<String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Score(Option<u32>);

/// Fields that serde writes as nil without being spelled `Option<..>` (an alias of `Option`, a
/// newtype around one, `PhantomData`, `()`) are nullable columns, so such documents can be
/// stored. Before, they were NOT NULL and every insert failed ("column nick is NOT NULL").
#[test]
fn fields_written_as_nil_are_nullable() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
    #[collection(name = "players")]
    struct Player {
        #[key]
        id: u32,
        nick: MaybeNick,
        score: Score,
        marker: PhantomData<u8>,
        nothing: (),
    }
    let db = Database::in_memory()?;
    let players = db.collection::<Player>()?;
    let player = Player {
        id: 1,
        nick: None,
        score: Score(None),
        marker: PhantomData,
        nothing: (),
    };
    players.insert(&player)?;
    assert_eq!(players.get(&1)?, Some(player));
    db.execute(
        "INSERT INTO players (id, nick, score) VALUES (2, 'bo', 3)",
        rustlite::params![],
    )?;
    let bo = players.get(&2)?.ok_or("no player 2")?;
    assert_eq!((bo.nick, bo.score), (Some("bo".into()), Score(Some(3))));
    let columns: Vec<(FieldType, bool)> = Player::schema()
        .fields
        .iter()
        .map(|f| (f.ty, f.nullable))
        .collect();
    assert_eq!(
        columns,
        [
            (FieldType::Int, false),
            (FieldType::Text, true),
            (FieldType::Int, true),
            (FieldType::Document, true),
            (FieldType::Document, true),
        ]
    );
    Ok(())
}
