//! Planning a `SELECT`: FROM tree → pushed-down filters and access paths → joins → WHERE
//! leftovers → aggregation → HAVING → projection → DISTINCT → ORDER BY (a sort, unless the
//! access path already gives the order: [`order`](super::order)) → LIMIT/OFFSET.
//!
//! Filter push-down works on the FROM tree while every expression is resolved against the
//! whole FROM row. A subtree covers a contiguous run of columns, so "this conjunct reads only
//! that subtree" is a range check. A conjunct moves below a join unless that would change an
//! outer join's result: never into the NULL-supplying side of a LEFT/RIGHT/FULL join from
//! WHERE; ON conjuncts move into the inner side only. What spans both sides of an inner join
//! becomes a join condition, and equalities between the two sides become hash-join keys.

use super::access::choose_access;
use super::explain::literal;
use super::order::sorted;
use super::plan::{Access, AggregateCall, Node, SortKey};
use super::scope::{bind, rebase, Scope, ScopeColumn};
use super::Planner;
use crate::error::{Error, Result};
use crate::sql::ast::{BinaryOp, Expr, FromItem, JoinKind, Query, SelectItem};
use crate::sql::eval::eval;
use crate::sql::storage::TableInfo;
use crate::value::Value;
use std::sync::Arc;

/// The FROM tree during planning.
enum Rel {
    Table {
        table: Arc<TableInfo>,
        alias: String,
        start: usize,
        filters: Vec<Expr>,
    },
    Sub {
        node: Node,
        start: usize,
        width: usize,
        filters: Vec<Expr>,
    },
    Join {
        left: Box<Rel>,
        right: Box<Rel>,
        kind: JoinKind,
        on: Vec<Expr>,
    },
}

impl Rel {
    /// The columns `[start, end)` of the FROM row this subtree produces.
    fn range(&self) -> (usize, usize) {
        match self {
            Rel::Table { table, start, .. } => (*start, start + table.columns.len()),
            Rel::Sub { start, width, .. } => (*start, start + width),
            Rel::Join { left, right, .. } => (left.range().0, right.range().1),
        }
    }

    fn covers(&self, columns: &[usize]) -> bool {
        let (s, e) = self.range();
        columns.iter().all(|c| (s..e).contains(c))
    }
}

/// Where an ORDER BY key comes from.
enum OrderTarget {
    /// An output column.
    Output(usize),
    /// An expression over the input (before aggregation rewriting).
    Expr(Expr),
}

impl Planner<'_> {
    /// Plans a query; returns the plan and its output column names.
    pub fn plan_query(&mut self, q: Query) -> Result<(Node, Vec<String>)> {
        self.enter()?;
        let out = self.plan_query_inner(q);
        self.depth -= 1;
        out
    }

    fn plan_query_inner(&mut self, q: Query) -> Result<(Node, Vec<String>)> {
        let mut scope = Scope::default();
        let rel = q.from.map(|f| self.plan_from(f, &mut scope)).transpose()?;
        let mut leftover = Vec::new();
        let mut rel = rel;
        if let Some(filter) = q.filter {
            if filter.has_aggregate() {
                return Err(Error::Sql(
                    "aggregate functions are not allowed in WHERE (use HAVING)".into(),
                ));
            }
            let filter = scope.resolve(filter, self.params)?;
            for c in filter.into_conjuncts() {
                match rel.as_mut() {
                    Some(r) => leftover.extend(push(r, c)),
                    None => leftover.push(c),
                }
            }
        }
        let mut node = match rel {
            Some(r) => build(r)?,
            None => Node::Values { rows: vec![vec![]] },
        };
        if let Some(predicate) = Expr::conjoin(leftover) {
            node = Node::Filter {
                source: Box::new(node),
                predicate,
            };
        }

        // The select list.
        let mut items: Vec<(Expr, String, bool)> = Vec::new();
        for item in q.items {
            match item {
                SelectItem::Wildcard => {
                    if scope.columns.is_empty() {
                        return Err(Error::Sql("SELECT * needs a FROM clause".into()));
                    }
                    for (i, c) in scope.columns.iter().enumerate() {
                        items.push((column(i, c), c.name.clone(), false));
                    }
                }
                SelectItem::QualifiedWildcard(t) => {
                    if !scope.has_table(&t) {
                        return Err(Error::Sql(format!("unknown table {t} in {t}.*")));
                    }
                    for (i, c) in scope.columns.iter().enumerate() {
                        if c.table
                            .as_deref()
                            .is_some_and(|ct| ct.eq_ignore_ascii_case(&t))
                        {
                            items.push((column(i, c), c.name.clone(), false));
                        }
                    }
                }
                SelectItem::Expr {
                    expr,
                    name,
                    aliased,
                } => items.push((scope.resolve(expr, self.params)?, name, aliased)),
            }
        }

        // ORDER BY keys: output positions, output aliases, or input expressions.
        let mut order = Vec::new();
        for o in q.order_by {
            let target = match &o.expr {
                Expr::Literal(Value::Int(k)) => {
                    let pos = usize::try_from(*k)
                        .ok()
                        .filter(|p| (1..=items.len()).contains(p))
                        .ok_or_else(|| {
                            Error::Sql(format!("ORDER BY position {k} is not in the select list"))
                        })?;
                    OrderTarget::Output(pos - 1)
                }
                Expr::Name(path) if path.len() == 1 => {
                    match path.first().and_then(|name| aliased(&items, name)) {
                        Some(i) => OrderTarget::Output(i),
                        None => OrderTarget::Expr(scope.resolve(o.expr.clone(), self.params)?),
                    }
                }
                _ => OrderTarget::Expr(resolve_with_aliases(
                    &scope,
                    o.expr.clone(),
                    self.params,
                    &items,
                )?),
            };
            order.push((target, o.desc, o.nulls_first.unwrap_or(!o.desc)));
        }

        let grouped = !q.group_by.is_empty()
            || q.having.is_some()
            || items.iter().any(|(e, _, _)| e.has_aggregate())
            || order
                .iter()
                .any(|(t, _, _)| matches!(t, OrderTarget::Expr(e) if e.has_aggregate()));

        if grouped {
            let mut group_by = Vec::new();
            for g in q.group_by {
                let g = match &g {
                    Expr::Literal(Value::Int(k)) => usize::try_from(*k)
                        .ok()
                        .and_then(|p| p.checked_sub(1))
                        .and_then(|p| items.get(p))
                        .map(|(e, _, _)| e.clone())
                        .ok_or_else(|| {
                            Error::Sql(format!("GROUP BY position {k} is not in the select list"))
                        })?,
                    Expr::Name(path) if path.len() == 1 => {
                        resolve_with_aliases(&scope, g, self.params, &items)?
                    }
                    _ => scope.resolve(g, self.params)?,
                };
                if g.has_aggregate() {
                    return Err(Error::Sql(
                        "aggregate functions are not allowed in GROUP BY".into(),
                    ));
                }
                group_by.push(g);
            }
            let having = q
                .having
                .map(|h| resolve_with_aliases(&scope, h, self.params, &items))
                .transpose()?;
            let mut aggregates: Vec<AggregateCall> = Vec::new();
            {
                let mut collect = |e: &Expr| collect_aggregates(e, &mut aggregates);
                for (e, _, _) in &items {
                    collect(e)?;
                }
                if let Some(h) = &having {
                    collect(h)?;
                }
                for (t, _, _) in &order {
                    if let OrderTarget::Expr(e) = t {
                        collect(e)?;
                    }
                }
            }
            let rewrite = |e: Expr| post_aggregate(e, &group_by, &aggregates);
            let items2 = items
                .into_iter()
                .map(|(e, n, a)| Ok((rewrite(e)?, n, a)))
                .collect::<Result<Vec<_>>>()?;
            let having = having.map(rewrite).transpose()?;
            let order2 = order
                .into_iter()
                .map(|(t, d, n)| {
                    Ok((
                        match t {
                            OrderTarget::Expr(e) => OrderTarget::Expr(rewrite(e)?),
                            out => out,
                        },
                        d,
                        n,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            node = Node::Aggregate {
                source: Box::new(node),
                group_by,
                aggregates,
            };
            if let Some(predicate) = having {
                node = Node::Filter {
                    source: Box::new(node),
                    predicate,
                };
            }
            items = items2;
            order = order2;
        }

        // Projection, with hidden columns for ORDER BY keys outside the select list.
        let visible = items.len();
        let mut exprs: Vec<Expr> = items.iter().map(|(e, _, _)| e.clone()).collect();
        let names: Vec<String> = items.into_iter().map(|(_, n, _)| n).collect();
        let mut keys = Vec::new();
        for (target, desc, nulls_first) in order {
            let pos = match target {
                OrderTarget::Output(i) => i,
                OrderTarget::Expr(e) => match exprs.iter().position(|x| *x == e) {
                    Some(i) => i,
                    None => {
                        exprs.push(e);
                        exprs.len() - 1
                    }
                },
            };
            keys.push(SortKey {
                expr: Expr::Column {
                    index: pos,
                    label: format!("#{}", pos + 1),
                },
                desc,
                nulls_first,
            });
        }
        let hidden = exprs.len() > visible;
        let identity = !grouped
            && exprs.len() == scope.columns.len()
            && exprs
                .iter()
                .enumerate()
                .all(|(i, e)| matches!(e, Expr::Column { index, .. } if *index == i));
        if !identity {
            node = Node::Project {
                source: Box::new(node),
                exprs,
            };
        }
        if q.distinct {
            if hidden {
                return Err(Error::Sql(
                    "for SELECT DISTINCT, ORDER BY expressions must appear in the select list"
                        .into(),
                ));
            }
            node = Node::Distinct {
                source: Box::new(node),
            };
        }
        let limit = q.limit.map(|e| self.count(e, "LIMIT")).transpose()?;
        if !keys.is_empty() {
            // No `Sort` when the access path already yields this order, or an index does and
            // a LIMIT follows (see `order`).
            node = sorted(node, keys, limit.is_some());
        }
        let offset = q.offset.map(|e| self.count(e, "OFFSET")).transpose()?;
        if limit.is_some() || offset.is_some_and(|o| o > 0) {
            node = Node::Limit {
                source: Box::new(node),
                limit,
                offset: offset.unwrap_or(0),
            };
        }
        if hidden {
            node = Node::Project {
                source: Box::new(node),
                exprs: (0..visible)
                    .map(|i| Expr::Column {
                        index: i,
                        label: names.get(i).cloned().unwrap_or_default(),
                    })
                    .collect(),
            };
        }
        Ok((node, names))
    }

    /// Evaluates a LIMIT/OFFSET expression to a non-negative count.
    fn count(&self, e: Expr, what: &str) -> Result<usize> {
        let e = e.transform(&mut |e| match e {
            Expr::Param(n) => bind(n, self.params),
            Expr::Name(p) => Err(Error::Sql(format!(
                "{what} must be a constant, found column {}",
                p.join(".")
            ))),
            other => Ok(other),
        })?;
        let v = eval(&e, &[])?;
        match whole_number(&v) {
            Some(n) if n >= 0 => usize::try_from(n)
                .map_err(|_| Error::Sql(format!("{what} {} is too large", literal(&v)))),
            _ => Err(Error::Sql(format!(
                "{what} must be a non-negative integer, got {} {}",
                v.type_name(),
                literal(&v)
            ))),
        }
    }

    /// Plans one FROM item, appending its columns to `scope`.
    fn plan_from(&mut self, item: FromItem, scope: &mut Scope) -> Result<Rel> {
        self.enter()?;
        let out = self.plan_from_inner(item, scope);
        self.depth -= 1;
        out
    }

    fn plan_from_inner(&mut self, item: FromItem, scope: &mut Scope) -> Result<Rel> {
        match item {
            FromItem::Table { name, alias } => {
                let table = self.table(&name)?;
                let alias = alias.unwrap_or_else(|| table.name.clone());
                if scope.has_table(&alias) {
                    return Err(Error::Sql(format!(
                        "table name {alias} is used twice in FROM; give one an alias"
                    )));
                }
                let start = scope.columns.len();
                for c in &table.columns {
                    scope.columns.push(ScopeColumn {
                        table: Some(alias.clone()),
                        name: c.name.clone(),
                    });
                }
                Ok(Rel::Table {
                    table,
                    alias,
                    start,
                    filters: vec![],
                })
            }
            FromItem::Subquery { query, alias } => {
                if scope.has_table(&alias) {
                    return Err(Error::Sql(format!(
                        "table name {alias} is used twice in FROM"
                    )));
                }
                let (node, names) = self.plan_query(*query)?;
                let start = scope.columns.len();
                for n in &names {
                    scope.columns.push(ScopeColumn {
                        table: Some(alias.clone()),
                        name: n.clone(),
                    });
                }
                Ok(Rel::Sub {
                    node,
                    start,
                    width: names.len(),
                    filters: vec![],
                })
            }
            FromItem::Join {
                left,
                right,
                kind,
                on,
            } => {
                let mut left = Box::new(self.plan_from(*left, scope)?);
                let mut right = Box::new(self.plan_from(*right, scope)?);
                let mut conds = Vec::new();
                if let Some(on) = on {
                    if on.has_aggregate() {
                        return Err(Error::Sql(
                            "aggregate functions are not allowed in ON".into(),
                        ));
                    }
                    let on = scope.resolve(on, self.params)?;
                    let (start, _) = left.range();
                    if on.columns().iter().any(|&c| c < start) {
                        return Err(Error::Sql("ON refers to a table outside its join".into()));
                    }
                    for c in on.into_conjuncts() {
                        let cols = c.columns();
                        if right.covers(&cols) && matches!(kind, JoinKind::Inner | JoinKind::Left) {
                            conds.extend(push(&mut right, c));
                        } else if left.covers(&cols)
                            && matches!(kind, JoinKind::Inner | JoinKind::Right)
                        {
                            conds.extend(push(&mut left, c));
                        } else {
                            conds.push(c);
                        }
                    }
                }
                Ok(Rel::Join {
                    left,
                    right,
                    kind,
                    on: conds,
                })
            }
        }
    }
}

/// A LIMIT/OFFSET count's integer: an integer, or a REAL with no fractional part (`LIMIT 2.0`
/// is `LIMIT 2`, as in SQLite and PostgreSQL; a float beyond `i128` saturates, then reads as
/// too large).
fn whole_number(v: &Value) -> Option<i128> {
    match v {
        Value::Float(x) if x.is_finite() && x.fract() == 0.0 => Some(*x as i128),
        other => other.as_integer(),
    }
}

/// The position of the select-list item aliased `name` (case-insensitively), if any.
fn aliased(items: &[(Expr, String, bool)], name: &str) -> Option<usize> {
    items
        .iter()
        .position(|(_, n, aliased)| *aliased && n.eq_ignore_ascii_case(name))
}

/// Resolves `expr` against the input columns, where a name that is no input column but a
/// select-list alias stands for that item's expression (`HAVING c > 1` after `count(*) AS c`,
/// `ORDER BY x + 0` after `v AS x`), as SQLite reads them; an input column wins over an alias.
fn resolve_with_aliases(
    scope: &Scope,
    expr: Expr,
    params: super::scope::Params<'_>,
    items: &[(Expr, String, bool)],
) -> Result<Expr> {
    expr.transform(&mut |e| match e {
        Expr::Name(path) => scope.resolve_path(&path).or_else(|err| {
            let [one] = path.as_slice() else {
                return Err(err);
            };
            aliased(items, one)
                .and_then(|i| items.get(i))
                .map(|(e, _, _)| e.clone())
                .ok_or(err)
        }),
        Expr::Param(n) => bind(n, params),
        other => Ok(other),
    })
}

/// A column reference to scope column `i`.
fn column(i: usize, c: &ScopeColumn) -> Expr {
    Expr::Column {
        index: i,
        label: c.label(),
    }
}

/// Pushes a WHERE-style conjunct as deep as it may go; returns it if it must stay above.
fn push(rel: &mut Rel, pred: Expr) -> Option<Expr> {
    match rel {
        Rel::Table { filters, .. } | Rel::Sub { filters, .. } => {
            filters.push(pred);
            None
        }
        Rel::Join {
            left,
            right,
            kind,
            on,
        } => {
            let cols = pred.columns();
            let inner = matches!(kind, JoinKind::Inner | JoinKind::Cross);
            if left.covers(&cols) && (inner || *kind == JoinKind::Left) {
                return push(left, pred);
            }
            if right.covers(&cols) && (inner || *kind == JoinKind::Right) {
                return push(right, pred);
            }
            if inner {
                on.push(pred);
                None
            } else {
                Some(pred)
            }
        }
    }
}

/// Builds the physical plan of a FROM tree (column references re-based per node).
fn build(rel: Rel) -> Result<Node> {
    Ok(match rel {
        Rel::Table {
            table,
            alias,
            start,
            filters,
        } => {
            let filters: Vec<Expr> = filters.into_iter().map(|f| rebase(f, start)).collect();
            // A filter with a placeholder (deferred planning): the access path is chosen when
            // the parameters are bound, from these same conjuncts (see `prepared`).
            let (access, rest) = if filters.iter().any(Expr::has_param) {
                (Access::Full, filters)
            } else {
                choose_access(&table, filters)
            };
            Node::Scan {
                table,
                alias,
                access,
                filter: Expr::conjoin(rest),
                reverse: false,
            }
        }
        Rel::Sub {
            node,
            start,
            filters,
            ..
        } => {
            let filters = filters.into_iter().map(|f| rebase(f, start)).collect();
            match Expr::conjoin(filters) {
                Some(predicate) => Node::Filter {
                    source: Box::new(node),
                    predicate,
                },
                None => node,
            }
        }
        Rel::Join {
            left,
            right,
            kind,
            on,
        } => {
            let (start, _) = left.range();
            let (ls, le) = left.range();
            let (rs, re) = right.range();
            let (left_width, right_width) = (le - ls, re - rs);
            let left = Box::new(build(*left)?);
            let right = Box::new(build(*right)?);
            let kind = if kind == JoinKind::Cross && !on.is_empty() {
                JoinKind::Inner
            } else {
                kind
            };
            let mut left_keys = Vec::new();
            let mut right_keys = Vec::new();
            let mut residual = Vec::new();
            for c in on.into_iter().map(|c| rebase(c, start)) {
                let is_left = |e: &Expr| {
                    let cols = e.columns();
                    !cols.is_empty() && cols.iter().all(|&i| i < left_width)
                };
                let is_right = |e: &Expr| {
                    let cols = e.columns();
                    !cols.is_empty() && cols.iter().all(|&i| i >= left_width)
                };
                match c {
                    Expr::Binary(BinaryOp::Eq, a, b) if is_left(&a) && is_right(&b) => {
                        left_keys.push(*a);
                        right_keys.push(rebase(*b, left_width));
                    }
                    Expr::Binary(BinaryOp::Eq, a, b) if is_right(&a) && is_left(&b) => {
                        left_keys.push(*b);
                        right_keys.push(rebase(*a, left_width));
                    }
                    other => residual.push(other),
                }
            }
            if left_keys.is_empty() {
                Node::NestedLoopJoin {
                    left,
                    right,
                    kind,
                    predicate: Expr::conjoin(residual),
                    left_width,
                    right_width,
                }
            } else {
                Node::HashJoin {
                    left,
                    right,
                    kind,
                    left_keys,
                    right_keys,
                    residual: Expr::conjoin(residual),
                    left_width,
                    right_width,
                }
            }
        }
    })
}

/// Adds each outermost aggregate call in `e` to `out` (once); refuses nested aggregates.
fn collect_aggregates(e: &Expr, out: &mut Vec<AggregateCall>) -> Result<()> {
    let mut err = None;
    let mut found = Vec::new();
    find_outer_aggregates(e, &mut found);
    for a in found {
        if let Expr::Aggregate {
            func,
            arg,
            distinct,
        } = a
        {
            if arg.as_ref().is_some_and(|a| a.has_aggregate()) {
                err = Some(Error::Sql(format!(
                    "aggregate calls cannot be nested inside {}()",
                    func.name()
                )));
            }
            let call = AggregateCall {
                func: *func,
                arg: arg.as_deref().cloned(),
                distinct: *distinct,
            };
            if !out.contains(&call) {
                out.push(call);
            }
        }
    }
    err.map_or(Ok(()), Err)
}

#[recursive::recursive]
fn find_outer_aggregates<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    if matches!(e, Expr::Aggregate { .. }) {
        out.push(e);
        return;
    }
    for c in e.children() {
        find_outer_aggregates(c, out);
    }
}

/// Rewrites an expression over the input into one over the aggregate's output
/// (group values, then aggregate results).
#[recursive::recursive]
fn post_aggregate(e: Expr, group_by: &[Expr], aggregates: &[AggregateCall]) -> Result<Expr> {
    if let Some(i) = group_by.iter().position(|g| *g == e) {
        return Ok(Expr::Column {
            index: i,
            label: e.to_string(),
        });
    }
    match e {
        Expr::Aggregate {
            func,
            arg,
            distinct,
        } => {
            let call = AggregateCall {
                func,
                arg: arg.map(|a| *a),
                distinct,
            };
            let j = aggregates
                .iter()
                .position(|a| *a == call)
                .ok_or_else(|| Error::Sql("internal: aggregate not collected".into()))?;
            Ok(Expr::Column {
                index: group_by.len() + j,
                label: call.to_string(),
            })
        }
        Expr::Column { label, .. } => Err(Error::Sql(format!(
            "column {label} must appear in GROUP BY or be used in an aggregate function"
        ))),
        other => other.map_children(&mut |c| post_aggregate(c, group_by, aggregates)),
    }
}
