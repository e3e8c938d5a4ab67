//! The seam between SQL and the rows it reads and writes: the [`Storage`] trait, and the table
//! descriptions the planner needs ([`TableInfo`]).
//!
//! The planner and executor know tables only through this trait, so index and key selection are
//! pure functions over a [`TableInfo`] and the executor can run against any implementation.
//! Every write goes through it: the implementation owns index maintenance and unique checks, the
//! SQL layer owns type coercion and `NOT NULL`.
//!
//! Keys: a row's key is the list of its primary-key values (`[rowid]` for a table without a
//! declared key). Range bounds are over key *prefixes*: `Included([10])` as an upper bound admits
//! every key whose first component is ≤ 10, whatever follows.

use crate::error::Result;
use crate::lsm::iter::Direction;
use crate::sql::ast::{ColumnType, CreateIndex, CreateTable};
use crate::value::Value;
use std::ops::Bound;
use std::sync::Arc;

/// A row: one value per declared column, in declaration order.
pub type Row = Vec<Value>;

/// A row with its primary key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyedRow {
    /// Primary-key values (or `[rowid]`).
    pub key: Vec<Value>,
    /// Column values.
    pub row: Row,
}

/// A table as the planner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<ColumnInfo>,
    /// Positions of the primary-key columns, in key order (empty: hidden row id).
    pub primary_key: Vec<usize>,
    /// Secondary indexes.
    pub indexes: Vec<IndexInfo>,
}

impl TableInfo {
    /// Position of the column called `name` (ASCII case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
            })
    }
}

/// One column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Column type.
    pub ty: ColumnType,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

/// One secondary index (over one column).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexInfo {
    /// Index name.
    pub name: String,
    /// Position of the indexed column.
    pub column: usize,
    /// Hash index (equality only) rather than B-Tree (equality and ranges).
    pub hash: bool,
    /// Whether the index refuses a second row with the same non-NULL value.
    pub unique: bool,
}

/// A lookup in a secondary index.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexLookup {
    /// Rows whose indexed value equals this one.
    Eq(Value),
    /// Rows whose indexed value is within the bounds (B-Tree only). NULLs never match.
    Range(Bound<Value>, Bound<Value>),
}

/// Receives scanned rows one at a time; returning `false` stops the scan.
pub type RowSink<'a> = dyn FnMut(KeyedRow) -> Result<bool> + 'a;

/// Which columns a scan must produce: `None` is every column and the key (what a write needs);
/// `Some(wanted)` is a read, which gets the wanted columns (the others may be NULL) and an
/// empty [`KeyedRow::key`].
pub type Columns<'a> = Option<&'a [bool]>;

/// Where SQL reads and writes rows. See the module docs.
pub trait Storage {
    /// The table called `name`, if any.
    fn table(&mut self, name: &str) -> Result<Option<Arc<TableInfo>>>;
    /// Feeds `sink` the rows whose keys are within the prefix bounds, in key order (`dir`),
    /// until it returns false; returns whether the scan ran to its end.
    fn scan(
        &mut self,
        table: &TableInfo,
        lower: Bound<&[Value]>,
        upper: Bound<&[Value]>,
        dir: Direction,
        columns: Columns<'_>,
        sink: &mut RowSink<'_>,
    ) -> Result<bool>;
    /// The row with exactly this key, its columns as [`Storage::scan`] gives them.
    fn get(
        &mut self,
        table: &TableInfo,
        key: &[Value],
        columns: Columns<'_>,
    ) -> Result<Option<KeyedRow>>;
    /// Feeds `sink` the rows found through a secondary index (as [`Storage::scan`]), in the
    /// index's order (value, then primary key) or, with [`Direction::Reverse`], its reverse
    /// (B-Tree indexes only).
    fn index_scan(
        &mut self,
        table: &TableInfo,
        index: &IndexInfo,
        lookup: &IndexLookup,
        dir: Direction,
        columns: Columns<'_>,
        sink: &mut RowSink<'_>,
    ) -> Result<bool>;
    /// Inserts a new row (fails on a duplicate key or a unique-index violation).
    fn insert(&mut self, table: &TableInfo, row: Row) -> Result<()>;
    /// Replaces the row stored under `key` (the new row's key may differ).
    fn update(&mut self, table: &TableInfo, key: &[Value], row: Row) -> Result<()>;
    /// Deletes the row stored under `key`.
    fn delete(&mut self, table: &TableInfo, key: &[Value]) -> Result<()>;
    /// Creates a table (with a unique index per `UNIQUE` column).
    fn create_table(&mut self, def: &CreateTable) -> Result<()>;
    /// Drops a table, its rows and its indexes.
    fn drop_table(&mut self, name: &str) -> Result<()>;
    /// Creates an index and fills it from the existing rows.
    fn create_index(&mut self, def: &CreateIndex) -> Result<()>;
    /// Drops an index.
    fn drop_index(&mut self, name: &str) -> Result<()>;
}
