//! Access-path selection: a pure function from a table's description and the conjuncts that
//! filter it to the cheapest [`Access`] and the conjuncts still to check per row.
//!
//! Preference, best first:
//!
//! | predicate shape                                   | access                     |
//! |---------------------------------------------------|----------------------------|
//! | `pk = c` on every key column                      | `KeyLookup`                |
//! | `col = c` on a unique index                       | `IndexScan col = c`        |
//! | `pk IN (c1, c2, …)` (single-column key)           | `KeyLookup` of each        |
//! | `col = c` on any index (B-Tree or Hash)           | `IndexScan col = c`        |
//! | `pk` prefix equalities and/or a range on the next | `KeyRange`                 |
//! | `col <, <=, >, >=, BETWEEN` on a B-Tree index     | `IndexScan col [lo, hi)`   |
//! | anything else                                     | full `Scan`                |
//!
//! `c` is any expression without column references (parameters are already bound), coerced to
//! the column's type; a constant that cannot be coerced exactly (`int_col = 1.5`) leaves the
//! predicate to the residual filter. Equality conjuncts consumed by a lookup are dropped. Range
//! conjuncts stay in the filter as well, except those an index range provably encodes
//! exactly ([`exact_index_range`]): then the filter would only re-check every row it yields.

use super::plan::Access;
use crate::sql::ast::{BinaryOp, ColumnType, Expr};
use crate::sql::eval::{eval, integral};
use crate::sql::storage::{IndexLookup, TableInfo};
use crate::value::Value;
use std::ops::Bound;

/// A conjunct recognised as a constraint on one column.
#[derive(Debug)]
enum Constraint {
    Eq(Value),
    In(Vec<Value>),
    Lower(Bound<Value>),
    Upper(Bound<Value>),
    Between(Value, Value),
}

/// Chooses the access path for `table` given conjuncts over its columns.
pub fn choose_access(table: &TableInfo, conjuncts: Vec<Expr>) -> (Access, Vec<Expr>) {
    let analysed: Vec<Option<(usize, Constraint)>> =
        conjuncts.iter().map(|c| analyse(table, c)).collect();
    let eq_on = |col: usize| {
        analysed.iter().enumerate().find_map(|(i, a)| match a {
            Some((c, Constraint::Eq(v))) if *c == col => Some((i, v.clone())),
            _ => None,
        })
    };
    let drop = |used: &[usize], conjuncts: Vec<Expr>| -> Vec<Expr> {
        conjuncts
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(_, c)| c)
            .collect()
    };

    // Equality prefix of the primary key.
    let mut prefix = Vec::new();
    let mut used = Vec::new();
    for &col in &table.primary_key {
        match eq_on(col) {
            Some((i, v)) => {
                prefix.push(v);
                used.push(i);
            }
            None => break,
        }
    }
    if !table.primary_key.is_empty() && prefix.len() == table.primary_key.len() {
        return (Access::KeyLookup(vec![prefix]), drop(&used, conjuncts));
    }
    // Unique index equality.
    for index in table.indexes.iter().filter(|i| i.unique) {
        if let Some((i, v)) = eq_on(index.column) {
            let access = Access::Index {
                index: index.clone(),
                lookup: IndexLookup::Eq(v),
            };
            return (access, drop(&[i], conjuncts));
        }
    }
    // IN list on a single-column key.
    if let [pk] = table.primary_key.as_slice() {
        let found = analysed.iter().enumerate().find_map(|(i, a)| match a {
            Some((c, Constraint::In(vs))) if c == pk => Some((i, vs.clone())),
            _ => None,
        });
        if let Some((i, mut values)) = found {
            values.sort_by(crate::sql::eval::sort_cmp);
            values.dedup();
            let keys = values.into_iter().map(|v| vec![v]).collect();
            return (Access::KeyLookup(keys), drop(&[i], conjuncts));
        }
    }
    // Any index equality.
    for index in &table.indexes {
        if let Some((i, v)) = eq_on(index.column) {
            let access = Access::Index {
                index: index.clone(),
                lookup: IndexLookup::Eq(v),
            };
            return (access, drop(&[i], conjuncts));
        }
    }
    // Key prefix and/or range on the next key column.
    if let Some(&next) = table.primary_key.get(prefix.len()) {
        let (lower, upper, _) = range_on(&analysed, next);
        if !prefix.is_empty() || lower.is_some() || upper.is_some() {
            let extend = |b: Option<Bound<Value>>| -> Bound<Vec<Value>> {
                let with = |v: Value| {
                    let mut k = prefix.clone();
                    k.push(v);
                    k
                };
                match b {
                    Some(Bound::Included(v)) => Bound::Included(with(v)),
                    Some(Bound::Excluded(v)) => Bound::Excluded(with(v)),
                    _ if prefix.is_empty() => Bound::Unbounded,
                    _ => Bound::Included(prefix.clone()),
                }
            };
            let access = Access::KeyRange(extend(lower), extend(upper));
            return (access, drop(&used, conjuncts));
        }
    }
    // B-Tree index range.
    for index in table.indexes.iter().filter(|i| !i.hash) {
        let (lower, upper, from) = range_on(&analysed, index.column);
        if lower.is_some() || upper.is_some() {
            let rest = if exact_index_range(table, index.column, &lower, &upper) {
                drop(&from, conjuncts)
            } else {
                conjuncts
            };
            let access = Access::Index {
                index: index.clone(),
                lookup: IndexLookup::Range(
                    lower.unwrap_or(Bound::Excluded(Value::Null)),
                    upper.unwrap_or(Bound::Unbounded),
                ),
            };
            return (access, rest);
        }
    }
    (Access::Full, conjuncts)
}

/// Whether an index range with these bounds on column `col` yields exactly the rows that
/// satisfy the conjuncts the bounds came from, so they need no re-check.
///
/// Both bounds must be present and the column `INTEGER` or `TEXT`: the bounds were coerced to
/// the column's type ([`coerce`]), so both keys carry its type tag (for integers, both `Int` or
/// both `UInt`) and every index entry
/// between them holds a value of that type (a value of another type, which a document written
/// outside SQL may hold, sorts under another tag, outside the range). Keys of integers and of
/// strings order as [`compare`](crate::sql::eval::compare) orders them (numerically, and by
/// bytes), so the range is the predicate. A one-sided range would also reach the entries of
/// other types, a `REAL` column has `-0.0` and NaN to think about: those keep their filter.
fn exact_index_range(
    table: &TableInfo,
    col: usize,
    lower: &Option<Bound<Value>>,
    upper: &Option<Bound<Value>>,
) -> bool {
    // The key tag both bounds carry: `Int` and `UInt` have tags of their own, with other types'
    // between them, so a range from one to the other is not exact.
    let tag = |b: &Option<Bound<Value>>, ty: ColumnType| match b {
        Some(Bound::Included(v) | Bound::Excluded(v)) => match (ty, v) {
            (ColumnType::Int, Value::Int(_)) => Some(0),
            (ColumnType::Int, Value::UInt(_)) => Some(1),
            (ColumnType::Text, Value::Text(_)) => Some(2),
            _ => None,
        },
        _ => None,
    };
    table.columns.get(col).is_some_and(|c| {
        let lower = tag(lower, c.ty);
        lower.is_some() && lower == tag(upper, c.ty)
    })
}

/// The first lower and upper bound constraining `col`, and the conjuncts whose every bound
/// is one of them (a BETWEEN whose lower bound lost to an earlier `>` is not).
fn range_on(
    analysed: &[Option<(usize, Constraint)>],
    col: usize,
) -> (Option<Bound<Value>>, Option<Bound<Value>>, Vec<usize>) {
    let mut lower = None;
    let mut upper = None;
    let mut from = Vec::new();
    for (i, a) in analysed.iter().enumerate() {
        let Some((c, constraint)) = a else { continue };
        if *c != col {
            continue;
        }
        match constraint {
            Constraint::Lower(b) if lower.is_none() => {
                lower = Some(b.clone());
                from.push(i);
            }
            Constraint::Upper(b) if upper.is_none() => {
                upper = Some(b.clone());
                from.push(i);
            }
            Constraint::Between(lo, hi) => {
                let both = lower.is_none() && upper.is_none();
                lower.get_or_insert_with(|| Bound::Included(lo.clone()));
                upper.get_or_insert_with(|| Bound::Included(hi.clone()));
                if both {
                    from.push(i);
                }
            }
            _ => {}
        }
    }
    (lower, upper, from)
}

/// Recognises `col op const`, `const op col`, `col BETWEEN c AND c`, `col IN (c, …)`.
fn analyse(table: &TableInfo, conjunct: &Expr) -> Option<(usize, Constraint)> {
    let column = |e: &Expr| match e {
        Expr::Column { index, .. } => Some(*index),
        _ => None,
    };
    let ty = |col: usize| table.columns.get(col).map(|c| c.ty);
    match conjunct {
        Expr::Binary(op, l, r) => {
            let (col, op, value) = match (column(l), column(r)) {
                (Some(c), None) => (c, *op, constant(r)?),
                (None, Some(c)) => (c, op.flip()?, constant(l)?),
                _ => return None,
            };
            let v = coerce(ty(col)?, value)?;
            let constraint = match op {
                BinaryOp::Eq => Constraint::Eq(v),
                BinaryOp::Gt => Constraint::Lower(Bound::Excluded(v)),
                BinaryOp::GtEq => Constraint::Lower(Bound::Included(v)),
                BinaryOp::Lt => Constraint::Upper(Bound::Excluded(v)),
                BinaryOp::LtEq => Constraint::Upper(Bound::Included(v)),
                _ => return None,
            };
            Some((col, constraint))
        }
        Expr::Between {
            expr,
            low,
            high,
            negated: false,
        } => {
            let col = column(expr)?;
            let t = ty(col)?;
            let lo = coerce(t, constant(low)?)?;
            let hi = coerce(t, constant(high)?)?;
            Some((col, Constraint::Between(lo, hi)))
        }
        Expr::InList {
            expr,
            list,
            negated: false,
            ..
        } => {
            let col = column(expr)?;
            let t = ty(col)?;
            let values = list
                .iter()
                .map(|e| constant(e).and_then(|v| coerce(t, v)))
                .collect::<Option<Vec<_>>>()?;
            Some((col, Constraint::In(values)))
        }
        _ => None,
    }
}

/// The access [`choose_access`] chooses for the single conjunct `column = value` when that is
/// a [`Access::KeyLookup`] (the table's key is that one column and `value` coerces to its
/// type exactly), without building the conjunct: the bound plan of `SELECT … WHERE id = ?`.
/// `None`: ask [`choose_access`].
pub fn key_lookup(table: &TableInfo, column: usize, value: Value) -> Option<Access> {
    key_value(table, column, value).map(|v| Access::KeyLookup(vec![vec![v]]))
}

/// The one key [`key_lookup`] would look up (its `Access::KeyLookup([[key]])`), unwrapped.
pub fn key_value(table: &TableInfo, column: usize, value: Value) -> Option<Value> {
    if table.primary_key.as_slice() != [column] {
        return None;
    }
    coerce(table.columns.get(column)?.ty, value)
}

/// The value of an expression that reads no column (None if it does, or fails).
fn constant(e: &Expr) -> Option<Value> {
    if e.any(&mut |x| {
        matches!(
            x,
            Expr::Column { .. } | Expr::Aggregate { .. } | Expr::Name(_)
        )
    }) {
        return None;
    }
    eval(e, &[]).ok()
}

/// `v` as a value of type `ty` whose key encoding equals that of the stored value, if exact.
fn coerce(ty: ColumnType, v: Value) -> Option<Value> {
    match (ty, v) {
        (_, Value::Null) => None,
        (ColumnType::Int, v @ (Value::Int(_) | Value::UInt(_))) => Some(v),
        (ColumnType::Int, Value::Float(f)) => integral(f),
        (ColumnType::Float, Value::Float(f)) if !f.is_nan() => Some(Value::Float(f)),
        // Only an integer the float holds exactly: a rounded key would find rows the (exact)
        // comparison rejects, and a rounded range bound would miss rows it accepts.
        (ColumnType::Float, v @ (Value::Int(_) | Value::UInt(_))) => {
            let f = v.as_f64()?;
            (integral(f).as_ref() == Some(&v)).then_some(Value::Float(f))
        }
        (ColumnType::Text, v @ Value::Text(_))
        | (ColumnType::Bytes, v @ Value::Bytes(_))
        | (ColumnType::Bool, v @ Value::Bool(_)) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::storage::{ColumnInfo, IndexInfo};

    /// `key_lookup` answers what `choose_access` answers for `column = value`, whenever it
    /// answers at all (and it does for an exact key value).
    #[test]
    fn key_lookup_agrees_with_choose_access() {
        let t = table();
        let values = [
            Value::Int(3),
            Value::Float(3.0),
            Value::Float(3.5),
            Value::Null,
            Value::Text("3".into()),
            Value::Bool(true),
        ];
        for col in 0..t.columns.len() {
            for v in &values {
                let conjunct = Expr::binary(
                    BinaryOp::Eq,
                    Expr::Column {
                        index: col,
                        label: "c".into(),
                    },
                    Expr::Literal(v.clone()),
                );
                let (chosen, rest) = choose_access(&t, vec![conjunct]);
                match key_lookup(&t, col, v.clone()) {
                    Some(access) => {
                        assert_eq!(access, chosen, "{col} {v:?}");
                        assert!(rest.is_empty());
                    }
                    None => assert!(
                        !(col == t.primary_key[0] && matches!(v, Value::Int(_))),
                        "an exact key value is looked up: {v:?}"
                    ),
                }
            }
        }
        assert_eq!(
            key_lookup(&t, t.primary_key[0], Value::Int(3)),
            Some(Access::KeyLookup(vec![vec![Value::Int(3)]]))
        );
    }

    fn table() -> TableInfo {
        let col = |name: &str, ty| ColumnInfo {
            name: name.into(),
            ty,
            nullable: true,
        };
        TableInfo {
            name: "users".into(),
            columns: vec![
                col("id", ColumnType::Int),
                col("email", ColumnType::Text),
                col("age", ColumnType::Int),
                col("city", ColumnType::Text),
            ],
            primary_key: vec![0],
            indexes: vec![
                IndexInfo {
                    name: "users_email".into(),
                    column: 1,
                    hash: false,
                    unique: true,
                },
                IndexInfo {
                    name: "users_age".into(),
                    column: 2,
                    hash: false,
                    unique: false,
                },
                IndexInfo {
                    name: "users_city".into(),
                    column: 3,
                    hash: true,
                    unique: false,
                },
            ],
        }
    }

    fn col(index: usize) -> Expr {
        Expr::Column {
            index,
            label: format!("c{index}"),
        }
    }

    fn lit(v: impl Into<Value>) -> Expr {
        Expr::Literal(v.into())
    }

    #[test]
    fn key_equality_is_a_lookup() {
        let (access, rest) = choose_access(
            &table(),
            vec![Expr::binary(BinaryOp::Eq, col(0), lit(Value::Int(7)))],
        );
        assert_eq!(access, Access::KeyLookup(vec![vec![Value::Int(7)]]));
        assert!(rest.is_empty());
    }

    #[test]
    fn flipped_range_and_float_coercion() {
        let (access, rest) = choose_access(
            &table(),
            vec![Expr::binary(BinaryOp::Lt, lit(Value::Float(10.0)), col(0))],
        );
        assert_eq!(
            access,
            Access::KeyRange(Bound::Excluded(vec![Value::Int(10)]), Bound::Unbounded)
        );
        assert_eq!(rest.len(), 1);
        let (access, _) = choose_access(
            &table(),
            vec![Expr::binary(BinaryOp::Eq, col(0), lit(Value::Float(1.5)))],
        );
        assert_eq!(access, Access::Full);
    }

    #[test]
    fn hash_index_serves_equality_only() {
        let eq = Expr::binary(BinaryOp::Eq, col(3), lit(Value::Text("Oslo".into())));
        let (access, _) = choose_access(&table(), vec![eq]);
        assert!(matches!(access, Access::Index { ref index, .. } if index.name == "users_city"));
        let gt = Expr::binary(BinaryOp::Gt, col(3), lit(Value::Text("Oslo".into())));
        assert_eq!(choose_access(&table(), vec![gt]).0, Access::Full);
    }

    #[test]
    fn unique_index_beats_range() {
        let (access, _) = choose_access(
            &table(),
            vec![
                Expr::binary(BinaryOp::Gt, col(0), lit(Value::Int(3))),
                Expr::binary(BinaryOp::Eq, col(1), lit(Value::Text("a@x".into()))),
            ],
        );
        assert!(matches!(access, Access::Index { ref index, .. } if index.name == "users_email"));
    }

    #[test]
    fn non_sargable_is_full_scan() {
        let or = Expr::binary(
            BinaryOp::Or,
            Expr::binary(BinaryOp::Eq, col(0), lit(Value::Int(1))),
            Expr::binary(BinaryOp::Eq, col(0), lit(Value::Int(2))),
        );
        assert_eq!(choose_access(&table(), vec![or]).0, Access::Full);
        let expr_col = Expr::binary(
            BinaryOp::Eq,
            Expr::binary(BinaryOp::Add, col(0), lit(Value::Int(1))),
            lit(Value::Int(2)),
        );
        assert_eq!(choose_access(&table(), vec![expr_col]).0, Access::Full);
    }

    #[test]
    fn exact_index_ranges_drop_their_conjuncts() {
        let between = |lo: Value, hi: Value| Expr::Between {
            expr: Box::new(col(2)),
            low: Box::new(lit(lo)),
            high: Box::new(lit(hi)),
            negated: false,
        };
        // Both bounds on an INTEGER column: the index range is the predicate.
        let (access, rest) = choose_access(&table(), vec![between(Value::Int(3), Value::Int(9))]);
        assert!(matches!(access, Access::Index { ref index, .. } if index.name == "users_age"));
        assert!(rest.is_empty());
        let (_, rest) = choose_access(
            &table(),
            vec![
                Expr::binary(BinaryOp::Gt, col(2), lit(Value::Float(3.0))),
                Expr::binary(BinaryOp::LtEq, col(2), lit(Value::Int(9))),
                Expr::binary(BinaryOp::Lt, col(2), lit(Value::Int(7))),
            ],
        );
        assert_eq!(
            rest.len(),
            1,
            "the second upper bound is not in the range: {rest:?}"
        );
        // One-sided: entries of other types could be in range; keep the filter.
        let gt = Expr::binary(BinaryOp::Gt, col(2), lit(Value::Int(3)));
        assert_eq!(choose_access(&table(), vec![gt]).1.len(), 1);
        // A BETWEEN whose lower bound lost to an earlier one still checks its own.
        let (_, rest) = choose_access(
            &table(),
            vec![
                Expr::binary(BinaryOp::GtEq, col(2), lit(Value::Int(1))),
                between(Value::Int(3), Value::Int(9)),
            ],
        );
        assert_eq!(rest.len(), 1);
    }
}
