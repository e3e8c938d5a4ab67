//! Rows: documents keyed by their primary key, written with their index entries.
//!
//! ```text
//! write(doc, mode)
//!   1. check_document: a Map; each declared column's Value fits its FieldType; NOT NULL
//!      (FieldType::normalized: ints in Float columns become floats, byte arrays in Bytes
//!      columns become bytes)
//!   2. pk: the key columns' Values (or the next hidden row id), encoded with Value::append_key
//!   3. old row?  Insert + present -> AlreadyExists · Update + absent -> NotFound
//!   4. index::apply(old, new): every unique check first, then entry deletes and puts
//!   5. put [0x01][table id][pk] -> msgpack(doc)
//! ```
//! Nothing is written before steps 1–4 have passed their checks, so an error leaves the
//! caller's transaction as it was.
//!
//! Step 0 of every write and delete is `Catalog::check_current`: the schema the caller passed
//! must be the table's catalog entry as the transaction sees it, and that entry is guarded, so a
//! DDL statement committed concurrently (say, an index added and backfilled) makes this write
//! fail with `Error::Conflict` instead of writing a row without the new index's entry.

use std::borrow::Cow;
use std::ops::Bound;

use crate::catalog::{Catalog, TableSchema};
use crate::error::{Error, Result};
use crate::lsm::iter::Direction;
use crate::mvcc::transaction::Transaction;
use crate::mvcc::Reader;
use crate::value::Value;

use super::{as_slices, encode_pk, index, pk_bounds, render_pk, row_prefix, RawRows};

/// What a write requires of the row's previous state.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// use rustlite_engine::table::WriteMode;
/// table::write(&mut tx, &t, &doc(1, 10), WriteMode::Insert)?; // must be absent
/// table::write(&mut tx, &t, &doc(1, 11), WriteMode::Upsert)?; // either way
/// table::write(&mut tx, &t, &doc(1, 12), WriteMode::Update)?; // must exist
/// assert!(matches!(table::write(&mut tx, &t, &doc(2, 0), WriteMode::Update), Err(Error::NotFound(_))));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The key must be free ([`Error::AlreadyExists`] otherwise).
    Insert,
    /// Insert or replace.
    Upsert,
    /// The key must exist ([`Error::NotFound`] otherwise).
    Update,
}

/// Checks `doc` against the table's columns; returns the normalized document when it had to
/// change (see [`FieldType::normalized`](crate::catalog::FieldType::normalized): an integer in a `Float` column, serde's array form of
/// a `Vec<u8>` in a `Bytes` column).
fn check_document<'a>(table: &TableSchema, doc: &'a Value) -> Result<Cow<'a, Value>> {
    let Value::Map(fields) = doc else {
        return Err(Error::Schema(format!(
            "{}: a row must be a document, got {}",
            table.name(),
            doc.type_name()
        )));
    };
    let mut normalized: Vec<(&str, Value)> = Vec::new();
    for col in &table.schema.fields {
        let v = doc.field(&col.name);
        if v.is_null() {
            if !col.nullable {
                return Err(Error::Schema(format!(
                    "{}: column {} is NOT NULL",
                    table.name(),
                    col.name
                )));
            }
        } else if !col.ty.accepts(v) {
            return Err(Error::Schema(format!(
                "{}: column {} expects {}, got {} ({v})",
                table.name(),
                col.name,
                col.ty.sql_name(),
                v.type_name()
            )));
        }
        if let Some(normal) = col.ty.normalized(v) {
            normalized.push((&col.name, normal));
        }
    }
    if normalized.is_empty() {
        return Ok(Cow::Borrowed(doc));
    }
    let fields = fields
        .iter()
        .map(|(name, v)| {
            let normal = normalized.iter().find(|(n, _)| n == name);
            let v = normal.map_or_else(|| v.clone(), |(_, normal)| normal.clone());
            (name.clone(), v)
        })
        .collect();
    Ok(Cow::Owned(Value::Map(fields)))
}

/// The primary key of `doc` (its key columns' values; none may be null).
fn pk_of(table: &TableSchema, doc: &Value) -> Result<Vec<Value>> {
    table
        .schema
        .key_fields
        .iter()
        .map(|k| match doc.field(k) {
            Value::Null => Err(Error::Schema(format!(
                "{}: primary key column {k} is NULL",
                table.name()
            ))),
            Value::Map(_) => Err(Error::Schema(format!(
                "{}: primary key column {k} holds a nested document, which has no order",
                table.name()
            ))),
            v => Ok(v.clone()),
        })
        .collect()
}

/// Writes document `doc` per `mode`; returns its primary key. See the module docs.
///
/// A table without a declared key (hidden row id) gets a fresh row id on `Insert` and `Upsert`;
/// use [`update_at`] to change one of its rows.
///
/// ```
/// use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// use rustlite_engine::table::{self, WriteMode};
/// use rustlite_engine::{Engine, IsolationLevel, Options, Value};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(),
///     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("x", FieldType::Float, true)],
///     key_fields: vec!["id".into()], indexes: vec![] })?;
/// let doc = Value::Map(vec![("id".into(), Value::Int(1)), ("x".into(), Value::Int(2))]);
/// assert_eq!(table::write(&mut tx, &t, &doc, WriteMode::Insert)?, [Value::Int(1)]);
/// assert_eq!(table::get(&mut tx, &t, &[Value::Int(1)])?.map(|d| d.field("x").clone()), Some(Value::Float(2.0)));
/// assert!(table::write(&mut tx, &t, &doc, WriteMode::Insert).is_err()); // AlreadyExists
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn write(
    tx: &mut Transaction,
    table: &TableSchema,
    doc: &Value,
    mode: WriteMode,
) -> Result<Vec<Value>> {
    write_row(tx, table, doc, None, mode, None)
}

/// As [`write`](fn@write), from a named-field MessagePack document (what `rmp_serde::to_vec_named`
/// produced); stored as given when no normalization was needed, so the typed layer serializes
/// each document once. A document that needed one (an integer in a `Float` column, serde's
/// array form of a `Vec<u8>` in a `Bytes` column) is encoded again from its normalized form.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// use rustlite_engine::table::WriteMode;
/// let bytes = doc(1, 10).to_msgpack()?;
/// assert_eq!(table::write_msgpack(&mut tx, &t, bytes, WriteMode::Insert)?, [Value::Int(1)]);
/// assert_eq!(table::count(&mut tx, &t)?, 1);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn write_msgpack(
    tx: &mut Transaction,
    table: &TableSchema,
    bytes: Vec<u8>,
    mode: WriteMode,
) -> Result<Vec<Value>> {
    let doc = Value::from_msgpack(&bytes).map_err(|e| Error::Serialization(e.to_string()))?;
    write_row(tx, table, &doc, Some(bytes), mode, None)
}

/// Inserts `doc` ([`Error::AlreadyExists`] on a taken key); returns its primary key.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// assert_eq!(table::insert(&mut tx, &t, &doc(1, 10))?, [Value::Int(1)]);
/// assert!(matches!(table::insert(&mut tx, &t, &doc(1, 99)), Err(Error::AlreadyExists { .. })));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn insert(tx: &mut Transaction, table: &TableSchema, doc: &Value) -> Result<Vec<Value>> {
    write(tx, table, doc, WriteMode::Insert)
}

/// Inserts or replaces `doc`; returns its primary key.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// table::upsert(&mut tx, &t, &doc(1, 10))?;
/// table::upsert(&mut tx, &t, &doc(1, 20))?;
/// assert_eq!(table::get(&mut tx, &t, &[Value::Int(1)])?, Some(doc(1, 20)));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn upsert(tx: &mut Transaction, table: &TableSchema, doc: &Value) -> Result<Vec<Value>> {
    write(tx, table, doc, WriteMode::Upsert)
}

/// Replaces the existing row with `doc`'s key ([`Error::NotFound`] when absent).
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// assert!(table::update(&mut tx, &t, &doc(1, 10)).is_err()); // nothing to update
/// table::insert(&mut tx, &t, &doc(1, 10))?;
/// table::update(&mut tx, &t, &doc(1, 11))?;
/// assert_eq!(table::get(&mut tx, &t, &[Value::Int(1)])?, Some(doc(1, 11)));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn update(tx: &mut Transaction, table: &TableSchema, doc: &Value) -> Result<Vec<Value>> {
    write(tx, table, doc, WriteMode::Update)
}

/// Replaces the row at `pk` with `doc` ([`Error::NotFound`] when absent). When `doc`'s key
/// columns name another key, the row moves there ([`Error::AlreadyExists`] if that key is
/// taken). This is how rows of hidden-row-id tables are updated (their documents hold no key).
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// table::insert(&mut tx, &t, &doc(1, 10))?;
/// table::update_at(&mut tx, &t, &[Value::Int(1)], &doc(2, 10))?; // the row moves to key 2
/// assert_eq!(table::get(&mut tx, &t, &[Value::Int(1)])?, None);
/// assert_eq!(table::get(&mut tx, &t, &[Value::Int(2)])?, Some(doc(2, 10)));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn update_at(
    tx: &mut Transaction,
    table: &TableSchema,
    pk: &[Value],
    doc: &Value,
) -> Result<Vec<Value>> {
    write_row(tx, table, doc, None, WriteMode::Update, Some(pk))
}

fn write_row(
    tx: &mut Transaction,
    table: &TableSchema,
    doc: &Value,
    bytes: Option<Vec<u8>>,
    mode: WriteMode,
    at: Option<&[Value]>,
) -> Result<Vec<Value>> {
    Catalog::check_current(tx, table)?;
    let doc = check_document(table, doc)?;
    let bytes = match doc {
        Cow::Borrowed(_) => bytes,
        Cow::Owned(_) => None,
    };
    let new_pk = if table.has_rowid() {
        match (at, mode) {
            (Some(pk), _) => pk.to_vec(),
            (None, WriteMode::Update) => {
                return Err(Error::Schema(format!(
                    "{}: rows of a table without a primary key are updated by row id (update_at)",
                    table.name()
                )))
            }
            (None, _) => vec![Value::Int(Catalog::next_rowid(tx, table.id)?)],
        }
    } else {
        pk_of(table, &doc)?
    };
    // The row's key, and its key before this write when `at` names another one. The pk's
    // encoding is the key after the table's prefix.
    let new_key = super::row_key(table.id, &new_pk)?;
    let prefix_len = super::ROW_PREFIX_LEN;
    let from = match at {
        Some(pk) => Some(super::row_key(table.id, pk)?).filter(|k| *k != new_key),
        None => None,
    };
    let moved = from.is_some();
    let old_key = from.as_ref().unwrap_or(&new_key);

    let old = tx.get_for_update(old_key)?;
    match (mode, &old) {
        (WriteMode::Insert, Some(_)) => {
            return Err(Error::AlreadyExists {
                collection: table.name().to_owned(),
                key: render_pk(&new_pk),
            })
        }
        (WriteMode::Update, None) => {
            return Err(Error::NotFound(format!(
                "{}: no row with key {}",
                table.name(),
                render_pk(at.unwrap_or(&new_pk))
            )))
        }
        _ => {}
    }
    if moved && tx.get_for_update(&new_key)?.is_some() {
        return Err(Error::AlreadyExists {
            collection: table.name().to_owned(),
            key: render_pk(&new_pk),
        });
    }
    let old_doc = match &old {
        Some(b) => Some(Value::from_msgpack(b).map_err(|e| Error::Serialization(e.to_string()))?),
        None => None,
    };
    index::apply(
        tx,
        table,
        old_doc
            .as_ref()
            .map(|d| (old_key.get(prefix_len..).unwrap_or_default(), d)),
        Some((new_key.get(prefix_len..).unwrap_or_default(), &doc)),
    )?;
    let bytes = match bytes {
        Some(b) => b,
        None => doc.to_msgpack()?,
    };
    if let (Some(from), Some(_)) = (from, &old) {
        tx.delete_owned(from)?;
    }
    tx.put_owned(new_key, bytes)?;
    Ok(new_pk)
}

/// Deletes the row at `pk` with its index entries; returns whether it existed.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Engine, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(),
///     fields: vec![FieldDef::new("msg", FieldType::Text, false)], key_fields: vec![], indexes: vec![] })?;
/// let pk = table::insert(&mut tx, &t, &Value::Map(vec![("msg".into(), Value::Text("hi".into()))]))?;
/// assert_eq!(pk, [Value::Int(1)]); // hidden row id
/// assert!(table::delete(&mut tx, &t, &pk)?);
/// assert!(!table::delete(&mut tx, &t, &pk)?);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn delete(tx: &mut Transaction, table: &TableSchema, pk: &[Value]) -> Result<bool> {
    Catalog::check_current(tx, table)?;
    let pk_bytes = encode_pk(pk)?;
    let key = [row_prefix(table.id).as_slice(), &pk_bytes].concat();
    let Some(old) = tx.get_for_update(&key)? else {
        return Ok(false);
    };
    let old_doc = Value::from_msgpack(&old).map_err(|e| Error::Serialization(e.to_string()))?;
    index::apply(tx, table, Some((&pk_bytes, &old_doc)), None)?;
    tx.delete(&key)?;
    Ok(true)
}

/// The stored document (MessagePack) at `pk`.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// table::insert(&mut tx, &t, &doc(1, 10))?;
/// let bytes = table::get_encoded(&mut tx, &t, &[Value::Int(1)])?.expect("stored");
/// assert_eq!(Value::from_msgpack(&bytes)?, doc(1, 10));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn get_encoded<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    pk: &[Value],
) -> Result<Option<Vec<u8>>> {
    r.read(&super::row_key(table.id, pk)?)
}

/// The document at `pk`.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// table::insert(&mut tx, &t, &doc(1, 10))?;
/// tx.commit()?;
/// let mut snap = engine.snapshot(); // any Reader: a transaction or a snapshot
/// assert_eq!(table::get(&mut snap, &t, &[Value::Int(1)])?.map(|d| d.field("n").clone()), Some(Value::Int(10)));
/// assert_eq!(table::get(&mut snap, &t, &[Value::Int(2)])?, None);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn get<R: Reader>(r: &mut R, table: &TableSchema, pk: &[Value]) -> Result<Option<Value>> {
    match get_encoded(r, table, pk)? {
        Some(bytes) => Ok(Some(
            Value::from_msgpack(&bytes).map_err(|e| Error::Serialization(e.to_string()))?,
        )),
        None => Ok(None),
    }
}

/// Rows whose primary key is within bounds, in `dir` order. A bound may be a full key or the
/// leading columns of a composite key (`Included(&[a])` .. `Included(&[a])` is every row whose
/// first key column is `a`).
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, IsolationLevel, Options, Value};
/// # use std::ops::Bound;
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(),
///     fields: vec![FieldDef::new("id", FieldType::Int, false)], key_fields: vec!["id".into()], indexes: vec![] })?;
/// for i in 0..5 { table::insert(&mut tx, &t, &Value::Map(vec![("id".into(), Value::Int(i))]))?; }
/// let lo = [Value::Int(1)];
/// let hi = [Value::Int(3)];
/// let keys: Vec<Vec<Value>> = table::scan(&mut tx, &t, Bound::Included(&lo[..]), Bound::Excluded(&hi[..]), Direction::Reverse)?
///     .decoded().map(|r| r.map(|(pk, _)| pk)).collect::<Result<_, _>>()?;
/// assert_eq!(keys, [vec![Value::Int(2)], vec![Value::Int(1)]]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn scan<'r, R: Reader>(
    r: &'r mut R,
    table: &TableSchema,
    lower: Bound<&[Value]>,
    upper: Bound<&[Value]>,
    dir: Direction,
) -> Result<RawRows<R::Scan<'r>>> {
    let prefix = row_prefix(table.id);
    let bounds = pk_bounds(&prefix, lower, upper)?;
    let (lo, hi) = as_slices(&bounds);
    Ok(RawRows::new(r.scan_range(lo, hi, dir)?, prefix.len()))
}

/// Number of rows in the table.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// for id in 1..=3 { table::insert(&mut tx, &t, &doc(id, 0))?; }
/// assert_eq!(table::count(&mut tx, &t)?, 3);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn count<R: Reader>(r: &mut R, table: &TableSchema) -> Result<u64> {
    let mut n = 0;
    for row in scan(
        r,
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Forward,
    )? {
        row?;
        n += 1;
    }
    Ok(n)
}

/// Deletes every row of the table (not its index entries: see `index::drop_entries`).
pub(crate) fn drop_rows(tx: &mut Transaction, table: &TableSchema) -> Result<()> {
    let prefix = row_prefix(table.id);
    // A row committed after the scan below would outlive its table: conflict instead.
    super::guard_prefix(tx, &prefix)?;
    let keys: Vec<Vec<u8>> = scan(
        tx,
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Forward,
    )?
    .map(|r| r.map(|row| [prefix.as_slice(), &row.pk].concat()))
    .collect::<Result<_>>()?;
    for k in keys {
        tx.delete(&k)?;
    }
    Ok(())
}
