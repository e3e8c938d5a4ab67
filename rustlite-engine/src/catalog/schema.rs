//! Schemas: what a table (a typed collection or an SQL table) looks like, as declared and as
//! persisted.
//!
//! Two shapes of the same description:
//! - [`Schema`] is what a caller *declares*: a name, top-level fields with a coarse
//!   [`FieldType`], the primary key's fields, and [`IndexDef`]s. `#[derive(Collection)]` builds
//!   one from a struct, SQL builds one from `CREATE TABLE`.
//! - [`TableSchema`] is what the catalog *stores* once the table exists: the declaration plus the
//!   table id and one id per index ([`TableIndex`]). The table layer only ever works on a
//!   `TableSchema`.
//!
//! ```text
//! Schema { name: "users", fields: [id Int, email Text, age Int], key_fields: ["id"],
//!          indexes: [users.email (BTree, unique)] }
//!    │ Catalog::create_table (allocates ids from the persisted counter)
//!    ▼
//! TableSchema { id: 7, .., indexes: [TableIndex { id: 8, name: "users.email", .. }] }
//! ```
//!
//! An empty `key_fields` declares a table keyed by a hidden auto-increment row id
//! ([`ROWID`]); the row id is part of the row key only, never of the document.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::value::Value;

/// Name of the hidden row-id column of a table declared without a primary key.
pub const ROWID: &str = "_rowid";

/// The coarse type of a field (column), as SQL sees it.
///
/// `#[derive(Collection)]` maps a field by what its type reads through serde (so an alias or a
/// newtype maps as the type behind it): integers up to 64 bits → `Int`; `f32`, `f64` →
/// `Float`; `bool` → `Bool`; strings and `char` → `Text`; byte strings (`Vec<u8>`) → `Bytes`;
/// `Option<T>` → the type of `T`, nullable; anything else → `Document` (nullable when the type
/// may be written as nil). See `rustlite::__private::field_type`.
///
/// ```
/// use rustlite_engine::catalog::FieldType;
/// use rustlite_engine::Value;
/// assert!(FieldType::Float.accepts(&Value::Int(3)));
/// assert!(!FieldType::Int.accepts(&Value::Text("3".into())));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// `bool`.
    Bool,
    /// Integers up to 64 bits.
    Int,
    /// `f32` / `f64` (an integer stored into a `Float` field is converted).
    Float,
    /// `String`, `&str`, `char`.
    Text,
    /// `Vec<u8>` (MessagePack bin, or an array of small integers as serde writes `Vec<u8>`).
    Bytes,
    /// Any other value (nested struct, enum, list, map...), stored as a nested document.
    Document,
}

/// The byte `v` is, when it is an integer a byte holds (an element of serde's form of a
/// `Vec<u8>`).
fn byte_of(v: &Value) -> Option<u8> {
    match v {
        Value::Int(b) => u8::try_from(*b).ok(),
        _ => None,
    }
}

impl FieldType {
    /// Whether a non-null `value` may be stored in a field of this type.
    ///
    /// ```
    /// use rustlite_engine::{catalog::FieldType, Value};
    /// assert!(FieldType::Document.accepts(&Value::Array(vec![])));
    /// ```
    pub fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) | (FieldType::Document, _) => true,
            (FieldType::Bool, Value::Bool(_))
            | (FieldType::Int, Value::Int(_) | Value::UInt(_))
            | (FieldType::Float, Value::Float(_) | Value::Int(_) | Value::UInt(_))
            | (FieldType::Text, Value::Text(_))
            | (FieldType::Bytes, Value::Bytes(_)) => true,
            (FieldType::Bytes, Value::Array(items)) => items.iter().all(|i| byte_of(i).is_some()),
            _ => false,
        }
    }

    /// The form in which a value of this type is stored, when it is not `value` itself: an
    /// integer in a `Float` field becomes a float, and an array of byte-sized integers in a
    /// `Bytes` field (what serde writes for a `Vec<u8>`) becomes bytes, the form SQL's BLOBs
    /// take. Rows, index entries, keys and typed lookups all go through this one rule, so a
    /// value compares equal however it was written.
    ///
    /// ```
    /// use rustlite_engine::{catalog::FieldType, Value};
    /// assert_eq!(FieldType::Float.normalized(&Value::Int(2)), Some(Value::Float(2.0)));
    /// let serde_bytes = Value::Array(vec![Value::Int(1), Value::Int(255)]);
    /// assert_eq!(FieldType::Bytes.normalized(&serde_bytes), Some(Value::Bytes(vec![1, 255])));
    /// assert_eq!(FieldType::Int.normalized(&Value::Int(2)), None);
    /// ```
    pub fn normalized(self, value: &Value) -> Option<Value> {
        match (self, value) {
            (FieldType::Float, Value::Int(_) | Value::UInt(_)) => value.as_f64().map(Value::Float),
            (FieldType::Bytes, Value::Array(items)) => items
                .iter()
                .map(byte_of)
                .collect::<Option<Vec<u8>>>()
                .map(Value::Bytes),
            _ => None,
        }
    }

    /// SQL-style name of the type, for messages.
    ///
    /// ```
    /// assert_eq!(rustlite_engine::catalog::FieldType::Text.sql_name(), "TEXT");
    /// ```
    pub fn sql_name(self) -> &'static str {
        match self {
            FieldType::Bool => "BOOLEAN",
            FieldType::Int => "INTEGER",
            FieldType::Float => "REAL",
            FieldType::Text => "TEXT",
            FieldType::Bytes => "BLOB",
            FieldType::Document => "DOCUMENT",
        }
    }
}

/// One top-level field (column) of a table.
///
/// ```
/// let f = rustlite_engine::catalog::FieldDef::new("nick", rustlite_engine::catalog::FieldType::Text, true);
/// assert!(f.nullable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Field name: the document key and SQL column name.
    pub name: String,
    /// Coarse value type.
    pub ty: FieldType,
    /// Whether the field may be null (declared as `Option<T>`; SQL columns without `NOT NULL`).
    pub nullable: bool,
}

impl FieldDef {
    /// A field definition.
    ///
    /// ```
    /// let f = rustlite_engine::catalog::FieldDef::new("age", rustlite_engine::catalog::FieldType::Int, false);
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

/// The kind of a secondary index.
///
/// ```
/// assert_eq!(rustlite_engine::catalog::IndexKind::default(), rustlite_engine::catalog::IndexKind::BTree);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum IndexKind {
    /// Ordered: equality and range lookups (`#[index]`).
    #[default]
    BTree,
    /// Equality lookups only (`#[index(hash)]`): entries are spread by a hash of the value.
    Hash,
}

/// A declared secondary index on one field.
///
/// ```
/// use rustlite_engine::catalog::{IndexDef, IndexKind};
/// let i = IndexDef::new("users", "email", IndexKind::BTree, true);
/// assert_eq!(i.name, "users.email");
/// let j = IndexDef::named("by_mail", "email", IndexKind::Hash, false);
/// assert_eq!(j.name, "by_mail");
/// // Equal definitions whoever made them: a declared unique index is the SQL constraint's.
/// assert_eq!(IndexDef::constraint("users", "email"), IndexDef::new("users", "email", IndexKind::BTree, true));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexDef {
    /// Index name, unique in the database; `"{table}.{field}"` for derived indexes.
    pub name: String,
    /// Indexed field.
    pub field: String,
    /// B-Tree or hash.
    pub kind: IndexKind,
    /// Whether two rows may not share a (non-null) value.
    pub unique: bool,
    /// Made by a SQL `UNIQUE` column or table constraint ([`IndexDef::constraint`]), which is
    /// named `table.column` like a declared index: a typed collection whose type does not
    /// declare it leaves it alone instead of dropping it. Stored only when set (older entries
    /// read as `false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sql_constraint: bool,
}

impl IndexDef {
    /// The index of table `table` on `field`, named `"{table}.{field}"`.
    ///
    /// ```
    /// let i = rustlite_engine::catalog::IndexDef::new("users", "age", Default::default(), false);
    /// assert_eq!((i.name.as_str(), i.unique), ("users.age", false));
    /// ```
    pub fn new(table: &str, field: &str, kind: IndexKind, unique: bool) -> Self {
        Self::named(format!("{table}.{field}"), field, kind, unique)
    }

    /// An index with an explicit name (SQL `CREATE INDEX name ON t (field)`).
    ///
    /// ```
    /// let i = rustlite_engine::catalog::IndexDef::named("ix", "a", Default::default(), true);
    /// assert!(i.unique);
    /// ```
    pub fn named(name: impl Into<String>, field: &str, kind: IndexKind, unique: bool) -> Self {
        IndexDef {
            name: name.into(),
            field: field.to_owned(),
            kind,
            unique,
            sql_constraint: false,
        }
    }

    /// The unique index of a SQL `UNIQUE` constraint on `table.column`.
    ///
    /// ```
    /// let i = rustlite_engine::catalog::IndexDef::constraint("users", "email");
    /// assert!(i.unique && i.sql_constraint);
    /// assert_eq!(i.name, "users.email");
    /// ```
    pub fn constraint(table: &str, column: &str) -> Self {
        IndexDef {
            sql_constraint: true,
            ..Self::new(table, column, IndexKind::BTree, true)
        }
    }
}

/// Definitions are equal when they index the same way; `sql_constraint` (who made it) is left
/// out, so a type declaring the index a SQL `UNIQUE` constraint made finds it up to date and
/// keeps it, mark included.
impl PartialEq for IndexDef {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, &self.field, self.kind, self.unique)
            == (&other.name, &other.field, other.kind, other.unique)
    }
}

impl Eq for IndexDef {}

/// A declared table: fields, primary key and indexes.
///
/// ```
/// use rustlite_engine::catalog::{FieldDef, FieldType, IndexDef, IndexKind, Schema};
/// let schema = Schema {
///     name: "users".into(),
///     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("email", FieldType::Text, false)],
///     key_fields: vec!["id".into()],
///     indexes: vec![IndexDef::new("users", "email", IndexKind::Hash, true)],
/// };
/// assert_eq!(schema.field("email").map(|f| f.ty), Some(FieldType::Text));
/// assert_eq!(schema.index_position("email"), Some(0));
/// schema.validate()?;
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Table name (also the collection name).
    pub name: String,
    /// Top-level fields in declaration order.
    pub fields: Vec<FieldDef>,
    /// Names of the primary key's fields, in key order (several for a composite key; none for
    /// a hidden auto-increment [`ROWID`]).
    pub key_fields: Vec<String>,
    /// Secondary indexes, in declaration order.
    pub indexes: Vec<IndexDef>,
}

impl Schema {
    /// The field called `name`, if any.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{FieldDef, FieldType, Schema};
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
    /// # use rustlite_engine::catalog::{IndexDef, IndexKind, Schema};
    /// let s = Schema { name: "t".into(), fields: vec![], key_fields: vec![],
    ///                  indexes: vec![IndexDef::new("t", "a", IndexKind::BTree, false)] };
    /// assert_eq!(s.index_position("a"), Some(0));
    /// ```
    pub fn index_position(&self, field: &str) -> Option<usize> {
        self.indexes.iter().position(|i| i.field == field)
    }

    /// Checks the declaration: a name, distinct field names, key fields and indexed fields that
    /// exist, distinct index names; [`Error::Schema`] names the culprit.
    ///
    /// ```
    /// # use rustlite_engine::catalog::Schema;
    /// let s = Schema { name: "t".into(), fields: vec![], key_fields: vec!["id".into()], indexes: vec![] };
    /// assert!(s.validate().is_err()); // key field `id` is not a field
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Schema(format!("table {}: {msg}", self.name)));
        if self.name.is_empty() {
            return Err(Error::Schema("a table needs a name".into()));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if self.fields[..i].iter().any(|g| g.name == f.name) {
                return bad(format!("field {} declared twice", f.name));
            }
            if f.name == ROWID && !self.key_fields.is_empty() {
                return bad(format!("field name {ROWID} is reserved"));
            }
        }
        for k in &self.key_fields {
            if self.field(k).is_none() {
                return bad(format!("key field {k} is not a field"));
            }
        }
        for (i, ix) in self.indexes.iter().enumerate() {
            if self.field(&ix.field).is_none() {
                return bad(format!(
                    "index {} is on unknown field {}",
                    ix.name, ix.field
                ));
            }
            if self.indexes[..i].iter().any(|j| j.name == ix.name) {
                return bad(format!("index {} declared twice", ix.name));
            }
        }
        Ok(())
    }
}

/// A secondary index of an existing table: its declaration plus its id in the key space.
///
/// ```
/// use rustlite_engine::catalog::{IndexDef, IndexKind, TableIndex};
/// let ix = TableIndex::new(9, IndexDef::new("users", "age", IndexKind::BTree, false));
/// assert_eq!((ix.id, ix.def.field.as_str()), (9, "age"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableIndex {
    /// Index id: the second component of every entry key `[0x02][id u32 BE]..`.
    pub id: u32,
    /// What was declared.
    pub def: IndexDef,
}

impl TableIndex {
    /// An index with id `id`.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{IndexDef, TableIndex};
    /// let ix = TableIndex::new(1, IndexDef::named("ix", "a", Default::default(), false));
    /// assert_eq!(ix.name(), "ix");
    /// ```
    pub fn new(id: u32, def: IndexDef) -> Self {
        TableIndex { id, def }
    }

    /// The index name.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{IndexDef, TableIndex};
    /// assert_eq!(TableIndex::new(1, IndexDef::new("t", "a", Default::default(), false)).name(), "t.a");
    /// ```
    pub fn name(&self) -> &str {
        &self.def.name
    }
}

/// A table as the catalog stores it: id, fields, primary key and indexes with their ids.
///
/// ```
/// use rustlite_engine::catalog::{FieldDef, FieldType, Schema, TableSchema};
/// let declared = Schema { name: "log".into(), fields: vec![FieldDef::new("msg", FieldType::Text, false)],
///                         key_fields: vec![], indexes: vec![] };
/// let table = TableSchema { id: 3, schema: declared, indexes: vec![] };
/// assert!(table.has_rowid());
/// assert_eq!(table.key_columns(), ["_rowid"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Table id: the second component of every row key `[0x01][id u32 BE]..`.
    pub id: u32,
    /// The declaration (its `indexes` list is the declared order; ids are in
    /// [`TableSchema::indexes`]).
    pub schema: Schema,
    /// The live indexes with their ids.
    pub indexes: Vec<TableIndex>,
}

impl TableSchema {
    /// The table name.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Schema, TableSchema};
    /// let t = TableSchema { id: 1, schema: Schema { name: "t".into(), fields: vec![], key_fields: vec![], indexes: vec![] }, indexes: vec![] };
    /// assert_eq!(t.name(), "t");
    /// ```
    pub fn name(&self) -> &str {
        &self.schema.name
    }

    /// Whether rows are keyed by a hidden auto-increment row id (no declared key).
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Schema, TableSchema};
    /// let t = TableSchema { id: 1, schema: Schema { name: "t".into(), fields: vec![], key_fields: vec![], indexes: vec![] }, indexes: vec![] };
    /// assert!(t.has_rowid());
    /// ```
    pub fn has_rowid(&self) -> bool {
        self.schema.key_fields.is_empty()
    }

    /// Names of the primary key's columns (`["_rowid"]` for a row-id table).
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Schema, TableSchema};
    /// let t = TableSchema { id: 1, schema: Schema { name: "t".into(), fields: vec![], key_fields: vec![], indexes: vec![] }, indexes: vec![] };
    /// assert_eq!(t.key_columns(), ["_rowid"]);
    /// ```
    pub fn key_columns(&self) -> Vec<&str> {
        if self.has_rowid() {
            vec![ROWID]
        } else {
            self.schema.key_fields.iter().map(String::as_str).collect()
        }
    }

    /// The field called `name`, if any.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{FieldDef, FieldType, Schema, TableSchema};
    /// let t = TableSchema { id: 1, schema: Schema { name: "t".into(), fields: vec![FieldDef::new("a", FieldType::Int, false)], key_fields: vec![], indexes: vec![] }, indexes: vec![] };
    /// assert!(t.field("a").is_some());
    /// ```
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.schema.field(name)
    }

    /// The index called `name`, if any.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Schema, TableSchema};
    /// let t = TableSchema { id: 1, schema: Schema { name: "t".into(), fields: vec![], key_fields: vec![], indexes: vec![] }, indexes: vec![] };
    /// assert!(t.index("t.a").is_none());
    /// ```
    pub fn index(&self, name: &str) -> Option<&TableIndex> {
        self.indexes.iter().find(|i| i.def.name == name)
    }

    /// The first index on field `field`, if any (what a planner or a typed lookup uses).
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Schema, TableSchema};
    /// let t = TableSchema { id: 1, schema: Schema { name: "t".into(), fields: vec![], key_fields: vec![], indexes: vec![] }, indexes: vec![] };
    /// assert!(t.index_on("a").is_none());
    /// ```
    pub fn index_on(&self, field: &str) -> Option<&TableIndex> {
        self.indexes.iter().find(|i| i.def.field == field)
    }
}
