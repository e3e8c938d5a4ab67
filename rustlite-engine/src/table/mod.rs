//! Tables: rows and secondary indexes, the ONE implementation of row and index maintenance that
//! typed collections (`rustlite::CollectionHandle`) and SQL both call.
//!
//! # Key layout
//! ```text
//! row                  [0x01][table id u32 BE][pk]                            -> msgpack(document)
//! btree index          [0x02][index id u32 BE][value][pk]                     -> (empty)
//! btree index, unique  [0x02][index id u32 BE][value]                         -> pk
//! hash index           [0x02][index id u32 BE][xxh3_64(value) u64 BE][value][pk] -> (empty)
//! hash index, unique   [0x02][index id u32 BE][xxh3_64(value) u64 BE][value]     -> pk
//!
//! pk    = key encoding of each primary-key column's Value, concatenated (Value::append_key)
//! value = key encoding of the indexed column's Value (Value::append_key)
//! ```
//! Both are computed from the document's [`Value`]s, never from a second encoding, so a row
//! written by the typed layer and one written by SQL have the same bytes.
//!
//! A **unique** index keeps one entry per value whose engine value is the owner's pk: the
//! uniqueness check is a point read, and two concurrent transactions inserting the same value
//! write the same engine key, so the second committer gets `Error::Conflict` instead of both
//! succeeding (which an entry-per-pk layout would allow under snapshot isolation).
//!
//! **Null is not indexed**: a row whose indexed column is null (missing, `None`) has no entry in
//! that index, so a unique index accepts any number of nulls and a lookup never returns them.
//!
//! # Writes
//! Every write runs inside the caller's engine [`Transaction`](crate::Transaction): the document
//! is type-checked against the schema ([`Error::Schema`] names the column;
//! integers stored in `Float` columns become floats), unique indexes are checked *before*
//! anything is written (so a [`UniqueViolation`](crate::Error::UniqueViolation) leaves the
//! transaction as it was), then the row and its index entries are written. An update removes the
//! old entries of every index whose value changed and adds the new ones.
//!
//! | module | owns |
//! |---|---|
//! | [`row`] | documents: checks, insert / upsert / update / delete / get / scan / count |
//! | [`index`] | index entries: maintenance, uniqueness, equality and range lookups, backfill, the seed's standalone indexes |

pub mod index;
pub mod row;

use std::ops::Bound;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::keyspace::{self, KeyRange, ROW};
use crate::value::Value;

pub use index::{index_eq, index_eq_each, index_range, index_range_each};
pub use row::{
    count, delete, get, get_encoded, insert, scan, update, update_at, upsert, write, write_msgpack,
    WriteMode,
};

/// Length of a [`row_prefix`]: the tag byte and the table id.
pub(crate) const ROW_PREFIX_LEN: usize = 1 + std::mem::size_of::<u32>();

/// `[0x01][table id u32 BE]`: the prefix of every row key of a table.
///
/// ```
/// assert_eq!(rustlite_engine::table::row_prefix(7), [0x01, 0, 0, 0, 7]);
/// ```
pub fn row_prefix(table_id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.push(ROW);
    out.extend_from_slice(&table_id.to_be_bytes());
    out
}

/// The key encoding of a primary key: each component's [`Value::append_key`], concatenated.
///
/// ```
/// use rustlite_engine::{table, Value};
/// let pk = table::encode_pk(&[Value::Int(1), Value::Text("a".into())])?;
/// assert_eq!(table::decode_pk(&pk)?, [Value::Int(1), Value::Text("a".into())]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn encode_pk(pk: &[Value]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(16);
    for v in pk {
        v.append_key(&mut out)?;
    }
    Ok(out)
}

/// Decodes a primary key written by [`encode_pk`].
///
/// ```
/// # use rustlite_engine::{table, Value};
/// assert!(table::decode_pk(&[0xEE]).is_err());
/// ```
pub fn decode_pk(mut bytes: &[u8]) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(1);
    while !bytes.is_empty() {
        let (v, rest) = Value::decode_key(bytes)?;
        out.push(v);
        bytes = rest;
    }
    Ok(out)
}

/// The engine key of the row with primary key `pk` of table `table_id`.
///
/// ```
/// # use rustlite_engine::{table, Value};
/// assert_eq!(table::row_key(1, &[Value::Null])?, [0x01, 0, 0, 0, 1, 0x01]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn row_key(table_id: u32, pk: &[Value]) -> Result<Vec<u8>> {
    let mut key = row_prefix(table_id);
    for v in pk {
        v.append_key(&mut key)?;
    }
    Ok(key)
}

/// A primary key rendered for messages: `1`, or `(1, a)` for a composite key.
///
/// ```
/// # use rustlite_engine::{table, Value};
/// assert_eq!(table::render_pk(&[Value::Int(1), Value::Text("a".into())]), "(1, a)");
/// ```
pub fn render_pk(pk: &[Value]) -> String {
    match pk {
        [one] => one.to_string(),
        many => {
            let parts: Vec<String> = many.iter().map(Value::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// The smallest key above every key starting with `prefix` (which never is all `0xFF` here:
/// every engine key starts with a tag below `0xFF`).
pub(crate) fn successor(prefix: &[u8]) -> Result<Vec<u8>> {
    keyspace::prefix_end(prefix)
        .ok_or_else(|| Error::InvalidArgument("key prefix has no successor".into()))
}

/// Makes `tx`'s commit fail if another transaction commits any key under `prefix` meanwhile
/// ([`Transaction::guard_range`]): a schema change that reads every row (or index entry) of a
/// table depends on all of them, including those committed after it read.
pub(crate) fn guard_prefix(
    tx: &mut crate::mvcc::transaction::Transaction,
    prefix: &[u8],
) -> Result<()> {
    let end = successor(prefix)?;
    tx.guard_range(Bound::Included(prefix), Bound::Excluded(&end));
    Ok(())
}

/// A row as stored: its encoded primary key and its MessagePack document, decoded on demand.
///
/// ```
/// use rustlite_engine::{table::RawRow, Value};
/// let row = RawRow { pk: Value::Int(1).to_key()?, doc: Value::Map(vec![("a".into(), Value::Int(2))]).to_msgpack()? };
/// assert_eq!(row.pk_values()?, [Value::Int(1)]);
/// assert_eq!(row.document()?.field("a"), &Value::Int(2));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// The primary key's key encoding ([`encode_pk`]).
    pub pk: Vec<u8>,
    /// The document, named-field MessagePack.
    pub doc: Vec<u8>,
}

impl RawRow {
    /// The primary key's values.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
    /// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
    /// table::insert(&mut tx, &t, &doc(7, 0))?;
    /// let row = table::scan(&mut tx, &t, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, Direction::Forward)?
    ///     .next().expect("one row")?;
    /// assert_eq!(row.pk_values()?, [Value::Int(7)]);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn pk_values(&self) -> Result<Vec<Value>> {
        decode_pk(&self.pk).map_err(|e| stored("row key", &e))
    }

    /// The document as a [`Value::Map`].
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
    /// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
    /// use rustlite_engine::table::RawRow;
    /// let row = RawRow { pk: table::encode_pk(&[Value::Int(1)])?, doc: doc(1, 5).to_msgpack()? };
    /// assert_eq!(row.document()?.field("n"), &Value::Int(5));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn document(&self) -> Result<Value> {
        Value::from_msgpack(&self.doc).map_err(|e| stored("row document", &e))
    }

    /// The document decoded straight into `T` (by field name).
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
    /// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
    /// #[derive(serde::Deserialize)]
    /// struct Row { id: i64, n: Option<i64> }
    /// table::insert(&mut tx, &t, &doc(1, 5))?;
    /// let mut rows = table::scan(&mut tx, &t, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, Direction::Forward)?;
    /// let row: Row = rows.next().expect("one row")?.decode()?;
    /// assert_eq!((row.id, row.n), (1, Some(5)));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        decode_document(&self.doc)
    }

    /// `(pk values, document)`.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
    /// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
    /// use rustlite_engine::table::RawRow;
    /// let row = RawRow { pk: table::encode_pk(&[Value::Int(1)])?, doc: doc(1, 5).to_msgpack()? };
    /// assert_eq!(row.into_pair()?, (vec![Value::Int(1)], doc(1, 5)));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn into_pair(self) -> Result<(Vec<Value>, Value)> {
        Ok((self.pk_values()?, self.document()?))
    }
}

/// [`Error::Corruption`] for stored bytes (`what`) that do not decode: the engine wrote them
/// decodable, so they were damaged (or written past the table layer).
pub(crate) fn stored(what: &str, e: &Error) -> Error {
    let reason = match e {
        Error::InvalidArgument(m) | Error::Serialization(m) => m.clone(),
        other => other.to_string(),
    };
    Error::corruption("table", 0, format!("{what} does not decode: {reason}"))
}

/// Decodes a stored document into `T`; a mismatch is [`Error::Serialization`].
///
/// ```
/// # use rustlite_engine::{table, Value};
/// let bytes = Value::Map(vec![("a".into(), Value::Int(2))]).to_msgpack()?;
/// let m: std::collections::BTreeMap<String, i64> = table::decode_document(&bytes)?;
/// assert_eq!(m["a"], 2);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn decode_document<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    T::deserialize(&mut crate::value::msgpack_deserializer(bytes))
        .map_err(|e| Error::Serialization(format!("cannot decode document: {e}")))
}

/// Rows of a table scan, in key order (or reverse key order); returned by [`scan`].
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
/// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
/// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
/// use std::ops::Bound::{Included, Unbounded};
/// for id in 1..=3 { table::insert(&mut tx, &t, &doc(id, 0))?; }
/// let keys: Vec<Vec<Value>> = table::scan(&mut tx, &t, Included(&[Value::Int(2)][..]), Unbounded, Direction::Forward)?
///     .map(|row| row?.pk_values())
///     .collect::<Result<_, _>>()?;
/// assert_eq!(keys, [[Value::Int(2)], [Value::Int(3)]]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct RawRows<I> {
    inner: I,
    prefix_len: usize,
}

impl<I> RawRows<I> {
    pub(crate) fn new(inner: I, prefix_len: usize) -> Self {
        RawRows { inner, prefix_len }
    }

    /// The rows as `(pk values, document)` pairs.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{table, Direction, Engine, Error, IsolationLevel, Options, Value};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("n", FieldType::Int, true)] })?;
    /// # let doc = |id: i64, n: i64| Value::Map(vec![("id".into(), Value::Int(id)), ("n".into(), Value::Int(n))]);
    /// use std::ops::Bound::Unbounded;
    /// for id in [2, 1] { table::insert(&mut tx, &t, &doc(id, id * 10))?; }
    /// let rows = table::scan(&mut tx, &t, Unbounded, Unbounded, Direction::Reverse)?
    ///     .decoded()
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// assert_eq!(rows, [(vec![Value::Int(2)], doc(2, 20)), (vec![Value::Int(1)], doc(1, 10))]);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn decoded(self) -> impl Iterator<Item = Result<(Vec<Value>, Value)>>
    where
        I: Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>,
    {
        self.map(|row| row.and_then(RawRow::into_pair))
    }
}

impl<I: Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>> Iterator for RawRows<I> {
    type Item = Result<RawRow>;

    fn next(&mut self) -> Option<Self::Item> {
        let (key, doc) = match self.inner.next()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e)),
        };
        let pk = match key.get(self.prefix_len..) {
            Some(pk) => pk.to_vec(),
            None => {
                return Some(Err(Error::corruption(
                    "table",
                    0,
                    "row key shorter than its prefix",
                )))
            }
        };
        Some(Ok(RawRow { pk, doc }))
    }
}

/// Maps bounds over primary keys (full keys or leading components of a composite key) to
/// bounds over engine keys under `prefix`.
pub(crate) fn pk_bounds(
    prefix: &[u8],
    lower: Bound<&[Value]>,
    upper: Bound<&[Value]>,
) -> Result<KeyRange> {
    let with = |pk: &[Value]| -> Result<Vec<u8>> {
        let mut k = prefix.to_vec();
        for v in pk {
            v.append_key(&mut k)?;
        }
        Ok(k)
    };
    let lo = match lower {
        Bound::Included(pk) => Bound::Included(with(pk)?),
        Bound::Excluded(pk) => Bound::Included(successor(&with(pk)?)?),
        Bound::Unbounded => Bound::Included(prefix.to_vec()),
    };
    let hi = match upper {
        Bound::Included(pk) => Bound::Excluded(successor(&with(pk)?)?),
        Bound::Excluded(pk) => Bound::Excluded(with(pk)?),
        Bound::Unbounded => Bound::Excluded(successor(prefix)?),
    };
    Ok((lo, hi))
}

pub(crate) fn as_slices(b: &KeyRange) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (
        b.0.as_ref().map(Vec::as_slice),
        b.1.as_ref().map(Vec::as_slice),
    )
}

#[cfg(test)]
mod tests;
