//! DDL and DML: `CREATE TABLE`, `CREATE INDEX`, `DROP`, `INSERT`, `UPDATE`, `DELETE`.
//!
//! Column options beyond `NOT NULL`, `NULL`, `PRIMARY KEY` and `UNIQUE` (defaults, checks,
//! foreign keys, generated columns) are refused by name, as are multi-column and expression
//! indexes.

use super::expr::column_type;
use super::{object_name, unsupported, Translator};
use crate::error::{Error, Result};
use crate::sql::ast::{ColumnDef, CreateIndex, CreateTable, InsertSource, Statement};
use sqlparser::ast as sp;

impl Translator {
    pub(super) fn create_table(&mut self, c: sp::CreateTable) -> Result<Statement> {
        if c.or_replace || c.temporary || c.external || c.query.is_some() || c.like.is_some() {
            return Err(unsupported("CREATE TABLE variant"));
        }
        let name = object_name(&c.name)?;
        let mut columns = Vec::new();
        let mut primary_key = Vec::new();
        let mut unique = Vec::new();
        for col in c.columns {
            let ty = column_type(&col.data_type)?;
            let mut nullable = true;
            for opt in col.options {
                match opt.option {
                    sp::ColumnOption::Null => {}
                    sp::ColumnOption::NotNull => nullable = false,
                    sp::ColumnOption::PrimaryKey(_) => {
                        if !primary_key.is_empty() {
                            return Err(Error::Sql(format!(
                                "table {name} has more than one PRIMARY KEY"
                            )));
                        }
                        primary_key.push(col.name.value.clone());
                    }
                    sp::ColumnOption::Unique(_) => unique.push(col.name.value.clone()),
                    other => {
                        return Err(unsupported(&format!(
                            "column option {other} on {}",
                            col.name.value
                        )))
                    }
                }
            }
            if columns
                .iter()
                .any(|c: &ColumnDef| c.name.eq_ignore_ascii_case(&col.name.value))
            {
                return Err(Error::Sql(format!(
                    "duplicate column {} in table {name}",
                    col.name.value
                )));
            }
            columns.push(ColumnDef {
                name: col.name.value,
                ty,
                nullable,
            });
        }
        for constraint in c.constraints {
            match constraint {
                sp::TableConstraint::PrimaryKey(pk) => {
                    if !primary_key.is_empty() {
                        return Err(Error::Sql(format!(
                            "table {name} has more than one PRIMARY KEY"
                        )));
                    }
                    for col in pk.columns {
                        primary_key.push(index_column(col)?);
                    }
                }
                sp::TableConstraint::Unique(u) => match u.columns.len() {
                    1 => {
                        for col in u.columns {
                            unique.push(index_column(col)?);
                        }
                    }
                    _ => return Err(unsupported("multi-column UNIQUE")),
                },
                other => return Err(unsupported(&format!("table constraint {other}"))),
            }
        }
        // Constraints name columns case-insensitively, as every other column reference does;
        // the key and unique lists keep the column's declared spelling.
        let declared = |key: String| {
            columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&key))
                .map(|c| c.name.clone())
                .ok_or_else(|| {
                    Error::Sql(format!(
                        "constraint names unknown column {key} in table {name}"
                    ))
                })
        };
        let primary_key = primary_key
            .into_iter()
            .map(declared)
            .collect::<Result<Vec<_>>>()?;
        let repeated = primary_key
            .iter()
            .enumerate()
            .find(|&(i, k)| primary_key.iter().skip(i + 1).any(|other| other == k));
        if let Some((_, k)) = repeated {
            return Err(Error::Sql(format!(
                "column {k} appears twice in the primary key of table {name}"
            )));
        }
        // A column declared UNIQUE twice (`a INTEGER UNIQUE, UNIQUE (a)`) has one constraint.
        let mut unique = unique
            .into_iter()
            .map(declared)
            .collect::<Result<Vec<_>>>()?;
        let mut seen = std::collections::HashSet::new();
        unique.retain(|c| seen.insert(c.clone()));
        // Key columns are implicitly NOT NULL.
        for col in &mut columns {
            if primary_key
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&col.name))
            {
                col.nullable = false;
            }
        }
        Ok(Statement::CreateTable(CreateTable {
            name,
            if_not_exists: c.if_not_exists,
            columns,
            primary_key,
            unique,
        }))
    }

    pub(super) fn create_index(&mut self, c: sp::CreateIndex) -> Result<Statement> {
        let name = c
            .name
            .as_ref()
            .map(object_name)
            .transpose()?
            .ok_or_else(|| Error::Sql("CREATE INDEX needs a name".into()))?;
        if c.concurrently || !c.include.is_empty() || c.predicate.is_some() || !c.with.is_empty() {
            return Err(unsupported("CREATE INDEX option"));
        }
        let hash = match &c.using {
            None | Some(sp::IndexType::BTree) => false,
            Some(sp::IndexType::Hash) => true,
            Some(other) => return Err(unsupported(&format!("index type {other}"))),
        };
        if c.columns.len() != 1 {
            return Err(unsupported("multi-column index (index one column)"));
        }
        let column = c
            .columns
            .into_iter()
            .next()
            .map(index_column)
            .transpose()?
            .ok_or_else(|| Error::Sql("CREATE INDEX needs a column".into()))?;
        Ok(Statement::CreateIndex(CreateIndex {
            name,
            table: object_name(&c.table_name)?,
            column,
            unique: c.unique,
            hash,
            if_not_exists: c.if_not_exists,
        }))
    }

    pub(super) fn drop(
        &mut self,
        object_type: sp::ObjectType,
        if_exists: bool,
        names: Vec<sp::ObjectName>,
        cascade: bool,
    ) -> Result<Statement> {
        if cascade {
            return Err(unsupported("DROP … CASCADE"));
        }
        let [name] = names.as_slice() else {
            return Err(unsupported("DROP of several objects"));
        };
        let name = object_name(name)?;
        match object_type {
            sp::ObjectType::Table => Ok(Statement::DropTable { name, if_exists }),
            sp::ObjectType::Index => Ok(Statement::DropIndex { name, if_exists }),
            other => Err(unsupported(&format!("DROP {other}"))),
        }
    }

    pub(super) fn insert(&mut self, i: sp::Insert) -> Result<Statement> {
        if i.replace_into {
            return Err(unsupported("REPLACE INTO"));
        }
        if i.or.is_some() || i.ignore || i.on.is_some() || i.returning.is_some() {
            return Err(unsupported("INSERT OR / IGNORE / ON CONFLICT / RETURNING"));
        }
        if i.partitioned.is_some() || !i.assignments.is_empty() || i.overwrite {
            return Err(unsupported("INSERT variant"));
        }
        let table = match &i.table {
            sp::TableObject::TableName(n) => object_name(n)?,
            _ => return Err(unsupported("INSERT into a table function")),
        };
        let columns = if i.columns.is_empty() {
            None
        } else {
            Some(
                i.columns
                    .iter()
                    .map(object_name)
                    .collect::<Result<Vec<_>>>()?,
            )
        };
        let source = i
            .source
            .ok_or_else(|| Error::Sql("INSERT needs VALUES or SELECT".into()))?;
        let source = match *source.body {
            sp::SetExpr::Values(values)
                if source.order_by.is_none() && source.limit_clause.is_none() =>
            {
                InsertSource::Values(
                    values
                        .rows
                        .into_iter()
                        .map(|row| {
                            row.content
                                .into_iter()
                                .map(|e| self.expr(e))
                                .collect::<Result<Vec<_>>>()
                        })
                        .collect::<Result<_>>()?,
                )
            }
            body => {
                let q = sp::Query {
                    body: Box::new(body),
                    ..*source
                };
                InsertSource::Query(Box::new(self.query(q)?))
            }
        };
        Ok(Statement::Insert {
            table,
            columns,
            source,
        })
    }

    pub(super) fn update(&mut self, u: sp::Update) -> Result<Statement> {
        if u.from.is_some() || u.returning.is_some() || u.or.is_some() || u.limit.is_some() {
            return Err(unsupported("UPDATE … FROM / RETURNING / LIMIT"));
        }
        if !u.table.joins.is_empty() {
            return Err(unsupported("UPDATE of a join"));
        }
        let table = match u.table.relation {
            sp::TableFactor::Table { name, alias, .. } => {
                if alias.is_some() {
                    return Err(unsupported("alias in UPDATE"));
                }
                object_name(&name)?
            }
            _ => return Err(unsupported("UPDATE target")),
        };
        let mut set = Vec::new();
        for a in u.assignments {
            let column = match a.target {
                sp::AssignmentTarget::ColumnName(n) => object_name(&n)?,
                sp::AssignmentTarget::Tuple(_) => return Err(unsupported("tuple assignment")),
            };
            set.push((column, self.expr(a.value)?));
        }
        let filter = u.selection.map(|e| self.expr(e)).transpose()?;
        Ok(Statement::Update { table, set, filter })
    }

    pub(super) fn delete(&mut self, d: sp::Delete) -> Result<Statement> {
        if !d.tables.is_empty() || d.using.is_some() || d.returning.is_some() || d.limit.is_some() {
            return Err(unsupported("DELETE … USING / RETURNING / LIMIT"));
        }
        let from = match d.from {
            sp::FromTable::WithFromKeyword(f) | sp::FromTable::WithoutKeyword(f) => f,
        };
        let [twj] = from.as_slice() else {
            return Err(unsupported("DELETE from several tables"));
        };
        if !twj.joins.is_empty() {
            return Err(unsupported("DELETE from a join"));
        }
        let table = match &twj.relation {
            sp::TableFactor::Table { name, alias, .. } => {
                if alias.is_some() {
                    return Err(unsupported("alias in DELETE"));
                }
                object_name(name)?
            }
            _ => return Err(unsupported("DELETE target")),
        };
        let filter = d.selection.map(|e| self.expr(e)).transpose()?;
        Ok(Statement::Delete { table, filter })
    }
}

/// The plain column named by an index or key column (no expressions, no ordering options).
fn index_column(c: sp::IndexColumn) -> Result<String> {
    if c.operator_class.is_some() || c.column.options.sort.is_some() {
        return Err(unsupported("index column options"));
    }
    match c.column.expr {
        sp::Expr::Identifier(id) => Ok(id.value),
        other => Err(unsupported(&format!("index on expression {other}"))),
    }
}
