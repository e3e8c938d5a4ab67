//! Secondary-index entries: maintenance on writes, uniqueness, lookups, backfill and drop, and
//! the seed's standalone indexes (`create_index` / `index_insert` / `index_find`) on the same
//! entries.
//!
//! ```text
//! [0x02][index id u32 BE] ( [xxh3_64(value) u64 BE] if hash ) [value] ( [pk] unless unique )
//!                                                               -> pk if unique, else empty
//! ```
//! The value is `Value::append_key` of the indexed column (self-delimiting, so entries of one
//! value are exactly the keys starting with `prefix ++ value`, and a B-Tree range on values is
//! a range on keys). A hash index spreads values by their hash and answers equality only.
//! Null is not indexed (see the [table](super) docs).

use std::borrow::Cow;
use std::ops::Bound;

use xxhash_rust::xxh3::xxh3_64;

use crate::catalog::{FieldType, IndexKind, TableIndex, TableSchema};
use crate::error::{Error, Result};
use crate::keyspace::{KeyRange, INDEX};
use crate::lsm::iter::Direction;
use crate::mvcc::transaction::Transaction;
use crate::mvcc::Reader;
use crate::value::Value;

use super::{as_slices, row_prefix, successor, RawRow};

/// `[0x02][index id u32 BE]`.
fn index_prefix(ix: &TableIndex) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.push(INDEX);
    out.extend_from_slice(&ix.id.to_be_bytes());
    out
}

/// The key prefix shared by every entry of value `vkey`.
fn value_prefix(ix: &TableIndex, vkey: &[u8]) -> Vec<u8> {
    let mut out = index_prefix(ix);
    if ix.def.kind == IndexKind::Hash {
        out.extend_from_slice(&xxh3_64(vkey).to_be_bytes());
    }
    out.extend_from_slice(vkey);
    out
}

/// The engine key and value of the entry mapping `vkey` to `pk`.
fn entry(ix: &TableIndex, vkey: &[u8], pk: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut key = value_prefix(ix, vkey);
    if ix.def.unique {
        (key, pk.to_vec())
    } else {
        key.extend_from_slice(pk);
        (key, Vec::new())
    }
}

/// The pk an entry points to; `value_start` is where the value begins in `key`.
fn entry_pk(ix: &TableIndex, key: &[u8], value: Vec<u8>, value_start: usize) -> Result<Vec<u8>> {
    if ix.def.unique {
        return Ok(value);
    }
    let rest = key
        .get(value_start..)
        .ok_or_else(|| Error::corruption("index", 0, "index entry shorter than its prefix"))?;
    let (_, pk) = Value::decode_key(rest).map_err(|e| super::stored("index entry", &e))?;
    Ok(pk.to_vec())
}

/// The value an index stores for column value `value`, or `None` for null (not indexed).
/// Values are normalized by the column's type ([`FieldType::normalized`]), as the row layer
/// stores them: an integer is compared as a float in a `Float` column.
fn indexed_value<'v>(
    ix: &TableIndex,
    ty: Option<FieldType>,
    value: &'v Value,
) -> Result<Option<Cow<'v, Value>>> {
    match value {
        Value::Null => Ok(None),
        Value::Map(_) => Err(Error::Schema(format!(
            "index {}: a nested document cannot be indexed",
            ix.def.name
        ))),
        v => Ok(Some(match ty.and_then(|ty| ty.normalized(v)) {
            Some(normal) => Cow::Owned(normal),
            None => Cow::Borrowed(v),
        })),
    }
}

/// The key encoding of an index value, or `None` for null (not indexed); see
/// [`indexed_value`].
pub(crate) fn value_key(
    ix: &TableIndex,
    ty: Option<FieldType>,
    value: &Value,
) -> Result<Option<Vec<u8>>> {
    match indexed_value(ix, ty, value)? {
        Some(v) => Ok(Some(v.to_key()?)),
        None => Ok(None),
    }
}

/// The entry (engine key, engine value) of `ix` for a row with primary key `pk` whose indexed
/// column holds `value`, or `None` for null: the bytes of
/// `entry(ix, value_key(ix, ty, value), pk)`, encoded straight into one key buffer (the write
/// path builds one or two per index per row).
fn value_entry(
    ix: &TableIndex,
    ty: Option<FieldType>,
    value: &Value,
    pk: &[u8],
) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let Some(value) = indexed_value(ix, ty, value)? else {
        return Ok(None);
    };
    let mut key = Vec::with_capacity(64 + pk.len());
    key.push(INDEX);
    key.extend_from_slice(&ix.id.to_be_bytes());
    if ix.def.kind == IndexKind::Hash {
        // The hash of the value's key encoding precedes it: encode, then hash what was encoded.
        let at = key.len();
        key.extend_from_slice(&[0; 8]);
        value.append_key(&mut key)?;
        let hash = xxh3_64(key.get(at + 8..).unwrap_or_default()).to_be_bytes();
        if let Some(slot) = key.get_mut(at..at + 8) {
            slot.copy_from_slice(&hash);
        }
    } else {
        value.append_key(&mut key)?;
    }
    if ix.def.unique {
        Ok(Some((key, pk.to_vec())))
    } else {
        key.extend_from_slice(pk);
        Ok(Some((key, Vec::new())))
    }
}

fn column_type(table: &TableSchema, ix: &TableIndex) -> Option<FieldType> {
    table.field(&ix.def.field).map(|f| f.ty)
}

/// One index's change for a write: entry to remove, entry to add.
struct Change {
    remove: Option<Vec<u8>>,
    add: Option<(Vec<u8>, Vec<u8>)>,
}

/// Moves every index of `table` from the entries of `old` (pk, document) to those of `new`.
/// Every unique check runs before any write, so an error leaves `tx` untouched.
pub(crate) fn apply(
    tx: &mut Transaction,
    table: &TableSchema,
    old: Option<(&[u8], &Value)>,
    new: Option<(&[u8], &Value)>,
) -> Result<()> {
    let mut changes = Vec::with_capacity(table.indexes.len());
    for ix in &table.indexes {
        let ty = column_type(table, ix);
        let old_e = match old {
            Some((pk, doc)) => value_entry(ix, ty, doc.field(&ix.def.field), pk)?,
            None => None,
        };
        let new_e = match new {
            Some((pk, doc)) => value_entry(ix, ty, doc.field(&ix.def.field), pk)?,
            None => None,
        };
        // Entries are equal exactly when (value, pk) are: the value encoding is
        // self-delimiting, and a unique entry's engine value is its pk.
        if old_e == new_e {
            continue;
        }
        if let (true, Some((key, pk))) = (ix.def.unique, &new_e) {
            if let Some(owner) = tx.get_for_update(key)? {
                let own = owner == *pk || old.is_some_and(|(opk, _)| owner == opk);
                if !own {
                    let value = new.map(|(_, d)| d.field(&ix.def.field).to_string());
                    // The owner may have given the value up since the snapshot: then a retry
                    // may succeed, so this is a conflict, not a violation.
                    if tx.changed_since_read(key, Some(&owner))? {
                        return Err(Error::Conflict(format!(
                            "index {}: value {} was released after this transaction's snapshot",
                            ix.def.name,
                            value.unwrap_or_default()
                        )));
                    }
                    return Err(Error::UniqueViolation {
                        index: ix.def.name.clone(),
                        value: value.unwrap_or_default(),
                    });
                }
            }
        }
        changes.push(Change {
            remove: old_e.map(|(key, _)| key),
            add: new_e,
        });
    }
    for c in changes {
        if let Some(key) = c.remove {
            tx.delete_owned(key)?;
        }
        if let Some((key, value)) = c.add {
            tx.put_owned(key, value)?;
        }
    }
    Ok(())
}

/// Calls `each(value key, pk)` for the entries whose engine key is within `bounds`, in `dir`
/// order, at most `limit` of them. Returns the engine key of the last entry handed over when the
/// limit stopped the scan (more may follow), `None` when the range ran out.
fn for_entries<R: Reader>(
    r: &mut R,
    ix: &TableIndex,
    bounds: &KeyRange,
    dir: Direction,
    limit: usize,
    mut each: impl FnMut(&[u8], Vec<u8>),
) -> Result<Option<Vec<u8>>> {
    let prefix = index_prefix(ix);
    let value_start = prefix.len() + if ix.def.kind == IndexKind::Hash { 8 } else { 0 };
    let (l, h) = as_slices(bounds);
    let mut seen = 0;
    for kv in r.scan_range(l, h, dir)? {
        let (key, value) = kv?;
        let pk = entry_pk(ix, &key, value, value_start)?;
        let vkey = key.get(value_start..).unwrap_or_default();
        let vlen = vkey.len() - if ix.def.unique { 0 } else { pk.len() };
        each(vkey.get(..vlen).unwrap_or_default(), pk);
        seen += 1;
        if seen == limit {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// `(value key, pk)` of every entry whose engine key is within `bounds`, in key order.
fn scan_pks<R: Reader>(
    r: &mut R,
    ix: &TableIndex,
    bounds: &KeyRange,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for_entries(r, ix, bounds, Direction::Forward, usize::MAX, |vkey, pk| {
        out.push((vkey.to_vec(), pk))
    })?;
    Ok(out)
}

/// The engine keys that start with `prefix`.
fn prefix_bounds(prefix: Vec<u8>) -> Result<KeyRange> {
    let hi = successor(&prefix)?;
    Ok((Bound::Included(prefix), Bound::Excluded(hi)))
}

/// `(value key, pk)` of every entry of `ix` whose engine key starts with `prefix`, in key order.
fn prefix_pks<R: Reader>(
    r: &mut R,
    ix: &TableIndex,
    prefix: Vec<u8>,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    scan_pks(r, ix, &prefix_bounds(prefix)?)
}

/// The pks of the entries of value key `vkey`.
fn eq_pks<R: Reader>(r: &mut R, ix: &TableIndex, vkey: &[u8]) -> Result<Vec<Vec<u8>>> {
    let prefix = value_prefix(ix, vkey);
    if ix.def.unique {
        return Ok(r.read(&prefix)?.into_iter().collect());
    }
    let mut out = Vec::new();
    let bounds = prefix_bounds(prefix)?;
    for_entries(r, ix, &bounds, Direction::Forward, usize::MAX, |_, pk| {
        out.push(pk)
    })?;
    Ok(out)
}

/// Rows an index scan reads at a time: [`FETCH_CHUNK`] entries, then their rows (in primary-key
/// order, see [`fetch`]), handed over before the next entries are read. A scan thus holds one
/// chunk of keys and rows however many entries match.
pub(crate) const FETCH_CHUNK: usize = 4096;

/// The first chunk of an index scan; each later one doubles, up to [`FETCH_CHUNK`]. A scan that
/// stops early (`ORDER BY indexed LIMIT 10`, a lookup that wants one row) then reads about as
/// many rows as it hands over, not a whole chunk of 4,096 (~7 ms over a large index).
const FIRST_CHUNK: usize = 64;

#[cfg(test)]
thread_local! {
    /// Index entries read by this thread's index scans (tests count what a scan reads).
    pub(crate) static ENTRIES_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Calls `f` with the rows of the entries of `ix` within `bounds` (engine keys), in `dir` order,
/// up to `chunk` at a time (from [`FIRST_CHUNK`], doubling), until it returns false; returns whether every row was handed over. Each
/// chunk after the first resumes the index scan after the last entry of the one before, so the
/// chunks join up exactly when every read of `r` sees one state (see
/// [`Reader::at_one_snapshot`], which the callers run it in) and `f` cannot write through `r`
/// meanwhile (it holds no reference to it).
fn rows_each<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    ix: &TableIndex,
    mut bounds: KeyRange,
    dir: Direction,
    chunk: usize,
    f: &mut dyn FnMut(RawRow) -> Result<bool>,
) -> Result<bool> {
    let mixed = r.mixes_own_writes();
    let mut size = chunk.min(FIRST_CHUNK);
    loop {
        let mut pks = Vec::new();
        let mut vkeys = Vec::new();
        let resume = for_entries(r, ix, &bounds, dir, size, |vkey, pk| {
            if mixed {
                vkeys.push(vkey.to_vec());
            }
            pks.push(pk);
        })?;
        #[cfg(test)]
        ENTRIES_READ.with(|n| n.set(n.get() + pks.len()));
        size = size.saturating_mul(2).min(chunk);
        let rows = if mixed {
            fetch_mixed(r, table, ix, pks.into_iter().zip(vkeys))?
        } else {
            fetch(r, table, pks)?
        };
        if !hand_over(rows, f)? {
            return Ok(false);
        }
        match (resume, dir) {
            (None, _) => return Ok(true),
            (Some(last), Direction::Forward) => bounds.0 = Bound::Excluded(last),
            (Some(last), Direction::Reverse) => bounds.1 = Bound::Excluded(last),
        }
    }
}

/// Calls `f` with each of `rows` until it returns false; returns whether every row was handed
/// over.
fn hand_over(rows: Vec<RawRow>, f: &mut dyn FnMut(RawRow) -> Result<bool>) -> Result<bool> {
    for row in rows {
        if !f(row)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Every row `scan` hands to its function (one of the `_each` scans below).
fn collect_rows(
    scan: impl FnOnce(&mut dyn FnMut(RawRow) -> Result<bool>) -> Result<bool>,
) -> Result<std::vec::IntoIter<RawRow>> {
    let mut rows = Vec::new();
    scan(&mut |row| {
        rows.push(row);
        Ok(true)
    })?;
    Ok(rows.into_iter())
}

/// The rows of `pks`, in the order given. Many rows are read in primary-key order (then put
/// back in place): neighbouring reads then share the blocks and index entries they search,
/// still warm in the CPU caches.
fn fetch<R: Reader>(r: &mut R, table: &TableSchema, pks: Vec<Vec<u8>>) -> Result<Vec<RawRow>> {
    const SORT_FROM: usize = 64;
    if pks.len() < SORT_FROM {
        return fetch_in_order(r, table, pks);
    }
    let mut order: Vec<(Vec<u8>, usize)> = pks.into_iter().zip(0..).collect();
    order.sort_unstable();
    let (sorted, places): (Vec<Vec<u8>>, Vec<usize>) = order.into_iter().unzip();
    let mut slots: Vec<Option<RawRow>> = Vec::new();
    slots.resize_with(places.len(), || None);
    for (row, place) in fetch_in_order(r, table, sorted)?.into_iter().zip(places) {
        if let Some(slot) = slots.get_mut(place) {
            *slot = Some(row);
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

/// [`fetch`] for a reader whose own writes sit beside newer commits
/// ([`Reader::mixes_own_writes`]): each hit is `(pk, value key of its entry)`. A row the reader
/// wrote itself reads as its own version, which the entries other transactions committed for
/// that row since need not match: such a hit is dropped unless the row, as read, still has the
/// entry's value (and a row the reader deleted is no hit). Every other row is fetched as by
/// [`fetch`]; a missing one is corruption.
fn fetch_mixed<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    ix: &TableIndex,
    hits: impl Iterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Result<Vec<RawRow>> {
    let ty = column_type(table, ix);
    let mut key = row_prefix(table.id);
    let prefix_len = key.len();
    let mut rows = Vec::new();
    for (pk, vkey) in hits {
        key.truncate(prefix_len);
        key.extend_from_slice(&pk);
        let own = r.wrote(&key);
        let row = match r.read(&key)? {
            Some(doc) => RawRow { pk, doc },
            None if own => continue,
            None => return Err(missing_row(table)),
        };
        if own {
            let value = row.document()?;
            let vk = value_key(ix, ty, value.field(&ix.def.field))?;
            if vk.as_deref() != Some(vkey.as_slice()) {
                continue;
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The error for an index entry whose row is gone.
fn missing_row(table: &TableSchema) -> Error {
    Error::corruption(
        "index",
        0,
        format!(
            "table {}: index entry points to a missing row",
            table.name()
        ),
    )
}

fn fetch_in_order<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    pks: Vec<Vec<u8>>,
) -> Result<Vec<RawRow>> {
    let mut key = row_prefix(table.id);
    let prefix_len = key.len();
    let mut rows = Vec::with_capacity(pks.len());
    for pk in pks {
        key.truncate(prefix_len);
        key.extend_from_slice(&pk);
        match r.read(&key)? {
            Some(doc) => rows.push(RawRow { pk, doc }),
            None => return Err(missing_row(table)),
        }
    }
    Ok(rows)
}

/// Rows whose indexed column equals `value` (none for null), in primary-key order.
///
/// ```
/// use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
/// use rustlite_engine::{table, Engine, IsolationLevel, Options, Value};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(),
///     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("c", FieldType::Text, true)],
///     key_fields: vec!["id".into()], indexes: vec![IndexDef::new("t", "c", IndexKind::Hash, false)] })?;
/// for (id, c) in [(1, "x"), (2, "y"), (3, "x")] {
///     table::insert(&mut tx, &t, &Value::Map(vec![("id".into(), Value::Int(id)), ("c".into(), Value::Text(c.into()))]))?;
/// }
/// let hits = table::index_eq(&mut tx, &t, &t.indexes[0], &Value::Text("x".into()))?;
/// assert_eq!(hits.map(|r| r.pk_values()).collect::<Result<Vec<_>, _>>()?, [vec![Value::Int(1)], vec![Value::Int(3)]]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn index_eq<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    ix: &TableIndex,
    value: &Value,
) -> Result<std::vec::IntoIter<RawRow>> {
    collect_rows(|f| index_eq_each(r, table, ix, value, f))
}

/// [`index_eq`], handing each row to `f` (until it returns false) as its chunk is read; returns
/// whether every row was handed over. Holds one chunk of keys and rows. Every read sees one
/// state, even in a transaction at ReadCommitted ([`Reader::at_one_snapshot`]).
pub fn index_eq_each<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    ix: &TableIndex,
    value: &Value,
    f: &mut dyn FnMut(RawRow) -> Result<bool>,
) -> Result<bool> {
    let Some(vkey) = value_key(ix, column_type(table, ix), value)? else {
        return Ok(true);
    };
    r.at_one_snapshot(|r| {
        if ix.def.unique {
            // One entry at most.
            let pks = eq_pks(r, ix, &vkey)?;
            let rows = if r.mixes_own_writes() {
                let hits = pks.into_iter().map(|pk| (pk, vkey.clone()));
                fetch_mixed(r, table, ix, hits)?
            } else {
                fetch(r, table, pks)?
            };
            return hand_over(rows, f);
        }
        let bounds = prefix_bounds(value_prefix(ix, &vkey))?;
        rows_each(r, table, ix, bounds, Direction::Forward, FETCH_CHUNK, f)
    })
}

/// Rows whose indexed column is within `[lower, upper]`, in value order (then pk order), or the
/// reverse. B-Tree indexes only: a hash index refuses with [`Error::InvalidArgument`]. Values are
/// compared in the key encoding's order (within one type: the natural order; nulls are never
/// returned).
///
/// ```
/// use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
/// use rustlite_engine::{table, Direction, Engine, IsolationLevel, Options, Value};
/// use std::ops::Bound::{Included, Unbounded};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// let t = Catalog::create_table(&mut tx, &Schema { name: "t".into(),
///     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)],
///     key_fields: vec!["id".into()], indexes: vec![IndexDef::new("t", "age", IndexKind::BTree, false)] })?;
/// for (id, age) in [(1, 50), (2, 20), (3, 35)] {
///     table::insert(&mut tx, &t, &Value::Map(vec![("id".into(), Value::Int(id)), ("age".into(), Value::Int(age))]))?;
/// }
/// let rows = table::index_range(&mut tx, &t, &t.indexes[0], Included(&Value::Int(30)), Unbounded, Direction::Forward)?;
/// let ids: Vec<Vec<Value>> = rows.map(|r| r.pk_values()).collect::<Result<_, _>>()?;
/// assert_eq!(ids, [[Value::Int(3)], [Value::Int(1)]]); // ages 35, 50
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn index_range<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    ix: &TableIndex,
    lower: Bound<&Value>,
    upper: Bound<&Value>,
    dir: Direction,
) -> Result<std::vec::IntoIter<RawRow>> {
    collect_rows(|f| index_range_each(r, table, ix, (lower, upper), dir, f))
}

/// [`index_range`], handing each row to `f` (until it returns false) as its chunk is read;
/// returns whether every row was handed over. Holds one chunk of keys and rows. Every read sees
/// one state, even in a transaction at ReadCommitted ([`Reader::at_one_snapshot`]).
pub fn index_range_each<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    ix: &TableIndex,
    bounds: (Bound<&Value>, Bound<&Value>),
    dir: Direction,
    f: &mut dyn FnMut(RawRow) -> Result<bool>,
) -> Result<bool> {
    index_range_chunked(r, table, ix, bounds, dir, FETCH_CHUNK, f)
}

/// [`index_range_each`], reading `chunk` index entries at a time (tests use small chunks).
pub(crate) fn index_range_chunked<R: Reader>(
    r: &mut R,
    table: &TableSchema,
    ix: &TableIndex,
    bounds: (Bound<&Value>, Bound<&Value>),
    dir: Direction,
    chunk: usize,
    f: &mut dyn FnMut(RawRow) -> Result<bool>,
) -> Result<bool> {
    let bounds = value_bounds(ix, column_type(table, ix), bounds.0, bounds.1)?;
    r.at_one_snapshot(|r| rows_each(r, table, ix, bounds, dir, chunk, f))
}

fn value_bounds(
    ix: &TableIndex,
    ty: Option<FieldType>,
    lower: Bound<&Value>,
    upper: Bound<&Value>,
) -> Result<KeyRange> {
    if ix.def.kind == IndexKind::Hash {
        return Err(Error::InvalidArgument(format!(
            "index {} is a hash index: it answers equality only, not ranges",
            ix.def.name
        )));
    }
    let prefix = index_prefix(ix);
    // A null bound is below every indexed value.
    let vk = |v: &Value| -> Result<Vec<u8>> {
        let mut k = prefix.clone();
        k.extend(value_key(ix, ty, v)?.unwrap_or_default());
        Ok(k)
    };
    let lo = match lower {
        Bound::Included(v) => Bound::Included(vk(v)?),
        Bound::Excluded(v) if v.is_null() => Bound::Included(prefix.clone()),
        Bound::Excluded(v) => Bound::Included(successor(&vk(v)?)?),
        Bound::Unbounded => Bound::Included(prefix.clone()),
    };
    let hi = match upper {
        Bound::Included(v) if v.is_null() => Bound::Excluded(prefix.clone()),
        Bound::Included(v) => Bound::Excluded(successor(&vk(v)?)?),
        Bound::Excluded(v) => Bound::Excluded(vk(v)?),
        Bound::Unbounded => Bound::Excluded(successor(&prefix)?),
    };
    Ok((lo, hi))
}

/// Writes the entries of index `ix` for every existing row of `table`, checking uniqueness.
pub(crate) fn backfill(tx: &mut Transaction, table: &TableSchema, ix: &TableIndex) -> Result<()> {
    // A row committed after the scan below would have no entry: conflict instead.
    super::guard_prefix(tx, &super::row_prefix(table.id))?;
    let rows: Vec<RawRow> = super::row::scan(
        tx,
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Forward,
    )?
    .collect::<Result<_>>()?;
    let ty = column_type(table, ix);
    for row in rows {
        let doc = row.document()?;
        let value = doc.field(&ix.def.field);
        let Some(vkey) = value_key(ix, ty, value)? else {
            continue;
        };
        let (key, v) = entry(ix, &vkey, &row.pk);
        if ix.def.unique && tx.get(&key)?.is_some() {
            return Err(Error::UniqueViolation {
                index: ix.def.name.clone(),
                value: value.to_string(),
            });
        }
        tx.put(&key, &v)?;
    }
    Ok(())
}

/// Deletes every entry of index `ix`.
pub(crate) fn drop_entries(tx: &mut Transaction, ix: &TableIndex) -> Result<()> {
    let prefix = index_prefix(ix);
    super::guard_prefix(tx, &prefix)?;
    let hi = successor(&prefix)?;
    let keys: Vec<Vec<u8>> = tx
        .scan(
            Bound::Included(&prefix),
            Bound::Excluded(&hi),
            Direction::Forward,
        )?
        .map(|kv| kv.map(|(k, _)| k))
        .collect::<Result<_>>()?;
    for k in keys {
        tx.delete(&k)?;
    }
    Ok(())
}

/// Seed API: maps `key` to row id `id` in standalone index `ix` (idempotent).
///
/// ```
/// use rustlite_engine::catalog::{Catalog, IndexKind};
/// use rustlite_engine::table::index;
/// use rustlite_engine::{Engine, IsolationLevel, Options};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// let ix = Catalog::create_standalone_index(&mut tx, "names", IndexKind::BTree)?;
/// index::standalone_insert(&mut tx, &ix, b"bob", 2)?;
/// index::standalone_insert(&mut tx, &ix, b"ann", 1)?;
/// index::standalone_insert(&mut tx, &ix, b"ann", 3)?;
/// assert_eq!(index::standalone_find(&mut tx, &ix, b"ann")?, [1, 3]);
/// let all = index::standalone_range(&mut tx, &ix, std::ops::Bound::Included(&b"a"[..]), std::ops::Bound::Excluded(&b"b"[..]))?;
/// assert_eq!(all, [(b"ann".to_vec(), 1), (b"ann".to_vec(), 3)]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn standalone_insert(tx: &mut Transaction, ix: &TableIndex, key: &[u8], id: u64) -> Result<()> {
    let (k, v) = standalone_entry(ix, key, id)?;
    tx.put(&k, &v)
}

/// Seed API: removes the mapping of `key` to `id`.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, IndexKind};
/// # use rustlite_engine::table::index;
/// # use rustlite_engine::{Engine, IsolationLevel, Options};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// let ix = Catalog::create_standalone_index(&mut tx, "names", IndexKind::BTree)?;
/// index::standalone_insert(&mut tx, &ix, b"ann", 1)?;
/// index::standalone_remove(&mut tx, &ix, b"ann", 1)?;
/// assert!(index::standalone_find(&mut tx, &ix, b"ann")?.is_empty());
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn standalone_remove(tx: &mut Transaction, ix: &TableIndex, key: &[u8], id: u64) -> Result<()> {
    let (k, _) = standalone_entry(ix, key, id)?;
    tx.delete(&k)
}

fn standalone_entry(ix: &TableIndex, key: &[u8], id: u64) -> Result<(Vec<u8>, Vec<u8>)> {
    let vkey = Value::Bytes(key.to_vec()).to_key()?;
    Ok(entry(ix, &vkey, &id_key(id)?))
}

fn id_key(id: u64) -> Result<Vec<u8>> {
    let id = i64::try_from(id)
        .map_err(|_| Error::InvalidArgument(format!("index row id {id} exceeds i64::MAX")))?;
    Value::Int(id).to_key()
}

fn decode_id(pk: &[u8]) -> Result<u64> {
    match Value::decode_key(pk)? {
        (Value::Int(i), []) => u64::try_from(i)
            .map_err(|_| Error::corruption("index", 0, "negative row id in a standalone index")),
        _ => Err(Error::corruption(
            "index",
            0,
            "standalone index entry without a row id",
        )),
    }
}

/// Seed API: the ids mapped to `key`, ascending.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, IndexKind};
/// # use rustlite_engine::table::index;
/// # use rustlite_engine::{Engine, IsolationLevel, Options};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// let ix = Catalog::create_standalone_index(&mut tx, "names", IndexKind::BTree)?;
/// for id in [9, 4] { index::standalone_insert(&mut tx, &ix, b"ann", id)?; }
/// assert_eq!(index::standalone_find(&mut tx, &ix, b"ann")?, [4, 9]);
/// assert!(index::standalone_find(&mut tx, &ix, b"bob")?.is_empty());
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn standalone_find<R: Reader>(r: &mut R, ix: &TableIndex, key: &[u8]) -> Result<Vec<u64>> {
    let vkey = Value::Bytes(key.to_vec()).to_key()?;
    eq_pks(r, ix, &vkey)?
        .iter()
        .map(|pk| decode_id(pk))
        .collect()
}

/// Seed API: `(key, id)` of every entry with a key in `[lower, upper]`, in key order. B-Tree
/// indexes only.
///
/// ```
/// # use rustlite_engine::catalog::{Catalog, IndexKind};
/// # use rustlite_engine::table::index;
/// # use rustlite_engine::{Engine, IsolationLevel, Options};
/// # let engine = Engine::open_in_memory(Options::default())?;
/// # let mut tx = engine.begin(IsolationLevel::default());
/// let ix = Catalog::create_standalone_index(&mut tx, "names", IndexKind::BTree)?;
/// use std::ops::Bound::{Included, Unbounded};
/// for (k, id) in [(b"a", 1), (b"b", 2), (b"c", 3)] { index::standalone_insert(&mut tx, &ix, k, id)?; }
/// let hits = index::standalone_range(&mut tx, &ix, Included(&b"b"[..]), Unbounded)?;
/// assert_eq!(hits, [(b"b".to_vec(), 2), (b"c".to_vec(), 3)]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn standalone_range<R: Reader>(
    r: &mut R,
    ix: &TableIndex,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
) -> Result<Vec<(Vec<u8>, u64)>> {
    let lower = lower.map(|k| Value::Bytes(k.to_vec()));
    let upper = upper.map(|k| Value::Bytes(k.to_vec()));
    let (lo, hi) = value_bounds(ix, None, lower.as_ref(), upper.as_ref())?;
    decode_standalone(scan_pks(r, ix, &(lo, hi))?)
}

/// Seed API: `(key, id)` of every entry of standalone index `ix`, of either kind (a hash index
/// lists them in hash order), for dumps.
///
/// ```
/// use rustlite_engine::catalog::{Catalog, IndexKind};
/// use rustlite_engine::table::index;
/// # let engine = rustlite_engine::Engine::open_in_memory(Default::default())?;
/// let mut tx = engine.begin(Default::default());
/// let ix = Catalog::create_standalone_index(&mut tx, "tags", IndexKind::Hash)?;
/// index::standalone_insert(&mut tx, &ix, b"red", 2)?;
/// index::standalone_insert(&mut tx, &ix, b"red", 1)?;
/// let mut all = index::standalone_entries(&mut tx, &ix)?;
/// all.sort();
/// assert_eq!(all, [(b"red".to_vec(), 1), (b"red".to_vec(), 2)]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn standalone_entries<R: Reader>(r: &mut R, ix: &TableIndex) -> Result<Vec<(Vec<u8>, u64)>> {
    decode_standalone(prefix_pks(r, ix, index_prefix(ix))?)
}

/// `(key, id)` of standalone-index entries given as `(value key, pk)`.
fn decode_standalone(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Vec<(Vec<u8>, u64)>> {
    entries
        .into_iter()
        .map(|(vkey, pk)| {
            let key = match Value::decode_key(&vkey)? {
                (Value::Bytes(b), []) => b,
                _ => {
                    return Err(Error::corruption(
                        "index",
                        0,
                        "standalone index value is not bytes",
                    ))
                }
            };
            Ok((key, decode_id(&pk)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::IndexDef;

    /// The write path's one-buffer entries are byte for byte the entries every other path
    /// builds from `value_key` (lookups, backfill): same keys, same values, same nulls, same
    /// errors.
    #[test]
    fn value_entries_match_entries_of_value_keys() {
        let pk = Value::Int(42).to_key().unwrap_or_default();
        let values = [
            Value::Null,
            Value::Int(7),
            Value::Int(-3),
            Value::Float(2.5),
            Value::Bool(true),
            Value::Text("user0001@example.org".into()),
            Value::Bytes(vec![0, 255, 1]),
            Value::Array(vec![Value::Int(1), Value::Text("a".into())]),
            Value::Map(vec![("a".into(), Value::Int(1))]),
        ];
        let mut checked = 0;
        for kind in [IndexKind::BTree, IndexKind::Hash] {
            for unique in [false, true] {
                let ix = TableIndex::new(9, IndexDef::named("ix", "f", kind, unique));
                for ty in [None, Some(FieldType::Int), Some(FieldType::Float)] {
                    for v in &values {
                        let direct = value_entry(&ix, ty, v, &pk);
                        let via_key = value_key(&ix, ty, v).map(|k| k.map(|k| entry(&ix, &k, &pk)));
                        match (direct, via_key) {
                            (Ok(a), Ok(b)) => {
                                assert_eq!(a, b, "{kind:?} unique={unique} {ty:?} {v}")
                            }
                            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                            (a, b) => panic!("{kind:?} unique={unique} {ty:?} {v}: {a:?} vs {b:?}"),
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 3 * values.len());
        // An integer in a Float column is indexed as the float, as the row stores it.
        let ix = TableIndex::new(9, IndexDef::named("ix", "f", IndexKind::BTree, false));
        let as_float = value_entry(&ix, Some(FieldType::Float), &Value::Int(2), &pk);
        let float = value_entry(&ix, Some(FieldType::Float), &Value::Float(2.0), &pk)
            .ok()
            .flatten();
        assert!(float.is_some());
        assert_eq!(as_float.ok().flatten(), float);
    }
}
