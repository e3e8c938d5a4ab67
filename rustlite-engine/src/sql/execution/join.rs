//! Joins: INNER, LEFT, RIGHT, FULL and CROSS, by hash or by nested loop.
//!
//! Both algorithms produce the same rows: every matching pair as `left ++ right`, then for
//! LEFT/FULL each unmatched left row padded with NULLs on the right, and for RIGHT/FULL each
//! unmatched right row padded on the left. The hash join builds on the right input; a key
//! containing NULL matches nothing (`NULL = NULL` is not true).

use crate::error::Result;
use crate::sql::ast::{Expr, JoinKind};
use crate::sql::eval::{eval, eval_predicate, group_key};
use crate::sql::planner::plan::Node;
use crate::sql::storage::{Row, Storage};
use crate::value::Value;
use std::collections::HashMap;

/// Runs a [`Node::HashJoin`] or [`Node::NestedLoopJoin`].
pub fn run(node: &Node, storage: &mut dyn Storage) -> Result<Vec<Row>> {
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
            let l = super::run(left, storage)?;
            let r = super::run(right, storage)?;
            let mut table: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
            for (i, row) in r.iter().enumerate() {
                if let Some(k) = key(right_keys, row)? {
                    table.entry(k).or_default().push(i);
                }
            }
            let shape = Shape {
                kind: *kind,
                condition: residual.as_ref(),
                left_width: *left_width,
                right_width: *right_width,
            };
            join_rows(&l, &r, &shape, |lrow| {
                Ok(match key(left_keys, lrow)? {
                    Some(k) => table.get(&k).cloned().unwrap_or_default(),
                    None => vec![],
                })
            })
        }
        Node::NestedLoopJoin {
            left,
            right,
            kind,
            predicate,
            left_width,
            right_width,
        } => {
            let l = super::run(left, storage)?;
            let r = super::run(right, storage)?;
            let all: Vec<usize> = (0..r.len()).collect();
            let shape = Shape {
                kind: *kind,
                condition: predicate.as_ref(),
                left_width: *left_width,
                right_width: *right_width,
            };
            join_rows(&l, &r, &shape, |_| Ok(all.clone()))
        }
        other => super::run(other, storage),
    }
}

/// What a join produces, whatever finds the candidate pairs.
struct Shape<'a> {
    kind: JoinKind,
    condition: Option<&'a Expr>,
    left_width: usize,
    right_width: usize,
}

/// Joins each left row with those of its `candidates` (right-row positions) for which the
/// condition holds, then pads unmatched rows as the join kind requires.
fn join_rows(
    l: &[Row],
    r: &[Row],
    shape: &Shape<'_>,
    mut candidates: impl FnMut(&Row) -> Result<Vec<usize>>,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    let mut right_matched = vec![false; r.len()];
    for lrow in l {
        let mut matched = false;
        for i in candidates(lrow)? {
            let Some(rrow) = r.get(i) else { continue };
            let joined = concat(lrow, rrow);
            if shape
                .condition
                .map_or(Ok(true), |p| eval_predicate(p, &joined))?
            {
                matched = true;
                if let Some(m) = right_matched.get_mut(i) {
                    *m = true;
                }
                out.push(joined);
            }
        }
        if !matched && matches!(shape.kind, JoinKind::Left | JoinKind::Full) {
            out.push(concat(lrow, &vec![Value::Null; shape.right_width]));
        }
    }
    pad_right_unmatched(&mut out, shape.kind, r, &right_matched, shape.left_width);
    Ok(out)
}

fn pad_right_unmatched(
    out: &mut Vec<Row>,
    kind: JoinKind,
    right: &[Row],
    matched: &[bool],
    left_width: usize,
) {
    if matches!(kind, JoinKind::Right | JoinKind::Full) {
        for (row, m) in right.iter().zip(matched) {
            if !m {
                out.push(concat(&vec![Value::Null; left_width], row));
            }
        }
    }
}

fn concat(l: &[Value], r: &[Value]) -> Row {
    let mut row = Vec::with_capacity(l.len() + r.len());
    row.extend_from_slice(l);
    row.extend_from_slice(r);
    row
}

/// The hash key of a row (None when a key value is NULL: it matches nothing).
fn key(exprs: &[Expr], row: &[Value]) -> Result<Option<Vec<u8>>> {
    let mut k = Vec::new();
    for e in exprs {
        let v = eval(e, row)?;
        if v.is_null() {
            return Ok(None);
        }
        group_key(&v, &mut k);
    }
    Ok(Some(k))
}
