//! Typed collections: the contract between user structs and the database.
//!
//! A *collection* is a set of documents of one Rust type, stored under one primary key and
//! kept in sync with its secondary indexes. `#[derive(Collection)]` (from `rustlite-derive`)
//! implements [`Collection`] for a struct; the database layer only ever talks to this trait,
//! so the derive knows nothing of the engine and the engine nothing of user types.
//!
//! ```text
//!  #[derive(Serialize, Deserialize, Collection)]      what the database does with it
//!  struct User {                                      ──────────────────────────────────────────
//!      #[key] id: u64,                  ──key()──▶    row   [0x01][table id][key(id)] → msgpack(User)
//!      #[index(unique)] email: String,  ──(document)▶ index [0x02][index id][key(email)] → key(id)
//!      name: String,                    ──schema()──▶ catalog: fields, key fields, index definitions
//!  }
//!  User::EMAIL: Field<User, String>     ──▶ users.find(User::EMAIL, ..) checked by the compiler
//! ```
//! Index entries are computed by the engine's table layer from the stored document's
//! [`Value`](rustlite_engine::Value)s (`rustlite_engine::table`), the same code SQL writes
//! through, so the derive generates no index code and typed and SQL writes agree byte for byte.
//!
//! | module | owns |
//! |---|---|
//! | schema (re-exported from `rustlite_engine::catalog`) | [`Schema`], [`FieldDef`], [`FieldType`], [`IndexDef`], [`IndexKind`]: what the catalog persists |
//! | [`field`] | [`Field`]: typed handles on a collection's fields |
//! | [`handle`] | [`CollectionHandle`]: a collection of a [`Database`](crate::Database), one transaction per call |
//! | [`tx`] | [`TxCollection`]: the same operations inside a [`Transaction`](crate::Transaction) |
//! | `open` | registration in the catalog and migrations when the declaration changed |
//!
//! # Naming
//! The trait a type implements is [`Collection`] (what `#[derive(Collection)]` generates); the
//! handle `db.collection::<T>()` returns is a [`CollectionHandle<T>`], and inside a
//! transaction a [`TxCollection<T>`].
//!
//! # Index values
//! An index holds the key encoding of the field's [`Value`](rustlite_engine::Value): for a field
//! of type `Option<T>`, `Some(x)` is indexed as `x`. **`None` is not indexed**: a document whose
//! indexed `Option` field is `None` has no entry in that index (so a unique index accepts any
//! number of `None`s, and an index lookup never returns documents whose field is `None`).
//!
//! # Example
//! ```
//! use rustlite::{Collection, Database};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Collection)]
//! struct User { #[key] id: u64, #[index(unique)] email: String, #[index] nick: Option<String> }
//!
//! let db = Database::in_memory()?;
//! let users = db.collection::<User>()?;
//! users.insert(&User { id: 1, email: "ada@x.org".into(), nick: None })?;
//! users.insert(&User { id: 2, email: "bob@x.org".into(), nick: Some("b".into()) })?;
//! assert_eq!(users.find(User::EMAIL, "bob@x.org")?[0].id, 2);
//! assert_eq!(users.find(User::NICK, &Some("b".to_string()))?.len(), 1);
//! assert_eq!(users.count()?, 2);
//! # Ok::<(), rustlite::Error>(())
//! ```

pub mod field;
pub mod handle;
mod open;
mod ops;
pub mod tx;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Result;

pub use field::Field;
pub use handle::CollectionHandle;
pub use ops::Iter;
pub use rustlite_engine::catalog::{FieldDef, FieldType, IndexDef, IndexKind, Schema};
pub use tx::TxCollection;

/// A Rust type stored as a collection of documents. Implement it with `#[derive(Collection)]`.
///
/// ```
/// use rustlite::{Collection, FieldType, IndexKind};
///
/// #[derive(serde::Serialize, serde::Deserialize, Collection)]
/// #[collection(name = "users")]
/// struct User {
///     #[key]
///     id: u64,
///     #[index(unique)]
///     email: String,
///     #[index]
///     age: u32,
///     nick: Option<String>,
/// }
///
/// let ada = User { id: 1, email: "ada@example.com".into(), age: 36, nick: None };
/// assert_eq!(User::NAME, "users");
/// assert_eq!(ada.key(), 1);
/// let schema = User::schema();
/// assert_eq!(schema.key_fields, ["id"]);
/// assert_eq!(schema.indexes[0].name, "users.email");
/// assert_eq!(schema.indexes[1].kind, IndexKind::BTree);
/// assert_eq!(schema.fields[3].ty, FieldType::Text);
/// assert!(schema.fields[3].nullable);
/// assert_eq!(User::EMAIL.index, Some(0));
/// ```
///
/// The derive also adds one typed handle per field (`User::EMAIL: Field<User, String>`, see
/// [`Field`]). A field called `name` makes `User::NAME` its handle; the collection name is
/// then reached as `<User as Collection>::NAME`.
pub trait Collection: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Collection name (catalog and SQL table name).
    const NAME: &'static str;

    /// Primary key type: the single `#[key]` field's type, or a tuple of the `#[key]` fields'
    /// types in declaration order for a composite key.
    type Key: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// This document's primary key.
    fn key(&self) -> Self::Key;

    /// Fields, key and index definitions, as persisted in the catalog.
    fn schema() -> Schema;
}

/// Encodes a primary-key component or an index value with the one order-preserving key
/// encoding ([`Value::append_key`](rustlite_engine::Value::append_key)) of its
/// [`Value`](rustlite_engine::Value).
///
/// ```
/// let a = rustlite::encode_key(&(1u32, "a")).unwrap();
/// let b = rustlite::encode_key(&(1u32, "b")).unwrap();
/// assert!(a < b);
/// assert_eq!(rustlite::encode_key(&Some(5u8)).unwrap(), rustlite::encode_key(&5u8).unwrap());
/// ```
///
/// # Errors
/// [`crate::Error::InvalidArgument`] when the value contains a map (a struct) or its `Serialize`
/// implementation fails.
pub fn encode_key<K: Serialize + ?Sized>(key: &K) -> Result<Vec<u8>> {
    rustlite_engine::Value::from_serialize(key)?.to_key()
}

/// Decodes a value written by [`encode_key`]; the whole input must be consumed.
///
/// ```
/// let bytes = rustlite::encode_key(&(1u32, "a")).unwrap();
/// let key: (u32, String) = rustlite::collection::decode_key(&bytes).unwrap();
/// assert_eq!(key, (1, "a".to_string()));
/// ```
///
/// # Errors
/// [`crate::Error::InvalidArgument`] when the bytes are not a valid encoding of a `K`.
pub fn decode_key<K: DeserializeOwned>(bytes: &[u8]) -> Result<K> {
    match rustlite_engine::Value::decode_key(bytes)? {
        (value, []) => value.deserialize_into(),
        _ => Err(crate::Error::InvalidArgument(
            "trailing bytes after a key".into(),
        )),
    }
}
