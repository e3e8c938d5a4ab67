//! Opening a collection: registration in the catalog on first open, migration on later opens.
//!
//! ```text
//! declared = T::schema()          stored = catalog entry of T::NAME
//!   no entry            -> create the table (ids from the catalog counter)
//!   key fields or types differ -> Error::Schema (a changed key would orphan every row)
//!   index declared, not stored -> create it, backfilling from the existing documents
//!   index stored, not declared -> drop it and its entries, if it is one a declaration made
//!                          (named `table.field`); an index made in SQL (`CREATE INDEX name ON
//!                          …`, or a `UNIQUE` constraint, though named `table.column` too) is
//!                          the SQL user's, and stays
//!   index of that name with another field/kind/uniqueness, or on a field whose type changed
//!     (an integer field turned float: entries keyed as integers would never be found)
//!                               -> drop, then create
//!   other fields differ -> store the new field list; when fields were added or retyped,
//!                          rewrite every document as `T` reads it (a field added with
//!                          #[serde(default)] then holds its default in storage too, so
//!                          indexes, `find` and SQL see it), before any index is built
//! ```
//! All of it runs in one transaction: a failed backfill (say, a new unique index meeting a
//! duplicate) leaves the catalog as it was.

use std::borrow::Cow;
use std::sync::Arc;

use std::ops::Bound;

use rustlite_engine::catalog::{Catalog, FieldDef, Schema, TableSchema};
use rustlite_engine::table::{self, RawRow, WriteMode};
use rustlite_engine::{Direction, Error, Result, Transaction, Value};

use super::Collection;

/// Whether the stored table matches the declaration (index order, and indexes made in SQL,
/// aside).
pub(crate) fn up_to_date(stored: &TableSchema, declared: &Schema) -> bool {
    stored.schema.fields == declared.fields
        && stored.schema.key_fields == declared.key_fields
        && stored
            .indexes
            .iter()
            .filter(|ix| managed(declared, &ix.def))
            .count()
            == declared.indexes.len()
        && declared
            .indexes
            .iter()
            .all(|d| stored.index(&d.name).is_some_and(|s| s.def == *d))
}

/// Whether the collection manages a stored index: one the type declares (by name), or one
/// with the name a declaration gives its indexes (`table.field`) — those the collection drops
/// when the type stops declaring them — unless a SQL `UNIQUE` constraint made it (named the
/// same way, marked [`sql_constraint`](rustlite_engine::catalog::IndexDef::sql_constraint)).
/// Any other index was made in SQL and is left alone.
fn managed(declared: &Schema, def: &rustlite_engine::catalog::IndexDef) -> bool {
    let derived_name = def
        .name
        .strip_prefix(declared.name.as_str())
        .and_then(|r| r.strip_prefix('.'))
        == Some(def.field.as_str());
    declared.indexes.iter().any(|d| d.name == def.name) || (derived_name && !def.sql_constraint)
}

/// Registers or migrates `T`'s table inside `tx`; returns the table as `tx` now sees it.
pub(crate) fn ensure_table<T: Collection>(tx: &mut Transaction) -> Result<Arc<TableSchema>> {
    let declared = T::schema();
    let Some(stored) = Catalog::table(tx, T::NAME)? else {
        return Catalog::create_table(tx, &declared);
    };
    if up_to_date(&stored, &declared) {
        return Ok(stored);
    }
    check_key(&stored, &declared)?;
    let name = T::NAME;
    let retyped = |field: &str| {
        stored.schema.field(field).map(|f| f.ty) != declared.field(field).map(|f| f.ty)
    };
    // Indexes made in SQL on a field whose type changed: rebuilt after the new field list.
    let mut rebuild = Vec::new();
    for ix in &stored.indexes {
        let ours = managed(&declared, &ix.def);
        let keep = !retyped(&ix.def.field) && (!ours || declared.indexes.contains(&ix.def));
        if !keep {
            tracing::info!(collection = name, index = %ix.def.name, "dropping index");
            Catalog::drop_index(tx, name, &ix.def.name)?;
            if !ours && declared.field(&ix.def.field).is_some() {
                rebuild.push(ix.def.clone());
            }
        }
    }
    if stored.schema.fields != declared.fields {
        Catalog::set_fields(tx, name, declared.fields.clone())?;
        // A field added or changed: the stored documents take the new shape. A field the
        // type no longer has is left in them (a narrower type, an older binary: reopening with
        // the full type finds the values again).
        let reshaped = declared
            .fields
            .iter()
            .any(|f| stored.schema.field(&f.name) != Some(f));
        if reshaped {
            rewrite_documents::<T>(tx, &stored.schema.fields)?;
        }
    }
    let missing = declared
        .indexes
        .iter()
        .filter(|def| !stored.indexes.iter().any(|ix| ix.def == **def) || retyped(&def.field));
    for def in missing.chain(&rebuild) {
        tracing::info!(collection = name, index = %def.name, "building index");
        Catalog::create_index(tx, name, def)?;
    }
    Catalog::table(tx, name)?.ok_or_else(|| Error::NotFound(format!("collection {name}")))
}

/// Rewrites every document of `T`'s table as `T` reads and writes it: fields added to the type
/// (filled from `#[serde(default)]`) are stored, not only read, so an index built next, `find`
/// and SQL see them; a field whose type changed is stored in its new form. A document `T`
/// cannot read is read again without the values of fields the stored schema (`known`) no
/// longer declared, stale values a type dropped earlier (so a later version may bring the name
/// back with another type); one it still cannot read fails the migration (nothing changes).
/// Values of fields `T` does not declare (a field this migration removed) stay in the
/// document, as when the type only narrows: a type that brings the field back finds them.
fn rewrite_documents<T: Collection>(tx: &mut Transaction, known: &[FieldDef]) -> Result<()> {
    let table = Catalog::table(tx, T::NAME)?
        .ok_or_else(|| Error::NotFound(format!("collection {}", T::NAME)))?;
    let rows: Vec<RawRow> = table::scan(
        tx,
        &table,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Forward,
    )?
    .collect::<Result<_>>()?;
    tracing::info!(
        collection = T::NAME,
        documents = rows.len(),
        "rewriting documents"
    );
    for row in rows {
        // The document as read: stale values dropped when `T` could not read it with them.
        let (doc, source): (T, Cow<'_, [u8]>) = match table::decode_document(&row.doc) {
            Ok(doc) => (doc, Cow::Borrowed(&row.doc)),
            Err(first) => without_stale_fields(&row.doc, known)
                .and_then(|bytes| Some((table::decode_document(&bytes).ok()?, Cow::Owned(bytes))))
                .ok_or_else(|| {
                    Error::Serialization(format!(
                        "{}: a stored document does not read as the type: {first}",
                        T::NAME
                    ))
                })?,
        };
        let kept = undeclared_fields(&source, &table.schema.fields);
        if kept.is_empty() {
            super::ops::write(tx, &table, &doc, WriteMode::Update)?;
            continue;
        }
        let Value::Map(mut fields) = Value::from_serialize(&doc)? else {
            return Err(Error::Serialization(format!(
                "{}: a document must serialize as a map",
                T::NAME
            )));
        };
        fields.extend(kept);
        table::update(tx, &table, &Value::Map(fields))?;
    }
    Ok(())
}

/// The fields of `doc` (a MessagePack map) that `declared` does not name.
fn undeclared_fields(doc: &[u8], declared: &[FieldDef]) -> Vec<(String, Value)> {
    match Value::from_msgpack(doc) {
        Ok(Value::Map(fields)) => fields
            .into_iter()
            .filter(|(name, _)| !declared.iter().any(|f| &f.name == name))
            .collect(),
        _ => Vec::new(),
    }
}

/// `doc` (a MessagePack map) without the fields `known` does not declare, or `None` when it is
/// not a map or has none to drop.
fn without_stale_fields(doc: &[u8], known: &[FieldDef]) -> Option<Vec<u8>> {
    let Ok(Value::Map(fields)) = Value::from_msgpack(doc) else {
        return None;
    };
    let before = fields.len();
    let kept: Vec<(String, Value)> = fields
        .into_iter()
        .filter(|(name, _)| known.iter().any(|f| &f.name == name))
        .collect();
    if kept.len() == before {
        return None;
    }
    Value::Map(kept).to_msgpack().ok()
}

/// Refuses a declaration whose primary key differs from the stored one.
fn check_key(stored: &TableSchema, declared: &Schema) -> Result<()> {
    let describe = |s: &Schema| -> String {
        let parts: Vec<String> = s
            .key_fields
            .iter()
            .map(|k| match s.field(k) {
                Some(f) => format!("{k}: {}", f.ty.sql_name()),
                None => k.clone(),
            })
            .collect();
        format!("({})", parts.join(", "))
    };
    let (was, now) = (describe(&stored.schema), describe(declared));
    if was != now {
        return Err(Error::Schema(format!(
            "collection {}: the stored key is {was} but the type declares {now}; \
             a key cannot change in place (copy the documents into a new collection)",
            declared.name
        )));
    }
    Ok(())
}
