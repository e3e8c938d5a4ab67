//! Dot commands: shell settings, the catalog, import/export, operations and raw keys.
//!
//! A dot command is one line starting with `.`; its arguments are split on whitespace, with
//! `"..."` or `'...'` for arguments containing spaces (see [`crate::input::split_args`]).

use crate::error::{CliError, CliResult, Context};
use crate::format::{self, bytes_value, Mode};
use crate::input::split_args;
use crate::ops::{human_bytes, print_stats};
use crate::progress::spinner;
use crate::shell::{Flow, Session};
use crate::{import, transfer};
use rustlite::{QueryResult, Value};
use rustlite_engine::catalog::{IndexKind, TableSchema};
use std::io::Write;
use std::path::Path;

/// The `.help` text.
pub const HELP: &str = "\
SQL statements end with ';' and may span lines. Dot commands:
  .tables                    list tables
  .schema [TABLE]            CREATE statements of every table (or one)
  .indexes [TABLE]           secondary indexes
  .mode table|json|csv       how results print
  .explain on|off            print each statement's plan before its result
  .timer on|off              print each statement's run time
  .import FILE TABLE         insert rows from FILE.csv (with a header) or FILE.jsonl
  .export TABLE FILE         write a table's rows to FILE.jsonl (or FILE.csv)
  .backup DIR                online backup into DIR (must be empty or missing)
  .check                     verify every checksum (tables, manifest, WAL)
  .stats                     levels, files, sizes, cache hit rate, WAL size
  .get KEY                   value of a raw key
  .put KEY VALUE             set a raw key
  .delete KEY                delete a raw key
  .scan [PREFIX]             raw keys starting with PREFIX
  .help                      this text
  .quit                      leave (also .exit or Ctrl-D)";

/// Runs dot command `line` in `session`.
pub fn run(session: &mut Session, line: &str) -> CliResult<Flow> {
    let args = split_args(line).map_err(CliError::msg)?;
    let Some((command, args)) = args.split_first() else {
        return Ok(Flow::Continue);
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut out = std::io::stdout().lock();
    match (command.as_str(), args.as_slice()) {
        (".quit" | ".exit", []) => return Ok(Flow::Quit),
        (".help", _) => writeln!(out, "{HELP}")?,
        (".tables", []) => {
            for table in session.db.engine().catalog()?.list() {
                writeln!(out, "{}", table.name())?;
            }
        }
        (".schema", [] | [_]) => {
            let catalog = session.db.engine().catalog()?;
            let mut any = false;
            for table in catalog.list() {
                if args.first().is_none_or(|name| *name == table.name()) {
                    writeln!(out, "{}", create_statements(table))?;
                    any = true;
                }
            }
            if let (false, Some(name)) = (any, args.first()) {
                return Err(CliError::msg(format!("no table {name}")));
            }
        }
        (".indexes", [] | [_]) => {
            let catalog = session.db.engine().catalog()?;
            let rows: Vec<Vec<Value>> = catalog
                .list()
                .filter(|t| args.first().is_none_or(|name| *name == t.name()))
                .flat_map(|t| {
                    t.indexes.iter().map(|ix| {
                        vec![
                            Value::Text(ix.def.name.clone()),
                            Value::Text(t.name().to_owned()),
                            Value::Text(ix.def.field.clone()),
                            Value::Text(kind_name(ix.def.kind).to_owned()),
                            Value::Bool(ix.def.unique),
                        ]
                    })
                })
                .collect();
            let result = QueryResult {
                columns: ["index", "table", "column", "kind", "unique"]
                    .map(String::from)
                    .into(),
                rows,
                rows_affected: 0,
            };
            format::print_result(&mut out, session.mode, &result)?;
        }
        (".mode", [name]) => {
            session.mode = Mode::parse(name)
                .ok_or_else(|| CliError::msg(format!("unknown mode {name}: table, json or csv")))?;
        }
        (".mode", []) => writeln!(out, "{}", session.mode.name())?,
        (".explain", [flag]) => session.explain = on_off(flag)?,
        (".timer", [flag]) => session.timer = on_off(flag)?,
        (".import", [file, table]) => {
            drop(out);
            let n = import::import(&session.db, Path::new(file), table).context(file)?;
            writeln!(std::io::stdout(), "imported {n} rows into {table}")?;
        }
        (".export", [table, file]) => {
            drop(out);
            let n = transfer::export(&session.db, table, Path::new(file))?;
            writeln!(std::io::stdout(), "exported {n} rows to {file}")?;
        }
        (".backup", [dir]) => {
            let info = spinner("backing up", || session.db.backup_to(dir)).context(dir)?;
            writeln!(
                out,
                "backed up {} files ({}) up to seqno {} into {dir}",
                info.files,
                human_bytes(info.bytes),
                info.last_seq
            )?;
        }
        (".check", []) => {
            let entries = spinner("checking", || session.db.verify())?;
            writeln!(out, "ok: {entries} entries checked")?;
        }
        (".stats", []) => print_stats(&mut out, &session.db.stats())?,
        (".get", [key]) => match session.db.get(key)? {
            Some(value) => writeln!(out, "{}", format::cell(&bytes_value(value)))?,
            None => return Err(CliError::msg(format!("key {key} not found"))),
        },
        (".put", [key, value]) => session.db.put(key, value)?,
        (".delete", [key]) => session.db.delete(key)?,
        (".scan", [] | [_]) => {
            let prefix = args.first().copied().unwrap_or("");
            let mut rows = Vec::new();
            for entry in session.db.scan_prefix(prefix)? {
                let (key, value) = entry?;
                rows.push(vec![bytes_value(key), bytes_value(value)]);
            }
            let result = QueryResult {
                columns: vec!["key".into(), "value".into()].into(),
                rows,
                rows_affected: 0,
            };
            format::print_result(&mut out, session.mode, &result)?;
        }
        (
            ".quit" | ".exit" | ".tables" | ".schema" | ".indexes" | ".mode" | ".explain"
            | ".timer" | ".import" | ".export" | ".backup" | ".check" | ".stats" | ".get" | ".put"
            | ".delete" | ".scan",
            _,
        ) => {
            return Err(CliError::msg(format!(
                "wrong arguments for {command}; see .help"
            )))
        }
        _ => {
            return Err(CliError::msg(format!(
                "unknown command {command}; see .help"
            )))
        }
    }
    Ok(Flow::Continue)
}

fn on_off(flag: &str) -> CliResult<bool> {
    match flag {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(CliError::msg(format!("expected on or off, not {flag}"))),
    }
}

fn kind_name(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::BTree => "btree",
        IndexKind::Hash => "hash",
    }
}

/// `name` as an SQL identifier, quoted when it is not a plain word.
fn ident(name: &str) -> String {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| !c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The `CREATE TABLE` and `CREATE INDEX` statements that declare `table`.
fn create_statements(table: &TableSchema) -> String {
    let schema = &table.schema;
    let mut columns: Vec<String> = schema
        .fields
        .iter()
        .map(|f| {
            let null = if f.nullable { "" } else { " NOT NULL" };
            format!("  {} {}{null}", ident(&f.name), f.ty.sql_name())
        })
        .collect();
    if !schema.key_fields.is_empty() {
        let key: Vec<String> = schema.key_fields.iter().map(|k| ident(k)).collect();
        columns.push(format!("  PRIMARY KEY ({})", key.join(", ")));
    }
    let mut out = format!(
        "CREATE TABLE {} (\n{}\n);",
        ident(table.name()),
        columns.join(",\n")
    );
    for ix in &table.indexes {
        let unique = if ix.def.unique { "UNIQUE " } else { "" };
        let using = match ix.def.kind {
            IndexKind::Hash => " USING HASH",
            IndexKind::BTree => "",
        };
        out.push_str(&format!(
            "\nCREATE {unique}INDEX {} ON {}{using} ({});",
            ident(&ix.def.name),
            ident(table.name()),
            ident(&ix.def.field)
        ));
    }
    out
}
