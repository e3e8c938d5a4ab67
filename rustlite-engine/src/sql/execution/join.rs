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
            let empty = Vec::new();
            let mut out = Vec::new();
            let mut right_matched = vec![false; r.len()];
            for lrow in &l {
                let candidates = match key(left_keys, lrow)? {
                    Some(k) => table.get(&k).unwrap_or(&empty),
                    None => &empty,
                };
                let mut matched = false;
                for &i in candidates {
                    let Some(rrow) = r.get(i) else { continue };
                    let joined = concat(lrow, rrow);
                    if residual
                        .as_ref()
                        .map_or(Ok(true), |p| eval_predicate(p, &joined))?
                    {
                        matched = true;
                        if let Some(m) = right_matched.get_mut(i) {
                            *m = true;
                        }
                        out.push(joined);
                    }
                }
                if !matched && matches!(kind, JoinKind::Left | JoinKind::Full) {
                    out.push(concat(lrow, &vec![Value::Null; *right_width]));
                }
            }
            pad_right_unmatched(&mut out, *kind, &r, &right_matched, *left_width);
            Ok(out)
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
            let mut out = Vec::new();
            let mut right_matched = vec![false; r.len()];
            for lrow in &l {
                let mut matched = false;
                for (i, rrow) in r.iter().enumerate() {
                    let joined = concat(lrow, rrow);
                    if predicate
                        .as_ref()
                        .map_or(Ok(true), |p| eval_predicate(p, &joined))?
                    {
                        matched = true;
                        if let Some(m) = right_matched.get_mut(i) {
                            *m = true;
                        }
                        out.push(joined);
                    }
                }
                if !matched && matches!(kind, JoinKind::Left | JoinKind::Full) {
                    out.push(concat(lrow, &vec![Value::Null; *right_width]));
                }
            }
            pad_right_unmatched(&mut out, *kind, &r, &right_matched, *left_width);
            Ok(out)
        }
        other => super::run(other, storage),
    }
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
