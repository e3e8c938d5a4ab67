//! SQL over collections.
//!
//! A statement travels through four stages, each its own module, and only the first knows the
//! `sqlparser` crate:
//!
//! | module | stage |
//! |---|---|
//! | `translate` | text → `sqlparser` AST → our `ast` (unsupported syntax named in an error) |
//! | `planner` | names resolved, parameters bound, filters pushed down, access paths chosen |
//! | `execution` | the plan run against a `Storage` |
//! | `storage` | the trait between SQL and the rows |
//! | `table_storage` | that trait over the catalog and the table layer, in a transaction |
//! | `document` | a stored document → a row, decoding only the columns a query reads |
//! | `params` | conversions of Rust values into parameters |
//! | `clock` | the slow-query timer's clock |
//! | `cache` | parsed statements and reusable plans by SQL text, decoded schemas by catalog entry |
//! | `eval` | expression evaluation, three-valued logic, the ORDER BY total order |
//!
//! ## A SELECT, from the client down to the LSM
//!
//! `SELECT name, count(*) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.age > ?
//! GROUP BY name`, with parameter `30`:
//!
//! 1. The client calls `db.query(sql, params![30])`; the facade calls [`query`], which opens a
//!    transaction at the current snapshot (a `Transaction::query` uses the caller's) and calls
//!    `execute_on` with a `Storage` over it. A statement this thread already planned as a
//!    reusable SELECT needs no transaction: it reads through a [`ReadView`](crate::mvcc::ReadView),
//!    the engine state pinned at the visible seqno.
//! 2. `translate::parse` checks the size limits, tokenizes, parses with a recursion limit,
//!    and translates the `sqlparser` AST into `ast::Statement`; `?` becomes parameter 0.
//!    The result is kept in the `cache` under the SQL text, so a repeated statement skips
//!    this step (it depends on nothing but the text).
//!    The plan is kept too (`planner::prepared`), with `?` as a placeholder: the next call
//!    checks that `users` and `orders` are unchanged, binds its value and skips steps 3–6.
//!    (A plan that reads one table and outputs plain columns, unlike this one, is not even
//!    bound as a tree: `execution::simple` binds its access path and hands out the rows.)
//! 3. `planner::Planner` looks up `users` and `orders` in the catalog, resolves `name`,
//!    `u.age`, `o.user_id` to positions in the joined row, and binds `?` to `30` by value.
//! 4. The WHERE conjunct `u.age > 30` reads only `users`, so it is pushed into that scan; the
//!    access-path chooser (`planner::access`) finds a B-Tree index on `age` and turns the scan
//!    into an index range scan `(30, +inf)`.
//! 5. `o.user_id = u.id` relates the two sides of the join: it becomes the key of a hash join.
//! 6. The aggregate `count(*)` is collected into an Aggregate node grouping by `name`; the
//!    select list is rewritten to read the aggregate's output.
//! 7. `execution` runs the plan bottom-up: the index scan reads index entries
//!    `[0x02][index id][age][pk]` and fetches each row `[0x01][table id][pk]` through the
//!    transaction, which merges its own writes with the memtable and SSTables at its snapshot;
//!    the orders scan does the same over the whole table; the hash join builds on orders and
//!    probes with users; the aggregate groups; the projection produces the output rows.
//! 8. The [`QueryResult`] (column names and rows of [`Value`]s) returns to the client; for a
//!    write statement the facade commits the transaction, so the statement is atomic.

pub(crate) mod ast;
pub(crate) mod cache;
pub(crate) mod clock;
pub(crate) mod document;
pub(crate) mod eval;
pub(crate) mod execution;
pub(crate) mod params;
pub(crate) mod planner;
pub(crate) mod storage;
pub(crate) mod table_storage;
pub(crate) mod translate;

pub(crate) use storage::Storage;
pub(crate) use table_storage::TableStorage;

use crate::error::{Error, Result};
use crate::value::Value;

/// The result of one statement.
///
/// ```
/// use rustlite_engine::{sql, Engine, IsolationLevel, Options, Value};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// sql::execute(&mut tx, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", &[])?;
/// let written = sql::execute(&mut tx, "INSERT INTO t VALUES (1, 10), (2, 20)", &[])?;
/// assert_eq!(written.rows_affected, 2);
/// let r = sql::execute(&mut tx, "SELECT id, n * 2 AS twice FROM t ORDER BY id DESC", &[])?;
/// assert_eq!(*r.columns, ["id", "twice"]);
/// assert_eq!(r.rows[0], [Value::Int(2), Value::Int(40)]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryResult {
    /// Output column names (empty for writes and DDL), shared by the results of one reused
    /// statement (compare with `*r.columns == ["a", "b"]`).
    pub columns: std::sync::Arc<[String]>,
    /// Output rows, one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted by a write statement.
    pub rows_affected: u64,
}

/// Receives a query's rows one at a time, with the output column names, as the executor
/// produces them ([`query_each`], [`execute_each`]); returning `Ok(false)` stops the query, an
/// error fails the statement.
pub type EachRow<'a> = dyn FnMut(&[String], Vec<Value>) -> Result<bool> + 'a;

/// Parses, plans and executes one statement against `storage`; `cached` is
/// [`cache::plan`] of `sql`, looked up by the caller. A reusable plan whose tables are
/// unchanged is bound to `params` and run, through its fast path when it is a simple
/// single-table read ([`execution::simple`]). Rows go to `each` when given (the result then
/// holds none), else into the result.
///
/// The caller provides atomicity (runs this inside a transaction it commits on success).
pub(crate) fn execute_on(
    storage: &mut dyn Storage,
    sql: &str,
    params: &[Value],
    cached: Option<Option<std::sync::Arc<planner::prepared::Prepared>>>,
    each: Option<&mut EachRow<'_>>,
) -> Result<QueryResult> {
    if let Some(Some(prepared)) = &cached {
        if prepared.accepts(params) && prepared.is_current(storage)? {
            if let Some(simple) = prepared.simple() {
                let columns = std::sync::Arc::clone(prepared.columns());
                let rows = match each {
                    None => simple.run(storage, params)?,
                    Some(each) => {
                        simple.stream(storage, params, &mut |row| each(&columns, row))?;
                        Vec::new()
                    }
                };
                return Ok(QueryResult {
                    columns,
                    rows,
                    rows_affected: 0,
                });
            }
            return execution::execute(prepared.bind(params)?, storage, each);
        }
    }
    let plan = plan_reusing(storage, sql, params, cached)?;
    execution::execute(plan, storage, each)
}

/// The plan of `sql` with `params` when this thread's reusable plan cannot serve (there is
/// none, or a table it read changed for `storage`: [`execute_on`] runs a reusable plan that
/// can): planned now, and kept for reuse when it is a SELECT that plans without its parameter
/// values (see [`planner::prepared`]). `cached` is [`cache::plan`] of `sql`.
fn plan_reusing(
    storage: &mut dyn Storage,
    sql: &str,
    params: &[Value],
    cached: Option<Option<std::sync::Arc<planner::prepared::Prepared>>>,
) -> Result<planner::Plan> {
    let parsed = cache::parsed(sql)?;
    check_param_count(&parsed, params)?;
    let statement = parsed.statement;
    if matches!(cached, None | Some(Some(_))) {
        match planner::prepared::Prepared::plan(storage, statement.clone()) {
            Ok(Some(prepared)) => {
                let prepared = prepared.taking(parsed.params);
                let prepared = std::sync::Arc::new(prepared);
                cache::set_plan(sql, Some(std::sync::Arc::clone(&prepared)));
                if prepared.accepts(params) {
                    return prepared.bind(params);
                }
            }
            Ok(None) => cache::set_plan(sql, None),
            Err(_) => {
                // Planned per call from now on if it plans with its values: LIMIT ?, or
                // placeholders that only equal values make equal (see `prepared`).
                let plan = planner::Planner::new(storage, params).plan(statement)?;
                cache::set_plan(sql, None);
                return Ok(plan);
            }
        }
    }
    planner::Planner::new(storage, params).plan(statement)
}

/// Parses, plans and executes one statement inside the engine transaction `tx`, reading the
/// catalog and rows at its snapshot and writing through the table layer.
///
/// The statement's writes land in `tx`; commit it to make them durable. A failed statement
/// leaves none of its writes in `tx` (see below).
///
/// ```
/// use rustlite_engine::{sql, Engine, IsolationLevel, Options, Value};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// sql::execute(&mut tx, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", &[])?;
/// sql::execute(&mut tx, "INSERT INTO t VALUES (1, 'ada'), (2, ?)", &[Value::Text("bob".into())])?;
/// let r = sql::execute(&mut tx, "SELECT name FROM t WHERE id = $1", &[Value::Int(2)])?;
/// assert_eq!(r.rows, vec![vec![Value::Text("bob".into())]]);
/// tx.commit()?;
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
///
/// A statement is atomic inside the transaction too: if it fails, the writes it made are undone
/// (a savepoint) and the transaction can go on.
pub fn execute(tx: &mut crate::Transaction, sql: &str, params: &[Value]) -> Result<QueryResult> {
    execute_with(tx, sql, params, None)
}

/// [`execute`], handing the rows of a query to `each` as they are produced instead of
/// collecting them: memory holds only what the plan itself buffers (a sort, a join's build
/// side, the groups of a GROUP BY, the keys an index scan matched and a chunk of its rows), not
/// the result. The statement's snapshot stays pinned, and the slow-query timer runs, while
/// `each` runs. `each` returning `Ok(false)` ends the query early; an error from it fails the
/// statement (whose writes, if any, are undone). The result has the column names and
/// `rows_affected`, and no rows.
///
/// ```
/// use rustlite_engine::{sql, Engine, IsolationLevel, Options, Value};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// sql::execute(&mut tx, "CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])?;
/// sql::execute(&mut tx, "INSERT INTO t VALUES (1), (2), (3)", &[])?;
/// let mut seen = Vec::new();
/// sql::execute_each(&mut tx, "SELECT id FROM t ORDER BY id DESC", &[], &mut |columns, row| {
///     assert_eq!(columns, ["id"]);
///     seen.push(row[0].clone());
///     Ok(seen.len() < 2) // stop after two rows
/// })?;
/// assert_eq!(seen, [Value::Int(3), Value::Int(2)]);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn execute_each(
    tx: &mut crate::Transaction,
    sql: &str,
    params: &[Value],
    each: &mut EachRow<'_>,
) -> Result<QueryResult> {
    execute_with(tx, sql, params, Some(each))
}

/// [`execute`] or [`execute_each`].
fn execute_with(
    tx: &mut crate::Transaction,
    sql: &str,
    params: &[Value],
    each: Option<&mut EachRow<'_>>,
) -> Result<QueryResult> {
    let threshold = tx.engine().options().slow_query_threshold;
    timed(threshold, sql, || {
        execute_in(tx, sql, params, cache::plan(sql), each)
    })
}

/// [`execute_with`] without the slow-query timer; `cached` is [`cache::plan`] of `sql`.
fn execute_in(
    tx: &mut crate::Transaction,
    sql: &str,
    params: &[Value],
    cached: Option<Option<std::sync::Arc<planner::prepared::Prepared>>>,
    each: Option<&mut EachRow<'_>>,
) -> Result<QueryResult> {
    let savepoint = tx.savepoint();
    // Every read of the statement sees one state, at ReadCommitted too (a join, a subquery and
    // the rows an UPDATE targets agree with each other).
    let result = tx.at_one_snapshot(|tx| {
        // A statement with a reusable plan is a SELECT: let it load the catalog cache.
        let mut storage = match cached {
            Some(Some(_)) => TableStorage::new(tx).loading_catalog(),
            _ => TableStorage::new(tx),
        };
        execute_on(&mut storage, sql, params, cached, each)
    });
    match &result {
        Ok(_) => tx.release(savepoint),
        Err(_) => tx.rollback_to(savepoint),
    }
    result
}

/// Parses, plans and executes one statement on its own, atomically: a statement this thread
/// has run before as a reusable SELECT (its plan kept, see the module docs) reads through a
/// [`ReadView`](crate::mvcc::ReadView) (one consistent committed state, without the
/// bookkeeping of a transaction); any other runs in a transaction of its own at the default
/// isolation level, committed on success and rolled back on error.
///
/// ```
/// use rustlite_engine::{sql, Engine, Options, Value};
/// let engine = Engine::open_in_memory(Options::default())?;
/// sql::query(&engine, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", &[])?;
/// sql::query(&engine, "INSERT INTO t VALUES (1, 'ada'), (2, 'bob')", &[])?;
/// for _ in 0..2 { // planned, then reused through a read view
///     let r = sql::query(&engine, "SELECT name FROM t WHERE id = ?", &[Value::Int(2)])?;
///     assert_eq!(r.rows, vec![vec![Value::Text("bob".into())]]);
/// }
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn query(engine: &crate::Engine, sql: &str, params: &[Value]) -> Result<QueryResult> {
    query_with(engine, sql, params, None)
}

/// [`query`], handing the rows to `each` as they are produced instead of collecting them (see
/// [`execute_each`]). A query `each` stops early still commits (it read only).
///
/// ```
/// use rustlite_engine::{sql, Engine, Options, Value};
/// let engine = Engine::open_in_memory(Options::default())?;
/// sql::query(&engine, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", &[])?;
/// sql::query(&engine, "INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)", &[])?;
/// let mut sum = 0;
/// sql::query_each(&engine, "SELECT n FROM t WHERE id >= ?", &[Value::Int(2)], &mut |_, row| {
///     if let Value::Int(n) = row[0] { sum += n; }
///     Ok(true)
/// })?;
/// assert_eq!(sum, 50);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn query_each(
    engine: &crate::Engine,
    sql: &str,
    params: &[Value],
    each: &mut EachRow<'_>,
) -> Result<QueryResult> {
    query_with(engine, sql, params, Some(each))
}

/// [`query`] or [`query_each`].
fn query_with(
    engine: &crate::Engine,
    sql: &str,
    params: &[Value],
    each: Option<&mut EachRow<'_>>,
) -> Result<QueryResult> {
    let threshold = engine.options().slow_query_threshold;
    timed(threshold, sql, || {
        let cached = cache::plan(sql);
        if let Some(Some(_)) = cached {
            // Only SELECTs have reusable plans; a view refuses writes all the same.
            let mut view = engine.read_view();
            let mut storage = TableStorage::new(&mut view).loading_catalog();
            return execute_on(&mut storage, sql, params, cached, each);
        }
        let mut tx = engine.begin(crate::IsolationLevel::default());
        let result = execute_in(&mut tx, sql, params, cached, each)?;
        tx.commit()?;
        Ok(result)
    })
}

/// Runs `run`, logging `sql` as a slow query when it took longer than `threshold` (the clock
/// is read only when slow queries are logged, and coarsely for thresholds of 10 ms or more:
/// see [`clock`]).
fn timed(
    threshold: Option<std::time::Duration>,
    sql: &str,
    run: impl FnOnce() -> Result<QueryResult>,
) -> Result<QueryResult> {
    let Some(threshold) = threshold else {
        return run();
    };
    let started = clock::Stopwatch::start(threshold);
    let result = run();
    let elapsed = started.elapsed();
    if elapsed > threshold {
        tracing::warn!(
            sql,
            ms = elapsed.as_millis() as u64,
            ok = result.is_ok(),
            "slow query"
        );
    }
    result
}

/// The physical plan of a statement (`EXPLAIN` optional) as text, planned in `tx`.
///
/// ```
/// use rustlite_engine::{sql, Engine, IsolationLevel, Options, Value};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// sql::execute(&mut tx, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", &[])?;
/// let plan = sql::explain(&mut tx, "SELECT n FROM t WHERE id = ?", &[Value::Int(1)])?;
/// assert!(plan.contains("KeyLookup t"), "{plan}"); // a point read, not a full scan
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn explain(tx: &mut crate::Transaction, sql: &str, params: &[Value]) -> Result<String> {
    explain_on(&mut TableStorage::new(tx), sql, params)
}

/// Refuses more parameter values than the statement takes (fewer: binding names the first
/// one missing), as rusqlite's `InvalidParameterCount` and PostgreSQL's bind do: an extra value
/// is a mistake, such as a `?` quoted into a string literal.
fn check_param_count(parsed: &translate::Parsed, params: &[Value]) -> Result<()> {
    if params.len() > parsed.params {
        return Err(Error::Sql(format!(
            "{} parameter value(s) given; the statement takes {}",
            params.len(),
            parsed.params
        )));
    }
    Ok(())
}

/// The physical plan of a statement as text, without running it.
pub(crate) fn explain_on(storage: &mut dyn Storage, sql: &str, params: &[Value]) -> Result<String> {
    let parsed = cache::parsed(sql)?;
    check_param_count(&parsed, params)?;
    let statement = match parsed.statement {
        ast::Statement::Explain(inner) => *inner,
        other => other,
    };
    let plan = planner::Planner::new(storage, params).plan(statement)?;
    Ok(plan.explain())
}
