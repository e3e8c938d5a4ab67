//! Expression evaluation over a row, with SQL's three-valued logic.
//!
//! - NULL propagates through arithmetic, comparison, LIKE and functions (except `COALESCE`).
//! - `AND`/`OR`/`NOT` follow the SQL truth tables: `NULL AND false = false`,
//!   `NULL OR true = true`, otherwise NULL. `x IN (…, NULL)` is NULL when nothing matched.
//! - Integers and floats compare and combine numerically (`1 = 1.0`). Integers range over
//!   `i64::MIN..=u64::MAX` (`Int`, and `UInt` above `i64::MAX`) and compare exactly; integer
//!   arithmetic is checked (a result outside that range is an overflow error), `/` on integers
//!   truncates like SQLite; division by zero is an error. Comparing values of unrelated types
//!   (TEXT with INTEGER) is a type-mismatch error.
//! - A float result that is NaN (`inf - inf`, `0 * inf`) is NULL, as in SQLite; so is a NaN
//!   parameter ([`without_nan`]), so SQL never makes or writes a NaN.
//! - [`sort_cmp`] is the total order used by ORDER BY, MIN/MAX, DISTINCT and GROUP BY:
//!   NULL < BOOLEAN < numbers < TEXT < BLOB < ARRAY < DOCUMENT. Among numbers, a stored NaN
//!   (SQL itself never makes one) is one value above `+inf`, as the index key encoding puts it.

use crate::error::{Error, Result};
use crate::sql::ast::{BinaryOp, ColumnType, Expr, ScalarFn, UnaryOp};
use crate::value::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Evaluates a resolved expression against `row`.
#[recursive::recursive]
pub fn eval(expr: &Expr, row: &[Value]) -> Result<Value> {
    Ok(match expr {
        Expr::Literal(v) => v.clone(),
        Expr::Column { index, label } => row
            .get(*index)
            .cloned()
            .ok_or_else(|| Error::Sql(format!("column {label} is not available here")))?,
        Expr::Field(e, path) => {
            let v = eval(e, row)?;
            path.iter().fold(v, |v, p| v.field(p).clone())
        }
        Expr::Unary(op, e) => unary(*op, eval(e, row)?)?,
        Expr::Binary(BinaryOp::And, l, r) => {
            let l = truth(&eval(l, row)?, "AND")?;
            if l == Some(false) {
                return Ok(Value::Bool(false));
            }
            let r = truth(&eval(r, row)?, "AND")?;
            match (l, r) {
                (_, Some(false)) => Value::Bool(false),
                (Some(true), Some(true)) => Value::Bool(true),
                _ => Value::Null,
            }
        }
        Expr::Binary(BinaryOp::Or, l, r) => {
            let l = truth(&eval(l, row)?, "OR")?;
            if l == Some(true) {
                return Ok(Value::Bool(true));
            }
            let r = truth(&eval(r, row)?, "OR")?;
            match (l, r) {
                (_, Some(true)) => Value::Bool(true),
                (Some(false), Some(false)) => Value::Bool(false),
                _ => Value::Null,
            }
        }
        Expr::Binary(op, l, r) => binary(*op, &*operand(l, row)?, &*operand(r, row)?)?,
        Expr::IsNull { expr, negated } => Value::Bool(operand(expr, row)?.is_null() != *negated),
        Expr::InList {
            expr,
            list,
            negated,
            set,
        } => {
            let v = eval(expr, row)?;
            if v.is_null() {
                return Ok(Value::Null);
            }
            let found = match set.get(list) {
                Some(set) => set.contains(&v)?,
                None => in_list(&v, list, row)?,
            };
            match found {
                Some(true) => Value::Bool(!negated),
                Some(false) => Value::Bool(*negated),
                None => Value::Null,
            }
        }
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let v = operand(expr, row)?;
            let ge = binary(BinaryOp::GtEq, &v, &*operand(low, row)?)?;
            let le = binary(BinaryOp::LtEq, &v, &*operand(high, row)?)?;
            let both = match (truth(&ge, "BETWEEN")?, truth(&le, "BETWEEN")?) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            match both {
                Some(b) => Value::Bool(b != *negated),
                None => Value::Null,
            }
        }
        Expr::Like {
            expr,
            pattern,
            negated,
        } => match (eval(expr, row)?, eval(pattern, row)?) {
            (Value::Null, _) | (_, Value::Null) => Value::Null,
            (Value::Text(s), Value::Text(p)) => Value::Bool(like(&s, &p) != *negated),
            (a, b) => {
                return Err(Error::Sql(format!(
                    "type mismatch: {} LIKE {} (LIKE needs TEXT)",
                    a.type_name(),
                    b.type_name()
                )))
            }
        },
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => {
            let operand = operand.as_ref().map(|o| eval(o, row)).transpose()?;
            for (when, then) in whens {
                let w = eval(when, row)?;
                let hit = match &operand {
                    Some(o) => compare(o, &w)? == Some(Ordering::Equal),
                    None => truth(&w, "CASE WHEN")? == Some(true),
                };
                if hit {
                    return eval(then, row);
                }
            }
            match otherwise {
                Some(o) => eval(o, row)?,
                None => Value::Null,
            }
        }
        Expr::Cast(e, ty) => cast(eval(e, row)?, *ty)?,
        Expr::Function(f, args) => {
            let args = args
                .iter()
                .map(|a| eval(a, row))
                .collect::<Result<Vec<_>>>()?;
            function(*f, args)?
        }
        Expr::Aggregate { func, .. } => {
            return Err(Error::Sql(format!(
                "aggregate {}() is not allowed here",
                func.name()
            )))
        }
        Expr::Param(n) => return Err(Error::Sql(format!("parameter ${} is not bound", n + 1))),
        Expr::Name(path) => {
            return Err(Error::Sql(format!("unresolved column {}", path.join("."))))
        }
    })
}

/// Whether non-NULL `v` is in `list`, compared item by item in order as `=` compares: `Some(true)`
/// at the first equal item, an error at the first item of a type `v` cannot be compared with,
/// `None` (unknown) when nothing matched but an item was NULL.
fn in_list(v: &Value, list: &[Expr], row: &[Value]) -> Result<Option<bool>> {
    let mut saw_null = false;
    for item in list {
        match compare(v, &eval(item, row)?)? {
            Some(Ordering::Equal) => return Ok(Some(true)),
            None => saw_null = true,
            Some(_) => {}
        }
    }
    Ok(if saw_null { None } else { Some(false) })
}

/// The set form of an `IN` list of literals, built at its first evaluation and answering as
/// [`in_list`] would, in O(1) per row instead of O(list).
///
/// It is built only when every non-NULL item is of one comparable class (numbers, TEXT,
/// BOOLEAN or BLOB): then `v` of that class compares with every item without error, and
/// equality is key equality ([`SetKey`]: `1`, `1.0` and `UInt` forms of one number are one
/// key, as `=` makes them equal). `v` of another class errors exactly as the linear form does,
/// at its first non-NULL item (the message names that item's type). Any other list (an item
/// that is not a literal, items of several classes, arrays or documents) is evaluated item by
/// item.
///
/// The cache belongs to the expression node: a clone or a rewritten node starts empty, so a
/// set is built at most once per execution of a plan (binding parameters rebuilds the node).
/// (Boxed: an expression node stays one pointer bigger, not a hash set bigger.)
#[derive(Default)]
pub struct InSet(Box<OnceLock<Option<ValueSet>>>);

impl InSet {
    /// The set of `list`, built on first use; `None` when the list must be compared linearly.
    fn get(&self, list: &[Expr]) -> Option<&ValueSet> {
        self.0.get_or_init(|| ValueSet::build(list)).as_ref()
    }
}

impl Clone for InSet {
    /// A copy starts empty (it rebuilds from its own list).
    fn clone(&self) -> Self {
        InSet::default()
    }
}

impl PartialEq for InSet {
    /// A cache, not part of the expression: two `IN` lists are equal by their items.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for InSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InSet")
    }
}

/// The key of a value in a [`ValueSet`]: equal keys exactly when [`compare`] says equal.
#[derive(Debug, PartialEq, Eq, Hash)]
enum SetKey {
    /// An integer, or a whole float that equals one (`-0.0` is `0`).
    Integer(i128),
    /// Any other float, by its bits (every NaN as one NaN, which `compare` makes equal).
    Float(u64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
}

/// Which values [`compare`] compares with each other without a type error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Number,
    Text,
    Bool,
    Bytes,
}

fn class(v: &Value) -> Option<Class> {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => Some(Class::Number),
        Value::Text(_) => Some(Class::Text),
        Value::Bool(_) => Some(Class::Bool),
        Value::Bytes(_) => Some(Class::Bytes),
        Value::Null | Value::Array(_) | Value::Map(_) => None,
    }
}

fn set_key(v: &Value) -> Option<SetKey> {
    Some(match v {
        Value::Int(_) | Value::UInt(_) => SetKey::Integer(v.as_integer()?),
        Value::Float(f) => match integral(*f).and_then(|i| i.as_integer()) {
            Some(i) => SetKey::Integer(i),
            None if f.is_nan() => SetKey::Float(f64::NAN.to_bits()),
            None => SetKey::Float(f.to_bits()),
        },
        Value::Text(s) => SetKey::Text(s.clone()),
        Value::Bool(b) => SetKey::Bool(*b),
        Value::Bytes(b) => SetKey::Bytes(b.clone()),
        Value::Null | Value::Array(_) | Value::Map(_) => return None,
    })
}

/// A constant `IN` list as a hash set (see [`InSet`]).
#[derive(Debug)]
pub struct ValueSet {
    keys: HashSet<SetKey>,
    /// The first non-NULL item: its class is every item's, and comparing a value of another
    /// class with it gives the linear form's error.
    first: Option<Value>,
    /// The list holds a NULL.
    has_null: bool,
}

impl ValueSet {
    /// The set of `list`, or `None` when it is not a list of literals of one class.
    fn build(list: &[Expr]) -> Option<ValueSet> {
        let mut set = ValueSet {
            keys: HashSet::with_capacity(list.len()),
            first: None,
            has_null: false,
        };
        for item in list {
            let Expr::Literal(v) = item else {
                return None;
            };
            if v.is_null() {
                set.has_null = true;
                continue;
            }
            match &set.first {
                None => set.first = Some(v.clone()),
                Some(first) if class(first) != class(v) => return None,
                Some(_) => {}
            }
            set.keys.insert(set_key(v)?);
        }
        Some(set)
    }

    /// [`in_list`] of non-NULL `v` over the list this set was built from.
    fn contains(&self, v: &Value) -> Result<Option<bool>> {
        let Some(first) = &self.first else {
            // Only NULLs (or nothing): nothing to compare `v` with.
            return Ok(if self.has_null { None } else { Some(false) });
        };
        let key = match set_key(v) {
            Some(key) if class(v) == class(first) => key,
            // The linear form's first comparison with a non-NULL item fails; make it.
            _ => {
                compare(v, first)?;
                return Err(Error::Sql(format!(
                    "internal: IN set of {} holds no {}",
                    first.type_name(),
                    v.type_name()
                )));
            }
        };
        Ok(if self.keys.contains(&key) {
            Some(true)
        } else if self.has_null {
            None
        } else {
            Some(false)
        })
    }
}

/// Evaluates `expr` like [`eval`], borrowing a column's value from the row instead of cloning
/// it (operands of comparisons, keys of joins and groups).
pub fn operand<'a>(expr: &Expr, row: &'a [Value]) -> Result<Cow<'a, Value>> {
    match expr {
        Expr::Column { index, .. } => match row.get(*index) {
            Some(v) => Ok(Cow::Borrowed(v)),
            None => eval(expr, row).map(Cow::Owned),
        },
        _ => eval(expr, row).map(Cow::Owned),
    }
}

/// Evaluates a predicate: true only when the result is TRUE (NULL and FALSE reject).
pub fn eval_predicate(expr: &Expr, row: &[Value]) -> Result<bool> {
    Ok(truth(&eval(expr, row)?, "WHERE")? == Some(true))
}

/// A value as a SQL truth value (`None` = UNKNOWN).
pub fn truth(v: &Value, context: &str) -> Result<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(Error::Sql(format!(
            "type mismatch: {context} expects BOOLEAN, got {}",
            other.type_name()
        ))),
    }
}

fn unary(op: UnaryOp, v: Value) -> Result<Value> {
    Ok(match (op, v) {
        (_, Value::Null) => Value::Null,
        (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
        (UnaryOp::Neg, v @ (Value::Int(_) | Value::UInt(_))) => v
            .as_integer()
            .and_then(|i| Value::from_integer(-i))
            .ok_or_else(|| Error::Sql("integer overflow in -".into()))?,
        (UnaryOp::Neg, Value::Float(f)) => float(-f),
        (UnaryOp::Plus, v @ (Value::Int(_) | Value::UInt(_) | Value::Float(_))) => v,
        (op, v) => {
            let sym = match op {
                UnaryOp::Not => "NOT",
                UnaryOp::Neg => "-",
                UnaryOp::Plus => "+",
            };
            return Err(Error::Sql(format!(
                "type mismatch: {sym} {}",
                v.type_name()
            )));
        }
    })
}

/// Applies a non-logical binary operator.
pub fn binary(op: BinaryOp, l: &Value, r: &Value) -> Result<Value> {
    if l.is_null() || r.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = || {
        Error::Sql(format!(
            "type mismatch: {} {} {}",
            l.type_name(),
            op.symbol(),
            r.type_name()
        ))
    };
    let overflow = || Error::Sql(format!("integer overflow in {}", op.symbol()));
    Ok(match op {
        BinaryOp::Eq
        | BinaryOp::NotEq
        | BinaryOp::Lt
        | BinaryOp::LtEq
        | BinaryOp::Gt
        | BinaryOp::GtEq => {
            let Some(ord) = compare(l, r)? else {
                return Ok(Value::Null);
            };
            Value::Bool(match op {
                BinaryOp::Eq => ord == Ordering::Equal,
                BinaryOp::NotEq => ord != Ordering::Equal,
                BinaryOp::Lt => ord == Ordering::Less,
                BinaryOp::LtEq => ord != Ordering::Greater,
                BinaryOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            })
        }
        BinaryOp::Concat => match (l, r) {
            (Value::Text(a), Value::Text(b)) => Value::Text(format!("{a}{b}")),
            (Value::Bytes(a), Value::Bytes(b)) => Value::Bytes([a.as_slice(), b].concat()),
            (a, b) => Value::Text(format!("{}{}", text_of(a).ok_or_else(mismatch)?, {
                text_of(b).ok_or_else(mismatch)?
            })),
        },
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
            match (l.as_integer(), r.as_integer()) {
                (Some(a), Some(b)) => {
                    if matches!(op, BinaryOp::Div | BinaryOp::Mod) && b == 0 {
                        return Err(Error::Sql("division by zero".into()));
                    }
                    // Both fit in 65 bits, so only a product can leave i128.
                    match op {
                        BinaryOp::Add => Some(a + b),
                        BinaryOp::Sub => Some(a - b),
                        BinaryOp::Mul => a.checked_mul(b),
                        BinaryOp::Div => Some(a / b),
                        _ => Some(a % b),
                    }
                    .and_then(Value::from_integer)
                    .ok_or_else(overflow)?
                }
                _ => {
                    let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else {
                        return Err(mismatch());
                    };
                    if matches!(op, BinaryOp::Div | BinaryOp::Mod) && b == 0.0 {
                        return Err(Error::Sql("division by zero".into()));
                    }
                    float(match op {
                        BinaryOp::Add => a + b,
                        BinaryOp::Sub => a - b,
                        BinaryOp::Mul => a * b,
                        BinaryOp::Div => a / b,
                        _ => a % b,
                    })
                }
            }
        }
        BinaryOp::And | BinaryOp::Or => {
            let l = truth(l, op.symbol())?;
            let r = truth(r, op.symbol())?;
            match (op, l, r) {
                (BinaryOp::And, Some(a), Some(b)) => Value::Bool(a && b),
                (_, Some(a), Some(b)) => Value::Bool(a || b),
                _ => Value::Null,
            }
        }
    })
}

/// A float result as a SQL value: NaN is NULL (as SQLite's `sqlite3_result_double` makes it),
/// infinities stay.
pub fn float(f: f64) -> Value {
    if f.is_nan() {
        Value::Null
    } else {
        Value::Float(f)
    }
}

/// `v` with every NaN, at any depth, replaced by NULL: what SQL binds for a parameter and
/// writes for a value (SQLite's `sqlite3_bind_double` binds a NaN as NULL). Allocates only when
/// an array or document holds a NaN.
pub fn without_nan(v: Value) -> Value {
    fn has_nan(v: &Value) -> bool {
        match v {
            Value::Float(f) => f.is_nan(),
            Value::Array(items) => items.iter().any(has_nan),
            Value::Map(fields) => fields.iter().any(|(_, v)| has_nan(v)),
            _ => false,
        }
    }
    match v {
        Value::Float(f) => float(f),
        Value::Array(items) if items.iter().any(has_nan) => {
            Value::Array(items.into_iter().map(without_nan).collect())
        }
        Value::Map(fields) if fields.iter().any(|(_, v)| has_nan(v)) => Value::Map(
            fields
                .into_iter()
                .map(|(k, v)| (k, without_nan(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Text rendering for `||` and `CAST(… AS TEXT)`.
fn text_of(v: &Value) -> Option<String> {
    Some(match v {
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    })
}

/// Renders a float in SQLite's format (`printf("%!.15g")`): 15 significant digits, trailing
/// zeros dropped but always a digit after the point (`2.0`, `0.333333333333333`), and exponent
/// form below 1e-4 or from 1e15 on (`1.0e+20`, `1.0e-07`). The 15th digit is rounded exactly
/// (half to even on the exact binary value); SQLite's own printf rounds differently for a few
/// values in a thousand (`269074265667341.5` is `…341.0` there, `…342.0` here). Infinities
/// and NaN print as Rust does.
pub fn float_text(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "Inf" } else { "-Inf" }.into(); // SQLite's spelling
    }
    if f.is_nan() {
        return "NaN".into(); // only a NaN stored by other means (SQL makes none)
    }
    if f == 0.0 {
        return "0.0".into(); // -0.0 too, as SQLite prints it
    }
    // The decimal exponent after rounding to 15 significant digits.
    let sci = format!("{f:.14e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..15).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_fraction(mantissa),
            exp.unsigned_abs()
        )
    } else {
        let decimals = usize::try_from(14 - exp).unwrap_or(0);
        trim_fraction(&format!("{f:.decimals$}"))
    }
}

/// `digits` with the trailing zeros of its fraction dropped, keeping at least one digit after
/// the point (adding `.0` to a whole number).
fn trim_fraction(digits: &str) -> String {
    match digits.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            let fraction = if fraction.is_empty() { "0" } else { fraction };
            format!("{whole}.{fraction}")
        }
        None => format!("{digits}.0"),
    }
}

/// SQL comparison: `None` when either side is NULL, an error when the types are unrelated.
pub fn compare(l: &Value, r: &Value) -> Result<Option<Ordering>> {
    Ok(Some(match (l, r) {
        (Value::Null, _) | (_, Value::Null) => return Ok(None),
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (
            Value::Int(_) | Value::UInt(_) | Value::Float(_),
            Value::Int(_) | Value::UInt(_) | Value::Float(_),
        ) => num_cmp(l, r),
        (Value::Text(a), Value::Text(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
        (Value::Array(_), Value::Array(_)) | (Value::Map(_), Value::Map(_)) => sort_cmp(l, r),
        _ => {
            return Err(Error::Sql(format!(
                "type mismatch: cannot compare {} with {}",
                l.type_name(),
                r.type_name()
            )))
        }
    }))
}

/// Numeric order, exact between integers and floats too (`9223372036854775807` is below
/// `9223372036854775808.0` although it rounds to it), so it agrees with [`group_key`]'s "a whole
/// float is the integer it equals" and stays a total order for sorting.
///
/// NaN: SQL never makes one (a NaN result is NULL), but a typed collection's `f64` field can
/// store one. Every NaN, whatever its sign or payload, is one value above `+inf` and equal to
/// any other NaN: the order of the key encoding (keycode writes every NaN as one key after
/// `+inf`), so an index scan, a full scan, `=`, ORDER BY, GROUP BY and MIN/MAX agree.
fn num_cmp(l: &Value, r: &Value) -> Ordering {
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Int(_) | Value::UInt(_), Value::Int(_) | Value::UInt(_)) => {
            l.as_integer().cmp(&r.as_integer())
        }
        (Value::Float(a), Value::Float(b)) => float_cmp(*a, *b),
        (Value::Float(f), i) => int_float_cmp(i.as_integer().unwrap_or(0), *f).reverse(),
        (i, f) => int_float_cmp(i.as_integer().unwrap_or(0), f.as_f64().unwrap_or(0.0)),
    }
}

/// Two floats in [`num_cmp`]'s order: numerically (`-0.0 = 0.0`), every NaN equal to every
/// other and above `+inf`.
fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Integer `i` against float `f`, exactly (every integer is below NaN, see [`num_cmp`]).
fn int_float_cmp(i: i128, f: f64) -> Ordering {
    // Beyond ±2^127 every integer a `Value` holds is on one side.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if f.is_nan() {
        return Ordering::Less;
    }
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f < -LIMIT {
        return Ordering::Greater;
    }
    let whole = f.trunc();
    #[expect(clippy::cast_possible_truncation, reason = "whole and within i128")]
    let w = whole as i128;
    // Equal whole parts: the float's fraction decides.
    i.cmp(&w).then(if f > whole {
        Ordering::Less
    } else if f < whole {
        Ordering::Greater
    } else {
        Ordering::Equal
    })
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => 2,
        Value::Text(_) => 3,
        Value::Bytes(_) => 4,
        Value::Array(_) => 5,
        Value::Map(_) => 6,
    }
}

/// The total order of ORDER BY (see the module docs).
pub fn sort_cmp(l: &Value, r: &Value) -> Ordering {
    match (l, r) {
        (
            Value::Int(_) | Value::UInt(_) | Value::Float(_),
            Value::Int(_) | Value::UInt(_) | Value::Float(_),
        ) => num_cmp(l, r),
        (Value::Text(a), Value::Text(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
        (Value::Array(a), Value::Array(b)) => a
            .iter()
            .zip(b)
            .map(|(x, y)| sort_cmp(x, y))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.len().cmp(&b.len())),
        (Value::Map(a), Value::Map(b)) => a
            .iter()
            .zip(b)
            .map(|((ka, va), (kb, vb))| ka.cmp(kb).then_with(|| sort_cmp(va, vb)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.len().cmp(&b.len())),
        _ => type_rank(l).cmp(&type_rank(r)),
    }
}

/// Float `f` as the integer `Value` equal to it, when it is a whole number an integer `Value`
/// can hold (`i64::MIN..=u64::MAX`).
pub fn integral(f: f64) -> Option<Value> {
    // Both bounds are powers of two, exact as floats.
    const FROM: f64 = -9_223_372_036_854_775_808.0;
    const TO: f64 = 18_446_744_073_709_551_616.0;
    if f.fract() == 0.0 && (FROM..TO).contains(&f) {
        #[expect(clippy::cast_possible_truncation, reason = "whole and within i128")]
        Value::from_integer(f as i128)
    } else {
        None
    }
}

/// A byte string equal for values that are equal under GROUP BY / DISTINCT / hash join
/// (`1` and `1.0` map to the same key, also inside arrays and documents, as `=` compares
/// them; NULLs map to one key).
pub fn group_key(v: &Value, out: &mut Vec<u8>) {
    let normalized = whole_floats_as_integers(v);
    let v = normalized.as_ref().unwrap_or(v);
    if v.append_key(out).is_err() {
        // Documents are not key-encodable: fall back to their rendering.
        out.push(0xFF);
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(0);
    }
}

/// `v` with every whole float (at any depth) replaced by the integer equal to it, or `None`
/// when nothing changes (the common case allocates nothing).
fn whole_floats_as_integers(v: &Value) -> Option<Value> {
    match v {
        Value::Float(f) => integral(*f),
        Value::Array(items) => {
            let changed: Vec<Option<Value>> = items.iter().map(whole_floats_as_integers).collect();
            changed.iter().any(Option::is_some).then(|| {
                Value::Array(
                    changed
                        .into_iter()
                        .zip(items)
                        .map(|(c, old)| c.unwrap_or_else(|| old.clone()))
                        .collect(),
                )
            })
        }
        Value::Map(fields) => {
            let changed: Vec<Option<Value>> = fields
                .iter()
                .map(|(_, v)| whole_floats_as_integers(v))
                .collect();
            changed.iter().any(Option::is_some).then(|| {
                Value::Map(
                    changed
                        .into_iter()
                        .zip(fields)
                        .map(|(c, (k, old))| (k.clone(), c.unwrap_or_else(|| old.clone())))
                        .collect(),
                )
            })
        }
        _ => None,
    }
}

/// `LIKE` matching: `%` matches any run of characters, `_` exactly one; case-sensitive.
pub fn like(s: &str, p: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = p.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match p.get(j) {
            Some('%') => {
                star = Some((j, i));
                j += 1;
            }
            Some(&c) if c == '_' || Some(&c) == s.get(i) => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((sj, si)) => {
                    j = sj + 1;
                    i = si + 1;
                    star = Some((sj, si + 1));
                }
                None => return false,
            },
        }
    }
    p.get(j..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '%'))
}

/// `CAST(v AS ty)`.
pub fn cast(v: Value, ty: ColumnType) -> Result<Value> {
    let fail = |v: &Value| {
        Error::Sql(format!(
            "cannot cast {} {v} to {}",
            v.type_name(),
            type_name(ty)
        ))
    };
    Ok(match (ty, v) {
        (_, Value::Null) => Value::Null,
        (ColumnType::Int, v @ (Value::Int(_) | Value::UInt(_))) => v,
        (ColumnType::Int, Value::Float(f)) => {
            integral(f.trunc()).ok_or_else(|| fail(&Value::Float(f)))?
        }
        (ColumnType::Int, Value::Bool(b)) => Value::Int(i64::from(b)),
        (ColumnType::Int, Value::Text(s)) => match s.trim().parse::<i128>() {
            Ok(i) => Value::from_integer(i).ok_or_else(|| fail(&Value::Text(s)))?,
            Err(_) => return Err(fail(&Value::Text(s))),
        },
        (ColumnType::Float, Value::Float(f)) => float(f),
        (ColumnType::Float, Value::Int(i)) => Value::Float(i as f64),
        (ColumnType::Float, Value::UInt(u)) => Value::Float(u as f64),
        (ColumnType::Float, Value::Text(s)) => match real_text(&s) {
            Some(f) => Value::Float(f),
            None => return Err(fail(&Value::Text(s))),
        },
        (ColumnType::Text, Value::Bytes(b)) => match String::from_utf8(b) {
            Ok(s) => Value::Text(s),
            Err(e) => return Err(fail(&Value::Bytes(e.into_bytes()))),
        },
        (ColumnType::Text, v) => text_of(&v).map(Value::Text).ok_or_else(|| fail(&v))?,
        (ColumnType::Bool, Value::Bool(b)) => Value::Bool(b),
        (ColumnType::Bool, Value::Int(i)) => Value::Bool(i != 0),
        (ColumnType::Bool, Value::UInt(_)) => Value::Bool(true),
        (ColumnType::Bool, Value::Text(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(fail(&Value::Text(s))),
        },
        (ColumnType::Bytes, Value::Bytes(b)) => Value::Bytes(b),
        (ColumnType::Bytes, Value::Text(s)) => Value::Bytes(s.into_bytes()),
        (ColumnType::Document, v @ Value::Map(_)) => v,
        (_, v) => return Err(fail(&v)),
    })
}

/// Text as a REAL for `CAST`: a number written with digits (`1.5`, ` -2e3 `, `.5`; `1e400`
/// overflows to `inf`, as in SQLite), not the words Rust's float parser also reads (`nan`,
/// `inf`, `infinity` in any case, with or without a sign), which SQLite does not take.
fn real_text(s: &str) -> Option<f64> {
    let s = s.trim();
    let numeric = |b: u8| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E');
    if s.bytes().all(numeric) {
        s.parse().ok()
    } else {
        None
    }
}

/// The SQL name of a column type.
pub fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Bool => "BOOLEAN",
        ColumnType::Int => "INTEGER",
        ColumnType::Float => "REAL",
        ColumnType::Text => "TEXT",
        ColumnType::Bytes => "BLOB",
        ColumnType::Document => "DOCUMENT",
    }
}

fn function(f: ScalarFn, args: Vec<Value>) -> Result<Value> {
    if f == ScalarFn::Coalesce {
        return Ok(args
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null));
    }
    let arg = args.into_iter().next().unwrap_or(Value::Null);
    Ok(match (f, arg) {
        (_, Value::Null) => Value::Null,
        (ScalarFn::Abs, Value::Int(i)) => Value::from(i.unsigned_abs()),
        (ScalarFn::Abs, v @ Value::UInt(_)) => v,
        (ScalarFn::Abs, Value::Float(x)) => float(x.abs()),
        (ScalarFn::Lower, Value::Text(s)) => Value::Text(s.to_lowercase()),
        (ScalarFn::Upper, Value::Text(s)) => Value::Text(s.to_uppercase()),
        (ScalarFn::Length, Value::Text(s)) => Value::Int(s.chars().count() as i64),
        (ScalarFn::Length, Value::Bytes(b)) => Value::Int(b.len() as i64),
        (f, v) => {
            return Err(Error::Sql(format!(
                "type mismatch: {}({})",
                f.name(),
                v.type_name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("hello", "h%o"));
        assert!(like("hello", "h_llo"));
        assert!(like("hello", "%"));
        assert!(like("", "%"));
        assert!(!like("hello", "h_lo"));
        assert!(like("a%b", "a%b"));
        assert!(like("abcabc", "%abc"));
        assert!(!like("abc", "abcd"));
        assert!(like("mississippi", "m%ss%pi"));
    }

    #[test]
    fn three_valued_logic() {
        let t = Expr::Literal(Value::Bool(true));
        let f = Expr::Literal(Value::Bool(false));
        let n = Expr::Literal(Value::Null);
        let and =
            |a: &Expr, b: &Expr| eval(&Expr::binary(BinaryOp::And, a.clone(), b.clone()), &[]);
        let or = |a: &Expr, b: &Expr| eval(&Expr::binary(BinaryOp::Or, a.clone(), b.clone()), &[]);
        assert_eq!(and(&n, &f).ok(), Some(Value::Bool(false)));
        assert_eq!(and(&n, &t).ok(), Some(Value::Null));
        assert_eq!(or(&n, &t).ok(), Some(Value::Bool(true)));
        assert_eq!(or(&n, &f).ok(), Some(Value::Null));
        let in_list = Expr::InList {
            expr: Box::new(Expr::Literal(Value::Int(1))),
            list: vec![Expr::Literal(Value::Int(2)), n.clone()],
            negated: false,
            set: InSet::default(),
        };
        assert_eq!(eval(&in_list, &[]).ok(), Some(Value::Null));
    }

    #[test]
    fn arithmetic_and_errors() {
        assert_eq!(
            binary(BinaryOp::Div, &Value::Int(7), &Value::Int(2)).ok(),
            Some(Value::Int(3))
        );
        assert_eq!(
            binary(BinaryOp::Add, &Value::Int(1), &Value::Float(0.5)).ok(),
            Some(Value::Float(1.5))
        );
        assert!(binary(BinaryOp::Add, &Value::Int(i64::MIN), &Value::Int(-1)).is_err());
        assert!(binary(BinaryOp::Div, &Value::Int(1), &Value::Int(0)).is_err());
        assert!(binary(BinaryOp::Lt, &Value::Int(1), &Value::Text("a".into())).is_err());
        assert_eq!(
            binary(BinaryOp::Eq, &Value::Int(1), &Value::Float(1.0)).ok(),
            Some(Value::Bool(true))
        );
    }

    /// Integers run from `i64::MIN` to `u64::MAX`: `Int`, then `UInt` above `i64::MAX`.
    #[test]
    fn integers_above_i64_are_uint_and_combine_exactly() {
        let top = Value::UInt(u64::MAX);
        let half = Value::UInt(1 << 63);
        let int = |i| Value::Int(i);
        let bin = |op, l: &Value, r: &Value| binary(op, l, r).ok();
        assert_eq!(
            bin(BinaryOp::Add, &int(i64::MAX), &int(1)),
            Some(half.clone())
        );
        assert_eq!(bin(BinaryOp::Sub, &half, &int(1)), Some(int(i64::MAX)));
        assert_eq!(bin(BinaryOp::Sub, &top, &top), Some(int(0)));
        assert_eq!(bin(BinaryOp::Div, &top, &int(-1)), None, "below i64::MIN");
        assert_eq!(bin(BinaryOp::Div, &half, &int(-1)), Some(int(i64::MIN)));
        assert_eq!(bin(BinaryOp::Mod, &top, &int(10)), Some(int(5)));
        assert_eq!(bin(BinaryOp::Mul, &top, &top), None);
        assert!(binary(BinaryOp::Add, &top, &int(1)).is_err());
        assert_eq!(unary(UnaryOp::Neg, half.clone()).ok(), Some(int(i64::MIN)));
        assert_eq!(unary(UnaryOp::Neg, int(i64::MIN)).ok(), Some(half.clone()));
        assert!(unary(UnaryOp::Neg, top.clone()).is_err());
        assert_eq!(
            function(ScalarFn::Abs, vec![int(i64::MIN)]).ok(),
            Some(half.clone())
        );
        // Exact comparison, not through f64 (u64::MAX and u64::MAX - 1 are the same float).
        let below_top = Value::UInt(u64::MAX - 1);
        assert_eq!(compare(&below_top, &top).ok(), Some(Some(Ordering::Less)));
        assert_eq!(compare(&int(-1), &half).ok(), Some(Some(Ordering::Less)));
        assert_eq!(sort_cmp(&top, &int(i64::MAX)), Ordering::Greater);
        assert_eq!(
            bin(
                BinaryOp::Eq,
                &half,
                &Value::Float(9_223_372_036_854_775_808.0)
            ),
            Some(Value::Bool(true))
        );
        // A whole float groups with its integer; casts reach the whole range.
        let key = |v: &Value| {
            let mut k = Vec::new();
            group_key(v, &mut k);
            k
        };
        assert_eq!(key(&Value::Float(9_223_372_036_854_775_808.0)), key(&half));
        assert_eq!(
            cast(Value::Text("18446744073709551615".into()), ColumnType::Int).ok(),
            Some(top.clone())
        );
        assert!(cast(Value::Text("18446744073709551616".into()), ColumnType::Int).is_err());
        assert_eq!(
            cast(Value::Float(1e19), ColumnType::Int).ok(),
            Some(Value::UInt(10_000_000_000_000_000_000))
        );
        assert!(cast(Value::Float(1e20), ColumnType::Int).is_err());
        assert_eq!(
            cast(top.clone(), ColumnType::Text).ok(),
            Some(Value::Text("18446744073709551615".into()))
        );
        assert_eq!(integral(-0.5), None);
    }

    /// Integers and floats compare exactly, so `=` agrees with GROUP BY (a whole float is the
    /// integer it equals) and ORDER BY's order is total.
    #[test]
    fn floats_render_as_sqlite_renders_them() {
        // The expected strings are SQLite's (3.40 and the bundled 3.46: `%!.15g`).
        for (f, text) in [
            (2.0, "2.0"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.333333333333333"),
            (1e14, "100000000000000.0"),
            (123_456_789_012_345.6, "123456789012346.0"),
            (1e15, "1.0e+15"),
            (1e20, "1.0e+20"),
            (-2.5e-7, "-2.5e-07"),
            (1e-7, "1.0e-07"),
            (0.0001, "0.0001"),
            (0.00001, "1.0e-05"),
            (-0.0, "0.0"),
            (1e300 * 10.0, "1.0e+301"),
            (f64::INFINITY, "Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(float_text(f), text, "{f:e}");
        }
    }

    #[test]
    fn whole_floats_group_with_integers_inside_arrays_and_documents() {
        let key = |v: &Value| {
            let mut out = Vec::new();
            group_key(v, &mut out);
            out
        };
        let doc = |v: Value| Value::Map(vec![("a".into(), v)]);
        let arr = |v: Value| Value::Array(vec![Value::Text("x".into()), v]);
        assert_eq!(key(&arr(Value::Int(1))), key(&arr(Value::Float(1.0))));
        assert_eq!(key(&doc(Value::Int(1))), key(&doc(Value::Float(1.0))));
        assert_ne!(key(&doc(Value::Int(1))), key(&doc(Value::Float(1.5))));
        assert_eq!(
            compare(&arr(Value::Int(1)), &arr(Value::Float(1.0))).ok(),
            Some(Some(Ordering::Equal)),
            "as `=` sees them"
        );
    }

    /// A NaN result is NULL (SQLite's answer); infinities stay.
    #[test]
    fn a_nan_result_is_null() {
        let inf = Value::Float(f64::INFINITY);
        let neg_inf = Value::Float(f64::NEG_INFINITY);
        let nan = Value::Float(f64::NAN);
        let bin = |op, l: &Value, r: &Value| binary(op, l, r).ok();
        assert_eq!(bin(BinaryOp::Sub, &inf, &inf), Some(Value::Null));
        assert_eq!(bin(BinaryOp::Add, &inf, &neg_inf), Some(Value::Null));
        assert_eq!(bin(BinaryOp::Mul, &inf, &Value::Int(0)), Some(Value::Null));
        assert_eq!(bin(BinaryOp::Div, &inf, &neg_inf), Some(Value::Null));
        assert_eq!(
            bin(BinaryOp::Mod, &inf, &Value::Float(2.0)),
            Some(Value::Null)
        );
        assert_eq!(bin(BinaryOp::Add, &nan, &Value::Int(1)), Some(Value::Null));
        assert_eq!(
            bin(BinaryOp::Mul, &Value::Float(1e308), &Value::Int(10)),
            Some(inf.clone())
        );
        assert_eq!(unary(UnaryOp::Neg, nan.clone()).ok(), Some(Value::Null));
        assert_eq!(
            function(ScalarFn::Abs, vec![nan.clone()]).ok(),
            Some(Value::Null)
        );
        assert_eq!(cast(nan.clone(), ColumnType::Float).ok(), Some(Value::Null));
        // Parameters and written values: NaN at any depth is NULL.
        let doc = |v: Value| Value::Map(vec![("a".into(), Value::Array(vec![Value::Int(1), v]))]);
        assert_eq!(without_nan(doc(nan.clone())), doc(Value::Null));
        assert_eq!(without_nan(Value::Float(-f64::NAN)), Value::Null);
        assert_eq!(without_nan(doc(inf.clone())), doc(inf));
    }

    /// `CAST(text AS REAL)` takes numbers written with digits only: not `nan` or `inf`, which
    /// `str::parse::<f64>` reads.
    #[test]
    fn cast_to_real_takes_only_numeric_text() {
        let real = |s: &str| cast(Value::Text(s.into()), ColumnType::Float);
        for word in [
            "nan",
            "NaN",
            "-nan",
            "+NAN",
            "inf",
            "-inf",
            "+Inf",
            "INF",
            "infinity",
            "-Infinity",
            " infinity ",
            "",
            "e5",
            "1e",
            "0x10",
            "1.5x",
        ] {
            let err = real(word).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("cannot cast TEXT"), "{word:?}: {err}");
        }
        for (text, f) in [
            ("1e400", f64::INFINITY),
            ("-1e400", f64::NEG_INFINITY),
            (" 2.5 ", 2.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("-2E3", -2000.0),
            ("+1e-3", 0.001),
        ] {
            assert_eq!(real(text).ok(), Some(Value::Float(f)), "{text:?}");
        }
    }

    /// Every NaN (either sign) is one value above `+inf`, as keycode keys it: `=`, ORDER BY and
    /// GROUP BY agree with each other and with an index's order.
    #[test]
    fn every_nan_is_one_value_above_infinity() {
        let nan = Value::Float(f64::NAN);
        let neg_nan = Value::Float(-f64::NAN);
        assert!(neg_nan.as_f64().is_some_and(|f| f.is_sign_negative()));
        let cmp = |l: &Value, r: &Value| compare(l, r).ok().flatten();
        assert_eq!(cmp(&nan, &neg_nan), Some(Ordering::Equal));
        assert_eq!(cmp(&neg_nan, &nan), Some(Ordering::Equal));
        for below in [
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(-0.0),
            Value::Int(i64::MIN),
            Value::UInt(u64::MAX),
        ] {
            for n in [&nan, &neg_nan] {
                assert_eq!(cmp(&below, n), Some(Ordering::Less), "{below:?} {n:?}");
                assert_eq!(cmp(n, &below), Some(Ordering::Greater), "{n:?} {below:?}");
            }
        }
        assert_eq!(
            binary(BinaryOp::Eq, &neg_nan, &nan).ok(),
            Some(Value::Bool(true))
        );
        assert_eq!(
            binary(BinaryOp::Lt, &neg_nan, &Value::Int(0)).ok(),
            Some(Value::Bool(false))
        );
        let mut v = [
            neg_nan.clone(),
            Value::Float(f64::INFINITY),
            nan.clone(),
            Value::Int(-1),
            Value::Float(f64::NEG_INFINITY),
        ];
        v.sort_by(sort_cmp);
        let (finite, nans) = v.split_at(3);
        assert_eq!(
            finite,
            [
                Value::Float(f64::NEG_INFINITY),
                Value::Int(-1),
                Value::Float(f64::INFINITY)
            ]
        );
        assert!(nans.iter().all(|x| x.as_f64().is_some_and(f64::is_nan)));
        // The same order as the key encoding: one group, above +inf.
        let key = |v: &Value| {
            let mut k = Vec::new();
            group_key(v, &mut k);
            k
        };
        assert_eq!(key(&nan), key(&neg_nan));
        assert!(key(&Value::Float(f64::INFINITY)) < key(&neg_nan));
    }

    #[test]
    fn integers_and_floats_compare_exactly() {
        let cmp = |l: &Value, r: &Value| compare(l, r).ok().flatten();
        let two63 = Value::Float(9_223_372_036_854_775_808.0);
        assert_eq!(cmp(&Value::Int(i64::MAX), &two63), Some(Ordering::Less));
        assert_eq!(cmp(&Value::UInt(1 << 63), &two63), Some(Ordering::Equal));
        assert_eq!(cmp(&two63, &Value::Int(i64::MAX)), Some(Ordering::Greater));
        assert_eq!(
            cmp(&Value::Int(1), &Value::Float(1.5)),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp(&Value::Int(2), &Value::Float(1.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp(&Value::Int(-1), &Value::Float(-1.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp(&Value::Int(-2), &Value::Float(-1.5)),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp(&Value::Int(3), &Value::Float(3.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp(&Value::UInt(u64::MAX), &Value::Float(1e300)),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp(&Value::Int(i64::MIN), &Value::Float(-1e300)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp(&Value::Int(0), &Value::Float(f64::NAN)),
            Some(Ordering::Less)
        );
        // u64::MAX - 1 and u64::MAX both round to 2^64, but the order stays total.
        let mut v = vec![
            Value::Float(18_446_744_073_709_551_616.0),
            Value::UInt(u64::MAX),
            Value::UInt(u64::MAX - 1),
            two63.clone(),
            Value::Int(i64::MAX),
        ];
        v.sort_by(sort_cmp);
        assert_eq!(
            v,
            [
                Value::Int(i64::MAX),
                two63,
                Value::UInt(u64::MAX - 1),
                Value::UInt(u64::MAX),
                Value::Float(18_446_744_073_709_551_616.0),
            ]
        );
        assert_eq!(integral(18_446_744_073_709_551_616.0), None);
    }

    /// A list of literals answers through its set exactly as item by item: for every value and
    /// list drawn from numbers of every form (`1`, `1.0`, `-0.0`, NaN, `UInt`, big floats), TEXT,
    /// BOOLEAN, BLOB, arrays and NULL, the result or the error message is the linear one's.
    #[test]
    fn in_list_set_answers_as_the_linear_form() {
        let pool = [
            Value::Null,
            Value::Int(1),
            Value::Float(1.0),
            Value::Int(0),
            Value::Float(-0.0),
            Value::Float(0.5),
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::UInt(u64::MAX),
            Value::Float(18_446_744_073_709_551_616.0),
            Value::Int(i64::MIN),
            Value::Float(-9_223_372_036_854_775_808.0),
            Value::Text("a".into()),
            Value::Text("1".into()),
            Value::Bool(true),
            Value::Bool(false),
            Value::Bytes(vec![1]),
            Value::Array(vec![Value::Int(1)]),
        ];
        let mut state = 11u64;
        let mut next = move |n: usize| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            usize::try_from((z ^ (z >> 31)) % n as u64).unwrap_or(0)
        };
        let mut sets = 0;
        for _ in 0..4000 {
            // Lists mostly of one class (so most build a set), sometimes mixed.
            let len = next(6);
            let base = next(pool.len());
            let list: Vec<Expr> = (0..len)
                .map(|_| {
                    let i = if next(4) == 0 {
                        next(pool.len())
                    } else {
                        (base + next(3)) % pool.len()
                    };
                    Expr::Literal(pool[i].clone())
                })
                .collect();
            for v in &pool {
                for negated in [false, true] {
                    let expr = Expr::InList {
                        expr: Box::new(Expr::Literal(v.clone())),
                        list: list.clone(),
                        negated,
                        set: InSet::default(),
                    };
                    let Expr::InList { set, .. } = &expr else {
                        unreachable!()
                    };
                    sets += usize::from(set.get(&list).is_some());
                    let fast = eval(&expr, &[]).map_err(|e| e.to_string());
                    let linear = match v {
                        Value::Null => Ok(Value::Null),
                        _ => in_list(v, &list, &[])
                            .map(|found| found.map_or(Value::Null, |f| Value::Bool(f != negated))),
                    }
                    .map_err(|e| e.to_string());
                    match (&fast, &linear) {
                        (Ok(Value::Bool(a)), Ok(Value::Bool(b))) => assert_eq!(a, b),
                        (Ok(Value::Null), Ok(Value::Null)) | (Err(_), Err(_)) => {
                            assert_eq!(fast, linear, "{v:?} IN {list:?}");
                        }
                        _ => panic!("{v:?} IN {list:?}: set {fast:?}, linear {linear:?}"),
                    }
                }
            }
        }
        assert!(sets > 10_000, "the set path ran {sets} times");
    }

    /// A list with a non-literal item, items of two classes, or arrays is not made a set.
    #[test]
    fn in_list_set_only_for_literals_of_one_class() {
        let lit = |v: Value| Expr::Literal(v);
        let built = |list: Vec<Expr>| ValueSet::build(&list).is_some();
        assert!(built(vec![
            lit(Value::Int(1)),
            lit(Value::Float(2.5)),
            lit(Value::Null)
        ]));
        assert!(built(vec![lit(Value::Text("a".into())), lit(Value::Null)]));
        assert!(built(vec![lit(Value::Null)]));
        assert!(!built(vec![
            lit(Value::Int(1)),
            lit(Value::Text("a".into()))
        ]));
        assert!(!built(vec![lit(Value::Array(vec![]))]));
        assert!(!built(vec![
            lit(Value::Int(1)),
            Expr::Column {
                index: 0,
                label: "a".into()
            }
        ]));
    }
}
