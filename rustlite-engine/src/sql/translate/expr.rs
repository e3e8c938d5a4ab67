//! Expressions: `sqlparser::ast::Expr` → [`ast::Expr`](crate::sql::ast::Expr).
//!
//! Literals become [`Value`]s (integers beyond `i64::MIN..=u64::MAX` become floats; SQLite's
//! stop at `i64::MAX`);
//! `?` placeholders are numbered in order of appearance and `$n` maps to parameter `n - 1`.
//! Every other construct is refused by name.

use super::{object_name, unsupported, Translator, MAX_EXPR_DEPTH};
use crate::error::{Error, Result};
use crate::sql::ast::{AggregateFn, BinaryOp, ColumnType, Expr, ScalarFn, UnaryOp};
use crate::sql::eval::InSet;
use crate::value::Value;
use sqlparser::ast as sp;
use sqlparser::tokenizer::Location;

impl Translator {
    /// Translates an expression, bounding the recursion depth.
    #[recursive::recursive]
    pub(super) fn expr(&mut self, e: sp::Expr) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            drop_flat(e);
            return Err(Error::Sql(format!(
                "expression nested too deeply (limit {MAX_EXPR_DEPTH})"
            )));
        }
        let out = self.expr_inner(e);
        self.depth -= 1;
        out
    }

    fn boxed(&mut self, e: sp::Expr) -> Result<Box<Expr>> {
        self.expr(e).map(Box::new)
    }

    fn expr_inner(&mut self, e: sp::Expr) -> Result<Expr> {
        Ok(match e {
            sp::Expr::Identifier(id) => Expr::Name(vec![id.value]),
            sp::Expr::CompoundIdentifier(ids) => {
                Expr::Name(ids.into_iter().map(|i| i.value).collect())
            }
            sp::Expr::Value(v) => self.value(v.value, v.span.start)?,
            sp::Expr::Nested(e) => self.expr(*e)?,
            sp::Expr::IsNull(e) => Expr::IsNull {
                expr: self.boxed(*e)?,
                negated: false,
            },
            sp::Expr::IsNotNull(e) => Expr::IsNull {
                expr: self.boxed(*e)?,
                negated: true,
            },
            sp::Expr::In {
                expr,
                target: sp::InTarget::List(list),
                negated,
                global: false,
            } => Expr::InList {
                expr: self.boxed(*expr)?,
                list: list
                    .into_iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<_>>()?,
                negated,
                set: InSet::default(),
            },
            sp::Expr::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between {
                expr: self.boxed(*expr)?,
                low: self.boxed(*low)?,
                high: self.boxed(*high)?,
                negated,
            },
            sp::Expr::Like {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            } => {
                if any || escape_char.is_some() {
                    return Err(unsupported("LIKE ANY / ESCAPE"));
                }
                Expr::Like {
                    expr: self.boxed(*expr)?,
                    pattern: self.boxed(*pattern)?,
                    negated,
                }
            }
            sp::Expr::BinaryOp { left, op, right } => {
                let op = binary_op(&op)?;
                Expr::Binary(op, self.boxed(*left)?, self.boxed(*right)?)
            }
            sp::Expr::UnaryOp { op, expr } => {
                let op = match op {
                    sp::UnaryOperator::Not => UnaryOp::Not,
                    sp::UnaryOperator::Minus => UnaryOp::Neg,
                    sp::UnaryOperator::Plus => UnaryOp::Plus,
                    other => return Err(unsupported(&format!("operator {other}"))),
                };
                // Fold `-<number>` so that i64::MIN is representable.
                if let (UnaryOp::Neg, sp::Expr::Value(v)) = (op, expr.as_ref()) {
                    if let sp::Value::Number(n, _) = &v.value {
                        return number(&format!("-{n}"));
                    }
                }
                Expr::Unary(op, self.boxed(*expr)?)
            }
            sp::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => Expr::Case {
                operand: operand.map(|o| self.boxed(*o)).transpose()?,
                whens: conditions
                    .into_iter()
                    .map(|w| Ok((self.expr(w.condition)?, self.expr(w.result)?)))
                    .collect::<Result<_>>()?,
                otherwise: else_result.map(|o| self.boxed(*o)).transpose()?,
            },
            sp::Expr::Cast {
                kind,
                expr,
                data_type,
                format,
            } => {
                if format.is_some() || !matches!(kind, sp::CastKind::Cast) {
                    return Err(unsupported("CAST variant"));
                }
                Expr::Cast(self.boxed(*expr)?, column_type(&data_type)?)
            }
            sp::Expr::Function(f) => self.function(f)?,
            sp::Expr::IsTrue(e) => is_bool(self.expr(*e)?, true),
            sp::Expr::IsFalse(e) => is_bool(self.expr(*e)?, false),
            sp::Expr::IsNotTrue(e) => {
                Expr::Unary(UnaryOp::Not, Box::new(is_bool(self.expr(*e)?, true)))
            }
            sp::Expr::IsNotFalse(e) => {
                Expr::Unary(UnaryOp::Not, Box::new(is_bool(self.expr(*e)?, false)))
            }
            sp::Expr::Subquery(_) | sp::Expr::Exists { .. } | sp::Expr::In { .. } => {
                return Err(unsupported("subquery in an expression"))
            }
            other => {
                let text = other.to_string();
                let short: String = text.chars().take(40).collect();
                return Err(unsupported(&format!("expression {short}")));
            }
        })
    }

    /// Translates a literal or a placeholder.
    fn value(&mut self, v: sp::Value, at: Location) -> Result<Expr> {
        Ok(Expr::Literal(match v {
            sp::Value::Number(n, _) => return number(&n),
            sp::Value::SingleQuotedString(s) => Value::Text(s),
            sp::Value::Boolean(b) => Value::Bool(b),
            sp::Value::Null => Value::Null,
            sp::Value::HexStringLiteral(h) => Value::Bytes(hex(&h)?),
            sp::Value::Placeholder(p) => return self.placeholder(&p, at),
            other => return Err(unsupported(&format!("literal {other}"))),
        }))
    }

    fn placeholder(&mut self, p: &str, at: Location) -> Result<Expr> {
        if p == "?" {
            return match self.placeholders.binary_search(&at) {
                Ok(n) => Ok(Expr::Param(n)),
                Err(_) => Err(Error::Sql(format!(
                    "parameter ? at line {}, column {} not found in the statement",
                    at.line, at.column
                ))),
            };
        }
        match p.strip_prefix('$').map(str::parse::<usize>) {
            Some(Ok(n)) if n >= 1 => Ok(Expr::Param(n - 1)),
            _ => Err(Error::Sql(format!(
                "invalid parameter {p}: use ? or $1, $2, …"
            ))),
        }
    }

    fn function(&mut self, f: sp::Function) -> Result<Expr> {
        let name = object_name(&f.name)?.to_ascii_lowercase();
        if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
            return Err(unsupported(&format!("window or filter clause on {name}")));
        }
        let list = match f.args {
            sp::FunctionArguments::List(l) => l,
            sp::FunctionArguments::None => sp::FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![],
                clauses: vec![],
            },
            sp::FunctionArguments::Subquery(_) => {
                return Err(unsupported(&format!("subquery argument to {name}")))
            }
        };
        if !list.clauses.is_empty() {
            return Err(unsupported(&format!("clauses in arguments of {name}")));
        }
        let distinct = matches!(
            list.duplicate_treatment,
            Some(sp::DuplicateTreatment::Distinct)
        );
        let mut star = false;
        let mut args = Vec::new();
        for a in list.args {
            match a {
                sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e)) => args.push(self.expr(e)?),
                sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Wildcard) => star = true,
                _ => return Err(unsupported(&format!("argument form in {name}"))),
            }
        }
        let aggregate = match name.as_str() {
            "count" => Some(AggregateFn::Count),
            "sum" => Some(AggregateFn::Sum),
            "avg" => Some(AggregateFn::Avg),
            "min" => Some(AggregateFn::Min),
            "max" => Some(AggregateFn::Max),
            _ => None,
        };
        if let Some(func) = aggregate {
            if star {
                if func != AggregateFn::Count || distinct || !args.is_empty() {
                    return Err(Error::Sql(format!("{name}(*) is not allowed")));
                }
                return Ok(Expr::Aggregate {
                    func: AggregateFn::CountStar,
                    arg: None,
                    distinct: false,
                });
            }
            let mut args = args.into_iter();
            return match (args.next(), args.next()) {
                (Some(arg), None) => Ok(Expr::Aggregate {
                    func,
                    arg: Some(Box::new(arg)),
                    distinct,
                }),
                _ => Err(Error::Sql(format!("{name}() takes exactly one argument"))),
            };
        }
        if star || distinct {
            return Err(Error::Sql(format!(
                "{name}: * and DISTINCT need an aggregate"
            )));
        }
        let (func, arity) = match name.as_str() {
            "coalesce" => (ScalarFn::Coalesce, None),
            "abs" => (ScalarFn::Abs, Some(1)),
            "lower" => (ScalarFn::Lower, Some(1)),
            "upper" => (ScalarFn::Upper, Some(1)),
            "length" => (ScalarFn::Length, Some(1)),
            _ => return Err(unsupported(&format!("function {name}"))),
        };
        if arity.is_some_and(|n| n != args.len()) || args.is_empty() {
            return Err(Error::Sql(format!(
                "{name}() takes {} argument(s), got {}",
                arity.unwrap_or(1),
                args.len()
            )));
        }
        Ok(Expr::Function(func, args))
    }
}

/// Drops `e` walking its left-deep chain in a loop: the rest of a chain of thousands of
/// operators (what the depth limit refuses) would otherwise be dropped recursively, from deep
/// inside the translator's own recursion, and overflow the stack. A chain goes down the left
/// operand of infix operators and the operand of postfix ones; right operands, patterns and
/// lists are shallow (the parser's recursion limit bounds them).
fn drop_flat(mut e: sp::Expr) {
    loop {
        e = match e {
            sp::Expr::BinaryOp { left: e, .. }
            | sp::Expr::IsNull(e)
            | sp::Expr::IsNotNull(e)
            | sp::Expr::IsTrue(e)
            | sp::Expr::IsNotTrue(e)
            | sp::Expr::IsFalse(e)
            | sp::Expr::IsNotFalse(e)
            | sp::Expr::IsUnknown(e)
            | sp::Expr::IsNotUnknown(e)
            | sp::Expr::IsDistinctFrom(e, _)
            | sp::Expr::IsNotDistinctFrom(e, _)
            | sp::Expr::Cast { expr: e, .. }
            | sp::Expr::Collate { expr: e, .. }
            | sp::Expr::Like { expr: e, .. }
            | sp::Expr::ILike { expr: e, .. }
            | sp::Expr::SimilarTo { expr: e, .. }
            | sp::Expr::RLike { expr: e, .. }
            | sp::Expr::In { expr: e, .. }
            | sp::Expr::IsJson { expr: e, .. }
            | sp::Expr::Between { expr: e, .. }
            | sp::Expr::AnyOp { left: e, .. }
            | sp::Expr::AllOp { left: e, .. }
            | sp::Expr::AtTimeZone { timestamp: e, .. }
            | sp::Expr::CompoundFieldAccess { root: e, .. }
            | sp::Expr::JsonAccess { value: e, .. }
            | sp::Expr::UnaryOp { expr: e, .. }
            | sp::Expr::Nested(e) => *e,
            _ => return,
        };
    }
}

/// `e IS TRUE` / `e IS FALSE`: never NULL (a NULL `e` is neither), unlike `e = TRUE`.
fn is_bool(e: Expr, which: bool) -> Expr {
    let eq = Expr::binary(BinaryOp::Eq, e, Expr::Literal(Value::Bool(which)));
    Expr::Function(
        ScalarFn::Coalesce,
        vec![eq, Expr::Literal(Value::Bool(false))],
    )
}

/// A numeric literal: an integer when it is one that fits (`Int`, or `UInt` above
/// `i64::MAX`), a float otherwise.
fn number(n: &str) -> Result<Expr> {
    if let Some(v) = n.parse::<i128>().ok().and_then(Value::from_integer) {
        return Ok(Expr::Literal(v));
    }
    n.parse::<f64>()
        .map(|f| Expr::Literal(Value::Float(f)))
        .map_err(|_| Error::Sql(format!("invalid number {n}")))
}

/// Decodes the digits of `X'…'`.
fn hex(h: &str) -> Result<Vec<u8>> {
    let bad = || Error::Sql(format!("invalid hex literal X'{h}'"));
    // `from_str_radix` alone would take a sign (`X'+1+2'`).
    if !h.len().is_multiple_of(2) || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    (0..h.len())
        .step_by(2)
        .map(|i| {
            h.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

fn binary_op(op: &sp::BinaryOperator) -> Result<BinaryOp> {
    use sp::BinaryOperator as B;
    Ok(match op {
        B::And => BinaryOp::And,
        B::Or => BinaryOp::Or,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::Plus => BinaryOp::Add,
        B::Minus => BinaryOp::Sub,
        B::Multiply => BinaryOp::Mul,
        B::Divide => BinaryOp::Div,
        B::Modulo => BinaryOp::Mod,
        B::StringConcat => BinaryOp::Concat,
        other => return Err(unsupported(&format!("operator {other}"))),
    })
}

/// Maps a SQL type name to a column type (of a column, or `CAST`'s target). `DOCUMENT` (also
/// `JSON`, `JSONB`) is a document column: maps and arrays.
pub(super) fn column_type(t: &sp::DataType) -> Result<ColumnType> {
    use sp::DataType as D;
    Ok(match t {
        D::Int(_) | D::Integer(_) | D::BigInt(_) | D::SmallInt(_) | D::TinyInt(_) | D::Int64 => {
            ColumnType::Int
        }
        D::Real | D::Double(_) | D::DoublePrecision | D::Float(_) | D::Float8 | D::Float64 => {
            ColumnType::Float
        }
        D::Text | D::Varchar(_) | D::Char(_) | D::String(_) | D::CharVarying(_) => ColumnType::Text,
        D::Blob(_) | D::Bytea | D::Binary(_) | D::Varbinary(_) => ColumnType::Bytes,
        D::Bool | D::Boolean => ColumnType::Bool,
        // `DOCUMENT` is the name `.schema` and error messages give a document column.
        D::JSON | D::JSONB => ColumnType::Document,
        D::Custom(name, modifiers)
            if modifiers.is_empty()
                && object_name(name).is_ok_and(|n| n.eq_ignore_ascii_case("DOCUMENT")) =>
        {
            ColumnType::Document
        }
        other => return Err(unsupported(&format!("type {other}"))),
    })
}
