//! The typed operations, written once over the engine's table layer and shared by
//! [`CollectionHandle`](super::CollectionHandle) (one transaction per call) and
//! [`TxCollection`](super::TxCollection) (inside the caller's transaction).
//!
//! Typed values cross into the table layer in two ways only: a document is serialized once with
//! `rmp_serde::to_vec_named` and handed over as MessagePack (the table layer reads its
//! [`Value`]s for checks and index entries and stores the bytes as given); keys and query values
//! become [`Value`]s with [`Value::from_serialize`]. Reads decode the stored MessagePack straight
//! into `T`.

use std::borrow::Borrow;
use std::ops::{Bound, RangeBounds};

use rustlite_engine::catalog::{IndexKind, TableSchema};
use rustlite_engine::mvcc::Reader;
use rustlite_engine::table::{self, RawRow, RawRows, WriteMode};
use rustlite_engine::{Direction, Error, Result, ScanIter, Value};
use serde::Serialize;

use super::{Collection, Field};

/// The primary key's column values of key `key` of a `T` (a tuple key of a composite key is
/// split into its components).
pub(crate) fn pk_values<T: Collection>(table: &TableSchema, key: &T::Key) -> Result<Vec<Value>> {
    let value = Value::from_serialize(key)?;
    let fields = &table.schema.key_fields;
    let parts = match value {
        value if fields.len() <= 1 => vec![value],
        Value::Array(parts) if parts.len() == fields.len() => parts,
        other => {
            return Err(Error::Schema(format!(
                "{}: a key of {} fields expected, got {other}",
                table.name(),
                fields.len()
            )))
        }
    };
    Ok(fields
        .iter()
        .zip(parts)
        .map(|(field, part)| stored_form(table, field, part))
        .collect())
}

/// `value` in the form field `field` of `table` stores it ([`FieldType::normalized`]: serde's
/// array of a `Vec<u8>` is stored as bytes, an integer in a float field as a float), so
/// lookups compare like with like.
///
/// [`FieldType::normalized`]: rustlite_engine::catalog::FieldType::normalized
fn stored_form(table: &TableSchema, field: &str, value: Value) -> Value {
    normalized(table, field, &value).unwrap_or(value)
}

/// The stored form of `value` in field `field` when it differs from `value` (see
/// [`stored_form`]).
fn normalized(table: &TableSchema, field: &str, value: &Value) -> Option<Value> {
    table.field(field).and_then(|f| f.ty.normalized(value))
}

/// Initial capacity of a document's MessagePack buffer.
const DOC_CAPACITY: usize = 256;

/// Serializes `doc` (named MessagePack) and writes it per `mode`.
pub(crate) fn write<T: Collection>(
    tx: &mut rustlite_engine::Transaction,
    table: &TableSchema,
    doc: &T,
    mode: WriteMode,
) -> Result<()> {
    // Sized for a typical small document up front: growing from empty reallocates several
    // times per document (the buffer is handed on to the transaction as it is).
    let mut bytes = Vec::with_capacity(DOC_CAPACITY);
    rmp_serde::encode::write_named(&mut bytes, doc)
        .map_err(|e| Error::Serialization(format!("cannot encode {}: {e}", T::NAME)))?;
    table::write_msgpack(tx, table, bytes, mode)?;
    Ok(())
}

/// Deletes the document with key `key`; whether it existed.
pub(crate) fn delete<T: Collection>(
    tx: &mut rustlite_engine::Transaction,
    table: &TableSchema,
    key: &T::Key,
) -> Result<bool> {
    table::delete(tx, table, &pk_values::<T>(table, key)?)
}

/// The document with key `key`.
pub(crate) fn get<T: Collection, R: Reader>(
    r: &mut R,
    table: &TableSchema,
    key: &T::Key,
) -> Result<Option<T>> {
    match table::get_encoded(r, table, &pk_values::<T>(table, key)?)? {
        Some(bytes) => Ok(Some(table::decode_document(&bytes)?)),
        None => Ok(None),
    }
}

/// A query value of field `field` as a [`Value`], in the form the field stores.
fn query_value<Q: Serialize + ?Sized>(
    table: &TableSchema,
    field: &str,
    value: &Q,
) -> Result<Value> {
    Ok(stored_form(table, field, Value::from_serialize(value)?))
}

/// Documents whose `field` equals `value`, in key order: through the field's index, or by a
/// scan of the collection when the field is not indexed.
pub(crate) fn find<T, V, Q, R>(
    r: &mut R,
    table: &TableSchema,
    field: Field<T, V>,
    value: &Q,
) -> Result<Vec<T>>
where
    T: Collection,
    V: Borrow<Q>,
    Q: Serialize + ?Sized,
    R: Reader,
{
    let value = query_value(table, field.name, value)?;
    if let Some(ix) = table.index_on(field.name) {
        return table::index_eq(r, table, ix, &value)?
            .map(|row| row.decode())
            .collect();
    }
    let mut out = Vec::new();
    for row in table::scan(
        r,
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Forward,
    )? {
        let row = row?;
        let doc = row.document()?;
        let v = doc.field(field.name);
        let normal = normalized(table, field.name, v);
        if !value.is_null() && same_value(normal.as_ref().unwrap_or(v), &value) {
            out.push(row.decode()?);
        }
    }
    Ok(out)
}

/// Equality as indexes see it: equal key encodings of the stored forms (so `Int(2)` equals
/// `Float(2.0)` only in a `Float` field, including a document written before the field's type
/// changed).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.to_key(), b.to_key()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Documents whose `field` is in `range`, in field order, through the field's B-Tree index.
pub(crate) fn range<T, V, Q, R>(
    r: &mut R,
    table: &TableSchema,
    field: Field<T, V>,
    range: impl RangeBounds<Q>,
) -> Result<Iter<T>>
where
    T: Collection,
    V: Borrow<Q>,
    Q: Serialize + ?Sized,
    R: Reader,
{
    let ix = table
        .indexes
        .iter()
        .find(|ix| ix.def.field == field.name && ix.def.kind == IndexKind::BTree)
        .ok_or_else(|| {
            // A key field cannot carry `#[index]`: its order is the collection's own.
            let advice = if table.schema.key_fields.iter().any(|k| k == field.name) {
                "is a key field: use range_keys"
            } else {
                "needs a B-Tree index (#[index])"
            };
            Error::InvalidArgument(format!(
                "{}: a range query on field {} {advice}",
                T::NAME,
                field.name
            ))
        })?;
    let lo = bound_value(table, field.name, range.start_bound())?;
    let hi = bound_value(table, field.name, range.end_bound())?;
    let rows = table::index_range(r, table, ix, lo.as_ref(), hi.as_ref(), Direction::Forward)?;
    Ok(Iter::from_rows(rows.collect()))
}

fn bound_value<Q: Serialize + ?Sized>(
    table: &TableSchema,
    field: &str,
    b: Bound<&Q>,
) -> Result<Bound<Value>> {
    Ok(match b {
        Bound::Included(v) => Bound::Included(query_value(table, field, v)?),
        Bound::Excluded(v) => Bound::Excluded(query_value(table, field, v)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// Documents whose key is in `range`, in key order.
pub(crate) fn range_keys<'r, T: Collection, R: Reader>(
    r: &'r mut R,
    table: &TableSchema,
    range: &impl RangeBounds<T::Key>,
) -> Result<RawRows<R::Scan<'r>>> {
    let to_pk = |b: Bound<&T::Key>| -> Result<Bound<Vec<Value>>> {
        Ok(match b {
            Bound::Included(k) => Bound::Included(pk_values::<T>(table, k)?),
            Bound::Excluded(k) => Bound::Excluded(pk_values::<T>(table, k)?),
            Bound::Unbounded => Bound::Unbounded,
        })
    };
    let lo = to_pk(range.start_bound())?;
    let hi = to_pk(range.end_bound())?;
    table::scan(
        r,
        table,
        lo.as_ref().map(Vec::as_slice),
        hi.as_ref().map(Vec::as_slice),
        Direction::Forward,
    )
}

enum Source {
    Scan(RawRows<ScanIter>),
    Rows(std::vec::IntoIter<RawRow>),
}

/// Documents of a collection, decoded as they are iterated. Each item is a `Result`: a document
/// that no longer matches `T` or a failed read is reported, not skipped.
///
/// ```
/// # #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
/// # struct Item { #[key] id: u32 }
/// let db = rustlite::Database::in_memory()?;
/// let items = db.collection::<Item>()?;
/// items.insert(&Item { id: 2 })?;
/// items.insert(&Item { id: 1 })?;
/// let ids: Vec<u32> = items.iter()?.map(|i| i.map(|i| i.id)).collect::<Result<_, _>>()?;
/// assert_eq!(ids, [1, 2]);
/// # Ok::<(), rustlite::Error>(())
/// ```
pub struct Iter<T> {
    source: Source,
    _marker: std::marker::PhantomData<fn() -> T>,
}

impl<T> Iter<T> {
    pub(crate) fn from_scan(rows: RawRows<ScanIter>) -> Self {
        Iter {
            source: Source::Scan(rows),
            _marker: std::marker::PhantomData,
        }
    }

    pub(crate) fn from_rows(rows: Vec<RawRow>) -> Self {
        Iter {
            source: Source::Rows(rows.into_iter()),
            _marker: std::marker::PhantomData,
        }
    }
}

impl<T: Collection> Iterator for Iter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        let row = match &mut self.source {
            Source::Scan(rows) => rows.next()?,
            Source::Rows(rows) => Ok(rows.next()?),
        };
        Some(row.and_then(|r| r.decode()))
    }
}
