//! SQL on a [`Database`] or inside a [`Transaction`]: `query`, `execute`, `query_as::<T>`,
//! `explain`, and the [`params!`](crate::params) macro; `query_each` / `query_each_as::<T>`
//! hand the rows to a function as the executor produces them, for results too large to hold.
//!
//! Tables are the collections of the catalog, so a table created with `CREATE TABLE` opens as a
//! typed collection whose struct fields match its columns, and a typed collection is queryable
//! and writable from SQL. `Database::query`/`execute` run each statement in a transaction of
//! its own (committed on success, rolled back on error: a failed statement leaves nothing);
//! `Transaction::query` runs at the transaction's snapshot and its writes commit with it.

use crate::{Database, Error, Result, Transaction, Value};
use rustlite_engine::sql;
use serde::de::DeserializeOwned;

pub use rustlite_engine::sql::QueryResult;

/// Builds a `&[Value]` of SQL parameters from anything convertible into [`Value`]
/// (integers, floats, bools, strings, byte vectors, `Option`s of those).
///
/// ```
/// use rustlite::{params, Value};
/// let p = params![1, "ada", 2.5, None::<i64>];
/// assert_eq!(p, [Value::Int(1), Value::Text("ada".into()), Value::Float(2.5), Value::Null]);
/// ```
#[macro_export]
macro_rules! params {
    () => { [] as [$crate::Value; 0] };
    ($($p:expr),+ $(,)?) => { [$($crate::Value::from($p)),+] };
}

/// Converts rows into `T` by column name (each row becomes a document `{column: value}`).
fn rows_as<T: DeserializeOwned>(result: QueryResult) -> Result<Vec<T>> {
    let QueryResult { columns, rows, .. } = result;
    rows.into_iter().map(|row| row_as(&columns, row)).collect()
}

/// One row as `T`, by column name.
fn row_as<T: DeserializeOwned>(columns: &[String], row: Vec<Value>) -> Result<T> {
    let doc = Value::Map(columns.iter().cloned().zip(row).collect());
    doc.deserialize_into::<T>()
        .map_err(|e| Error::Serialization(format!("row does not fit the type: {e}")))
}

/// What a `query_each` ran: the result's column names (known even when no row came), how many
/// rows the function was given, and the rows a write statement affected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySummary {
    /// Output column names (empty for writes and DDL).
    pub columns: std::sync::Arc<[String]>,
    /// Rows handed to the function (fewer than the query has if it stopped early).
    pub rows: u64,
    /// Rows inserted, updated or deleted by a write statement.
    pub rows_affected: u64,
}

/// Runs `run` with `f` wrapped to count the rows it is given, and sums up its result.
fn summed(
    mut f: impl FnMut(&[String], Vec<Value>) -> Result<bool>,
    run: impl FnOnce(&mut sql::EachRow<'_>) -> Result<QueryResult>,
) -> Result<QuerySummary> {
    let mut rows = 0;
    let result = run(&mut |columns, row| {
        rows += 1;
        f(columns, row)
    })?;
    Ok(QuerySummary {
        columns: result.columns,
        rows,
        rows_affected: result.rows_affected,
    })
}

impl Database {
    /// Runs one SQL statement in its own transaction and returns its rows (for a write, the
    /// number of rows affected in [`QueryResult::rows_affected`]).
    ///
    /// ```
    /// use rustlite::{params, Database, Value};
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", params![])?;
    /// db.execute("INSERT INTO users VALUES (?, ?), (?, ?)", params![1, "ada", 2, "bob"])?;
    /// let r = db.query("SELECT name FROM users WHERE id = ?", params![2])?;
    /// assert_eq!(*r.columns, ["name"]);
    /// assert_eq!(r.rows, [[Value::Text("bob".into())]]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn query(&self, sql: &str, params: impl AsRef<[Value]>) -> Result<QueryResult> {
        // No writability check: reads still work after a write-path failure, and a write
        // statement's commit refuses (`Error::Poisoned`).
        sql::query(self.engine(), sql, params.as_ref())
    }

    /// Same as [`Database::query`]; reads better for writes and DDL.
    ///
    /// ```
    /// # use rustlite::{params, Database};
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (a INTEGER)", params![])?;
    /// assert_eq!(db.execute("INSERT INTO t VALUES (1), (2)", params![])?.rows_affected, 2);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn execute(&self, sql: &str, params: impl AsRef<[Value]>) -> Result<QueryResult> {
        self.query(sql, params)
    }

    /// Runs a query and deserializes each row into `T` by column name.
    ///
    /// ```
    /// # use rustlite::{params, Database};
    /// #[derive(serde::Deserialize, Debug, PartialEq)]
    /// struct Row { id: i64, name: String }
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", params![])?;
    /// db.execute("INSERT INTO t VALUES (1, 'ada')", params![])?;
    /// let rows: Vec<Row> = db.query_as("SELECT id, name FROM t", params![])?;
    /// assert_eq!(rows, [Row { id: 1, name: "ada".into() }]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn query_as<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: impl AsRef<[Value]>,
    ) -> Result<Vec<T>> {
        rows_as(self.query(sql, params)?)
    }

    /// Runs a statement in its own transaction and hands each row of its result to `f` (with
    /// the column names) as the executor produces it, instead of collecting them: memory holds
    /// only what the plan itself buffers (a sort, a join's build side, a GROUP BY's groups, an
    /// index scan's entries and rows 4,096 at a time). `f` returns `Ok(false)` to
    /// stop early; an error from it ends the statement with that error. A write runs as with
    /// [`Database::execute`] and hands over no rows.
    ///
    /// While `f` runs, the query's snapshot stays pinned (old versions it can see are kept) and
    /// the time counts toward the slow-query log ([`Options::slow_query_threshold`]).
    ///
    /// [`Options::slow_query_threshold`]: crate::Options::slow_query_threshold
    ///
    /// ```
    /// use rustlite::{params, Database, Value};
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", params![])?;
    /// db.execute("INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)", params![])?;
    /// let mut total = 0;
    /// let summary = db.query_each("SELECT n FROM t", params![], |columns, row| {
    ///     assert_eq!(columns, ["n"]);
    ///     if let Value::Int(n) = row[0] { total += n; }
    ///     Ok(true)
    /// })?;
    /// assert_eq!((summary.rows, total), (3, 60));
    /// // Without rows, the summary still names the columns.
    /// let none = db.query_each("SELECT n FROM t WHERE id > 9", params![], |_, _| Ok(true))?;
    /// assert_eq!((none.rows, &*none.columns), (0, &["n".to_string()][..]));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn query_each(
        &self,
        sql: &str,
        params: impl AsRef<[Value]>,
        f: impl FnMut(&[String], Vec<Value>) -> Result<bool>,
    ) -> Result<QuerySummary> {
        let engine = self.engine();
        summed(f, |each| {
            sql::query_each(engine, sql, params.as_ref(), each)
        })
    }

    /// [`Database::query_each`], deserializing each row into `T` by column name.
    ///
    /// ```
    /// # use rustlite::{params, Database};
    /// #[derive(serde::Deserialize)]
    /// struct Row { id: i64 }
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", params![])?;
    /// db.execute("INSERT INTO t VALUES (1), (2), (3)", params![])?;
    /// let mut first_two = Vec::new();
    /// db.query_each_as("SELECT id FROM t ORDER BY id", params![], |row: Row| {
    ///     first_two.push(row.id);
    ///     Ok(first_two.len() < 2)
    /// })?;
    /// assert_eq!(first_two, [1, 2]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn query_each_as<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: impl AsRef<[Value]>,
        mut f: impl FnMut(T) -> Result<bool>,
    ) -> Result<QuerySummary> {
        self.query_each(sql, params, |columns, row| f(row_as(columns, row)?))
    }

    /// The physical plan of a statement as text (`EXPLAIN` optional), without running it.
    ///
    /// ```
    /// # use rustlite::{params, Database};
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", params![])?;
    /// assert!(db.explain("SELECT * FROM t WHERE id = 1")?.contains("KeyLookup t (id) = 1"));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn explain(&self, sql: &str) -> Result<String> {
        let mut tx = self.begin()?;
        let plan = sql::explain(tx.engine_tx(), sql, &[]);
        tx.rollback();
        plan
    }
}

impl Transaction {
    /// Runs one SQL statement inside this transaction, at its snapshot; its writes commit with
    /// the transaction. A statement is atomic inside the transaction: if it fails, the writes
    /// it made are undone and the transaction can go on.
    ///
    /// ```
    /// # use rustlite::{params, Database};
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (a INTEGER)", params![])?;
    /// let mut tx = db.begin()?;
    /// tx.query("INSERT INTO t VALUES (1)", params![])?;
    /// assert_eq!(tx.query("SELECT count(*) FROM t", params![])?.rows[0][0], rustlite::Value::Int(1));
    /// tx.rollback();
    /// assert_eq!(db.query("SELECT count(*) FROM t", params![])?.rows[0][0], rustlite::Value::Int(0));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn query(&mut self, sql: &str, params: impl AsRef<[Value]>) -> Result<QueryResult> {
        sql::execute(self.engine_tx(), sql, params.as_ref())
    }

    /// [`Transaction::query`], handing each row to `f` as it is produced (see
    /// [`Database::query_each`]). If `f` fails, the statement's writes are undone and the
    /// transaction goes on.
    ///
    /// ```
    /// # use rustlite::{params, Database};
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (a INTEGER)", params![])?;
    /// let mut tx = db.begin()?;
    /// tx.query("INSERT INTO t VALUES (1), (2)", params![])?;
    /// assert_eq!(tx.query_each("SELECT a FROM t", params![], |_, _| Ok(true))?.rows, 2);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn query_each(
        &mut self,
        sql: &str,
        params: impl AsRef<[Value]>,
        f: impl FnMut(&[String], Vec<Value>) -> Result<bool>,
    ) -> Result<QuerySummary> {
        let tx = self.engine_tx();
        summed(f, |each| sql::execute_each(tx, sql, params.as_ref(), each))
    }

    /// [`Transaction::query_each`], deserializing each row into `T` by column name.
    ///
    /// ```
    /// # use rustlite::{params, Database};
    /// #[derive(serde::Deserialize)]
    /// struct Row { a: i64 }
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (a INTEGER)", params![])?;
    /// let mut tx = db.begin()?;
    /// tx.query("INSERT INTO t VALUES (3), (4)", params![])?;
    /// let mut sum = 0;
    /// tx.query_each_as("SELECT a FROM t", params![], |row: Row| { sum += row.a; Ok(true) })?;
    /// assert_eq!(sum, 7);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn query_each_as<T: DeserializeOwned>(
        &mut self,
        sql: &str,
        params: impl AsRef<[Value]>,
        mut f: impl FnMut(T) -> Result<bool>,
    ) -> Result<QuerySummary> {
        self.query_each(sql, params, |columns, row| f(row_as(columns, row)?))
    }

    /// [`Transaction::query`], deserializing each row into `T` by column name.
    ///
    /// ```
    /// # use rustlite::{params, Database};
    /// #[derive(serde::Deserialize)]
    /// struct Row { a: i64 }
    /// let db = Database::in_memory()?;
    /// db.execute("CREATE TABLE t (a INTEGER)", params![])?;
    /// let mut tx = db.begin()?;
    /// tx.query("INSERT INTO t VALUES (2), (1)", params![])?;
    /// let rows: Vec<Row> = tx.query_as("SELECT a FROM t ORDER BY a", params![])?;
    /// assert_eq!(rows.iter().map(|r| r.a).collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn query_as<T: DeserializeOwned>(
        &mut self,
        sql: &str,
        params: impl AsRef<[Value]>,
    ) -> Result<Vec<T>> {
        rows_as(self.query(sql, params)?)
    }
}
