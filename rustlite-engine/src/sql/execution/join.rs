//! Joins: INNER, LEFT, RIGHT, FULL and CROSS, by hash or by nested loop.
//!
//! Both algorithms produce the same rows: every matching pair as `left ++ right`, then for
//! LEFT/FULL each unmatched left row padded with NULLs on the right, and for RIGHT/FULL each
//! unmatched right row padded on the left. The hash join builds on the right input and probes
//! with the left one as it streams; a key containing NULL matches nothing (`NULL = NULL` is
//! not true). A left key value that `=` cannot compare with a right one of the same key column
//! (TEXT with INTEGER) is the type-mismatch error the nested loop's `=` raises, not a silent
//! non-match. With several key columns the check is per column, for every probe row, as
//! PostgreSQL refuses such a join outright; the nested loop raises it only for the pairs whose
//! earlier conditions held (`AND` stops at the first false one).

use super::needs::Needs;
use super::Sink;
use crate::error::{Error, Result};
use crate::sql::ast::{Expr, JoinKind};
use crate::sql::eval::{eval_predicate, group_key, operand};
use crate::sql::planner::plan::Node;
use crate::sql::storage::{Row, Storage};
use crate::value::Value;
use std::collections::HashMap;

/// Streams a [`Node::HashJoin`] or [`Node::NestedLoopJoin`] into `sink`: the right input is
/// collected (and hashed), the left input is probed row by row as it is produced.
pub fn stream(
    node: &Node,
    storage: &mut dyn Storage,
    needs: &Needs,
    sink: &mut Sink<'_>,
) -> Result<bool> {
    match node {
        Node::HashJoin {
            left,
            right,
            kind,
            left_keys,
            right_keys,
            residual,
            left_width,
            right_width,
        } => {
            let (lneeds, rneeds) =
                needs.split_join(*left_width, left_keys, right_keys, residual.as_ref());
            let r = collect(right, storage, &rneeds)?;
            let mut table: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
            let mut kinds = KeyKinds::new(right_keys.len());
            let mut k = Vec::new();
            for (i, row) in r.iter().enumerate() {
                if key(right_keys, row, &mut k, |col, v| {
                    kinds.note(col, v);
                    Ok(())
                })? {
                    table.entry(k.clone()).or_default().push(i);
                }
            }
            let shape = Shape {
                kind: *kind,
                condition: residual.as_ref(),
                left_width: *left_width,
                right_width: *right_width,
            };
            let mut right_matched = vec![false; r.len()];
            let done = super::stream(left, storage, &lneeds, &mut |lrow| {
                let candidates = if key(left_keys, &lrow, &mut k, |col, v| kinds.check(col, v))? {
                    table.get(k.as_slice()).map_or(&[][..], Vec::as_slice)
                } else {
                    &[]
                };
                join_row(lrow, candidates, &r, &shape, &mut right_matched, sink)
            })?;
            Ok(done && pad_right_unmatched(sink, &shape, &r, &right_matched)?)
        }
        Node::NestedLoopJoin {
            left,
            right,
            kind,
            predicate,
            left_width,
            right_width,
        } => {
            let (lneeds, rneeds) = needs.split_join(*left_width, &[], &[], predicate.as_ref());
            let r = collect(right, storage, &rneeds)?;
            let all: Vec<usize> = (0..r.len()).collect();
            let shape = Shape {
                kind: *kind,
                condition: predicate.as_ref(),
                left_width: *left_width,
                right_width: *right_width,
            };
            let mut right_matched = vec![false; r.len()];
            let done = super::stream(left, storage, &lneeds, &mut |lrow| {
                join_row(lrow, &all, &r, &shape, &mut right_matched, sink)
            })?;
            Ok(done && pad_right_unmatched(sink, &shape, &r, &right_matched)?)
        }
        other => super::stream(other, storage, needs, sink),
    }
}

/// The rows of `node`, computing the columns in `needs`.
fn collect(node: &Node, storage: &mut dyn Storage, needs: &Needs) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    super::stream(node, storage, needs, &mut |row| {
        out.push(row);
        Ok(true)
    })?;
    Ok(out)
}

/// What a join produces, whatever finds the candidate pairs.
struct Shape<'a> {
    kind: JoinKind,
    condition: Option<&'a Expr>,
    left_width: usize,
    right_width: usize,
}

/// Joins one left row with those of its `candidates` (right-row positions) for which the
/// condition holds, or pads it when nothing matched and the join kind keeps it. Without a
/// condition every candidate matches, so the left row's values move into the last joined row
/// instead of being cloned.
fn join_row(
    lrow: Row,
    candidates: &[usize],
    r: &[Row],
    shape: &Shape<'_>,
    right_matched: &mut [bool],
    sink: &mut Sink<'_>,
) -> Result<bool> {
    let mut lrow = lrow;
    let mut matched = false;
    for (j, &i) in candidates.iter().enumerate() {
        let Some(rrow) = r.get(i) else { continue };
        let joined = if shape.condition.is_none() && j + 1 == candidates.len() {
            let mut row = std::mem::take(&mut lrow);
            row.extend_from_slice(rrow);
            row
        } else {
            concat(&lrow, rrow)
        };
        if shape
            .condition
            .map_or(Ok(true), |p| eval_predicate(p, &joined))?
        {
            matched = true;
            if let Some(m) = right_matched.get_mut(i) {
                *m = true;
            }
            if !sink(joined)? {
                return Ok(false);
            }
        }
    }
    if !matched && matches!(shape.kind, JoinKind::Left | JoinKind::Full) {
        lrow.resize(lrow.len() + shape.right_width, Value::Null);
        return sink(lrow);
    }
    Ok(true)
}

/// For RIGHT and FULL joins, each right row no left row matched, padded on the left.
fn pad_right_unmatched(
    sink: &mut Sink<'_>,
    shape: &Shape<'_>,
    right: &[Row],
    matched: &[bool],
) -> Result<bool> {
    if matches!(shape.kind, JoinKind::Right | JoinKind::Full) {
        for (row, m) in right.iter().zip(matched) {
            if !m && !sink(concat(&vec![Value::Null; shape.left_width], row))? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn concat(l: &[Value], r: &[Value]) -> Row {
    let mut row = Vec::with_capacity(l.len() + r.len());
    row.extend_from_slice(l);
    row.extend_from_slice(r);
    row
}

/// Writes the hash key of a row into `out`, passing each key value to `each` with its column;
/// false when a key value is NULL (it matches nothing).
fn key(
    exprs: &[Expr],
    row: &[Value],
    out: &mut Vec<u8>,
    mut each: impl FnMut(usize, &Value) -> Result<()>,
) -> Result<bool> {
    out.clear();
    for (col, e) in exprs.iter().enumerate() {
        let v = operand(e, row)?;
        if v.is_null() {
            return Ok(false);
        }
        each(col, &v)?;
        group_key(&v, out);
    }
    Ok(true)
}

/// The kinds of value `=` compares with each other (numbers with numbers, text with text, …),
/// as a bit each.
fn kind_bit(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => 1,
        Value::Text(_) => 2,
        Value::Bool(_) => 4,
        Value::Bytes(_) => 8,
        Value::Array(_) => 16,
        Value::Map(_) => 32,
    }
}

/// Per key column, the kinds of value the build side holds (with a type name for the error).
struct KeyKinds(Vec<Vec<(u8, &'static str)>>);

impl KeyKinds {
    fn new(columns: usize) -> Self {
        KeyKinds(vec![Vec::new(); columns])
    }

    /// Notes a build-side value of key column `col`.
    fn note(&mut self, col: usize, v: &Value) {
        let bit = kind_bit(v);
        if let Some(kinds) = self.0.get_mut(col) {
            if !kinds.iter().any(|&(b, _)| b == bit) {
                kinds.push((bit, v.type_name()));
            }
        }
    }

    /// A probe-side value of key column `col`: an error when some build-side value of that
    /// column is of a kind `=` cannot compare it with (the nested loop's error).
    fn check(&self, col: usize, v: &Value) -> Result<()> {
        let bit = kind_bit(v);
        match self
            .0
            .get(col)
            .and_then(|k| k.iter().find(|&&(b, _)| b != bit))
        {
            Some(&(_, other)) => Err(Error::Sql(format!(
                "type mismatch: cannot compare {} with {other}",
                v.type_name()
            ))),
            None => Ok(()),
        }
    }
}
