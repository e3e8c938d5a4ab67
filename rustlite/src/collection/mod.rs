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
//!      #[key] id: u64,                  ──key()──▶    row   [0x01][coll id][keycode(id)] → msgpack(User)
//!      #[index(unique)] email: String,  ──index_values()▶ index [0x02][index id][keycode(email)][keycode(id)]
//!      name: String,                    ──schema()──▶ catalog: fields, key fields, index definitions
//!  }
//!  User::EMAIL: Field<User, String>     ──▶ users.find(User::EMAIL, ..) checked by the compiler
//! ```
//!
//! | module | owns |
//! |---|---|
//! | schema (re-exported from `rustlite_engine::catalog`) | [`Schema`], [`FieldDef`], [`FieldType`], [`IndexDef`], [`IndexKind`]: what the catalog persists |
//! | [`field`] | [`Field`]: typed handles on a collection's fields |
//!
//! # Index values
//! The value stored for an index is the [keycode](rustlite_engine::codec::keycode) encoding of
//! the field's value *as declared*: for a field of type `Option<T>`, the encoding of the whole
//! `Some(..)`, so that a query value of the field's type (`Field<C, Option<T>>`) encodes the same
//! way. **`None` is not indexed**: a document whose indexed `Option` field is `None` has no entry
//! in that index (so a unique index accepts any number of `None`s, and an index lookup never
//! returns documents whose field is `None`).

pub mod field;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Result;

pub use field::Field;
pub use rustlite_engine::catalog::{FieldDef, FieldType, IndexDef, IndexKind, Schema};

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
/// assert_eq!(ada.index_values().unwrap().len(), 2);
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

    /// For each index, in `schema().indexes` order: the keycode-encoded indexed value, or
    /// `None` when the field is an `Option` that is `None` (`None` values are not indexed).
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when a value cannot be keycode-encoded (a
    /// `Serialize` implementation that fails or writes a map).
    fn index_values(&self) -> Result<Vec<Option<Vec<u8>>>>;

    /// The keycode encoding of [`Collection::key`], as stored in row keys.
    ///
    /// # Errors
    /// As [`encode_key`].
    fn encoded_key(&self) -> Result<Vec<u8>> {
        encode_key(&self.key())
    }
}

/// Encodes a primary key or an index value with the order-preserving
/// [keycode](rustlite_engine::codec::keycode) encoding.
///
/// ```
/// let a = rustlite::encode_key(&(1u32, "a")).unwrap();
/// let b = rustlite::encode_key(&(1u32, "b")).unwrap();
/// assert!(a < b);
/// ```
///
/// # Errors
/// [`crate::Error::InvalidArgument`] when the value contains a map or its `Serialize`
/// implementation fails.
pub fn encode_key<K: Serialize + ?Sized>(key: &K) -> Result<Vec<u8>> {
    rustlite_engine::codec::keycode::serialize(key)
}

/// Appends the keycode encoding of `key` to `out` (keys are built by concatenation); `out` is
/// unchanged on error.
///
/// ```
/// let mut key = vec![0x01, 3];
/// rustlite::collection::append_key(&mut key, &7u16).unwrap();
/// assert_eq!(key, [0x01, 3, 0, 7]);
/// ```
///
/// # Errors
/// As [`encode_key`].
pub fn append_key<K: Serialize + ?Sized>(out: &mut Vec<u8>, key: &K) -> Result<()> {
    rustlite_engine::codec::keycode::append(out, key)
}

/// Decodes a primary key or index value written by [`encode_key`]; the whole input must be
/// consumed.
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
    rustlite_engine::codec::keycode::deserialize(bytes)
}
