//! Name resolution: which input column a name refers to.
//!
//! A [`Scope`] lists the columns of a plan node's input row, each with the name of the table
//! (or alias) it came from. `name` resolves when exactly one column has that name (otherwise:
//! unknown or ambiguous column); `t.name` resolves within table `t`; the remaining parts of a
//! dotted path are nested document fields (`u.address.city`, `address.city`). Parameters are
//! bound here too, by value ([`Params::Values`]), or left as placeholders
//! ([`Params::Deferred`]) when a reusable plan is built (see [`super::prepared`]).

use crate::error::{Error, Result};
use crate::sql::ast::Expr;
use crate::sql::eval::without_nan;
use crate::value::Value;

/// One input column.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeColumn {
    /// Table or alias it belongs to.
    pub table: Option<String>,
    /// Column name.
    pub name: String,
}

impl ScopeColumn {
    /// `table.name` (or `name`).
    pub fn label(&self) -> String {
        // Built by hand: `format!` costs more than the rest of a point query's name
        // resolution.
        match &self.table {
            Some(t) => {
                let mut label = String::with_capacity(t.len() + 1 + self.name.len());
                label.push_str(t);
                label.push('.');
                label.push_str(&self.name);
                label
            }
            None => self.name.clone(),
        }
    }
}

/// The columns visible to an expression.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    /// Columns in input-row order.
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    /// Whether any column belongs to `table`.
    pub fn has_table(&self, table: &str) -> bool {
        self.columns.iter().any(|c| {
            c.table
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(table))
        })
    }

    fn find(&self, table: Option<&str>, name: &str) -> Result<Option<usize>> {
        let matches = |c: &ScopeColumn| {
            c.name.eq_ignore_ascii_case(name)
                && table.is_none_or(|t| {
                    c.table
                        .as_deref()
                        .is_some_and(|ct| ct.eq_ignore_ascii_case(t))
                })
        };
        let mut hits = self.columns.iter().enumerate().filter(|(_, c)| matches(c));
        match (hits.next(), hits.next()) {
            (None, _) => Ok(None),
            (Some((i, _)), None) => Ok(Some(i)),
            (Some(_), Some(_)) => Err(Error::Sql(format!(
                "ambiguous column {}; qualify it with a table name",
                match table {
                    Some(t) => format!("{t}.{name}"),
                    None => name.to_string(),
                }
            ))),
        }
    }

    /// Resolves a dotted name path to a column (plus nested fields).
    pub fn resolve_path(&self, path: &[String]) -> Result<Expr> {
        let column = |i: usize| Expr::Column {
            index: i,
            label: self
                .columns
                .get(i)
                .map(ScopeColumn::label)
                .unwrap_or_default(),
        };
        let with_fields = |e: Expr, rest: &[String]| {
            if rest.is_empty() {
                e
            } else {
                Expr::Field(Box::new(e), rest.to_vec())
            }
        };
        let unknown = || Error::Sql(format!("unknown column {}", path.join(".")));
        match path {
            [] => Err(unknown()),
            [name] => self.find(None, name)?.map(column).ok_or_else(unknown),
            [first, second, rest @ ..] => {
                if self.has_table(first) {
                    return match self.find(Some(first), second)? {
                        Some(i) => Ok(with_fields(column(i), rest)),
                        None => Err(Error::Sql(format!("unknown column {first}.{second}"))),
                    };
                }
                match self.find(None, first)? {
                    Some(i) => Ok(with_fields(column(i), &path[1..])),
                    None => Err(unknown()),
                }
            }
        }
    }

    /// Resolves every name in `expr` and binds parameters.
    pub fn resolve(&self, expr: Expr, params: Params<'_>) -> Result<Expr> {
        expr.transform(&mut |e| match e {
            Expr::Name(path) => self.resolve_path(&path),
            Expr::Param(n) => bind(n, params),
            other => Ok(other),
        })
    }
}

/// How the planner treats parameters.
#[derive(Clone, Copy, Debug)]
pub enum Params<'a> {
    /// Bound by value while names are resolved (the access-path choice sees constants).
    Values(&'a [Value]),
    /// Left as [`Expr::Param`] placeholders, bound later by [`super::prepared::Prepared::bind`].
    Deferred,
}

/// The value of parameter `n` (or the placeholder itself when binding is deferred).
pub fn bind(n: usize, params: Params<'_>) -> Result<Expr> {
    let params = match params {
        Params::Values(values) => values,
        Params::Deferred => return Ok(Expr::Param(n)),
    };
    value_of(n, params).map(Expr::Literal)
}

/// The value of parameter `n` (in its [canonical](Value::canonical) form, a NaN as NULL: see
/// [`without_nan`]), or an error naming it.
pub fn value_of(n: usize, params: &[Value]) -> Result<Value> {
    params
        .get(n)
        .cloned()
        .map(|v| without_nan(v.canonical()))
        .ok_or_else(|| {
            Error::Sql(format!(
                "missing parameter ${}: {} given",
                n + 1,
                params.len()
            ))
        })
}

/// Shifts every column reference by `-offset` (re-basing onto a sub-row).
pub fn rebase(expr: Expr, offset: usize) -> Expr {
    let out = expr.transform(&mut |e| {
        Ok(match e {
            Expr::Column { index, label } => Expr::Column {
                index: index.saturating_sub(offset),
                label,
            },
            other => other,
        })
    });
    // The closure never fails.
    out.unwrap_or(Expr::Literal(Value::Null))
}
