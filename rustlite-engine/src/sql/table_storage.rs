//! [`TableStorage`]: the [`Storage`] of the real engine, over an engine [`Transaction`], the
//! persisted [`Catalog`] and the [`table`] layer.
//!
//! Every read and write of SQL goes through the same functions typed collections use
//! (`table::insert/update_at/delete/get/scan/index_eq/index_range`), so index maintenance and
//! unique checks have one implementation. This adapter only translates shapes:
//!
//! ```text
//! SQL row  [v0, v1, …] (declared column order)  <->  document {col0: v0, col1: v1, …}
//! TableInfo (positions)                         <->  TableSchema (names, ids)
//! ```
//! Table names resolve exactly, then ASCII case-insensitively. Schemas read in a statement are
//! kept for the statement (DDL clears them); across statements, the catalog entry is read
//! from the engine's catalog cache when that provably is the transaction's view, else through
//! the transaction and decoded once per distinct entry ([`cache`]).

use super::ast::{CreateIndex, CreateTable};
use super::cache;
use super::document;
use super::storage::{
    ColumnInfo, Columns, IndexInfo, IndexLookup, KeyedRow, Row, RowSink, Storage, TableInfo,
};
use crate::catalog::{Catalog, FieldDef, IndexDef, IndexKind, Schema, TableSchema};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lsm::iter::Direction;
use crate::mvcc::transaction::Transaction;
use crate::mvcc::{ReadView, Reader};
use crate::table;
use crate::value::Value;
use std::ops::Bound;
use std::sync::Arc;

/// A table's schema and the planner's view of it.
type Entry = (Arc<TableSchema>, Arc<TableInfo>);

/// What a [`TableStorage`] reads and writes through: an engine [`Transaction`], or a
/// [`ReadView`] for a read-only statement outside one (whose writes are refused).
pub trait Source: Reader {
    /// The table called `name` from the engine's catalog cache as it stands, when that provably
    /// is this source's view.
    fn cache_lookup(&mut self, name: &str) -> Option<Arc<TableSchema>>;
    /// The engine this source reads.
    fn source_engine(&self) -> &Engine;
    /// [`cache_lookup`](Self::cache_lookup), after loading the cache when `load` and it is empty
    /// or stale (a failed load only means the entry is read through the source).
    fn cached_table(&mut self, name: &str, load: bool) -> Option<Arc<TableSchema>> {
        if let Some(schema) = self.cache_lookup(name) {
            return Some(schema);
        }
        if !load {
            return None;
        }
        self.source_engine().catalog().ok()?;
        self.cache_lookup(name)
    }
    /// The transaction writes go to.
    fn writer(&mut self) -> Result<&mut Transaction>;
}

impl Source for Transaction {
    fn cache_lookup(&mut self, name: &str) -> Option<Arc<TableSchema>> {
        Catalog::cached_table(self, name)
    }

    fn source_engine(&self) -> &Engine {
        self.engine()
    }

    fn writer(&mut self) -> Result<&mut Transaction> {
        Ok(self)
    }
}

impl Source for ReadView<'_> {
    fn cache_lookup(&mut self, name: &str) -> Option<Arc<TableSchema>> {
        Catalog::cached_table_in(self, name)
    }

    fn source_engine(&self) -> &Engine {
        self.engine()
    }

    fn writer(&mut self) -> Result<&mut Transaction> {
        Err(Error::Sql(
            "a write statement cannot run on a read-only view".into(),
        ))
    }
}

/// See the module docs.
pub struct TableStorage<'a, S: Source = Transaction> {
    tx: &'a mut S,
    /// The tables looked up in this statement, by the name used (a statement names a few: a
    /// list, searched without hashing).
    /// Each under its table's own name, or under the name used when that differs in case
    /// (so the usual exact lookup allocates nothing).
    schemas: smallvec::SmallVec<[(Option<Box<str>>, Entry); 2]>,
    /// Load the engine's catalog cache when it is stale ([`TableStorage::loading_catalog`]).
    load_catalog: bool,
}

impl<'a, S: Source> TableStorage<'a, S> {
    /// A storage reading and writing through `tx`.
    pub fn new(tx: &'a mut S) -> Self {
        TableStorage {
            tx,
            schemas: smallvec::SmallVec::new(),
            load_catalog: false,
        }
    }

    /// This storage, loading the engine's catalog cache when it is empty or stale so that
    /// tables are looked up without reading their entries ([`Catalog::cached_table`]). Worth
    /// it for reads: nothing else loads the cache on the SQL path, and a load (a read of the
    /// whole committed catalog) serves every statement until the next catalog change. Not
    /// for writes: an insert into a table without a declared key advances its row-id counter,
    /// a catalog key, so every such commit makes the cache stale again.
    pub fn loading_catalog(mut self) -> Self {
        self.load_catalog = true;
        self
    }

    /// The table called `name` as the transaction sees it: from the engine's catalog cache
    /// when that provably is the transaction's view ([`Catalog::cached_table`]), else its
    /// catalog entry is read through the transaction and decoded only when this thread has not
    /// decoded the same bytes before (see [`cache`]). Kept for the rest of the statement:
    /// the answer is its position in `schemas` (callers clone only the half they need).
    fn lookup(&mut self, name: &str) -> Result<Option<usize>> {
        let known = |(alias, (schema, _)): &(Option<Box<str>>, Entry)| {
            alias.as_deref().unwrap_or(schema.name()) == name
        };
        if let Some(i) = self.schemas.iter().position(known) {
            return Ok(Some(i));
        }
        if let Some(schema) = self.tx.cached_table(name, self.load_catalog) {
            return Ok(Some(self.remember(name, cache::info_of(schema))));
        }
        // No table has the name exactly: one whose name differs in ASCII case, found by its
        // key alone (decoding every table per statement made a miscased name cost ~1 ms at
        // 1,000 tables, and each CREATE TABLE, which always looks first, O(tables)).
        let stored = match Catalog::table_entry(self.tx, name)? {
            Some(entry) => Some((name.to_owned(), entry)),
            None => match Catalog::table_name_ignoring_case(self.tx, name)? {
                Some(other) => Catalog::table_entry(self.tx, &other)?.map(|entry| (other, entry)),
                None => None,
            },
        };
        let found = match stored {
            Some((stored, entry)) => Some(cache::schema(entry, |bytes| {
                Catalog::decode_table(&stored, bytes).map(Arc::new)
            })?),
            None => None,
        };
        Ok(found.map(|e| self.remember(name, e)))
    }

    /// Keeps `e`, looked up as `name`, for the rest of the statement; its position.
    fn remember(&mut self, name: &str, e: Entry) -> usize {
        let alias = (e.0.name() != name).then(|| name.into());
        self.schemas.push((alias, e));
        self.schemas.len() - 1
    }

    /// The entry at `i`, a position [`lookup`](Self::lookup) answered.
    fn entry(&self, i: usize) -> Result<&Entry> {
        self.schemas
            .get(i)
            .map(|(_, e)| e)
            .ok_or_else(|| Error::Sql(format!("internal: no table at {i}")))
    }

    fn schema(&mut self, name: &str) -> Result<Arc<TableSchema>> {
        match self.lookup(name)? {
            Some(i) => Ok(Arc::clone(&self.entry(i)?.0)),
            None => Err(Error::Sql(format!("unknown table {name}"))),
        }
    }

    fn doc_of(schema: &TableSchema, row: Row) -> Value {
        Value::Map(
            schema
                .schema
                .fields
                .iter()
                .zip(row)
                .map(|(f, v)| (f.name.clone(), v))
                .collect(),
        )
    }

    /// Feeds `sink` the rows of `raw`, decoding the wanted columns only (see [`document`]).
    fn feed(
        schema: &TableSchema,
        raw: impl Iterator<Item = Result<table::RawRow>>,
        columns: Columns<'_>,
        sink: &mut RowSink<'_>,
    ) -> Result<bool> {
        let names = field_names(schema);
        for r in raw {
            if !sink(Self::keyed(&r?, &names, columns)?)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A stored row as the executor's keyed row (its key only when every column is read).
    fn keyed(r: &table::RawRow, names: &[&str], columns: Columns<'_>) -> Result<KeyedRow> {
        let key = match columns {
            None => r.pk_values()?,
            Some(_) => Vec::new(),
        };
        let row = document::decode_row(&r.doc, names, columns)?;
        Ok(KeyedRow { key, row })
    }
}

/// The planner's view of a catalog table.
pub fn table_info(t: &TableSchema) -> TableInfo {
    let fields = &t.schema.fields;
    let position = |name: &str| fields.iter().position(|f| f.name == name);
    TableInfo {
        name: t.name().to_string(),
        columns: fields
            .iter()
            .map(|f| ColumnInfo {
                name: f.name.clone(),
                ty: f.ty,
                nullable: f.nullable,
            })
            .collect(),
        primary_key: t
            .schema
            .key_fields
            .iter()
            .filter_map(|k| position(k))
            .collect(),
        indexes: t
            .indexes
            .iter()
            .filter_map(|ix| {
                position(&ix.def.field).map(|column| IndexInfo {
                    name: ix.def.name.clone(),
                    column,
                    hash: ix.def.kind == IndexKind::Hash,
                    unique: ix.def.unique,
                })
            })
            .collect(),
    }
}

impl<S: Source> Storage for TableStorage<'_, S> {
    fn table(&mut self, name: &str) -> Result<Option<Arc<TableInfo>>> {
        match self.lookup(name)? {
            Some(i) => Ok(Some(Arc::clone(&self.entry(i)?.1))),
            None => Ok(None),
        }
    }

    fn scan(
        &mut self,
        t: &TableInfo,
        lower: Bound<&[Value]>,
        upper: Bound<&[Value]>,
        dir: Direction,
        columns: Columns<'_>,
        sink: &mut RowSink<'_>,
    ) -> Result<bool> {
        let schema = self.schema(&t.name)?;
        let rows = table::scan(self.tx, &schema, lower, upper, dir)?;
        Self::feed(&schema, rows, columns, sink)
    }

    fn get(
        &mut self,
        t: &TableInfo,
        key: &[Value],
        columns: Columns<'_>,
    ) -> Result<Option<KeyedRow>> {
        let schema = self.schema(&t.name)?;
        let Some(doc) = table::get_encoded(self.tx, &schema, key)? else {
            return Ok(None);
        };
        let names = field_names(&schema);
        Ok(Some(KeyedRow {
            key: match columns {
                None => key.to_vec(),
                Some(_) => Vec::new(),
            },
            row: document::decode_row(&doc, &names, columns)?,
        }))
    }

    fn index_scan(
        &mut self,
        t: &TableInfo,
        index: &IndexInfo,
        lookup: &IndexLookup,
        dir: Direction,
        columns: Columns<'_>,
        sink: &mut RowSink<'_>,
    ) -> Result<bool> {
        let schema = self.schema(&t.name)?;
        let ix = schema
            .index(&index.name)
            .ok_or_else(|| Error::Sql(format!("unknown index {}", index.name)))?
            .clone();
        let names = field_names(&schema);
        let mut emit = |r: table::RawRow| sink(Self::keyed(&r, &names, columns)?);
        let bounds = match (lookup, dir) {
            (IndexLookup::Eq(v), Direction::Forward) => {
                return table::index_eq_each(self.tx, &schema, &ix, v, &mut emit)
            }
            // The entries of one value, backwards: the range of that value alone (a B-Tree's;
            // a hash index refuses ranges). NULL is never indexed, and as a bound it would
            // mean "below every value".
            (IndexLookup::Eq(Value::Null), Direction::Reverse) => return Ok(true),
            (IndexLookup::Eq(v), Direction::Reverse) => (Bound::Included(v), Bound::Included(v)),
            (IndexLookup::Range(lo, hi), _) => (lo.as_ref(), hi.as_ref()),
        };
        table::index_range_each(self.tx, &schema, &ix, bounds, dir, &mut emit)
    }

    fn insert(&mut self, t: &TableInfo, row: Row) -> Result<()> {
        let schema = self.schema(&t.name)?;
        table::insert(self.tx.writer()?, &schema, &Self::doc_of(&schema, row))
            .map(drop)
            .map_err(as_sql)
    }

    fn update(&mut self, t: &TableInfo, key: &[Value], row: Row) -> Result<()> {
        let schema = self.schema(&t.name)?;
        table::update_at(self.tx.writer()?, &schema, key, &Self::doc_of(&schema, row))
            .map(drop)
            .map_err(as_sql)
    }

    fn delete(&mut self, t: &TableInfo, key: &[Value]) -> Result<()> {
        let schema = self.schema(&t.name)?;
        table::delete(self.tx.writer()?, &schema, key).map(drop)
    }

    fn create_table(&mut self, def: &CreateTable) -> Result<()> {
        self.schemas.clear();
        let schema = Schema {
            name: def.name.clone(),
            fields: def
                .columns
                .iter()
                .map(|c| FieldDef::new(c.name.clone(), c.ty, c.nullable))
                .collect(),
            key_fields: def.primary_key.clone(),
            indexes: def
                .unique
                .iter()
                .map(|c| IndexDef::constraint(&def.name, c))
                .collect(),
        };
        Catalog::create_table(self.tx.writer()?, &schema).map(drop)
    }

    fn drop_table(&mut self, name: &str) -> Result<()> {
        let t = self.schema(name)?;
        self.schemas.clear();
        Catalog::drop_table(self.tx.writer()?, t.name())
    }

    fn create_index(&mut self, def: &CreateIndex) -> Result<()> {
        let t = self.schema(&def.table)?;
        self.schemas.clear();
        // Index names are case-insensitive, as in SQLite and PostgreSQL.
        if Catalog::tables(self.tx)?.iter().any(|t| {
            t.indexes
                .iter()
                .any(|i| i.def.name.eq_ignore_ascii_case(&def.name))
        }) {
            return Err(Error::AlreadyExists {
                collection: def.table.clone(),
                key: format!("index {}", def.name),
            });
        }
        let column = t
            .schema
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&def.column))
            .map(|f| f.name.clone())
            .ok_or_else(|| Error::Sql(format!("unknown column {}", def.column)))?;
        let kind = if def.hash {
            IndexKind::Hash
        } else {
            IndexKind::BTree
        };
        let ix = IndexDef::named(def.name.clone(), &column, kind, def.unique);
        Catalog::create_index(self.tx.writer()?, t.name(), &ix).map(drop)
    }

    fn drop_index(&mut self, name: &str) -> Result<()> {
        self.schemas.clear();
        let tables = Catalog::tables(self.tx)?;
        let matches: Vec<(&TableSchema, &IndexDef)> = tables
            .iter()
            .flat_map(|t| t.indexes.iter().map(move |i| (&**t, &i.def)))
            .filter(|(_, def)| def.name.eq_ignore_ascii_case(name))
            .collect();
        // The exact name first: databases made before names were case-insensitive may hold
        // names that differ only in case.
        let found = match matches.iter().find(|(_, def)| def.name == name) {
            Some(m) => *m,
            None => match matches.as_slice() {
                [one] => *one,
                [] => return Err(Error::NotFound(format!("index {name}"))),
                _ => {
                    return Err(Error::Sql(format!(
                        "index name {name} is ambiguous: quote it as it was created"
                    )))
                }
            },
        };
        let (table, def) = found;
        if def.sql_constraint {
            return Err(Error::Sql(format!(
                "index {} belongs to a UNIQUE constraint of table {} and cannot be dropped",
                def.name,
                table.name()
            )));
        }
        Catalog::drop_index(self.tx.writer()?, table.name(), &def.name).map(drop)
    }
}

/// A statement's problem is `Error::Sql` (SQL.md): the table layer's schema refusals (a
/// document as a key or indexed value) become one, other errors pass through.
fn as_sql(e: Error) -> Error {
    match e {
        Error::Schema(m) => Error::Sql(m),
        other => other,
    }
}

/// The names of `schema`'s fields, in stored order (what `document::decode_row` decodes by);
/// on the stack for up to 16 fields, as a point read needs them once.
fn field_names(schema: &TableSchema) -> smallvec::SmallVec<[&str; 16]> {
    schema
        .schema
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{cache, execute, execute_on, query};
    use crate::{Engine, IsolationLevel, Options};

    /// An in-memory engine with an empty table `t (id INTEGER PRIMARY KEY, n INTEGER)`.
    fn engine_with_t() -> Result<Engine> {
        let engine = Engine::open_in_memory(Options::default())?;
        query(
            &engine,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)",
            &[],
        )?;
        Ok(engine)
    }

    fn n_of(engine: &Engine, id: i64) -> Result<Vec<Vec<Value>>> {
        Ok(query(engine, "SELECT n FROM t WHERE id = ?", &[Value::Int(id)])?.rows)
    }

    /// A reused SELECT reads through a `ReadView`: committed data only, and nothing written
    /// after it began.
    #[test]
    fn a_reused_select_on_a_view_reads_committed_data_only() -> Result<()> {
        let engine = engine_with_t()?;
        query(&engine, "INSERT INTO t VALUES (1, 10)", &[])?;
        assert_eq!(n_of(&engine, 1)?, [[Value::Int(10)]]);
        assert!(
            matches!(cache::plan("SELECT n FROM t WHERE id = ?"), Some(Some(_))),
            "the next call takes the view"
        );
        let mut tx = engine.begin(IsolationLevel::default());
        execute(&mut tx, "UPDATE t SET n = 11 WHERE id = 1", &[])?;
        execute(&mut tx, "INSERT INTO t VALUES (2, 20)", &[])?;
        assert_eq!(n_of(&engine, 1)?, [[Value::Int(10)]]);
        assert!(n_of(&engine, 2)?.is_empty());
        tx.commit()?;
        assert_eq!(n_of(&engine, 1)?, [[Value::Int(11)]]);
        assert_eq!(n_of(&engine, 2)?, [[Value::Int(20)]]);
        Ok(())
    }

    #[test]
    fn a_view_refuses_writes_and_ddl() -> Result<()> {
        let engine = engine_with_t()?;
        let mut view = engine.read_view();
        let mut storage = TableStorage::new(&mut view);
        for sql in [
            "INSERT INTO t VALUES (1, 10)",
            "DROP TABLE t",
            "CREATE TABLE u (id INTEGER PRIMARY KEY)",
        ] {
            let refused = execute_on(&mut storage, sql, &[], None, None);
            assert!(matches!(refused, Err(Error::Sql(_))), "{sql}: {refused:?}");
        }
        let count = query(&engine, "SELECT count(*) FROM t", &[])?;
        assert_eq!(count.rows, [[Value::Int(0)]]);
        assert!(engine.catalog()?.list().all(|t| t.name() == "t"));
        Ok(())
    }
}
