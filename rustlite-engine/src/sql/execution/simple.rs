//! The fast path of a reusable plan that reads one table and outputs plain columns:
//! `SELECT a, b FROM t WHERE <filter with parameters>` — the point query by key, the lookup
//! through an index, a key or index range.
//!
//! ```text
//! general:  Prepared ──bind (clone the tree, labels, aliases)──▶ Plan ──execute──▶
//!           Project (eval each column, a new row) ◀─ Scan (Needs, mask) ◀─ storage
//! simple:   SimpleSelect ──bind_scan (the scan's access only)──▶ read ◀─ storage
//!           each row: the residual filter, then the row itself (SELECT * in table order)
//!           or its wanted columns moved out of it
//! ```
//!
//! # Why the rows are the general path's
//! - The access path and residual filter come from [`bind_scan`], the very function binding
//!   uses for the scan, on the same filter and values.
//! - Rows are read by the executor's own [`read`] with a column mask that holds every column
//!   the outputs and the filter read (the general path's mask holds a subset of it, and a
//!   column outside its mask is never output).
//! - A point read by the key (`key = ?` alone, a one-column key: [`key_param`]) is the one
//!   `storage.get` that [`read`] makes for the `KeyLookup` [`bind_scan`] would answer.
//! - The residual filter is evaluated as the scan evaluates it, and an output column is the
//!   value `eval` of an `Expr::Column` would clone; it is moved instead when no other output
//!   reads the same column.
//!
//! What is not such a plan (an expression, an aggregate, a join, a sort, a limit, a scan whose
//! filter reads no parameter) is bound and executed in full.

use super::{read, Sink};
use crate::error::{Error, Result};
use crate::lsm::iter::Direction;
use crate::sql::ast::Expr;
use crate::sql::eval::eval_predicate;
use crate::sql::planner::plan::{Access, Node};
use crate::sql::planner::prepared::{bind_scan, key_param};
use crate::sql::storage::{Row, Storage, TableInfo};
use crate::value::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A single-table read of plain columns (see the module docs).
#[derive(Debug)]
pub struct SimpleSelect {
    table: Arc<TableInfo>,
    /// The scan's filter, placeholders unbound.
    filter: Expr,
    /// The table column of each output column.
    outputs: Vec<usize>,
    /// The outputs are the table's columns in order (`SELECT *`): a read row is the output.
    identity: bool,
    /// No column is output twice: columns may be moved out of the read row.
    distinct: bool,
    /// The columns the outputs and the filter read.
    mask: Vec<bool>,
    /// Rows the last run returned (capped): the next run's first allocation of its row list, so
    /// a repeated query of ~100 rows does not grow it seven times.
    last_rows: AtomicUsize,
}

/// Most rows [`SimpleSelect::run`] reserves room for before it has read any.
const MAX_RESERVED_ROWS: usize = 4096;

impl SimpleSelect {
    /// `node` as a simple select, when it is a full scan whose filter reads a parameter (the
    /// scan's access is chosen when binding), alone (`SELECT *`: the planner leaves out an
    /// identity projection) or under a `Project` of plain columns.
    pub fn of(node: &Node) -> Option<SimpleSelect> {
        let (scan, exprs) = match node {
            Node::Project { source, exprs } => (&**source, Some(exprs)),
            scan => (scan, None),
        };
        let Node::Scan {
            table,
            access: Access::Full,
            filter: Some(filter),
            ..
        } = scan
        else {
            return None;
        };
        if !filter.has_param() {
            return None;
        }
        let width = table.columns.len();
        let outputs = match exprs {
            None => (0..width).collect(),
            Some(exprs) => exprs
                .iter()
                .map(|e| match e {
                    Expr::Column { index, .. } if *index < width => Some(*index),
                    _ => None,
                })
                .collect::<Option<Vec<usize>>>()?,
        };
        let mut mask = vec![false; width];
        for i in outputs.iter().copied().chain(filter.columns()) {
            *mask.get_mut(i)? = true;
        }
        let mut seen = vec![false; width];
        let distinct = outputs
            .iter()
            .all(|&i| seen.get_mut(i).is_some_and(|s| !std::mem::replace(s, true)));
        Some(SimpleSelect {
            table: Arc::clone(table),
            filter: filter.clone(),
            identity: outputs.iter().copied().eq(0..width),
            outputs,
            distinct,
            mask,
            last_rows: AtomicUsize::new(0),
        })
    }

    /// The rows of the plan with `params` bound, as the general path gives them.
    pub fn run(&self, storage: &mut dyn Storage, params: &[Value]) -> Result<Vec<Row>> {
        let mut rows = Vec::with_capacity(self.last_rows.load(Ordering::Relaxed));
        self.stream(storage, params, &mut |row| {
            rows.push(row);
            Ok(true)
        })?;
        self.last_rows
            .store(rows.len().min(MAX_RESERVED_ROWS), Ordering::Relaxed);
        Ok(rows)
    }

    /// [`run`](Self::run), handing each row to `sink` as it is read (until it returns false).
    pub fn stream(
        &self,
        storage: &mut dyn Storage,
        params: &[Value],
        sink: &mut Sink<'_>,
    ) -> Result<()> {
        if let Some(key) = key_param(&self.table, &self.filter, params)? {
            // `bind_scan` would answer `(KeyLookup([[key]]), None)`: `read`'s lookup of that
            // one key, without building the access or a row list before the row is read.
            if let Some(r) =
                storage.get(&self.table, std::slice::from_ref(&key), Some(&self.mask))?
            {
                sink(self.output(r.row)?)?;
            }
            return Ok(());
        }
        let (access, residual) = bind_scan(&self.table, &self.filter, params)?;
        read(
            &self.table,
            &access,
            Direction::Forward,
            storage,
            Some(&self.mask),
            &mut |r| {
                if let Some(f) = &residual {
                    if !eval_predicate(f, &r.row)? {
                        return Ok(true);
                    }
                }
                sink(self.output(r.row)?)
            },
        )?;
        Ok(())
    }

    /// The output row of a read row.
    fn output(&self, mut row: Row) -> Result<Row> {
        if self.identity {
            return Ok(row);
        }
        self.outputs
            .iter()
            .map(|&i| {
                let v = row
                    .get_mut(i)
                    .ok_or_else(|| Error::Sql(format!("internal: column {i} not read")))?;
                Ok(if self.distinct {
                    std::mem::take(v)
                } else {
                    v.clone()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Result;
    use crate::sql::planner::prepared::Prepared;
    use crate::sql::planner::Planner;
    use crate::sql::{cache, execute, execution, TableStorage};
    use crate::value::Value;
    use crate::{Engine, IsolationLevel, Options};

    /// For each query and parameters: the fast path's rows equal the bound plan's and the
    /// plan planned with the values, or all three fail. `simple` says which queries must take
    /// the fast path.
    #[test]
    fn fast_path_rows_equal_the_general_paths() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        let mut tx = engine.begin(IsolationLevel::default());
        for sql in [
            "CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE, age INTEGER, f FLOAT, b BLOB)",
            "CREATE INDEX u_age ON u (age)",
            "CREATE TABLE k (a INTEGER, b TEXT, v INTEGER, PRIMARY KEY (a, b))",
            "CREATE TABLE n (x INTEGER, y TEXT)",
            "INSERT INTO u VALUES (1, 'ada', 30, 1.5, X'00'), (2, 'bob', NULL, NULL, NULL), \
             (3, NULL, 30, -0.0, X''), (4, 'dan', 41, 2.0, NULL)",
            "INSERT INTO k VALUES (1, 'a', 10), (1, 'b', 11), (2, 'a', 20)",
            "INSERT INTO n VALUES (1, 'p'), (NULL, 'q'), (1, NULL)",
        ] {
            execute(&mut tx, sql, &[])?;
        }
        let int = Value::Int;
        let text = |s: &str| Value::Text(s.into());
        let cases: Vec<(&str, Vec<Value>, bool)> = vec![
            ("SELECT * FROM u WHERE id = ?", vec![int(1)], true),
            ("SELECT * FROM u WHERE id = ?", vec![int(2)], true),
            ("SELECT * FROM u WHERE id = ?", vec![int(99)], true),
            ("SELECT * FROM u WHERE id = ?", vec![Value::Null], true),
            (
                "SELECT * FROM u WHERE id = ?",
                vec![Value::Float(1.0)],
                true,
            ),
            (
                "SELECT * FROM u WHERE id = ?",
                vec![Value::Float(1.5)],
                true,
            ),
            ("SELECT * FROM u WHERE id = ?", vec![text("1")], true),
            (
                "SELECT * FROM u WHERE id = ?",
                vec![Value::Bool(true)],
                true,
            ),
            ("SELECT * FROM u WHERE ? = id", vec![int(4)], true),
            ("SELECT name, id FROM u WHERE id = ?", vec![int(1)], true),
            (
                "SELECT age, age, name FROM u WHERE id = ?",
                vec![int(4)],
                true,
            ),
            (
                "SELECT b FROM u WHERE id = $1 OR id = $2",
                vec![int(1), int(3)],
                true,
            ),
            ("SELECT * FROM u WHERE name = ?", vec![text("bob")], true),
            ("SELECT * FROM u WHERE name = ?", vec![text("zed")], true),
            ("SELECT * FROM u WHERE name = ?", vec![Value::Null], true),
            ("SELECT * FROM u WHERE name = ?", vec![int(3)], true),
            ("SELECT id FROM u WHERE age = ?", vec![int(30)], true),
            (
                "SELECT id, f FROM u WHERE age BETWEEN ? AND ?",
                vec![int(0), int(40)],
                true,
            ),
            (
                "SELECT id FROM u WHERE age > ? AND f < 3",
                vec![int(0)],
                true,
            ),
            (
                "SELECT id FROM u WHERE age IS NULL AND id > ?",
                vec![int(0)],
                true,
            ),
            (
                "SELECT id FROM u WHERE id IN (?, 4, ?)",
                vec![int(3), Value::Null],
                true,
            ),
            (
                "SELECT * FROM u WHERE f = ?",
                vec![Value::Float(-0.0)],
                true,
            ),
            (
                "SELECT v FROM k WHERE a = ? AND b = ?",
                vec![int(1), text("b")],
                true,
            ),
            ("SELECT * FROM k WHERE a = ?", vec![int(1)], true),
            ("SELECT * FROM n WHERE x = ?", vec![int(1)], true),
            ("SELECT y FROM n WHERE x = ?", vec![Value::Null], true),
            // Not simple: computed outputs, ordering, limits, aggregates.
            ("SELECT id + 1 FROM u WHERE id = ?", vec![int(1)], false),
            (
                "SELECT id FROM u WHERE age = ? ORDER BY id DESC",
                vec![int(30)],
                false,
            ),
            ("SELECT count(*) FROM u WHERE age = ?", vec![int(30)], false),
            (
                "SELECT DISTINCT age FROM u WHERE id > ?",
                vec![int(0)],
                false,
            ),
            ("SELECT id FROM u WHERE id = 1", vec![], false),
        ];
        let mut storage = TableStorage::new(&mut tx);
        for (sql, params, simple) in cases {
            let statement = cache::statement(sql)?;
            let prepared = Prepared::plan(&mut storage, statement.clone())?.expect("a SELECT");
            assert_eq!(prepared.simple().is_some(), simple, "{sql}");
            let general =
                execution::execute(prepared.bind(&params)?, &mut storage, None).map(|r| r.rows);
            let with_values = Planner::new(&mut storage, &params)
                .plan(statement)
                .and_then(|plan| execution::execute(plan, &mut storage, None))
                .map(|r| r.rows);
            let fast = match prepared.simple() {
                Some(s) => s.run(&mut storage, &params),
                None => {
                    execution::execute(prepared.bind(&params)?, &mut storage, None).map(|r| r.rows)
                }
            };
            match (&fast, &general, &with_values) {
                (Ok(a), Ok(b), Ok(c)) => {
                    assert_eq!(a, b, "{sql} {params:?}");
                    assert_eq!(a, c, "{sql} {params:?}");
                }
                (Err(_), Err(_), Err(_)) => {}
                _ => panic!("{sql} {params:?}: {fast:?} / {general:?} / {with_values:?}"),
            }
        }
        Ok(())
    }

    /// Through `execute` (the plan cache): the first call plans, the next ones take the fast
    /// path; the answers stay equal, also after DDL changes the table under the cached plan.
    #[test]
    fn repeated_statements_take_the_fast_path_and_follow_ddl() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        let run = |sql: &str, params: &[Value]| -> Result<crate::sql::QueryResult> {
            let mut tx = engine.begin(IsolationLevel::default());
            let r = execute(&mut tx, sql, params)?;
            tx.commit()?;
            Ok(r)
        };
        run("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)", &[])?;
        run("INSERT INTO t VALUES (1, 'x'), (2, 'y')", &[])?;
        let q = "SELECT a, id FROM t WHERE id = ?";
        for _ in 0..3 {
            let r = run(q, &[Value::Int(2)])?;
            assert_eq!(*r.columns, ["a", "id"]);
            assert_eq!(r.rows, [[Value::Text("y".into()), Value::Int(2)]]);
            assert!(run(q, &[Value::Int(3)])?.rows.is_empty());
        }
        run("DROP TABLE t", &[])?;
        run(
            "CREATE TABLE t (b INTEGER, id INTEGER PRIMARY KEY, a TEXT)",
            &[],
        )?;
        run("INSERT INTO t VALUES (7, 2, 'z')", &[])?;
        let r = run(q, &[Value::Int(2)])?;
        assert_eq!(r.rows, [[Value::Text("z".into()), Value::Int(2)]]);
        assert!(run(q, &[]).is_err());
        Ok(())
    }
}
