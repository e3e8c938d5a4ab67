//! An in-memory [`Storage`]: tables in `BTreeMap`s keyed by the same key encoding the engine
//! uses. It stands in for the catalog and table layer in unit tests and serves as a reference
//! model; it keeps indexes implicitly (a lookup filters the rows) but enforces unique indexes
//! and primary keys like the real layer.

use super::ast::{ColumnType, CreateIndex, CreateTable};
use super::eval::group_key;
use super::storage::{
    encode_key, key_bounds, within, ColumnInfo, IndexInfo, IndexLookup, KeyedRow, Row, Storage,
    TableInfo,
};
use crate::error::{Error, Result};
use crate::value::Value;
use std::collections::BTreeMap;
use std::ops::Bound;

#[derive(Clone, Debug)]
struct MemTable {
    info: TableInfo,
    rows: BTreeMap<Vec<u8>, KeyedRow>,
    next_rowid: i64,
}

/// See the module docs.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    tables: BTreeMap<String, MemTable>,
}

impl MemoryStorage {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs one statement atomically: on error, every change it made is undone.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<super::QueryResult> {
        let before = self.clone();
        let out = super::execute_on(self, sql, params);
        if out.is_err() {
            *self = before;
        }
        out
    }

    fn get_table(&mut self, name: &str) -> Result<&mut MemTable> {
        let key = name.to_ascii_lowercase();
        self.tables
            .get_mut(&key)
            .ok_or_else(|| Error::NotFound(format!("table {name}")))
    }

    fn key_of(info: &TableInfo, row: &[Value], rowid: i64) -> Vec<Value> {
        if info.primary_key.is_empty() {
            vec![Value::Int(rowid)]
        } else {
            info.primary_key
                .iter()
                .map(|&i| row.get(i).cloned().unwrap_or(Value::Null))
                .collect()
        }
    }

    fn check_unique(t: &MemTable, row: &[Value], skip: Option<&[u8]>) -> Result<()> {
        for index in t.info.indexes.iter().filter(|i| i.unique) {
            let v = row.get(index.column).unwrap_or(&Value::Null);
            if v.is_null() {
                continue;
            }
            let mut k = Vec::new();
            group_key(v, &mut k);
            for (rk, other) in &t.rows {
                if Some(rk.as_slice()) == skip {
                    continue;
                }
                let mut ok = Vec::new();
                group_key(other.row.get(index.column).unwrap_or(&Value::Null), &mut ok);
                if ok == k {
                    return Err(Error::UniqueViolation {
                        index: index.name.clone(),
                        value: v.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl Storage for MemoryStorage {
    fn table(&mut self, name: &str) -> Result<Option<TableInfo>> {
        Ok(self
            .tables
            .get(&name.to_ascii_lowercase())
            .map(|t| t.info.clone()))
    }

    fn scan(
        &mut self,
        table: &TableInfo,
        lower: Bound<&[Value]>,
        upper: Bound<&[Value]>,
    ) -> Result<Vec<KeyedRow>> {
        let bounds = key_bounds(lower, upper)?;
        let t = self.get_table(&table.name)?;
        Ok(t.rows
            .iter()
            .filter(|(k, _)| within(k, &bounds))
            .map(|(_, r)| r.clone())
            .collect())
    }

    fn get(&mut self, table: &TableInfo, key: &[Value]) -> Result<Option<KeyedRow>> {
        let k = encode_key(key)?;
        Ok(self.get_table(&table.name)?.rows.get(&k).cloned())
    }

    fn index_scan(
        &mut self,
        table: &TableInfo,
        index: &IndexInfo,
        lookup: &IndexLookup,
    ) -> Result<Vec<KeyedRow>> {
        let bounds = match lookup {
            IndexLookup::Eq(v) => {
                let k = v.to_key()?;
                (Bound::Included(k.clone()), Bound::Included(k))
            }
            IndexLookup::Range(lo, hi) => {
                let enc = |b: &Bound<Value>| -> Result<Bound<Vec<u8>>> {
                    Ok(match b {
                        Bound::Included(v) => Bound::Included(v.to_key()?),
                        Bound::Excluded(v) => Bound::Excluded(v.to_key()?),
                        Bound::Unbounded => Bound::Unbounded,
                    })
                };
                (enc(lo)?, enc(hi)?)
            }
        };
        let t = self.get_table(&table.name)?;
        let mut hits: Vec<(Vec<u8>, KeyedRow)> = Vec::new();
        for r in t.rows.values() {
            let v = r.row.get(index.column).unwrap_or(&Value::Null);
            if v.is_null() {
                continue;
            }
            let k = v.to_key()?;
            if within(&k, &bounds) {
                hits.push((k, r.clone()));
            }
        }
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(hits.into_iter().map(|(_, r)| r).collect())
    }

    fn insert(&mut self, table: &TableInfo, row: Row) -> Result<()> {
        let t = self.get_table(&table.name)?;
        t.next_rowid += 1;
        let key = Self::key_of(&t.info, &row, t.next_rowid);
        let k = encode_key(&key)?;
        if t.rows.contains_key(&k) {
            return Err(Error::AlreadyExists {
                collection: t.info.name.clone(),
                key: format!("{key:?}"),
            });
        }
        Self::check_unique(t, &row, None)?;
        t.rows.insert(k, KeyedRow { key, row });
        Ok(())
    }

    fn update(&mut self, table: &TableInfo, key: &[Value], row: Row) -> Result<()> {
        let t = self.get_table(&table.name)?;
        let old = encode_key(key)?;
        let new_key = if t.info.primary_key.is_empty() {
            key.to_vec()
        } else {
            Self::key_of(&t.info, &row, 0)
        };
        let new = encode_key(&new_key)?;
        if new != old && t.rows.contains_key(&new) {
            return Err(Error::AlreadyExists {
                collection: t.info.name.clone(),
                key: format!("{new_key:?}"),
            });
        }
        Self::check_unique(t, &row, Some(&old))?;
        t.rows.remove(&old);
        t.rows.insert(new, KeyedRow { key: new_key, row });
        Ok(())
    }

    fn delete(&mut self, table: &TableInfo, key: &[Value]) -> Result<()> {
        let k = encode_key(key)?;
        self.get_table(&table.name)?.rows.remove(&k);
        Ok(())
    }

    fn create_table(&mut self, def: &CreateTable) -> Result<()> {
        let lname = def.name.to_ascii_lowercase();
        if self.tables.contains_key(&lname) {
            return Err(Error::AlreadyExists {
                collection: def.name.clone(),
                key: "(table)".into(),
            });
        }
        let columns: Vec<ColumnInfo> = def
            .columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                ty: c.ty,
                nullable: c.nullable,
            })
            .collect();
        let find = |n: &str| columns.iter().position(|c| c.name.eq_ignore_ascii_case(n));
        let primary_key = def.primary_key.iter().filter_map(|k| find(k)).collect();
        let indexes = def
            .unique
            .iter()
            .filter_map(|u| {
                find(u).map(|column| IndexInfo {
                    name: format!("{}_{}_unique", def.name, u),
                    column,
                    hash: false,
                    unique: true,
                })
            })
            .collect();
        self.tables.insert(
            lname,
            MemTable {
                info: TableInfo {
                    name: def.name.clone(),
                    columns,
                    primary_key,
                    indexes,
                },
                rows: BTreeMap::new(),
                next_rowid: 0,
            },
        );
        Ok(())
    }

    fn drop_table(&mut self, name: &str) -> Result<()> {
        self.tables
            .remove(&name.to_ascii_lowercase())
            .map(|_| ())
            .ok_or_else(|| Error::NotFound(format!("table {name}")))
    }

    fn create_index(&mut self, def: &CreateIndex) -> Result<()> {
        if self.tables.values().any(|t| {
            t.info
                .indexes
                .iter()
                .any(|i| i.name.eq_ignore_ascii_case(&def.name))
        }) {
            return Err(Error::AlreadyExists {
                collection: def.table.clone(),
                key: def.name.clone(),
            });
        }
        let t = self.get_table(&def.table)?;
        let column = t
            .info
            .column(&def.column)
            .ok_or_else(|| Error::NotFound(format!("column {}", def.column)))?;
        if matches!(
            t.info.columns.get(column).map(|c| c.ty),
            Some(ColumnType::Document)
        ) {
            return Err(Error::Schema(format!(
                "cannot index document column {}",
                def.column
            )));
        }
        let index = IndexInfo {
            name: def.name.clone(),
            column,
            hash: def.hash,
            unique: def.unique,
        };
        t.info.indexes.push(index);
        if def.unique {
            let rows: Vec<KeyedRow> = t.rows.values().cloned().collect();
            let mut seen = std::collections::HashSet::new();
            for r in rows {
                let v = r.row.get(column).unwrap_or(&Value::Null);
                let mut k = Vec::new();
                group_key(v, &mut k);
                if !v.is_null() && !seen.insert(k) {
                    t.info.indexes.pop();
                    return Err(Error::UniqueViolation {
                        index: def.name.clone(),
                        value: v.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    fn drop_index(&mut self, name: &str) -> Result<()> {
        for t in self.tables.values_mut() {
            if let Some(pos) = t
                .info
                .indexes
                .iter()
                .position(|i| i.name.eq_ignore_ascii_case(name))
            {
                t.info.indexes.remove(pos);
                return Ok(());
            }
        }
        Err(Error::NotFound(format!("index {name}")))
    }
}
