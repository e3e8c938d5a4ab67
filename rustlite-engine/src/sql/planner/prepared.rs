//! Reusable plans: a SELECT planned once with its parameters as placeholders, then bound to
//! each call's values, so a repeated query skips name resolution, push-down and join planning.
//!
//! ```text
//! "SELECT * FROM orders WHERE id = ?"
//!      │ Planner::deferred (once)
//!      ▼
//! Prepared { Project *  └─ Scan orders (access: chosen at binding, filter: id = $1),
//!            tables: [("orders", TableInfo of orders)] }
//!      │ bind([Int(42)]) (every call)
//!      ▼
//! Plan    { Project *  └─ Scan orders (KeyLookup [42]) }
//! ```
//!
//! # Why a bound plan equals the plan planned with the values
//! - The planner reads nothing from storage but [`Storage::table`](crate::sql::Storage::table):
//!   the plan is a function of the SQL text, the [`TableInfo`]s of the tables it names, and
//!   the parameter values. [`Prepared::is_current`] looks every recorded table up again
//!   through the caller's storage (its snapshot, its own DDL, and the Serializable read
//!   tracking of the catalog entry, exactly as planning does) and refuses the plan unless
//!   each one is equal to the one it was planned against.
//! - Parameters matter to planning in two places only. The access path: a scan whose filter
//!   reads a placeholder is left as a full scan with its filter conjuncts intact, and binding
//!   runs the same [`choose_access`] on the same conjuncts with the values in. And LIMIT /
//!   OFFSET, which must be constants: deferred planning fails there, and the statement is
//!   planned per call as before. Everything else (names, push-down, joins, aggregation)
//!   depends on column positions only, which a placeholder has none of, like a literal.
//! - Whether an ORDER BY needs its sort depends on the access path below it
//!   ([`order`](super::order)): over a scan whose path binding chooses, the deferred plan
//!   keeps the `Sort`, and binding decides it with [`sorted`] over the bound input, as
//!   planning with the values decides it. So `WHERE id > ? ORDER BY id` loses its sort when
//!   bound to a key range, and keeps it when another binding picks an index range.
//! - A deferred plan that matched a GROUP BY expression against a select-list expression
//!   matched the same placeholders, so the bound plan matches equal values too; a
//!   placeholder pair that planning with values would match (`$1` and `$2` bound to equal
//!   values) fails deferred planning instead, and the statement is planned per call.

use super::access::{choose_access, key_lookup, key_value};
use super::order::sorted;
use super::plan::{Access, AggregateCall, Node, SortKey};
use super::scope::value_of;
use super::{Plan, Planner};
use crate::error::Result;
use crate::sql::ast::{BinaryOp, Expr, Statement};
use crate::sql::execution::simple::SimpleSelect;
use crate::sql::storage::{Storage, TableInfo};
use crate::value::Value;
use std::sync::Arc;

/// A SELECT planned with placeholders for its parameters.
#[derive(Debug)]
pub struct Prepared {
    node: Node,
    columns: Arc<[String]>,
    /// Each table looked up while planning, by the name used, with what it was.
    tables: Vec<(String, Arc<TableInfo>)>,
    /// How many parameters the statement takes: one more than the highest parameter number
    /// in the plan, or the statement's own count ([`taking`](Self::taking)).
    params: usize,
    /// The plan as a [`SimpleSelect`], when it is one (run without binding the tree).
    simple: Option<SimpleSelect>,
}

impl Prepared {
    /// Plans `statement` for reuse; `Ok(None)` when it is not a SELECT (writes and DDL are
    /// planned per call), an error when it cannot be planned without its parameter values.
    pub fn plan(storage: &mut dyn Storage, statement: Statement) -> Result<Option<Prepared>> {
        if !matches!(statement, Statement::Select(_)) {
            return Ok(None);
        }
        let mut planner = Planner::deferred(storage);
        let Plan::Query { node, columns } = planner.plan(statement)? else {
            return Ok(None);
        };
        let mut params = 0;
        node_exprs(&node, &mut |e| {
            e.walk(&mut |x| {
                if let Expr::Param(n) = x {
                    params = params.max(n + 1);
                }
            })
        });
        Ok(Some(Prepared {
            simple: SimpleSelect::of(&node),
            node,
            columns,
            tables: std::mem::take(&mut planner.tables),
            params,
        }))
    }

    /// Whether every table the plan was made for is still the same for `storage`.
    pub fn is_current(&self, storage: &mut dyn Storage) -> Result<bool> {
        for (name, planned) in &self.tables {
            match storage.table(name)? {
                Some(t) if Arc::ptr_eq(&t, planned) || *t == **planned => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// The plan of a statement taking `params` parameters (its text's count, which a plan may
    /// not use in full).
    pub fn taking(mut self, params: usize) -> Self {
        self.params = self.params.max(params);
        self
    }

    /// Whether `params` gives a value to exactly every placeholder (otherwise plan the
    /// statement with them, which names the first one missing or refuses extra ones).
    pub fn accepts(&self, params: &[Value]) -> bool {
        params.len() == self.params
    }

    /// The plan's output column names.
    pub fn columns(&self) -> &Arc<[String]> {
        &self.columns
    }

    /// The plan as a single-table read of plain columns, when it is one: [`SimpleSelect::run`]
    /// gives the rows [`bind`](Self::bind) and the executor would.
    pub fn simple(&self) -> Option<&SimpleSelect> {
        self.simple.as_ref()
    }

    /// The plan with `params` in place of the placeholders and the access paths they allow.
    pub fn bind(&self, params: &[Value]) -> Result<Plan> {
        Ok(Plan::Query {
            node: bind_node(&self.node, params)?,
            columns: Arc::clone(&self.columns),
        })
    }
}

/// `e` with each placeholder replaced by its value.
fn bind_expr(e: &Expr, params: &[Value]) -> Result<Expr> {
    if !e.has_param() {
        return Ok(e.clone());
    }
    e.clone().transform(&mut |x| match x {
        Expr::Param(n) => value_of(n, params).map(Expr::Literal),
        other => Ok(other),
    })
}

fn bind_all(es: &[Expr], params: &[Value]) -> Result<Vec<Expr>> {
    es.iter().map(|e| bind_expr(e, params)).collect()
}

fn bind_opt(e: &Option<Expr>, params: &[Value]) -> Result<Option<Expr>> {
    e.as_ref().map(|e| bind_expr(e, params)).transpose()
}

fn bind_box(n: &Node, params: &[Value]) -> Result<Box<Node>> {
    bind_node(n, params).map(Box::new)
}

/// The access of a scan filtered by `key = $n` alone on a one-column key: what binding the
/// filter and running [`choose_access`] on it gives when that is a key lookup (which consumes
/// the conjunct), without building the bound filter ([`key_lookup`]). `None`: bind in full.
fn key_param_lookup(table: &TableInfo, filter: &Expr, params: &[Value]) -> Result<Option<Access>> {
    let Some((column, n)) = column_eq_param(filter) else {
        return Ok(None);
    };
    Ok(key_lookup(table, column, value_of(n, params)?))
}

/// The key of [`key_param_lookup`]'s lookup ([`key_value`]): `Some(key)` exactly when
/// [`bind_scan`] answers `(Access::KeyLookup([[key]]), None)`, so a caller may read that one
/// row itself; `None`: call [`bind_scan`].
pub fn key_param(table: &TableInfo, filter: &Expr, params: &[Value]) -> Result<Option<Value>> {
    let Some((column, n)) = column_eq_param(filter) else {
        return Ok(None);
    };
    Ok(key_value(table, column, value_of(n, params)?))
}

/// `(column, n)` of a filter `column = $n` (or `$n = column`).
fn column_eq_param(filter: &Expr) -> Option<(usize, usize)> {
    let Expr::Binary(BinaryOp::Eq, l, r) = filter else {
        return None;
    };
    match (&**l, &**r) {
        (Expr::Column { index, .. }, Expr::Param(n))
        | (Expr::Param(n), Expr::Column { index, .. }) => Some((*index, *n)),
        _ => None,
    }
}

/// The access path and residual filter of a scan of `table` whose filter `filter` reads a
/// parameter, with `params` bound: [`choose_access`] over the bound filter's conjuncts (a key
/// lookup straight from the parameter when that is what it would choose, see
/// [`key_param_lookup`]).
pub fn bind_scan(
    table: &TableInfo,
    filter: &Expr,
    params: &[Value],
) -> Result<(Access, Option<Expr>)> {
    if let Some(access) = key_param_lookup(table, filter, params)? {
        return Ok((access, None));
    }
    let conjuncts = bind_expr(filter, params)?.into_conjuncts();
    let (access, rest) = choose_access(table, conjuncts);
    Ok((access, Expr::conjoin(rest)))
}

/// The node tree with `params` bound; a scan whose filter reads a parameter gets its access
/// path chosen now, from its filter's conjuncts (see the module docs).
#[recursive::recursive]
fn bind_node(node: &Node, params: &[Value]) -> Result<Node> {
    Ok(match node {
        Node::Scan {
            table,
            alias,
            access,
            filter,
            reverse,
        } => match filter {
            Some(f) if f.has_param() => {
                let (access, filter) = bind_scan(table, f, params)?;
                Node::Scan {
                    table: Arc::clone(table),
                    alias: alias.clone(),
                    access,
                    filter,
                    // Its order was unknown when planned ([`order`](super::order)): a sort
                    // above it is kept, and decided again below, over the bound access.
                    reverse: false,
                }
            }
            _ => Node::Scan {
                table: Arc::clone(table),
                alias: alias.clone(),
                access: access.clone(),
                filter: filter.clone(),
                reverse: *reverse,
            },
        },
        Node::Values { rows } => Node::Values { rows: rows.clone() },
        Node::Filter { source, predicate } => Node::Filter {
            source: bind_box(source, params)?,
            predicate: bind_expr(predicate, params)?,
        },
        Node::Project { source, exprs } => Node::Project {
            source: bind_box(source, params)?,
            exprs: bind_all(exprs, params)?,
        },
        Node::HashJoin {
            left,
            right,
            kind,
            left_keys,
            right_keys,
            residual,
            left_width,
            right_width,
        } => Node::HashJoin {
            left: bind_box(left, params)?,
            right: bind_box(right, params)?,
            kind: *kind,
            left_keys: bind_all(left_keys, params)?,
            right_keys: bind_all(right_keys, params)?,
            residual: bind_opt(residual, params)?,
            left_width: *left_width,
            right_width: *right_width,
        },
        Node::NestedLoopJoin {
            left,
            right,
            kind,
            predicate,
            left_width,
            right_width,
        } => Node::NestedLoopJoin {
            left: bind_box(left, params)?,
            right: bind_box(right, params)?,
            kind: *kind,
            predicate: bind_opt(predicate, params)?,
            left_width: *left_width,
            right_width: *right_width,
        },
        Node::Aggregate {
            source,
            group_by,
            aggregates,
        } => Node::Aggregate {
            source: bind_box(source, params)?,
            group_by: bind_all(group_by, params)?,
            aggregates: aggregates
                .iter()
                .map(|a| {
                    Ok(AggregateCall {
                        func: a.func,
                        arg: bind_opt(&a.arg, params)?,
                        distinct: a.distinct,
                    })
                })
                .collect::<Result<_>>()?,
        },
        Node::Distinct { source } => Node::Distinct {
            source: bind_box(source, params)?,
        },
        Node::Sort { source, keys } => bind_sort(source, keys, params, false)?,
        Node::Limit {
            source,
            limit,
            offset,
        } => Node::Limit {
            source: Box::new(match source.as_ref() {
                Node::Sort { source, keys } => bind_sort(source, keys, params, limit.is_some())?,
                other => bind_node(other, params)?,
            }),
            limit: *limit,
            offset: *offset,
        },
    })
}

/// A sort kept over a scan whose access path only binding chooses may be answered by that path
/// now (or, `limited`, by an index): decided as planning decides it, over the bound input.
fn bind_sort(source: &Node, keys: &[SortKey], params: &[Value], limited: bool) -> Result<Node> {
    let keys = keys
        .iter()
        .map(|k| {
            Ok(SortKey {
                expr: bind_expr(&k.expr, params)?,
                desc: k.desc,
                nulls_first: k.nulls_first,
            })
        })
        .collect::<Result<_>>()?;
    Ok(sorted(bind_node(source, params)?, keys, limited))
}

/// Calls `f` on every expression of the tree.
#[recursive::recursive]
fn node_exprs<'a>(node: &'a Node, f: &mut dyn FnMut(&'a Expr)) {
    match node {
        Node::Scan { filter, .. } => filter.iter().for_each(&mut *f),
        Node::Values { .. } => {}
        Node::Filter { source, predicate } => {
            f(predicate);
            node_exprs(source, f);
        }
        Node::Project { source, exprs } => {
            exprs.iter().for_each(&mut *f);
            node_exprs(source, f);
        }
        Node::HashJoin {
            left,
            right,
            left_keys,
            right_keys,
            residual,
            ..
        } => {
            left_keys.iter().chain(right_keys).for_each(&mut *f);
            residual.iter().for_each(&mut *f);
            node_exprs(left, f);
            node_exprs(right, f);
        }
        Node::NestedLoopJoin {
            left,
            right,
            predicate,
            ..
        } => {
            predicate.iter().for_each(&mut *f);
            node_exprs(left, f);
            node_exprs(right, f);
        }
        Node::Aggregate {
            source,
            group_by,
            aggregates,
        } => {
            group_by.iter().for_each(&mut *f);
            aggregates
                .iter()
                .filter_map(|a| a.arg.as_ref())
                .for_each(&mut *f);
            node_exprs(source, f);
        }
        Node::Distinct { source } | Node::Limit { source, .. } => node_exprs(source, f),
        Node::Sort { source, keys } => {
            keys.iter().for_each(|k| f(&k.expr));
            node_exprs(source, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{cache, execute, TableStorage};
    use crate::{Engine, IsolationLevel, Options};

    /// For each query and parameters, the bound reusable plan equals the plan planned with the
    /// values (access paths included), or deferred planning refuses the statement.
    #[test]
    fn bound_plans_equal_plans_with_values() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        let mut tx = engine.begin(IsolationLevel::default());
        for ddl in [
            "CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE, age INTEGER, f FLOAT)",
            "CREATE INDEX u_age ON u (age)",
            "CREATE TABLE o (id INTEGER PRIMARY KEY, uid INTEGER, amount INTEGER)",
            "CREATE INDEX o_uid ON o (uid)",
        ] {
            execute(&mut tx, ddl, &[])?;
        }
        let int = Value::Int;
        let text = |s: &str| Value::Text(s.into());
        let cases: Vec<(&str, Vec<Value>)> =
            vec![
            ("SELECT * FROM u WHERE id = ?", vec![int(3)]),
            ("SELECT * FROM u WHERE id = ?", vec![Value::Float(1.5)]),
            ("SELECT * FROM u WHERE id = ?", vec![Value::Null]),
            ("SELECT name FROM u WHERE name = ?", vec![text("a")]),
            ("SELECT * FROM u WHERE age BETWEEN ? AND ?", vec![int(1), int(9)]),
            ("SELECT * FROM u WHERE age > ? AND id < 5", vec![int(1)]),
            ("SELECT * FROM u WHERE id > 5 AND name = ?", vec![text("x")]),
            ("SELECT * FROM u WHERE id IN (?, 2, ?)", vec![int(4), int(1)]),
            ("SELECT * FROM u WHERE f = $2 AND age = $1", vec![int(1), int(2)]),
            (
                "SELECT u.name, SUM(o.amount) FROM o JOIN u ON o.uid = u.id \
                 WHERE o.amount > ? AND u.age = ? GROUP BY u.name ORDER BY 2 DESC",
                vec![int(10), int(30)],
            ),
            (
                "SELECT * FROM u LEFT JOIN o ON o.uid = u.id AND o.amount = ? WHERE u.id = ?",
                vec![int(1), int(2)],
            ),
            (
                "SELECT x.n FROM (SELECT name AS n, age FROM u WHERE age < ?) AS x WHERE x.n = ?",
                vec![int(50), text("b")],
            ),
            ("SELECT ? + 1, lower(?)", vec![int(1), text("A")]),
            ("SELECT DISTINCT age FROM u WHERE age >= ? ORDER BY age", vec![int(0)]),
        ];
        let mut storage = TableStorage::new(&mut tx);
        for (sql, params) in cases {
            let statement = cache::statement(sql)?;
            let direct = Planner::new(&mut storage, &params).plan(statement.clone())?;
            let prepared = Prepared::plan(&mut storage, statement)?.expect("a SELECT");
            assert!(prepared.accepts(&params));
            assert!(prepared.is_current(&mut storage)?);
            assert_eq!(prepared.bind(&params)?, direct, "{sql}");
        }
        // Constants only with values: planned per call.
        let limit = cache::statement("SELECT * FROM u LIMIT ?")?;
        assert!(Prepared::plan(&mut storage, limit).is_err());
        Ok(())
    }

    /// `key_param` answers exactly when `bind_scan` answers a one-key lookup and no residual
    /// filter, with that key: NULLs, values of other types, other columns and composite keys
    /// are left to `bind_scan`.
    #[test]
    fn key_param_is_bind_scans_single_key_lookup() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        let mut tx = engine.begin(IsolationLevel::default());
        for ddl in [
            "CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE, f FLOAT)",
            "CREATE TABLE k (a INTEGER, b TEXT, PRIMARY KEY (a, b))",
            "CREATE TABLE s (code TEXT PRIMARY KEY, n INTEGER)",
        ] {
            execute(&mut tx, ddl, &[])?;
        }
        let values = [
            Value::Int(3),
            Value::Int(-1),
            Value::Float(2.0),
            Value::Float(2.5),
            Value::Float(f64::NAN),
            Value::Null,
            Value::Text("3".into()),
            Value::Bool(true),
            Value::Bytes(vec![1]),
        ];
        let mut storage = TableStorage::new(&mut tx);
        for sql in [
            "SELECT * FROM u WHERE id = ?",
            "SELECT * FROM u WHERE ? = id",
            "SELECT * FROM u WHERE name = ?",
            "SELECT * FROM u WHERE f = ?",
            "SELECT * FROM u WHERE id = ? AND f = 1",
            "SELECT * FROM u WHERE id > ?",
            "SELECT * FROM k WHERE a = ?",
            "SELECT * FROM s WHERE code = ?",
        ] {
            let prepared = Prepared::plan(&mut storage, cache::statement(sql)?)?.expect("a SELECT");
            let Some(Node::Scan {
                table,
                filter: Some(filter),
                ..
            }) = [&prepared.node]
                .into_iter()
                .chain(match &prepared.node {
                    Node::Project { source, .. } => Some(&**source),
                    _ => None,
                })
                .find(|n| matches!(n, Node::Scan { .. }))
            else {
                panic!("{sql}: no scan in {:?}", prepared.node);
            };
            for v in &values {
                let params = [v.clone()];
                let bound = bind_scan(table, filter, &params);
                match key_param(table, filter, &params) {
                    Ok(Some(key)) => assert!(
                        matches!(&bound, Ok((Access::KeyLookup(keys), None)) if *keys == [vec![key.clone()]]),
                        "{sql} {v:?}: {key:?} / {bound:?}"
                    ),
                    Ok(None) => assert!(
                        !matches!(&bound, Ok((Access::KeyLookup(keys), None)) if keys.len() == 1),
                        "{sql} {v:?}: {bound:?}"
                    ),
                    Err(_) => assert!(bound.is_err(), "{sql} {v:?}"),
                }
            }
        }
        Ok(())
    }

    /// A reusable plan is refused once a table it read changed, and a repeated statement
    /// returns the same rows as a first one under every isolation level.
    #[test]
    fn reused_plans_follow_table_changes() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        let mut tx = engine.begin(IsolationLevel::default());
        execute(
            &mut tx,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)",
            &[],
        )?;
        execute(&mut tx, "INSERT INTO t VALUES (1, 7), (2, 8)", &[])?;
        let statement = cache::statement("SELECT id FROM t WHERE a = ?")?;
        let prepared =
            Prepared::plan(&mut TableStorage::new(&mut tx), statement)?.expect("a SELECT");
        execute(&mut tx, "CREATE INDEX t_a ON t (a)", &[])?;
        assert!(!prepared.is_current(&mut TableStorage::new(&mut tx))?);
        tx.commit()?;
        for level in [
            IsolationLevel::ReadCommitted,
            IsolationLevel::RepeatableRead,
            IsolationLevel::Serializable,
        ] {
            for _ in 0..3 {
                let mut tx = engine.begin(level);
                let r = execute(&mut tx, "SELECT id FROM t WHERE a = ?", &[Value::Int(8)])?;
                assert_eq!(r.rows, [[Value::Int(2)]]);
                tx.commit()?;
            }
        }
        Ok(())
    }
}
