//! Writes: INSERT, UPDATE, DELETE and DDL.
//!
//! The SQL layer checks what only SQL knows (a value's type against its column, `NOT NULL`,
//! widening INTEGER to REAL) and hands finished rows to the [`Storage`], which owns keys,
//! index maintenance and unique checks. Every row to write is computed before the first write,
//! and the caller runs the statement in one transaction, so a failed statement leaves nothing.

use super::{run, scan, scan_keys};
use crate::error::{Error, Result};
use crate::sql::ast::ColumnType;
use crate::sql::eval::{eval, integral, type_name, without_nan};
use crate::sql::planner::{InsertPlan, Plan};
use crate::sql::storage::{Row, Storage, TableInfo};
use crate::value::Value;

/// Executes a write plan; returns the number of rows affected.
pub fn execute(plan: Plan, storage: &mut dyn Storage) -> Result<u64> {
    match plan {
        Plan::Insert {
            table,
            columns,
            source,
        } => {
            let sources: Vec<Vec<Value>> = match source {
                InsertPlan::Values(rows) => rows
                    .iter()
                    .map(|r| r.iter().map(|e| eval(e, &[])).collect())
                    .collect::<Result<_>>()?,
                InsertPlan::Query(node) => run(&node, storage)?,
            };
            let mut rows = Vec::with_capacity(sources.len());
            for values in sources {
                let mut row = vec![Value::Null; table.columns.len()];
                for (&c, v) in columns.iter().zip(values) {
                    if let Some(slot) = row.get_mut(c) {
                        *slot = v;
                    }
                }
                rows.push(check_row(&table, row)?);
            }
            let n = rows.len() as u64;
            for row in rows {
                storage.insert(&table, row)?;
            }
            Ok(n)
        }
        Plan::Update {
            table,
            scan: node,
            set,
        } => {
            let targets = scan(&node, storage)?;
            let mut updates = Vec::with_capacity(targets.len());
            for t in targets {
                let mut row = t.row.clone();
                for (c, e) in &set {
                    let v = eval(e, &t.row)?;
                    if let Some(slot) = row.get_mut(*c) {
                        *slot = v;
                    }
                }
                updates.push((t.key, check_row(&table, row)?));
            }
            let n = updates.len() as u64;
            for (key, row) in updates {
                storage.update(&table, &key, row)?;
            }
            Ok(n)
        }
        Plan::Delete { table, scan: node } => {
            let keys = scan_keys(&node, storage)?;
            let n = keys.len() as u64;
            for key in keys {
                storage.delete(&table, &key)?;
            }
            Ok(n)
        }
        Plan::CreateTable(def) => {
            if storage.table(&def.name)?.is_some() {
                if def.if_not_exists {
                    return Ok(0);
                }
                return Err(Error::Sql(format!("table {} already exists", def.name)));
            }
            storage.create_table(&def)?;
            Ok(0)
        }
        Plan::CreateIndex(def) => {
            let table = storage
                .table(&def.table)?
                .ok_or_else(|| Error::Sql(format!("unknown table {}", def.table)))?;
            if table.column(&def.column).is_none() {
                return Err(Error::Sql(format!(
                    "unknown column {} in table {}",
                    def.column, def.table
                )));
            }
            match storage.create_index(&def) {
                Err(Error::AlreadyExists { .. }) if def.if_not_exists => Ok(0),
                Err(Error::AlreadyExists { .. }) => {
                    Err(Error::Sql(format!("index {} already exists", def.name)))
                }
                other => other.map(|()| 0),
            }
        }
        Plan::DropTable { name, if_exists } => {
            if storage.table(&name)?.is_none() {
                if if_exists {
                    return Ok(0);
                }
                return Err(Error::Sql(format!("unknown table {name}")));
            }
            storage.drop_table(&name)?;
            Ok(0)
        }
        Plan::DropIndex { name, if_exists } => match storage.drop_index(&name) {
            Err(Error::NotFound(_)) if if_exists => Ok(0),
            Err(Error::NotFound(_)) => Err(Error::Sql(format!("unknown index {name}"))),
            other => other.map(|()| 0),
        },
        Plan::Query { .. } | Plan::Explain(_) => {
            Err(Error::Sql("internal: not a write statement".into()))
        }
    }
}

/// Coerces each value to its column's type and checks `NOT NULL`. A NaN (a stored one read by
/// `INSERT … SELECT` or `UPDATE`; SQL makes none) is written as NULL, at any depth.
pub fn check_row(table: &TableInfo, row: Row) -> Result<Row> {
    row.into_iter()
        .zip(&table.columns)
        .map(|(v, c)| {
            let v = without_nan(v);
            let mismatch = |v: &Value| {
                Error::Sql(format!(
                    "type mismatch: column {}.{} is {}, got {} {}",
                    table.name,
                    c.name,
                    type_name(c.ty),
                    v.type_name(),
                    crate::sql::planner::explain::literal(v)
                ))
            };
            Ok(match (c.ty, v) {
                (_, Value::Null) if !c.nullable => {
                    return Err(Error::Sql(format!(
                        "NOT NULL constraint failed: {}.{}",
                        table.name, c.name
                    )))
                }
                (_, Value::Null) => Value::Null,
                (ColumnType::Int, v @ (Value::Int(_) | Value::UInt(_)))
                | (ColumnType::Float, v @ Value::Float(_))
                | (ColumnType::Text, v @ Value::Text(_))
                | (ColumnType::Bytes, v @ Value::Bytes(_))
                | (ColumnType::Bool, v @ Value::Bool(_))
                | (ColumnType::Document, v) => v,
                (ColumnType::Float, v @ (Value::Int(_) | Value::UInt(_))) => {
                    Value::Float(v.as_f64().unwrap_or(0.0))
                }
                (ColumnType::Int, Value::Float(f)) => {
                    integral(f).ok_or_else(|| mismatch(&Value::Float(f)))?
                }
                (_, v) => return Err(mismatch(&v)),
            })
        })
        .collect()
}
