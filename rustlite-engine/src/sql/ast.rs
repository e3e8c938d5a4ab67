//! RustLite's own SQL syntax tree: what [`super::translate`] produces from the `sqlparser` AST and
//! what the planner consumes. Nothing here depends on `sqlparser`.
//!
//! Expressions are built unresolved (column references are dotted name paths) and the planner
//! rewrites them in place into resolved form ([`Expr::Column`] holds a position in the input
//! row). Parameters (`?`, `$n`) are bound by value during planning, never by substitution into
//! the SQL text.

use crate::error::Result;
use crate::sql::eval::InSet;
use crate::value::Value;

/// One SQL statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `SELECT …`
    Select(Box<Query>),
    /// `EXPLAIN <statement>`: the physical plan as text.
    Explain(Box<Statement>),
    /// `CREATE TABLE`
    CreateTable(CreateTable),
    /// `CREATE [UNIQUE] INDEX name ON table (column) [USING HASH]`
    CreateIndex(CreateIndex),
    /// `DROP TABLE [IF EXISTS] name`
    DropTable {
        /// Table name.
        name: String,
        /// `IF EXISTS` given.
        if_exists: bool,
    },
    /// `DROP INDEX [IF EXISTS] name`
    DropIndex {
        /// Index name.
        name: String,
        /// `IF EXISTS` given.
        if_exists: bool,
    },
    /// `INSERT INTO table [(columns)] VALUES … | SELECT …`
    Insert {
        /// Target table.
        table: String,
        /// Explicit column list (`None` = all declared columns in order).
        columns: Option<Vec<String>>,
        /// The rows to insert.
        source: InsertSource,
    },
    /// `UPDATE table SET col = expr, … [WHERE …]`
    Update {
        /// Target table.
        table: String,
        /// Assignments in statement order.
        set: Vec<(String, Expr)>,
        /// Row filter.
        filter: Option<Expr>,
    },
    /// `DELETE FROM table [WHERE …]`
    Delete {
        /// Target table.
        table: String,
        /// Row filter.
        filter: Option<Expr>,
    },
}

/// Where the rows of an `INSERT` come from.
#[derive(Clone, Debug, PartialEq)]
pub enum InsertSource {
    /// `VALUES (…), (…)`
    Values(Vec<Vec<Expr>>),
    /// `SELECT …`
    Query(Box<Query>),
}

/// A column type: the catalog's field type (`INTEGER` = `Int`, `REAL` = `Float`, `TEXT`,
/// `BLOB` = `Bytes`, `BOOLEAN` = `Bool`; `Document` for nested documents of typed collections).
pub use crate::catalog::FieldType as ColumnType;

/// `CREATE TABLE`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateTable {
    /// Table name.
    pub name: String,
    /// `IF NOT EXISTS` given.
    pub if_not_exists: bool,
    /// Columns in declaration order.
    pub columns: Vec<ColumnDef>,
    /// Primary-key columns in key order (empty: hidden row id).
    pub primary_key: Vec<String>,
    /// Single-column `UNIQUE` constraints (each becomes a unique index).
    pub unique: Vec<String>,
}

/// One column of `CREATE TABLE`.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    /// Column name.
    pub name: String,
    /// Declared type.
    pub ty: ColumnType,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

/// `CREATE INDEX`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateIndex {
    /// Index name.
    pub name: String,
    /// Indexed table.
    pub table: String,
    /// Indexed column.
    pub column: String,
    /// `UNIQUE` given.
    pub unique: bool,
    /// `USING HASH` given (equality only); otherwise a B-Tree (equality and ranges).
    pub hash: bool,
    /// `IF NOT EXISTS` given.
    pub if_not_exists: bool,
}

/// A `SELECT` with its ORDER BY / LIMIT / OFFSET.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// `DISTINCT` given.
    pub distinct: bool,
    /// The select list.
    pub items: Vec<SelectItem>,
    /// `FROM` (None: one row with no columns).
    pub from: Option<FromItem>,
    /// `WHERE`
    pub filter: Option<Expr>,
    /// `GROUP BY`
    pub group_by: Vec<Expr>,
    /// `HAVING`
    pub having: Option<Expr>,
    /// `ORDER BY`
    pub order_by: Vec<OrderItem>,
    /// `LIMIT`
    pub limit: Option<Expr>,
    /// `OFFSET`
    pub offset: Option<Expr>,
}

/// One entry of the select list.
#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard,
    /// `t.*`
    QualifiedWildcard(String),
    /// `expr [AS alias]`; `name` is the output column name (the alias, the column name, or the
    /// expression's text).
    Expr {
        /// The expression.
        expr: Expr,
        /// Output column name.
        name: String,
        /// Whether `name` came from `AS`.
        aliased: bool,
    },
}

/// A `FROM` tree.
#[derive(Clone, Debug, PartialEq)]
pub enum FromItem {
    /// A table, optionally aliased.
    Table {
        /// Table name.
        name: String,
        /// `AS alias`.
        alias: Option<String>,
    },
    /// `(SELECT …) AS alias`
    Subquery {
        /// The subquery.
        query: Box<Query>,
        /// Its alias (required).
        alias: String,
    },
    /// `left <kind> JOIN right [ON predicate]`
    Join {
        /// Left input.
        left: Box<FromItem>,
        /// Right input.
        right: Box<FromItem>,
        /// Join kind.
        kind: JoinKind,
        /// `ON` predicate (None for CROSS JOIN and comma joins).
        on: Option<Expr>,
    },
}

/// The kinds of join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// `[INNER] JOIN`
    Inner,
    /// `LEFT [OUTER] JOIN`
    Left,
    /// `RIGHT [OUTER] JOIN`
    Right,
    /// `FULL [OUTER] JOIN`
    Full,
    /// `CROSS JOIN` or `FROM a, b`
    Cross,
}

impl JoinKind {
    /// Name as shown by EXPLAIN.
    pub fn name(self) -> &'static str {
        match self {
            JoinKind::Inner => "inner",
            JoinKind::Left => "left",
            JoinKind::Right => "right",
            JoinKind::Full => "full",
            JoinKind::Cross => "cross",
        }
    }
}

/// One `ORDER BY` key.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderItem {
    /// The key expression.
    pub expr: Expr,
    /// `DESC` given.
    pub desc: bool,
    /// `NULLS FIRST` (Some(true)) / `NULLS LAST` (Some(false)); default: NULLs sort as the
    /// smallest value (first ascending, last descending), like SQLite.
    pub nulls_first: Option<bool>,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `NOT`
    Not,
    /// `-`
    Neg,
    /// `+`
    Plus,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `=`
    Eq,
    /// `<>` / `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `||`
    Concat,
}

impl BinaryOp {
    /// The operator's SQL spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Concat => "||",
        }
    }

    /// The comparison with its operands swapped (`a < b` ⇔ `b > a`), for comparisons.
    pub fn flip(self) -> Option<BinaryOp> {
        Some(match self {
            BinaryOp::Eq => BinaryOp::Eq,
            BinaryOp::NotEq => BinaryOp::NotEq,
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::LtEq => BinaryOp::GtEq,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::GtEq => BinaryOp::LtEq,
            _ => return None,
        })
    }
}

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateFn {
    /// `COUNT(*)`
    CountStar,
    /// `COUNT(x)`
    Count,
    /// `SUM(x)`
    Sum,
    /// `AVG(x)`
    Avg,
    /// `MIN(x)`
    Min,
    /// `MAX(x)`
    Max,
}

impl AggregateFn {
    /// The function's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            AggregateFn::CountStar | AggregateFn::Count => "count",
            AggregateFn::Sum => "sum",
            AggregateFn::Avg => "avg",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
        }
    }
}

/// Scalar (row-by-row) functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarFn {
    /// `COALESCE(a, b, …)`
    Coalesce,
    /// `ABS(x)`
    Abs,
    /// `LOWER(s)`
    Lower,
    /// `UPPER(s)`
    Upper,
    /// `LENGTH(s)`
    Length,
}

impl ScalarFn {
    /// The function's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            ScalarFn::Coalesce => "coalesce",
            ScalarFn::Abs => "abs",
            ScalarFn::Lower => "lower",
            ScalarFn::Upper => "upper",
            ScalarFn::Length => "length",
        }
    }
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Value),
    /// Parameter number `n` (0-based): `?` in order of appearance, `$n` as `n - 1`.
    Param(usize),
    /// An unresolved column reference: `col`, `t.col`, `col.field`, `t.col.field.sub`.
    Name(Vec<String>),
    /// A resolved column: position in the input row, and a label for EXPLAIN and errors.
    Column {
        /// Position in the input row.
        index: usize,
        /// Qualified name for display.
        label: String,
    },
    /// A nested field of a document-valued expression (`addr.city`).
    Field(Box<Expr>, Vec<String>),
    /// Unary operator.
    Unary(UnaryOp, Box<Expr>),
    /// Binary operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `expr IS [NOT] NULL`
    IsNull {
        /// Operand.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `expr [NOT] IN (list)`
    InList {
        /// Operand.
        expr: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
        /// The list as a set when its items are literals, built at the first evaluation
        /// (a rewritten or cloned node starts empty).
        set: InSet,
    },
    /// `expr [NOT] BETWEEN low AND high`
    Between {
        /// Operand.
        expr: Box<Expr>,
        /// Lower bound (inclusive).
        low: Box<Expr>,
        /// Upper bound (inclusive).
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `expr [NOT] LIKE pattern` (`%` any run, `_` one character; case-sensitive).
    Like {
        /// Operand.
        expr: Box<Expr>,
        /// Pattern.
        pattern: Box<Expr>,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`
    Case {
        /// Operand of a simple CASE.
        operand: Option<Box<Expr>>,
        /// `(WHEN, THEN)` pairs.
        whens: Vec<(Expr, Expr)>,
        /// `ELSE`.
        otherwise: Option<Box<Expr>>,
    },
    /// `CAST(expr AS type)`
    Cast(Box<Expr>, ColumnType),
    /// A scalar function call.
    Function(ScalarFn, Vec<Expr>),
    /// An aggregate call (only in select lists, HAVING and ORDER BY of a grouped query).
    Aggregate {
        /// Function.
        func: AggregateFn,
        /// Argument (None for `COUNT(*)`).
        arg: Option<Box<Expr>>,
        /// `DISTINCT` given.
        distinct: bool,
    },
}

impl Expr {
    /// Builds `Binary(op, l, r)`.
    pub fn binary(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        Expr::Binary(op, Box::new(l), Box::new(r))
    }

    /// Calls `f` on this expression and every sub-expression (pre-order).
    #[recursive::recursive]
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        for c in self.children() {
            c.walk(f);
        }
    }

    /// The direct sub-expressions.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Literal(_) | Expr::Param(_) | Expr::Name(_) | Expr::Column { .. } => vec![],
            Expr::Field(e, _) | Expr::Unary(_, e) | Expr::Cast(e, _) => vec![e],
            Expr::IsNull { expr, .. } => vec![expr],
            Expr::Binary(_, l, r) => vec![l, r],
            Expr::InList { expr, list, .. } => {
                let mut v: Vec<&Expr> = vec![expr];
                v.extend(list);
                v
            }
            Expr::Between {
                expr, low, high, ..
            } => vec![expr, low, high],
            Expr::Like { expr, pattern, .. } => vec![expr, pattern],
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let mut v: Vec<&Expr> = operand.iter().map(|b| &**b).collect();
                for (w, t) in whens {
                    v.push(w);
                    v.push(t);
                }
                v.extend(otherwise.iter().map(|b| &**b));
                v
            }
            Expr::Function(_, args) => args.iter().collect(),
            Expr::Aggregate { arg, .. } => arg.iter().map(|b| &**b).collect(),
        }
    }

    /// Whether any sub-expression satisfies `pred`.
    pub fn any(&self, pred: &mut dyn FnMut(&Expr) -> bool) -> bool {
        let mut found = false;
        self.walk(&mut |e| found = found || pred(e));
        found
    }

    /// Whether this expression contains an aggregate call.
    pub fn has_aggregate(&self) -> bool {
        self.any(&mut |e| matches!(e, Expr::Aggregate { .. }))
    }

    /// Rewrites the tree bottom-up: children first, then `f` on the node. `f` returns the
    /// replacement (or the node itself).
    #[recursive::recursive]
    pub fn transform(self, f: &mut dyn FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
        let node = self.map_children(&mut |c| c.transform(f))?;
        f(node)
    }

    /// Replaces each direct child with `f(child)`.
    pub fn map_children(self, f: &mut dyn FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
        let mut b = |e: Box<Expr>| f(*e).map(Box::new);
        Ok(match self {
            e @ (Expr::Literal(_) | Expr::Param(_) | Expr::Name(_) | Expr::Column { .. }) => e,
            Expr::Field(e, path) => Expr::Field(b(e)?, path),
            Expr::Unary(op, e) => Expr::Unary(op, b(e)?),
            Expr::Cast(e, ty) => Expr::Cast(b(e)?, ty),
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: b(expr)?,
                negated,
            },
            Expr::Binary(op, l, r) => Expr::Binary(op, b(l)?, b(r)?),
            Expr::InList {
                expr,
                list,
                negated,
                ..
            } => Expr::InList {
                expr: b(expr)?,
                list: list
                    .into_iter()
                    .map(|e| b(Box::new(e)).map(|e| *e))
                    .collect::<Result<_>>()?,
                negated,
                set: InSet::default(),
            },
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => Expr::Between {
                expr: b(expr)?,
                low: b(low)?,
                high: b(high)?,
                negated,
            },
            Expr::Like {
                expr,
                pattern,
                negated,
            } => Expr::Like {
                expr: b(expr)?,
                pattern: b(pattern)?,
                negated,
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => Expr::Case {
                operand: operand.map(&mut b).transpose()?,
                whens: whens
                    .into_iter()
                    .map(|(w, t)| Ok((*b(Box::new(w))?, *b(Box::new(t))?)))
                    .collect::<Result<_>>()?,
                otherwise: otherwise.map(&mut b).transpose()?,
            },
            Expr::Function(func, args) => Expr::Function(
                func,
                args.into_iter()
                    .map(|e| b(Box::new(e)).map(|e| *e))
                    .collect::<Result<_>>()?,
            ),
            Expr::Aggregate {
                func,
                arg,
                distinct,
            } => Expr::Aggregate {
                func,
                arg: arg.map(&mut b).transpose()?,
                distinct,
            },
        })
    }

    /// Whether a parameter placeholder occurs in this expression.
    pub fn has_param(&self) -> bool {
        self.any(&mut |e| matches!(e, Expr::Param(_)))
    }

    /// Splits a conjunction into its conjuncts (`a AND b AND c` → `[a, b, c]`).
    pub fn into_conjuncts(self) -> Vec<Expr> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::Binary(BinaryOp::And, l, r) => {
                    stack.push(*r);
                    stack.push(*l);
                }
                other => out.push(other),
            }
        }
        out
    }

    /// Joins conjuncts with AND (None when empty).
    pub fn conjoin(conjuncts: Vec<Expr>) -> Option<Expr> {
        conjuncts
            .into_iter()
            .reduce(|a, b| Expr::binary(BinaryOp::And, a, b))
    }

    /// Positions of the input columns this expression reads.
    pub fn columns(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Column { index, .. } = e {
                out.push(*index);
            }
        });
        out
    }
}
