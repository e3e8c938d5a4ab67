//! The physical plan: a tree of [`Node`]s the executor runs bottom-up, and the per-table
//! [`Access`] path the planner chose.
//!
//! ```text
//! SELECT u.name, count(*) FROM users u JOIN orders o ON o.user_id = u.id
//! WHERE u.age > 30 GROUP BY u.name ORDER BY 2 DESC LIMIT 3
//!
//! Limit 3
//! └─ Sort #2 DESC
//!    └─ Project u.name, count(*)
//!       └─ Aggregate group by u.name: count(*)
//!          └─ HashJoin inner on u.id = o.user_id
//!             ├─ Filter u.age > 30
//!             │  └─ Scan users AS u
//!             └─ Scan orders AS o
//! ```
//! Expressions inside a node are resolved against that node's input row: for a join, the
//! left row followed by the right row; for the nodes above an `Aggregate`, the group values
//! followed by the aggregate results.

use crate::sql::ast::{AggregateFn, Expr, JoinKind};
use crate::sql::storage::{IndexInfo, IndexLookup, TableInfo};
use crate::value::Value;
use std::ops::Bound;
use std::sync::Arc;

/// How a table's rows are fetched.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// Every row, in key order.
    Full,
    /// The rows with exactly these keys, in this order (several keys come from `pk IN (…)`,
    /// sorted and without duplicates: [`order`](super::order) relies on it).
    KeyLookup(Vec<Vec<Value>>),
    /// Rows whose key prefix is within the bounds.
    KeyRange(Bound<Vec<Value>>, Bound<Vec<Value>>),
    /// Rows found through a secondary index.
    Index {
        /// The index.
        index: IndexInfo,
        /// Equality or range lookup.
        lookup: IndexLookup,
    },
}

/// One aggregate computed by an [`Node::Aggregate`].
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateCall {
    /// Function.
    pub func: AggregateFn,
    /// Argument (resolved against the aggregate's input); None for `COUNT(*)`.
    pub arg: Option<Expr>,
    /// `DISTINCT` given.
    pub distinct: bool,
}

/// One sort key.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    /// Key expression.
    pub expr: Expr,
    /// Descending.
    pub desc: bool,
    /// NULLs before non-NULLs.
    pub nulls_first: bool,
}

/// A physical plan node.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Reads a table through `access`, keeping rows for which `filter` is true.
    Scan {
        /// The table.
        table: Arc<TableInfo>,
        /// Name the query uses for it.
        alias: String,
        /// Access path.
        access: Access,
        /// Residual predicate over the table's columns.
        filter: Option<Expr>,
        /// Rows in the reverse of the access path's order (set only where an `ORDER BY … DESC`
        /// is answered by that order instead of a sort, see [`order`](super::order)).
        reverse: bool,
    },
    /// Constant rows (`SELECT` without `FROM` is one empty row).
    Values {
        /// The rows.
        rows: Vec<Vec<Value>>,
    },
    /// Keeps the rows for which the predicate is true.
    Filter {
        /// Input.
        source: Box<Node>,
        /// Predicate.
        predicate: Expr,
    },
    /// Computes one output value per expression.
    Project {
        /// Input.
        source: Box<Node>,
        /// Output expressions.
        exprs: Vec<Expr>,
    },
    /// Equi-join through a hash table built on the right input.
    HashJoin {
        /// Left (probe) input.
        left: Box<Node>,
        /// Right (build) input.
        right: Box<Node>,
        /// Join kind.
        kind: JoinKind,
        /// Key expressions over the left row.
        left_keys: Vec<Expr>,
        /// Key expressions over the right row.
        right_keys: Vec<Expr>,
        /// Extra condition over the joined row.
        residual: Option<Expr>,
        /// Columns of a left row.
        left_width: usize,
        /// Columns of a right row.
        right_width: usize,
    },
    /// Join by comparing every pair of rows.
    NestedLoopJoin {
        /// Left input.
        left: Box<Node>,
        /// Right input.
        right: Box<Node>,
        /// Join kind.
        kind: JoinKind,
        /// Condition over the joined row (None: every pair).
        predicate: Option<Expr>,
        /// Columns of a left row.
        left_width: usize,
        /// Columns of a right row.
        right_width: usize,
    },
    /// Groups rows and computes aggregates; outputs group values then aggregate results.
    Aggregate {
        /// Input.
        source: Box<Node>,
        /// Grouping expressions.
        group_by: Vec<Expr>,
        /// Aggregates.
        aggregates: Vec<AggregateCall>,
    },
    /// Removes duplicate rows.
    Distinct {
        /// Input.
        source: Box<Node>,
    },
    /// Sorts rows (stable).
    Sort {
        /// Input.
        source: Box<Node>,
        /// Keys, most significant first.
        keys: Vec<SortKey>,
    },
    /// Skips `offset` rows, then passes at most `limit`.
    Limit {
        /// Input.
        source: Box<Node>,
        /// Maximum rows (None: all).
        limit: Option<usize>,
        /// Rows to skip.
        offset: usize,
    },
}
