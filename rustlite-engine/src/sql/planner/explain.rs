//! EXPLAIN: renders plans and expressions as text.
//!
//! One node per line, children indented under `└─`/`├─`, access paths named as in the
//! planner's docs: `Scan t`, `KeyLookup t (id) = 1`, `KeyRange t [10, 20)`,
//! `IndexScan t.col = 'x' via index_name`, with ` (reverse)` after a scan read backwards (an
//! `ORDER BY … DESC` answered by the access path). A scan's residual filter prints as a
//! `Filter` line above it.

use super::plan::{Access, AggregateCall, Node};
use crate::sql::ast::{Expr, UnaryOp};
use crate::sql::eval::{float_text, type_name};
use crate::sql::storage::{IndexLookup, TableInfo};
use crate::value::Value;
use std::fmt::{self, Write as _};
use std::ops::Bound;

/// A literal as SQL text.
pub fn literal(v: &Value) -> String {
    match v {
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Float(f) => float_text(*f),
        other => other.to_string(),
    }
}

fn needs_parens(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Binary(..) | Expr::Between { .. } | Expr::Like { .. } | Expr::InList { .. }
    )
}

fn operand(f: &mut fmt::Formatter<'_>, e: &Expr) -> fmt::Result {
    if needs_parens(e) {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn list(items: &[Expr]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Expr {
    #[recursive::recursive]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(v) => f.write_str(&literal(v)),
            Expr::Param(n) => write!(f, "${}", n + 1),
            Expr::Name(p) => f.write_str(&p.join(".")),
            Expr::Column { label, .. } => f.write_str(label),
            Expr::Field(e, path) => {
                operand(f, e)?;
                write!(f, ".{}", path.join("."))
            }
            Expr::Unary(op, e) => {
                f.write_str(match op {
                    UnaryOp::Not => "NOT ",
                    UnaryOp::Neg => "-",
                    UnaryOp::Plus => "+",
                })?;
                operand(f, e)
            }
            Expr::Binary(op, l, r) => {
                operand(f, l)?;
                write!(f, " {} ", op.symbol())?;
                operand(f, r)
            }
            Expr::IsNull { expr, negated } => {
                operand(f, expr)?;
                f.write_str(if *negated { " IS NOT NULL" } else { " IS NULL" })
            }
            Expr::InList {
                expr,
                list: items,
                negated,
                ..
            } => {
                operand(f, expr)?;
                let not = if *negated { " NOT" } else { "" };
                write!(f, "{not} IN ({})", list(items))
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                operand(f, expr)?;
                let not = if *negated { " NOT" } else { "" };
                write!(f, "{not} BETWEEN ")?;
                operand(f, low)?;
                f.write_str(" AND ")?;
                operand(f, high)
            }
            Expr::Like {
                expr,
                pattern,
                negated,
            } => {
                operand(f, expr)?;
                let not = if *negated { " NOT" } else { "" };
                write!(f, "{not} LIKE ")?;
                operand(f, pattern)
            }
            Expr::Case {
                operand: op,
                whens,
                otherwise,
            } => {
                f.write_str("CASE")?;
                if let Some(o) = op {
                    write!(f, " {o}")?;
                }
                for (w, t) in whens {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(o) = otherwise {
                    write!(f, " ELSE {o}")?;
                }
                f.write_str(" END")
            }
            Expr::Cast(e, ty) => write!(f, "CAST({e} AS {})", type_name(*ty)),
            Expr::Function(func, args) => write!(f, "{}({})", func.name(), list(args)),
            Expr::Aggregate {
                func,
                arg,
                distinct,
            } => {
                let d = if *distinct { "DISTINCT " } else { "" };
                match arg {
                    Some(a) => write!(f, "{}({d}{a})", func.name()),
                    None => write!(f, "{}(*)", func.name()),
                }
            }
        }
    }
}

impl fmt::Display for AggregateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = if self.distinct { "DISTINCT " } else { "" };
        match &self.arg {
            Some(a) => write!(f, "{}({d}{a})", self.func.name()),
            None => write!(f, "{}(*)", self.func.name()),
        }
    }
}

fn key(values: &[Value]) -> String {
    match values {
        [one] => literal(one),
        many => format!(
            "({})",
            many.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn bounds<T>(lower: &Bound<T>, upper: &Bound<T>, show: impl Fn(&T) -> String) -> String {
    let lo = match lower {
        Bound::Included(v) => format!("[{}", show(v)),
        Bound::Excluded(v) => format!("({}", show(v)),
        Bound::Unbounded => "(-inf".to_string(),
    };
    let hi = match upper {
        Bound::Included(v) => format!("{}]", show(v)),
        Bound::Excluded(v) => format!("{})", show(v)),
        Bound::Unbounded => "+inf)".to_string(),
    };
    format!("{lo}, {hi}")
}

impl Node {
    /// A scan's access path, as a line.
    fn access_line(table: &TableInfo, alias: &str, access: &Access) -> String {
        let name = if alias.eq_ignore_ascii_case(&table.name) {
            table.name.clone()
        } else {
            format!("{} AS {alias}", table.name)
        };
        let pk: Vec<&str> = table
            .primary_key
            .iter()
            .filter_map(|&i| table.columns.get(i).map(|c| c.name.as_str()))
            .collect();
        match access {
            Access::Full => format!("Scan {name}"),
            Access::KeyLookup(keys) => match keys.as_slice() {
                [k] => format!("KeyLookup {name} ({}) = {}", pk.join(", "), key(k)),
                ks => format!(
                    "KeyLookup {name} ({}) IN ({})",
                    pk.join(", "),
                    ks.iter().map(|k| key(k)).collect::<Vec<_>>().join(", ")
                ),
            },
            Access::KeyRange(lo, hi) => {
                format!("KeyRange {name} {}", bounds(lo, hi, |k| key(k)))
            }
            Access::Index { index, lookup } => {
                let col = table
                    .columns
                    .get(index.column)
                    .map_or("?", |c| c.name.as_str());
                let what = match lookup {
                    IndexLookup::Eq(v) => format!("= {}", literal(v)),
                    IndexLookup::Range(lo, hi) => bounds(lo, hi, literal),
                };
                format!("IndexScan {name}.{col} {what} via {}", index.name)
            }
        }
    }

    /// The node's own line (without children).
    fn line(&self) -> String {
        match self {
            Node::Scan {
                table,
                alias,
                access,
                reverse,
                ..
            } => {
                let line = Self::access_line(table, alias, access);
                if *reverse {
                    format!("{line} (reverse)")
                } else {
                    line
                }
            }
            Node::Values { rows } => format!("Values ({} row(s))", rows.len()),
            Node::Filter { predicate, .. } => format!("Filter {predicate}"),
            Node::Project { exprs, .. } => format!("Project {}", list(exprs)),
            Node::HashJoin {
                kind,
                left_keys,
                right_keys,
                residual,
                ..
            } => {
                let keys: Vec<String> = left_keys
                    .iter()
                    .zip(right_keys)
                    .map(|(l, r)| format!("{l} = {r}"))
                    .collect();
                let mut s = format!("HashJoin {} on {}", kind.name(), keys.join(" AND "));
                if let Some(r) = residual {
                    let _ = write!(s, " filter {r}");
                }
                s
            }
            Node::NestedLoopJoin {
                kind, predicate, ..
            } => match predicate {
                Some(p) => format!("NestedLoopJoin {} on {p}", kind.name()),
                None => format!("NestedLoopJoin {}", kind.name()),
            },
            Node::Aggregate {
                group_by,
                aggregates,
                ..
            } => {
                let aggs: Vec<String> = aggregates.iter().map(ToString::to_string).collect();
                if group_by.is_empty() {
                    format!("Aggregate {}", aggs.join(", "))
                } else {
                    format!("Aggregate group by {}: {}", list(group_by), aggs.join(", "))
                }
            }
            Node::Distinct { .. } => "Distinct".to_string(),
            Node::Sort { keys, .. } => {
                let ks: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        let dir = if k.desc { " DESC" } else { "" };
                        let nulls = if k.nulls_first == k.desc {
                            if k.nulls_first {
                                " NULLS FIRST"
                            } else {
                                " NULLS LAST"
                            }
                        } else {
                            ""
                        };
                        format!("{}{dir}{nulls}", k.expr)
                    })
                    .collect();
                format!("Sort {}", ks.join(", "))
            }
            Node::Limit { limit, offset, .. } => match (limit, offset) {
                (Some(l), 0) => format!("Limit {l}"),
                (Some(l), o) => format!("Limit {l} offset {o}"),
                (None, o) => format!("Offset {o}"),
            },
        }
    }

    /// The node's children, in display order.
    fn display_children(&self) -> Vec<&Node> {
        match self {
            Node::Scan { .. } | Node::Values { .. } => vec![],
            Node::Filter { source, .. }
            | Node::Project { source, .. }
            | Node::Aggregate { source, .. }
            | Node::Distinct { source }
            | Node::Sort { source, .. }
            | Node::Limit { source, .. } => vec![source],
            Node::HashJoin { left, right, .. } | Node::NestedLoopJoin { left, right, .. } => {
                vec![left, right]
            }
        }
    }

    fn render(&self, out: &mut String, prefix: &str, child_prefix: &str) {
        // A scan's residual filter shows as its own line above the access path.
        let (line, children_prefix) = if let Node::Scan {
            filter: Some(f), ..
        } = self
        {
            let _ = writeln!(out, "{prefix}Filter {f}");
            (
                format!("{child_prefix}└─ {}", self.line()),
                format!("{child_prefix}   "),
            )
        } else {
            (format!("{prefix}{}", self.line()), child_prefix.to_string())
        };
        let _ = writeln!(out, "{line}");
        let children = self.display_children();
        let n = children.len();
        for (i, c) in children.into_iter().enumerate() {
            if i + 1 == n {
                c.render(
                    out,
                    &format!("{children_prefix}└─ "),
                    &format!("{children_prefix}   "),
                );
            } else {
                c.render(
                    out,
                    &format!("{children_prefix}├─ "),
                    &format!("{children_prefix}│  "),
                );
            }
        }
    }

    /// The plan as an indented tree, one node per line.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        self.render(&mut out, "", "");
        out
    }
}
