//! The executor: runs a [`Plan`] against a [`Storage`].
//!
//! | module | owns |
//! |---|---|
//! | this file | scans, filters, projection, DISTINCT, sort, limit |
//! | [`join`] | hash join and nested-loop join, all five kinds |
//! | [`aggregate`] | GROUP BY and the aggregate functions |
//! | [`write`](mod@write) | INSERT / UPDATE / DELETE and DDL, with type coercion and NOT NULL |
//!
//! Nodes run bottom-up and hand their parent a materialised `Vec` of rows: simple, and every
//! scan finishes before the statement writes (no Halloween problem for UPDATE).

pub mod aggregate;
pub mod join;
pub mod write;

use super::eval::{eval, eval_predicate, group_key, sort_cmp};
use super::planner::plan::{Access, Node};
use super::planner::Plan;
use super::storage::{KeyedRow, Row, Storage};
use super::QueryResult;
use crate::error::Result;
use crate::value::Value;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::ops::Bound;

/// Executes a plan.
pub fn execute(plan: Plan, storage: &mut dyn Storage) -> Result<QueryResult> {
    match plan {
        Plan::Query { node, columns } => Ok(QueryResult {
            columns,
            rows: run(&node, storage)?,
            rows_affected: 0,
        }),
        Plan::Explain(inner) => Ok(QueryResult {
            columns: vec!["plan".into()],
            rows: inner
                .explain()
                .lines()
                .map(|l| vec![Value::Text(l.to_string())])
                .collect(),
            rows_affected: 0,
        }),
        other => write::execute(other, storage).map(|n| QueryResult {
            columns: vec![],
            rows: vec![],
            rows_affected: n,
        }),
    }
}

/// Runs a node to completion.
pub fn run(node: &Node, storage: &mut dyn Storage) -> Result<Vec<Row>> {
    Ok(match node {
        Node::Scan { .. } => scan(node, storage)?.into_iter().map(|r| r.row).collect(),
        Node::Values { rows } => rows.clone(),
        Node::Filter { source, predicate } => {
            let mut out = Vec::new();
            for row in run(source, storage)? {
                if eval_predicate(predicate, &row)? {
                    out.push(row);
                }
            }
            out
        }
        Node::Project { source, exprs } => run(source, storage)?
            .iter()
            .map(|row| exprs.iter().map(|e| eval(e, row)).collect())
            .collect::<Result<_>>()?,
        Node::HashJoin { .. } | Node::NestedLoopJoin { .. } => join::run(node, storage)?,
        Node::Aggregate {
            source,
            group_by,
            aggregates,
        } => aggregate::run(run(source, storage)?, group_by, aggregates)?,
        Node::Distinct { source } => {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for row in run(source, storage)? {
                let mut key = Vec::new();
                row.iter().for_each(|v| group_key(v, &mut key));
                if seen.insert(key) {
                    out.push(row);
                }
            }
            out
        }
        Node::Sort { source, keys } => {
            let rows = run(source, storage)?;
            let mut keyed = rows
                .into_iter()
                .map(|row| {
                    let k = keys
                        .iter()
                        .map(|k| eval(&k.expr, &row))
                        .collect::<Result<Vec<_>>>()?;
                    Ok((k, row))
                })
                .collect::<Result<Vec<_>>>()?;
            keyed.sort_by(|(a, _), (b, _)| {
                for ((x, y), k) in a.iter().zip(b).zip(keys) {
                    let o = match (x.is_null(), y.is_null()) {
                        (true, true) => Ordering::Equal,
                        (true, false) if k.nulls_first => Ordering::Less,
                        (true, false) => Ordering::Greater,
                        (false, true) if k.nulls_first => Ordering::Greater,
                        (false, true) => Ordering::Less,
                        _ if k.desc => sort_cmp(y, x),
                        _ => sort_cmp(x, y),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
            keyed.into_iter().map(|(_, r)| r).collect()
        }
        Node::Limit {
            source,
            limit,
            offset,
        } => {
            let rows = run(source, storage)?;
            rows.into_iter()
                .skip(*offset)
                .take(limit.unwrap_or(usize::MAX))
                .collect()
        }
    })
}

/// Runs a [`Node::Scan`], keeping each row's key (UPDATE and DELETE need it).
pub fn scan(node: &Node, storage: &mut dyn Storage) -> Result<Vec<KeyedRow>> {
    let Node::Scan {
        table,
        access,
        filter,
        ..
    } = node
    else {
        return Err(crate::Error::Sql("internal: not a scan".into()));
    };
    let rows = match access {
        Access::Full => storage.scan(table, Bound::Unbounded, Bound::Unbounded)?,
        Access::KeyLookup(keys) => {
            let mut out = Vec::new();
            for k in keys {
                out.extend(storage.get(table, k)?);
            }
            out
        }
        Access::KeyRange(lo, hi) => storage.scan(
            table,
            lo.as_ref().map(Vec::as_slice),
            hi.as_ref().map(Vec::as_slice),
        )?,
        Access::Index { index, lookup } => storage.index_scan(table, index, lookup)?,
    };
    match filter {
        None => Ok(rows),
        Some(f) => {
            let mut out = Vec::new();
            for r in rows {
                if eval_predicate(f, &r.row)? {
                    out.push(r);
                }
            }
            Ok(out)
        }
    }
}
