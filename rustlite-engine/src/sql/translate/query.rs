//! Queries: `SELECT … FROM … JOIN … WHERE … GROUP BY … HAVING … ORDER BY … LIMIT … OFFSET`.
//!
//! Set operations (UNION …), CTEs (WITH), window clauses, `USING`/`NATURAL` joins and the many
//! dialect extensions of `sqlparser` are refused by name.

use super::{object_name, unsupported, Translator, MAX_TABLES};
use crate::error::{Error, Result};
use crate::sql::ast::{FromItem, JoinKind, OrderItem, Query, SelectItem};
use sqlparser::ast as sp;

impl Translator {
    /// Translates a query.
    pub(super) fn query(&mut self, q: sp::Query) -> Result<Query> {
        if q.with.is_some() {
            return Err(unsupported("WITH"));
        }
        if q.fetch.is_some() || !q.locks.is_empty() || q.for_clause.is_some() {
            return Err(unsupported("FETCH / FOR clause"));
        }
        if q.settings.is_some() || q.format_clause.is_some() || !q.pipe_operators.is_empty() {
            return Err(unsupported("query clause"));
        }
        let select = match *q.body {
            sp::SetExpr::Select(s) => *s,
            sp::SetExpr::Query(inner) => {
                if q.order_by.is_some() || q.limit_clause.is_some() {
                    return Err(unsupported("ORDER BY/LIMIT around a parenthesized query"));
                }
                return self.query(*inner);
            }
            sp::SetExpr::SetOperation { op, .. } => {
                return Err(unsupported(&op.to_string().to_uppercase()))
            }
            sp::SetExpr::Values(_) => return Err(unsupported("VALUES as a query")),
            _ => return Err(unsupported("query form")),
        };
        let mut out = self.select(select)?;
        if let Some(order_by) = q.order_by {
            if order_by.interpolate.is_some() {
                return Err(unsupported("INTERPOLATE"));
            }
            match order_by.kind {
                sp::OrderByKind::Expressions(items) => {
                    for item in items {
                        if item.with_fill.is_some() {
                            return Err(unsupported("WITH FILL"));
                        }
                        let desc = match item.options.sort {
                            None | Some(sp::OrderBySort::Asc) => false,
                            Some(sp::OrderBySort::Desc) => true,
                            Some(sp::OrderBySort::Using(_)) => {
                                return Err(unsupported("ORDER BY … USING"))
                            }
                        };
                        out.order_by.push(OrderItem {
                            expr: self.expr(item.expr)?,
                            desc,
                            nulls_first: item.options.nulls_first,
                        });
                    }
                }
                sp::OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL")),
            }
        }
        match q.limit_clause {
            None => {}
            Some(sp::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return Err(unsupported("LIMIT BY"));
                }
                out.limit = limit.map(|l| self.expr(l)).transpose()?;
                out.offset = offset.map(|o| self.expr(o.value)).transpose()?;
            }
            Some(sp::LimitClause::OffsetCommaLimit { offset, limit }) => {
                out.limit = Some(self.expr(limit)?);
                out.offset = Some(self.expr(offset)?);
            }
        }
        Ok(out)
    }

    fn select(&mut self, s: sp::Select) -> Result<Query> {
        if s.top.is_some() || s.into.is_some() || !s.lateral_views.is_empty() {
            return Err(unsupported("TOP / INTO / LATERAL VIEW"));
        }
        if s.prewhere.is_some() || s.qualify.is_some() || !s.named_window.is_empty() {
            return Err(unsupported("PREWHERE / QUALIFY / WINDOW"));
        }
        if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
            return Err(unsupported("CLUSTER/DISTRIBUTE/SORT BY"));
        }
        if !s.connect_by.is_empty() || s.exclude.is_some() {
            return Err(unsupported("CONNECT BY / EXCLUDE"));
        }
        let distinct = match s.distinct {
            None | Some(sp::Distinct::All) => false,
            Some(sp::Distinct::Distinct) => true,
            Some(sp::Distinct::On(_)) => return Err(unsupported("DISTINCT ON")),
        };
        let items = s
            .projection
            .into_iter()
            .map(|i| self.select_item(i))
            .collect::<Result<_>>()?;
        let mut from: Option<FromItem> = None;
        for twj in s.from {
            let item = self.table_with_joins(twj)?;
            from = Some(match from {
                None => item,
                Some(left) => FromItem::Join {
                    left: Box::new(left),
                    right: Box::new(item),
                    kind: JoinKind::Cross,
                    on: None,
                },
            });
        }
        let filter = s.selection.map(|e| self.expr(e)).transpose()?;
        let group_by = match s.group_by {
            sp::GroupByExpr::Expressions(exprs, modifiers) => {
                if !modifiers.is_empty() {
                    return Err(unsupported("GROUP BY modifiers"));
                }
                exprs
                    .into_iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<_>>()?
            }
            sp::GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
        };
        let having = s.having.map(|e| self.expr(e)).transpose()?;
        Ok(Query {
            distinct,
            items,
            from,
            filter,
            group_by,
            having,
            order_by: vec![],
            limit: None,
            offset: None,
        })
    }

    fn select_item(&mut self, item: sp::SelectItem) -> Result<SelectItem> {
        Ok(match item {
            sp::SelectItem::UnnamedExpr(e) => {
                let name = match &e {
                    sp::Expr::Identifier(id) => id.value.clone(),
                    sp::Expr::CompoundIdentifier(ids) => {
                        ids.last().map(|i| i.value.clone()).unwrap_or_default()
                    }
                    other => other.to_string(),
                };
                SelectItem::Expr {
                    expr: self.expr(e)?,
                    name,
                    aliased: false,
                }
            }
            sp::SelectItem::ExprWithAlias { expr, alias } => SelectItem::Expr {
                expr: self.expr(expr)?,
                name: alias.value,
                aliased: true,
            },
            sp::SelectItem::Wildcard(opts) => {
                check_wildcard(&opts)?;
                SelectItem::Wildcard
            }
            sp::SelectItem::QualifiedWildcard(kind, opts) => {
                check_wildcard(&opts)?;
                match kind {
                    sp::SelectItemQualifiedWildcardKind::ObjectName(n) => {
                        SelectItem::QualifiedWildcard(object_name(&n)?)
                    }
                    sp::SelectItemQualifiedWildcardKind::Expr(e) => {
                        return Err(unsupported(&format!("wildcard {e}.*")))
                    }
                }
            }
            sp::SelectItem::ExprWithAliases { .. } => return Err(unsupported("multiple aliases")),
        })
    }

    fn table_with_joins(&mut self, twj: sp::TableWithJoins) -> Result<FromItem> {
        let mut item = self.table_factor(twj.relation)?;
        for join in twj.joins {
            if join.global {
                return Err(unsupported("GLOBAL JOIN"));
            }
            let (kind, constraint) = match join.join_operator {
                sp::JoinOperator::Join(c) | sp::JoinOperator::Inner(c) => (JoinKind::Inner, c),
                sp::JoinOperator::Left(c) | sp::JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
                sp::JoinOperator::Right(c) | sp::JoinOperator::RightOuter(c) => {
                    (JoinKind::Right, c)
                }
                sp::JoinOperator::FullOuter(c) => (JoinKind::Full, c),
                sp::JoinOperator::CrossJoin(c) => (JoinKind::Cross, c),
                _ => {
                    return Err(unsupported(
                        "join kind (use INNER, LEFT, RIGHT, FULL or CROSS)",
                    ))
                }
            };
            let on = match constraint {
                sp::JoinConstraint::On(e) => Some(self.expr(e)?),
                sp::JoinConstraint::None => None,
                sp::JoinConstraint::Using(_) | sp::JoinConstraint::UsingAlias(..) => {
                    return Err(unsupported("JOIN … USING (write ON a.x = b.x)"))
                }
                sp::JoinConstraint::Natural => return Err(unsupported("NATURAL JOIN")),
            };
            if on.is_none() && kind != JoinKind::Cross {
                return Err(Error::Sql(format!(
                    "{} JOIN needs an ON condition",
                    kind.name().to_uppercase()
                )));
            }
            if on.is_some() && kind == JoinKind::Cross {
                return Err(Error::Sql("CROSS JOIN takes no ON condition".into()));
            }
            item = FromItem::Join {
                left: Box::new(item),
                right: Box::new(self.table_factor(join.relation)?),
                kind,
                on,
            };
        }
        Ok(item)
    }

    fn table_factor(&mut self, t: sp::TableFactor) -> Result<FromItem> {
        self.tables += 1;
        if self.tables > MAX_TABLES {
            return Err(Error::Sql(format!(
                "a statement may name at most {MAX_TABLES} tables and subqueries in FROM"
            )));
        }
        match t {
            sp::TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                partitions,
                sample,
                ..
            } => {
                if args.is_some() || !with_hints.is_empty() || version.is_some() {
                    return Err(unsupported(&format!("table function or hint on {name}")));
                }
                if !partitions.is_empty() || sample.is_some() {
                    return Err(unsupported("PARTITION / TABLESAMPLE"));
                }
                Ok(FromItem::Table {
                    name: object_name(&name)?,
                    alias: table_alias(alias)?,
                })
            }
            sp::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                if lateral {
                    return Err(unsupported("LATERAL"));
                }
                let alias = table_alias(alias)?
                    .ok_or_else(|| Error::Sql("a subquery in FROM needs an alias".into()))?;
                Ok(FromItem::Subquery {
                    query: Box::new(self.query(*subquery)?),
                    alias,
                })
            }
            sp::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                if alias.is_some() {
                    return Err(unsupported("alias on a parenthesized join"));
                }
                self.table_with_joins(*table_with_joins)
            }
            other => {
                let text: String = other.to_string().chars().take(40).collect();
                Err(unsupported(&format!("FROM item {text}")))
            }
        }
    }
}

fn table_alias(alias: Option<sp::TableAlias>) -> Result<Option<String>> {
    match alias {
        None => Ok(None),
        Some(a) if a.columns.is_empty() => Ok(Some(a.name.value)),
        Some(a) => Err(unsupported(&format!("column aliases in {a}"))),
    }
}

fn check_wildcard(opts: &sp::WildcardAdditionalOptions) -> Result<()> {
    if opts.opt_ilike.is_some()
        || opts.opt_exclude.is_some()
        || opts.opt_except.is_some()
        || opts.opt_replace.is_some()
        || opts.opt_rename.is_some()
    {
        return Err(unsupported("wildcard options"));
    }
    Ok(())
}
