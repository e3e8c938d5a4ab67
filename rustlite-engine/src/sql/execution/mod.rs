//! The executor: runs a [`Plan`] against a [`Storage`].
//!
//! | module | owns |
//! |---|---|
//! | this file | scans, filters, projection, DISTINCT, limit |
//! | [`join`] | hash join and nested-loop join, all five kinds |
//! | [`aggregate`] | GROUP BY and the aggregate functions |
//! | [`needs`] | which columns each node's consumer reads (projection pushdown) |
//! | [`simple`] | the fast path of a reusable single-table read of plain columns |
//! | [`sort`] | ORDER BY: the stable sort, and the bounded top-k under a LIMIT |
//! | [`write`](mod@write) | INSERT / UPDATE / DELETE and DDL, with type coercion and NOT NULL |
//!
//! Rows are pushed: [`stream`] runs a node and hands each of its rows to a sink, which returns
//! `false` to stop the producer (a `LIMIT` that has its rows ends the scan below it).
//! Filter, Project, Distinct, Limit and the probe side of a join pass rows through one at a
//! time; Sort, the build side of a join and Aggregate's groups are the only buffers, so a
//! `GROUP BY` over a million rows holds its groups, not its rows, and a Sort right under a
//! `LIMIT` holds `offset + limit` rows, not its input ([`sort`]).
//!
//! ```text
//! Project ◀─ Aggregate ◀─ HashJoin ◀─ Scan orders      (probe: row by row)
//!                           │
//!                           └──────── Scan users       (build: collected first)
//! ```
//! A scan decodes only the columns some node above it reads ([`needs`]); the others are NULL.
//! Writes run their scans to completion (a `Vec` of keyed rows with every column) before the
//! first write, so there is no Halloween problem for UPDATE.

pub mod aggregate;
pub mod join;
pub mod needs;
pub mod simple;
pub mod sort;
pub mod write;

use super::eval::{eval, eval_predicate, group_key};
use super::planner::plan::{Access, Node, SortKey};
use super::planner::Plan;
use super::storage::{Columns, KeyedRow, Row, RowSink, Storage, TableInfo};
use super::{EachRow, QueryResult};
use crate::error::Result;
use crate::lsm::iter::Direction;
use crate::value::Value;
use needs::Needs;
use sort::Sorter;
use std::collections::HashSet;
use std::ops::Bound;

/// Executes a plan. A query's rows go to `each` when given (the result then holds none), else
/// into the result.
pub fn execute(
    plan: Plan,
    storage: &mut dyn Storage,
    each: Option<&mut EachRow<'_>>,
) -> Result<QueryResult> {
    let (columns, rows) = match plan {
        Plan::Query { node, columns } => {
            let rows = match each {
                None => run(&node, storage)?,
                Some(each) => {
                    stream(&node, storage, &Needs::All, &mut |row| each(&columns, row))?;
                    Vec::new()
                }
            };
            (columns, rows)
        }
        Plan::Explain(inner) => {
            let columns: std::sync::Arc<[String]> = std::sync::Arc::from(["plan".to_string()]);
            let text = inner.explain();
            let lines = text.lines().map(|l| vec![Value::Text(l.to_string())]);
            let rows = match each {
                None => lines.collect(),
                Some(each) => {
                    for row in lines {
                        if !each(&columns, row)? {
                            break;
                        }
                    }
                    Vec::new()
                }
            };
            (columns, rows)
        }
        other => {
            return write::execute(other, storage).map(|n| QueryResult {
                columns: std::sync::Arc::new([]),
                rows: vec![],
                rows_affected: n,
            })
        }
    };
    Ok(QueryResult {
        columns,
        rows,
        rows_affected: 0,
    })
}

/// Receives rows one at a time; returning `false` stops the producer.
pub type Sink<'a> = dyn FnMut(Row) -> Result<bool> + 'a;

/// Runs a node to completion, every column of its output computed.
pub fn run(node: &Node, storage: &mut dyn Storage) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    stream(node, storage, &Needs::All, &mut |row| {
        out.push(row);
        Ok(true)
    })?;
    Ok(out)
}

/// Pushes the rows of `node` into `sink` until it returns false; returns whether the node
/// ran to its end. Output columns outside `needs` may be NULL.
pub fn stream(
    node: &Node,
    storage: &mut dyn Storage,
    needs: &Needs,
    sink: &mut Sink<'_>,
) -> Result<bool> {
    match node {
        Node::Scan {
            table,
            access,
            filter,
            reverse,
            ..
        } => {
            let mask = needs.scan_mask(table.columns.len(), filter.as_ref());
            let dir = if *reverse {
                Direction::Reverse
            } else {
                Direction::Forward
            };
            read(
                table,
                access,
                dir,
                storage,
                Some(&mask),
                &mut |r| match filter {
                    Some(f) if !eval_predicate(f, &r.row)? => Ok(true),
                    _ => sink(r.row),
                },
            )
        }
        Node::Values { rows } => {
            for row in rows {
                if !sink(row.clone())? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Node::Filter { source, predicate } => {
            let below = needs.with(std::iter::once(predicate));
            stream(source, storage, &below, &mut |row| {
                if eval_predicate(predicate, &row)? {
                    sink(row)
                } else {
                    Ok(true)
                }
            })
        }
        Node::Project { source, exprs } => {
            let below = Needs::of(exprs.iter());
            stream(source, storage, &below, &mut |row| {
                let out = exprs
                    .iter()
                    .map(|e| eval(e, &row))
                    .collect::<Result<Vec<_>>>()?;
                sink(out)
            })
        }
        Node::HashJoin { .. } | Node::NestedLoopJoin { .. } => {
            join::stream(node, storage, needs, sink)
        }
        Node::Aggregate {
            source,
            group_by,
            aggregates,
        } => {
            let below = Needs::of(
                group_by
                    .iter()
                    .chain(aggregates.iter().filter_map(|a| a.arg.as_ref())),
            );
            let mut groups = aggregate::Groups::new(group_by, aggregates);
            stream(source, storage, &below, &mut |row| {
                groups.add(&row)?;
                Ok(true)
            })?;
            for row in groups.finish()? {
                if !sink(row)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Node::Distinct { source } => {
            let mut seen = HashSet::new();
            let mut key = Vec::new();
            stream(source, storage, &Needs::All, &mut |row| {
                key.clear();
                row.iter().for_each(|v| group_key(v, &mut key));
                if seen.contains(key.as_slice()) {
                    return Ok(true);
                }
                seen.insert(key.clone());
                sink(row)
            })
        }
        Node::Sort { source, keys } => sort(source, keys, None, storage, needs, sink),
        Node::Limit {
            source,
            limit,
            offset,
        } => {
            let Some(limit) = limit.map_or(Some(usize::MAX), |l| (l > 0).then_some(l)) else {
                return Ok(true);
            };
            let (mut skipped, mut passed, mut stopped) = (0, 0, false);
            let mut pass = |row| {
                if skipped < *offset {
                    skipped += 1;
                    return Ok(true);
                }
                passed += 1;
                if !sink(row)? {
                    stopped = true;
                    return Ok(false);
                }
                Ok(passed < limit)
            };
            match &**source {
                // Right above a Sort, a LIMIT bounds it: only the rows it can pass are kept.
                Node::Sort { source, keys } if limit < usize::MAX => {
                    let bound = Some(offset.saturating_add(limit));
                    sort(source, keys, bound, storage, needs, &mut pass)?;
                }
                source => {
                    stream(source, storage, needs, &mut pass)?;
                }
            }
            Ok(!stopped)
        }
    }
}

/// Runs a [`Node::Sort`] over `source`; with a bound, only the first `bound` rows of the order
/// are kept and output ([`sort::Sorter`]).
fn sort(
    source: &Node,
    keys: &[SortKey],
    bound: Option<usize>,
    storage: &mut dyn Storage,
    needs: &Needs,
    sink: &mut Sink<'_>,
) -> Result<bool> {
    let below = needs.with(keys.iter().map(|k| &k.expr));
    let mut sorter = Sorter::new(keys, bound);
    stream(source, storage, &below, &mut |row| {
        let k = keys
            .iter()
            .map(|k| eval(&k.expr, &row))
            .collect::<Result<Vec<_>>>()?;
        sorter.push(k, row);
        #[cfg(test)]
        sort::PEAK_SORT_ROWS.with(|p| p.set(p.get().max(sorter.len())));
        Ok(true)
    })?;
    for row in sorter.finish() {
        if !sink(row)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs a [`Node::Scan`] to completion with every column and each row's key (UPDATE and
/// DELETE need both).
pub fn scan(node: &Node, storage: &mut dyn Storage) -> Result<Vec<KeyedRow>> {
    let mut out = Vec::new();
    scan_each(node, storage, |r| out.push(r))?;
    Ok(out)
}

/// The keys of the rows a DELETE's scan `node` selects: a `DELETE` of many rows holds their
/// keys, not their rows, until it writes. (Each row is still read whole: the storage hands out
/// a row's key only with all its columns.)
pub fn scan_keys(node: &Node, storage: &mut dyn Storage) -> Result<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    scan_each(node, storage, |r| out.push(r.key))?;
    Ok(out)
}

/// Hands `keep` each row (every column, with its key) the scan `node` selects.
fn scan_each(node: &Node, storage: &mut dyn Storage, mut keep: impl FnMut(KeyedRow)) -> Result<()> {
    let Node::Scan {
        table,
        access,
        filter,
        ..
    } = node
    else {
        return Err(crate::Error::Sql("internal: not a scan".into()));
    };
    read(table, access, Direction::Forward, storage, None, &mut |r| {
        if filter
            .as_ref()
            .map_or(Ok(true), |f| eval_predicate(f, &r.row))?
        {
            keep(r);
        }
        Ok(true)
    })?;
    Ok(())
}

/// Feeds `sink` the rows `access` finds in `table`, in the access path's order or (`dir`) its
/// reverse.
pub fn read(
    table: &TableInfo,
    access: &Access,
    dir: Direction,
    storage: &mut dyn Storage,
    columns: Columns<'_>,
    sink: &mut RowSink<'_>,
) -> Result<bool> {
    #[cfg(test)]
    let sink = &mut |r| {
        ROWS_READ.with(|n| n.set(n.get() + 1));
        sink(r)
    };
    match access {
        Access::Full => storage.scan(
            table,
            Bound::Unbounded,
            Bound::Unbounded,
            dir,
            columns,
            sink,
        ),
        Access::KeyLookup(keys) => {
            for k in in_order(keys, dir) {
                if let Some(r) = storage.get(table, k, columns)? {
                    if !sink(r)? {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        }
        Access::KeyRange(lo, hi) => storage.scan(
            table,
            lo.as_ref().map(Vec::as_slice),
            hi.as_ref().map(Vec::as_slice),
            dir,
            columns,
            sink,
        ),
        Access::Index { index, lookup } => {
            storage.index_scan(table, index, lookup, dir, columns, sink)
        }
    }
}

/// The items in their order, or backwards.
fn in_order<T>(items: &[T], dir: Direction) -> impl Iterator<Item = &T> {
    let last = items.len().saturating_sub(1);
    (0..items.len()).filter_map(move |i| match dir {
        Direction::Forward => items.get(i),
        Direction::Reverse => items.get(last - i),
    })
}

#[cfg(test)]
thread_local! {
    /// Rows the scans on this thread received from the storage (a test hook: a `LIMIT` over
    /// a scan in ORDER BY order stops it early).
    pub static ROWS_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}
