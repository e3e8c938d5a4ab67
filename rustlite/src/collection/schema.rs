//! Schemas: the description of a collection that the catalog persists, so that SQL and the
//! shell can read a collection without its Rust type.
//!
//! A [`Schema`] lists the top-level fields with a coarse [`FieldType`], the primary key's
//! fields in order, and the secondary indexes. `#[derive(Collection)]` builds it from the
//! struct's declaration; the mapping of Rust types to [`FieldType`] is syntactic (by the last
//! path segment of the field's type), see [`FieldType`].

use serde::{Deserialize, Serialize};

/// What a collection looks like: fields, primary key and indexes.
///
/// ```
/// use rustlite::{FieldDef, FieldType, IndexDef, IndexKind, Schema};
/// let schema = Schema {
///     name: "users".into(),
///     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("email", FieldType::Text, false)],
///     key_fields: vec!["id".into()],
///     indexes: vec![IndexDef::new("users", "email", IndexKind::Hash, true)],
/// };
/// assert_eq!(schema.field("email").map(|f| f.ty), Some(FieldType::Text));
/// assert_eq!(schema.index_position("email"), Some(0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Collection name (also the SQL table name).
    pub name: String,
    /// Top-level fields in declaration order (fields skipped by serde are left out).
    pub fields: Vec<FieldDef>,
    /// Names of the primary key's fields, in key order (several for a composite key).
    pub key_fields: Vec<String>,
    /// Secondary indexes, in declaration order.
    pub indexes: Vec<IndexDef>,
}

impl Schema {
    /// The field called `name`, if any.
    ///
    /// ```
    /// # use rustlite::{FieldDef, FieldType, Schema};
    /// let s = Schema { name: "t".into(), fields: vec![FieldDef::new("a", FieldType::Bool, false)],
    ///                  key_fields: vec!["a".into()], indexes: vec![] };
    /// assert!(s.field("a").is_some() && s.field("b").is_none());
    /// ```
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Position in [`Schema::indexes`] of the index on field `field`, if any.
    ///
    /// ```
    /// # use rustlite::{IndexDef, IndexKind, Schema};
    /// let s = Schema { name: "t".into(), fields: vec![], key_fields: vec![],
    ///                  indexes: vec![IndexDef::new("t", "a", IndexKind::BTree, false)] };
    /// assert_eq!(s.index_position("a"), Some(0));
    /// ```
    pub fn index_position(&self, field: &str) -> Option<usize> {
        self.indexes.iter().position(|i| i.field == field)
    }
}

/// One top-level field of a collection.
///
/// ```
/// let f = rustlite::FieldDef::new("nick", rustlite::FieldType::Text, true);
/// assert!(f.nullable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Field name: the document key and SQL column name.
    pub name: String,
    /// Coarse value type.
    pub ty: FieldType,
    /// Whether the field may be null (declared as `Option<T>`).
    pub nullable: bool,
}

impl FieldDef {
    /// A field definition.
    ///
    /// ```
    /// let f = rustlite::FieldDef::new("age", rustlite::FieldType::Int, false);
    /// assert_eq!(f.name, "age");
    /// ```
    pub fn new(name: impl Into<String>, ty: FieldType, nullable: bool) -> Self {
        FieldDef {
            name: name.into(),
            ty,
            nullable,
        }
    }
}

/// The coarse type of a field, as SQL sees it.
///
/// The derive maps Rust types by the last segment of their path (type aliases are not seen
/// through): `u8`..`u64`, `usize`, `i8`..`i64`, `isize` → `Int`; `f32`, `f64` → `Float`;
/// `bool` → `Bool`; `String`, `str`, `char` → `Text`; `Vec<u8>` → `Bytes`; `Option<T>` → the
/// type of `T`, nullable; anything else (structs, enums, `Vec<T>`, maps, `u128`/`i128`) →
/// `Document`.
///
/// ```
/// assert_ne!(rustlite::FieldType::Int, rustlite::FieldType::Float);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// `bool`.
    Bool,
    /// Integers up to 64 bits.
    Int,
    /// `f32` / `f64`.
    Float,
    /// `String`, `&str`, `char`.
    Text,
    /// `Vec<u8>`.
    Bytes,
    /// Any other value (nested struct, enum, list, map...), stored as a nested document.
    Document,
}

/// The kind of a secondary index.
///
/// ```
/// assert_eq!(rustlite::IndexKind::default(), rustlite::IndexKind::BTree);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum IndexKind {
    /// Ordered: equality and range lookups (`#[index]`).
    #[default]
    BTree,
    /// Equality lookups only (`#[index(hash)]`).
    Hash,
}

/// A secondary index on one field.
///
/// ```
/// let i = rustlite::IndexDef::new("users", "email", rustlite::IndexKind::BTree, true);
/// assert_eq!(i.name, "users.email");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDef {
    /// Index name, `"{collection}.{field}"`.
    pub name: String,
    /// Indexed field.
    pub field: String,
    /// B-Tree or hash.
    pub kind: IndexKind,
    /// Whether two documents may not share a (non-`None`) value.
    pub unique: bool,
}

impl IndexDef {
    /// The index of collection `collection` on `field`, named `"{collection}.{field}"`.
    ///
    /// ```
    /// let i = rustlite::IndexDef::new("users", "age", rustlite::IndexKind::BTree, false);
    /// assert_eq!((i.name.as_str(), i.unique), ("users.age", false));
    /// ```
    pub fn new(collection: &str, field: &str, kind: IndexKind, unique: bool) -> Self {
        IndexDef {
            name: format!("{collection}.{field}"),
            field: field.to_owned(),
            kind,
            unique,
        }
    }
}
