//! What `#[derive(Collection)]` generates: names, keys, schema, index values, field handles.

use rustlite::{encode_key, Collection, Field, FieldDef, FieldType, IndexDef, IndexKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, rustlite::Collection)]
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
    nick: Option<String>,
}

fn ada() -> User {
    User {
        id: 7,
        email: "ada@example.com".into(),
        age: 36,
        country: "UK".into(),
        name: "Ada".into(),
        tags: vec!["math".into()],
        nick: None,
    }
}

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct OrderLine {
    #[key]
    order: u64,
    #[key]
    line: u16,
    #[index(hash, unique)]
    sku: Option<String>,
    #[index(btree)]
    price: f64,
    qty: i32,
    paid: bool,
    blob: Vec<u8>,
    note: Option<Option<u8>>,
    #[serde(skip)]
    cached: u8,
}

fn line() -> OrderLine {
    OrderLine {
        order: 3,
        line: 2,
        sku: None,
        price: -2.5,
        qty: -1,
        paid: false,
        blob: vec![0],
        note: Some(None),
        cached: 9,
    }
}

mod nested {
    /// A collection with a tuple key, a raw identifier and a user-defined index type.
    #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    pub struct HTTPLog {
        #[key]
        pub r#type: (String, [u8; 2]),
        #[index]
        pub at: Kind,
    }

    /// An ordered enum, usable as an index value.
    #[derive(
        Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
    )]
    pub enum Kind {
        /// First.
        A,
        /// Second.
        B(u8),
    }
}

#[test]
fn explicit_and_default_names() {
    assert_eq!(<User as Collection>::NAME, "users");
    assert_eq!(OrderLine::NAME, "order_line");
    assert_eq!(<nested::HTTPLog as Collection>::NAME, "http_log");
    assert_eq!(User::schema().name, "users");
}

#[test]
fn single_and_composite_keys() {
    let key: u64 = ada().key();
    assert_eq!(key, 7);

    let key: (u64, u16) = line().key();
    assert_eq!(key, (3, 2));
    assert_eq!(OrderLine::schema().key_fields, ["order", "line"]);
    // Composite keys sort by their fields in declaration order.
    assert!(encode_key(&(3u64, 2u16)).unwrap() < encode_key(&(3u64, 10u16)).unwrap());
    assert!(encode_key(&(3u64, 10u16)).unwrap() < encode_key(&(4u64, 0u16)).unwrap());

    let log = nested::HTTPLog {
        r#type: ("GET".into(), [1, 2]),
        at: nested::Kind::B(1),
    };
    assert_eq!(log.key(), ("GET".to_string(), [1, 2]));
    assert_eq!(
        <nested::HTTPLog as Collection>::schema().key_fields,
        ["type"]
    );
    assert_eq!(log.at, nested::Kind::B(1));
}

#[test]
fn schema_fields_and_indexes() {
    let schema = User::schema();
    assert_eq!(
        schema.fields,
        vec![
            FieldDef::new("id", FieldType::Int, false),
            FieldDef::new("email", FieldType::Text, false),
            FieldDef::new("age", FieldType::Int, false),
            FieldDef::new("country", FieldType::Text, false),
            FieldDef::new("name", FieldType::Text, false),
            FieldDef::new("tags", FieldType::Document, false),
            FieldDef::new("nick", FieldType::Text, true),
        ]
    );
    assert_eq!(schema.key_fields, ["id"]);
    assert_eq!(
        schema.indexes,
        vec![
            IndexDef::new("users", "email", IndexKind::BTree, true),
            IndexDef::new("users", "age", IndexKind::BTree, false),
            IndexDef::new("users", "country", IndexKind::Hash, false),
        ]
    );
    assert_eq!(schema.indexes[0].name, "users.email");

    let schema = OrderLine::schema();
    let types: Vec<_> = schema
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.ty, f.nullable))
        .collect();
    assert_eq!(
        types,
        [
            ("order", FieldType::Int, false),
            ("line", FieldType::Int, false),
            ("sku", FieldType::Text, true),
            ("price", FieldType::Float, false),
            ("qty", FieldType::Int, false),
            ("paid", FieldType::Bool, false),
            ("blob", FieldType::Bytes, false),
            ("note", FieldType::Int, true),
        ],
        "`cached` is skipped by serde, so it is not in the schema"
    );
    assert_eq!(
        schema.indexes,
        [
            IndexDef::new("order_line", "sku", IndexKind::Hash, true),
            IndexDef::new("order_line", "price", IndexKind::BTree, false),
        ]
    );
    let schema = <nested::HTTPLog as Collection>::schema();
    assert_eq!(
        schema.fields[0],
        FieldDef::new("type", FieldType::Document, false)
    );
    assert_eq!(schema.indexes[0].name, "http_log.at");
}

#[test]
fn field_encoding_is_the_value_key_encoding() {
    // Index entries hold the key encoding of the document field's Value; query values encode
    // the same way, `Some(x)` as `x`.
    let line = line();
    assert_eq!(line.cached, 9);
    assert_eq!(
        OrderLine::SKU.encode(&Some("X-1".into())).unwrap(),
        rustlite::Value::Text("X-1".into()).to_key().unwrap()
    );
    assert_eq!(
        User::AGE.encode(&36).unwrap(),
        rustlite::Value::Int(36).to_key().unwrap()
    );
    assert_eq!(
        encode_key("UK").unwrap(),
        User::COUNTRY.encode(&"UK".into()).unwrap()
    );
    assert!(encode_key(&-2.5f64).unwrap() < encode_key(&-1.0f64).unwrap());
}

#[test]
fn field_handles() {
    let email: Field<User, String> = User::EMAIL;
    assert_eq!(email.name, "email");
    assert_eq!(email.index, Some(0));
    let age: Field<User, u32> = User::AGE;
    assert_eq!(age.index, Some(1));
    assert_eq!(User::COUNTRY.index, Some(2));
    let id: Field<User, u64> = User::ID;
    assert_eq!((id.name, id.index), ("id", None));
    let nick: Field<User, Option<String>> = User::NICK;
    assert!(!nick.is_indexed());
    let tags: Field<User, Vec<String>> = User::TAGS;
    assert_eq!(tags.name, "tags");
    // The inherent handle of a field called `name` takes `User::NAME`; the collection name
    // stays reachable through the trait.
    let name: Field<User, String> = User::NAME;
    assert_eq!(name.name, "name");
    let raw: Field<nested::HTTPLog, (String, [u8; 2])> = nested::HTTPLog::TYPE;
    assert_eq!(raw.name, "type");
    // Handles are Copy.
    let copy = email;
    assert_eq!(copy, email);
}

#[test]
fn documents_round_trip_through_serde() {
    let json = serde_json::to_string(&ada()).unwrap();
    let back: User = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ada());
}
