//! Rows in and out of a database: `.export` of one table (CSV or JSON lines) and `dump`/`load`
//! of a whole database.
//!
//! # Dump format (JSON lines)
//! ```text
//! {"format":"rustlite-dump","version":1}
//! {"table":{"name":"users","fields":[{"name":"id","ty":"Int","nullable":false},..],
//!           "key_fields":["id"],"indexes":[{"name":"users.email","field":"email","kind":"BTree","unique":true}]}}
//! {"row":"users","doc":{"id":1,"email":"ada@x.org"}}        (after its table line)
//! {"index":{"name":"by_tag","kind":"Hash"}}                  (standalone indexes, after the tables)
//! {"entry":{"index":"by_tag","key":"red","id":7}}             (after its index line)
//! {"kv":{"key":"config:theme","value":{"$hex":"00ff"}}}     (raw keys, last)
//! ```
//! Every line of a dump is read at one snapshot. Values use the JSON form of
//! [`format`](crate::format) (bytes as `{"$hex": ..}`), raw keys and values are text when they
//! are UTF-8. A table without a declared key gets fresh row ids when loaded. Indexes are
//! declared with their table and rebuilt from the rows. The seed API's standalone indexes
//! (`Database::create_index`) hold entries no row implies, so they are dumped entry by entry.
//!
//! Imports (`.import`) are [`crate::import`]'s.

use crate::error::{CliError, CliResult, Context};
use crate::format::{bytes_value, csv_cell, from_json, to_json};
use crate::progress::Progress;
use rustlite::{Database, Value};
use rustlite_engine::catalog::TableIndex;
use rustlite_engine::catalog::{Catalog, IndexKind, Schema, TableSchema};
use rustlite_engine::table::index;
use rustlite_engine::{keyspace, table, Direction, IsolationLevel};
use serde_json::{json, Value as Json};
use std::io::{BufRead, BufWriter, Write};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

/// Rows per write transaction in imports and loads.
pub(crate) const BATCH: usize = 1000;
/// First line of a dump.
const DUMP_FORMAT: &str = "rustlite-dump";
const DUMP_VERSION: u64 = 1;

/// What a load or import wrote.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Tables created.
    pub tables: u64,
    /// Rows inserted.
    pub rows: u64,
    /// Raw keys written.
    pub keys: u64,
    /// Standalone indexes created.
    pub indexes: u64,
    /// Standalone index entries written.
    pub entries: u64,
}

pub(crate) fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Writes every row of table `name` to `path` (CSV when it ends in `.csv`, else JSON lines);
/// returns the number of rows.
pub fn export(db: &Database, name: &str, path: &Path) -> CliResult<u64> {
    let mut snap = db.engine().snapshot();
    let table = Catalog::table(&mut snap, name)?
        .ok_or_else(|| CliError::msg(format!("no table {name}")))?;
    let file = std::fs::File::create(path).context(path.display())?;
    let mut progress = Progress::new(&format!("exporting {name}"), None);
    let mut n = 0;
    let rows = table::scan(
        &mut snap,
        &table,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Forward,
    )?;
    if is_csv(path) {
        let mut writer = csv::Writer::from_writer(file);
        let columns: Vec<&str> = table
            .schema
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        writer.write_record(&columns)?;
        for row in rows.decoded() {
            let (_, doc) = row?;
            writer.write_record(columns.iter().map(|c| csv_cell(doc.field(c))))?;
            n += 1;
            progress.inc(1);
        }
        writer.flush()?;
    } else {
        let mut out = BufWriter::new(file);
        for row in rows.decoded() {
            let (_, doc) = row?;
            serde_json::to_writer(&mut out, &to_json(&doc))?;
            out.write_all(b"\n")?;
            n += 1;
            progress.inc(1);
        }
        out.flush()?;
    }
    progress.finish();
    Ok(n)
}

pub(crate) fn create_table(db: &Database, schema: &Schema) -> CliResult<Arc<TableSchema>> {
    let mut tx = db.engine().begin(IsolationLevel::default());
    let table = Catalog::create_table(&mut tx, schema)?;
    tx.commit()?;
    Ok(table)
}

/// Writes the dump of `db` to `out`; returns what it wrote.
pub fn dump(db: &Database, out: &mut dyn Write) -> CliResult<Loaded> {
    let mut snap = db.engine().snapshot();
    let mut done = Loaded::default();
    let mut progress = Progress::new("dumping", None);
    let line = |out: &mut dyn Write, json: Json| -> CliResult<()> {
        serde_json::to_writer(&mut *out, &json)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    line(
        out,
        json!({ "format": DUMP_FORMAT, "version": DUMP_VERSION }),
    )?;
    for t in Catalog::tables(&mut snap)? {
        line(out, json!({ "table": t.schema }))?;
        done.tables += 1;
        let rows = table::scan(
            &mut snap,
            &t,
            Bound::Unbounded,
            Bound::Unbounded,
            Direction::Forward,
        )?;
        for row in rows.decoded() {
            let (_, doc) = row?;
            line(out, json!({ "row": t.name(), "doc": to_json(&doc) }))?;
            done.rows += 1;
            progress.inc(1);
        }
    }
    for ix in Catalog::standalone_indexes(&mut snap)? {
        line(
            out,
            json!({ "index": { "name": ix.name(), "kind": ix.def.kind } }),
        )?;
        done.indexes += 1;
        for (key, id) in index::standalone_entries(&mut snap, &ix)? {
            let entry = json!({ "index": ix.name(), "key": to_json(&bytes_value(key)), "id": id });
            line(out, json!({ "entry": entry }))?;
            done.entries += 1;
            progress.inc(1);
        }
    }
    let (lo, hi) = keyspace::tagged_bounds(keyspace::RAW, Bound::Unbounded, Bound::Unbounded);
    let raw = snap.scan(
        lo.as_ref().map(Vec::as_slice),
        hi.as_ref().map(Vec::as_slice),
        Direction::Forward,
    )?;
    for kv in raw {
        let (key, value) = kv?;
        let key = key.get(1..).unwrap_or_default().to_vec();
        let kv =
            json!({ "key": to_json(&bytes_value(key)), "value": to_json(&bytes_value(value)) });
        line(out, json!({ "kv": kv }))?;
        done.keys += 1;
        progress.inc(1);
    }
    out.flush()?;
    progress.finish();
    Ok(done)
}

/// Bytes of a raw key or value in a dump (text, or `{"$hex": ..}`).
fn raw_bytes(json: &Json) -> CliResult<Vec<u8>> {
    match from_json(json).map_err(CliError::msg)? {
        Value::Text(s) => Ok(s.into_bytes()),
        Value::Bytes(b) => Ok(b),
        other => Err(CliError::msg(format!(
            "raw key or value {other} is not text or bytes"
        ))),
    }
}

/// A dump whose format line has been read and checked, ready for [`load`].
pub struct DumpInput<R> {
    input: R,
    /// Lines read so far (the format line and blank lines before it).
    lines: usize,
    /// Bytes read so far.
    bytes: u64,
}

/// Reads and checks the format line of the dump in `input`, so a file that is not a dump is
/// refused before anything (such as a new database) is made for it.
pub fn open_dump<R: BufRead>(mut input: R) -> CliResult<DumpInput<R>> {
    let mut lines = 0;
    let mut bytes = 0;
    let mut line = String::new();
    loop {
        line.clear();
        let n = input.read_line(&mut line)?;
        if n == 0 {
            return Err(CliError::msg("empty dump (no format line)"));
        }
        lines += 1;
        bytes += n as u64;
        if !line.trim().is_empty() {
            break;
        }
    }
    let json: Json = serde_json::from_str(&line).context(format_args!("dump line {lines}"))?;
    if json.get("format").and_then(Json::as_str) != Some(DUMP_FORMAT) {
        return Err(CliError::msg("not a rustlite dump (no format line)"));
    }
    let version = json.get("version").and_then(Json::as_u64);
    if version != Some(DUMP_VERSION) {
        return Err(CliError::msg(format!(
            "dump version {version:?} (this build reads {DUMP_VERSION})"
        )));
    }
    Ok(DumpInput {
        input,
        lines,
        bytes,
    })
}

/// Loads the dump in `dump` (of `total` bytes, for progress) into `db`.
pub fn load(db: &Database, dump: DumpInput<impl BufRead>, total: Option<u64>) -> CliResult<Loaded> {
    let mut done = Loaded::default();
    let mut progress = Progress::new("loading", total);
    progress.inc(dump.bytes);
    let mut tx = db.engine().begin(IsolationLevel::default());
    let mut pending = 0;
    let mut current: Option<Arc<TableSchema>> = None;
    let mut current_index: Option<Arc<TableIndex>> = None;
    for (n, line) in dump.input.lines().enumerate() {
        let line = line?;
        progress.inc(line.len() as u64 + 1);
        let at = || format!("dump line {}", n + 1 + dump.lines);
        if line.trim().is_empty() {
            continue;
        }
        let json: Json = serde_json::from_str(&line).context(at())?;
        if let Some(schema) = json.get("table") {
            let schema: Schema = serde_json::from_value(schema.clone()).context(at())?;
            tx.commit()?;
            current = Some(create_table(db, &schema).context(at())?);
            tx = db.engine().begin(IsolationLevel::default());
            done.tables += 1;
        } else if let (Some(name), Some(doc)) = (json.get("row"), json.get("doc")) {
            let table = current
                .as_ref()
                .filter(|t| Some(t.name()) == name.as_str())
                .ok_or_else(|| CliError::msg(format!("{}: row before its table", at())))?;
            let doc = from_json(doc).map_err(|e| CliError::msg(format!("{}: {e}", at())))?;
            table::insert(&mut tx, table, &doc)
                .map_err(CliError::from)
                .context(at())?;
            done.rows += 1;
            pending += 1;
        } else if let Some(ix) = json.get("index") {
            let name = ix["name"]
                .as_str()
                .ok_or_else(|| CliError::msg(format!("{}: index without a name", at())))?;
            let kind: IndexKind = serde_json::from_value(ix["kind"].clone()).context(at())?;
            current_index = Some(
                Catalog::create_standalone_index(&mut tx, name, kind)
                    .map_err(CliError::from)
                    .context(at())?,
            );
            done.indexes += 1;
            pending += 1;
        } else if let Some(entry) = json.get("entry") {
            let ix = current_index
                .as_ref()
                .filter(|ix| Some(ix.name()) == entry["index"].as_str())
                .ok_or_else(|| CliError::msg(format!("{}: entry before its index", at())))?;
            let key = raw_bytes(&entry["key"]).context(at())?;
            let id = entry["id"]
                .as_u64()
                .ok_or_else(|| CliError::msg(format!("{}: entry id is not a number", at())))?;
            index::standalone_insert(&mut tx, ix, &key, id)
                .map_err(CliError::from)
                .context(at())?;
            done.entries += 1;
            pending += 1;
        } else if let Some(kv) = json.get("kv") {
            let key = raw_bytes(&kv["key"]).context(at())?;
            let value = raw_bytes(&kv["value"]).context(at())?;
            tx.put(&keyspace::tagged(keyspace::RAW, &key), &value)?;
            done.keys += 1;
            pending += 1;
        } else {
            return Err(CliError::msg(format!("{}: unknown line", at())));
        }
        if pending >= BATCH {
            tx.commit()?;
            tx = db.engine().begin(IsolationLevel::default());
            pending = 0;
        }
    }
    tx.commit()?;
    progress.finish();
    Ok(done)
}
