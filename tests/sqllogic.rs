//! Runs the `.slt` corpus in `tests/sql/` with the `sqllogictest` crate, twice: against
//! RustLite (an in-memory `Database`, label `rustlite`) and against SQLite (rusqlite's bundled
//! build, label `sqlite`), so every plain-SQL expectation is checked to be SQLite's answer too.
//! Records only RustLite can run (error messages, EXPLAIN, parameters, BOOLEAN) are marked
//! `onlyif rustlite`.
//!
//! Values print as: NULL → `NULL`, integers in decimal, floats with three decimals, booleans
//! `true`/`false`, the empty string as `(empty)`.
//!
//! Parameters: a statement whose first line is `-- params: 1, 'ada', NULL` is run with those
//! values bound to `?`/`$n`.

use rustlite::{Database, Value};
use sqllogictest::{DBOutput, DefaultColumnType, Runner};
use std::path::{Path, PathBuf};

fn float(f: f64) -> String {
    format!("{f:.3}")
}

fn text(s: String) -> String {
    if s.is_empty() {
        "(empty)".into()
    } else {
        s
    }
}

/// Parses the `-- params:` line.
fn params(sql: &str) -> Vec<Value> {
    let Some(line) = sql
        .lines()
        .next()
        .and_then(|l| l.trim().strip_prefix("-- params:"))
    else {
        return vec![];
    };
    line.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.eq_ignore_ascii_case("null") {
                Value::Null
            } else if let Some(s) = p.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                Value::Text(s.to_string())
            } else if let Ok(i) = p.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(f) = p.parse::<f64>() {
                Value::Float(f)
            } else {
                Value::Bool(p.eq_ignore_ascii_case("true"))
            }
        })
        .collect()
}

struct RustLite(Database);

impl sqllogictest::DB for RustLite {
    type Error = rustlite::Error;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, rustlite::Error> {
        let r = self.0.query(sql, params(sql))?;
        if r.columns.is_empty() {
            return Ok(DBOutput::StatementComplete(r.rows_affected));
        }
        let rows = r
            .rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| match v {
                        Value::Float(f) => float(f),
                        Value::Text(s) => text(s),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; r.columns.len()],
            rows,
        })
    }
}

struct Sqlite(rusqlite::Connection);

impl sqllogictest::DB for Sqlite {
    type Error = rusqlite::Error;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, rusqlite::Error> {
        let mut stmt = self.0.prepare(sql)?;
        let n = stmt.column_count();
        if n == 0 {
            let changed = stmt.execute([])?;
            return Ok(DBOutput::StatementComplete(changed as u64));
        }
        let mut rows = Vec::new();
        let mut q = stmt.query([])?;
        while let Some(row) = q.next()? {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                use rusqlite::types::ValueRef;
                out.push(match row.get_ref(i)? {
                    ValueRef::Null => "NULL".to_string(),
                    ValueRef::Integer(i) => i.to_string(),
                    ValueRef::Real(f) => float(f),
                    ValueRef::Text(t) => text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Bytes(b.to_vec()).to_string(),
                });
            }
            rows.push(out);
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; n],
            rows,
        })
    }
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "slt"));
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

#[test]
fn slt_corpus_on_rustlite() {
    let mut failures = Vec::new();
    for file in corpus() {
        let mut runner =
            Runner::new(|| async { Ok::<_, rustlite::Error>(RustLite(Database::in_memory()?)) });
        runner.add_label("rustlite");
        if let Err(e) = runner.run_file(&file) {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn slt_corpus_on_sqlite() {
    let mut failures = Vec::new();
    for file in corpus() {
        let mut runner = Runner::new(|| async {
            Ok::<_, rusqlite::Error>(Sqlite(rusqlite::Connection::open_in_memory()?))
        });
        runner.add_label("sqlite");
        if let Err(e) = runner.run_file(&file) {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
