//! `.import FILE TABLE`: rows of a CSV (with a header line, when FILE ends in `.csv`) or JSON
//! lines file (one object per line) into a table, streamed, so a file far larger than memory
//! imports in bounded memory.
//!
//! ```text
//! spool   FILE is not a regular file (a pipe, /dev/stdin): copy it to a temporary file first
//! pass 1  parse every row; nothing is written    (a row that does not parse fails the import
//!         new table: infer its columns              before anything is written)
//! create  the table, when new: keyless, nullable columns in first-seen order
//! pass 2  parse again and insert, 1,000 rows per transaction
//! ```
//! Into an existing table, CSV fields are parsed by the column's type (empty = NULL): a BLOB
//! field written `x'00ff'` (as `.export` writes bytes) is those bytes, any other text its UTF-8
//! bytes; a DOCUMENT field is JSON (as `.export` writes documents); a REAL field is a number
//! (`1.5`, `-2e3`) or one of `NaN`, `inf`, `-inf` (as `.export` writes them).
//!
//! A new table's CSV columns are INTEGER or REAL where every non-empty field is such a number
//! (one written with a digit: text such as `Nan` or `infinity` is not; `NaN`, `inf`, `-inf` are
//! taken beside numbers), BLOB where every one is `x'..'` hex, DOCUMENT where every one is a
//! JSON object or array, else TEXT; so a table exported to CSV imports back with the same
//! values. Its JSON columns take their values' type (INTEGER and REAL mixed make REAL, other
//! mixes DOCUMENT).
//!
//! A source without columns (an empty file, a CSV file without its header line, JSON lines
//! with only empty objects) makes no new table: it is refused, as a table needs a column.
//!
//! A row the table refuses in pass 2 (a JSON value of the wrong type, a duplicate key) stops
//! the import there, with the batches before it committed, as SQLite's `.import` does; so does
//! a file that changed between the passes.

use crate::error::{CliError, CliResult, Context};
use crate::format::{from_json, unhex};
use crate::progress::Progress;
use crate::transfer::{create_table, is_csv, BATCH};
use rustlite::{Database, Value};
use rustlite_engine::catalog::{FieldDef, FieldType, Schema, TableSchema};
use rustlite_engine::{table, IsolationLevel};
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

/// Inserts the rows of `path` into table `name`, creating it if missing; returns the count.
pub fn import(db: &Database, path: &Path, name: &str) -> CliResult<u64> {
    let csv = is_csv(path);
    let spooled = spool_if_not_regular(path)?;
    let file = spooled.as_ref().map_or(path, |f| f.path());
    let existing = db.engine().catalog()?.get(name);
    let mut checking = Progress::new(&format!("reading {}", path.display()), None);
    let mut check = |_: u64, _: Value| -> CliResult<()> {
        checking.inc(1);
        Ok(())
    };
    // Pass 1: how many rows, whether all parse, and a new table's columns.
    let (rows, inferred, csv_types) = if csv {
        let header = csv_header(file)?;
        match &existing {
            Some(table) => {
                let types = column_types(table, name, &header)?;
                let rows = each_csv_row(file, &header, &types, &mut check)?;
                (rows, None, Some((header, types)))
            }
            None => {
                let mut columns = vec![CsvColumn::default(); header.len()];
                let rows =
                    each_csv_row(file, &header, &vec![None; header.len()], &mut |r, doc| {
                        observe_csv_row(&mut columns, &doc);
                        check(r, doc)
                    })?;
                let types: Vec<FieldType> = columns.iter().map(CsvColumn::ty).collect();
                let schema =
                    keyless_schema(name, header.iter().cloned().zip(types.iter().copied()));
                let types = types.into_iter().map(Some).collect();
                (rows, Some(schema), Some((header, types)))
            }
        }
    } else {
        let mut inference = existing.is_none().then(Inference::default);
        let rows = each_json_row(file, &mut |r, doc| {
            if let Some(inference) = &mut inference {
                inference.observe(&doc);
            }
            check(r, doc)
        })?;
        (rows, inference.map(|i| i.schema(name)), None)
    };
    checking.finish();
    let table = match (existing, inferred) {
        (Some(table), _) => table,
        (None, Some(schema)) if schema.fields.is_empty() => {
            let hint = match spooled {
                Some(_) => {
                    " (an empty pipe; /dev/stdin is empty when the script itself is read from \
                     standard input)"
                }
                None if csv => " (an empty file: a CSV file needs a header line)",
                None => " (an empty file, or only empty objects)",
            };
            return Err(CliError::msg(format!(
                "no columns to make table {name} from{hint}"
            )));
        }
        (None, Some(schema)) => create_table(db, &schema)?,
        (None, None) => return Err(CliError::msg(format!("no table {name} to import into"))),
    };

    // Pass 2: insert.
    let mut progress = Progress::new(&format!("importing into {name}"), Some(rows));
    let mut batch: Vec<(u64, Value)> = Vec::with_capacity(BATCH);
    let mut insert = |row: u64, doc: Value| -> CliResult<()> {
        batch.push((row, doc));
        if batch.len() >= BATCH {
            insert_batch(db, &table, &mut batch, &mut progress)?;
        }
        Ok(())
    };
    let inserted = match &csv_types {
        Some((header, types)) => each_csv_row(file, header, types, &mut insert)?,
        None => each_json_row(file, &mut insert)?,
    };
    insert_batch(db, &table, &mut batch, &mut progress)?;
    progress.finish();
    if inserted != rows {
        return Err(CliError::msg(format!(
            "{} changed while it was imported: {rows} rows when checked, {inserted} when inserted",
            path.display()
        )));
    }
    Ok(rows)
}

/// A copy of `path` in a temporary file when it is not a regular file (a pipe, `/dev/stdin`),
/// which the two passes could not read twice.
fn spool_if_not_regular(path: &Path) -> CliResult<Option<tempfile::NamedTempFile>> {
    if std::fs::metadata(path).context(path.display())?.is_file() {
        return Ok(None);
    }
    let mut source = std::fs::File::open(path).context(path.display())?;
    let mut spool = tempfile::NamedTempFile::new().context("a temporary file for the import")?;
    std::io::copy(&mut source, &mut spool).context(path.display())?;
    Ok(Some(spool))
}

/// Inserts `batch` (row numbers and documents) in one transaction and empties it.
fn insert_batch(
    db: &Database,
    table: &Arc<TableSchema>,
    batch: &mut Vec<(u64, Value)>,
    progress: &mut Progress,
) -> CliResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let n = batch.len() as u64;
    let mut tx = db.engine().begin(IsolationLevel::default());
    for (row, doc) in batch.drain(..) {
        table::insert(&mut tx, table, &doc)
            .map_err(CliError::from)
            .context(format_args!("row {row}"))?;
    }
    tx.commit()?;
    progress.inc(n);
    Ok(())
}

/// The header line of a CSV file; a column named twice is refused.
fn csv_header(path: &Path) -> CliResult<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).context(path.display())?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    for (i, column) in header.iter().enumerate() {
        if header
            .get(..i)
            .is_some_and(|before| before.contains(column))
        {
            return Err(CliError::msg(format!(
                "the CSV header names column {column} twice"
            )));
        }
    }
    Ok(header)
}

/// The types of an existing table's columns named by a CSV header.
fn column_types(
    table: &TableSchema,
    name: &str,
    header: &[String],
) -> CliResult<Vec<Option<FieldType>>> {
    header
        .iter()
        .map(|c| {
            table.field(c).map(|f| Some(f.ty)).ok_or_else(|| {
                CliError::msg(format!("table {name} has no column {c} (CSV header)"))
            })
        })
        .collect()
}

/// Calls `visit` with each record of a CSV file (row number from 1, document) and returns how
/// many there were. A field is parsed by its column's type when `types` has one (empty = NULL),
/// else kept as text (empty = NULL).
fn each_csv_row(
    path: &Path,
    header: &[String],
    types: &[Option<FieldType>],
    visit: &mut dyn FnMut(u64, Value) -> CliResult<()>,
) -> CliResult<u64> {
    let mut reader = csv::Reader::from_path(path).context(path.display())?;
    let mut rows = 0;
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, csv::Position::line);
        let mut fields = Vec::with_capacity(header.len());
        for ((column, ty), text) in header.iter().zip(types).zip(record.iter()) {
            let value = match ty {
                Some(ty) => parse_field(text, *ty)
                    .map_err(|e| CliError::msg(format!("line {line}: {column}: {e}")))?,
                None if text.is_empty() => Value::Null,
                None => Value::Text(text.to_owned()),
            };
            fields.push((column.clone(), value));
        }
        rows += 1;
        visit(rows, Value::Map(fields))?;
    }
    Ok(rows)
}

/// Calls `visit` with each object of a JSON lines file (row number from 1, document; blank
/// lines skipped) and returns how many there were.
fn each_json_row(
    path: &Path,
    visit: &mut dyn FnMut(u64, Value) -> CliResult<()>,
) -> CliResult<u64> {
    let file = std::fs::File::open(path).context(path.display())?;
    let mut rows = 0;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let json: Json = serde_json::from_str(&line).context(format_args!("line {}", n + 1))?;
        if !json.is_object() {
            return Err(CliError::msg(format!("line {}: not a JSON object", n + 1)));
        }
        let doc = from_json(&json).map_err(|e| CliError::msg(format!("line {}: {e}", n + 1)))?;
        rows += 1;
        visit(rows, doc)?;
    }
    Ok(rows)
}

/// What pass 1 learned of one column of a new table's CSV.
#[derive(Clone, Copy, Debug)]
struct CsvColumn {
    /// A non-empty field was seen.
    seen: bool,
    /// Every non-empty field parses as an integer.
    ints: bool,
    /// Every non-empty field is a number, or `NaN`, `inf`, `-inf` as `.export` writes them.
    floats: bool,
    /// A non-empty field is a number (written with a digit).
    numbers: bool,
    /// Every non-empty field is `x'..'` hex.
    blobs: bool,
    /// Every non-empty field is a JSON object or array.
    documents: bool,
}

impl Default for CsvColumn {
    fn default() -> Self {
        CsvColumn {
            seen: false,
            ints: true,
            floats: true,
            numbers: false,
            blobs: true,
            documents: true,
        }
    }
}

impl CsvColumn {
    fn observe(&mut self, text: &str) {
        let text = text.trim();
        self.seen = true;
        self.ints &= integer(text).is_some();
        let number = number(text).is_some();
        self.numbers |= number;
        self.floats &= number || special_float(text).is_some();
        self.blobs &= hex_literal(text).is_some();
        self.documents &= (text.starts_with('{') || text.starts_with('['))
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    }

    fn ty(&self) -> FieldType {
        match self {
            CsvColumn { seen: false, .. } => FieldType::Text,
            CsvColumn { ints: true, .. } => FieldType::Int,
            CsvColumn {
                floats: true,
                numbers: true,
                ..
            } => FieldType::Float,
            CsvColumn { blobs: true, .. } => FieldType::Bytes,
            CsvColumn {
                documents: true, ..
            } => FieldType::Document,
            _ => FieldType::Text,
        }
    }
}

/// Feeds one text-valued CSV document (as pass 1 reads a new table's file) to its columns.
fn observe_csv_row(columns: &mut [CsvColumn], doc: &Value) {
    let Value::Map(fields) = doc else { return };
    for (column, (_, value)) in columns.iter_mut().zip(fields) {
        if let Value::Text(text) = value {
            column.observe(text);
        }
    }
}

/// A new table's columns inferred from JSON documents: first-seen order, each typed by its
/// values.
#[derive(Default)]
struct Inference {
    fields: Vec<(String, Option<FieldType>)>,
}

impl Inference {
    fn observe(&mut self, doc: &Value) {
        let Value::Map(pairs) = doc else { return };
        for (k, v) in pairs {
            let pos = match self.fields.iter().position(|(f, _)| f == k) {
                Some(pos) => pos,
                None => {
                    self.fields.push((k.clone(), None));
                    self.fields.len() - 1
                }
            };
            if let Some(slot) = self.fields.get_mut(pos) {
                slot.1 = match (slot.1, type_of(v)) {
                    (t, None) => t,
                    (None, t) => t,
                    (Some(a), Some(b)) if a == b => Some(a),
                    (Some(FieldType::Int), Some(FieldType::Float))
                    | (Some(FieldType::Float), Some(FieldType::Int)) => Some(FieldType::Float),
                    _ => Some(FieldType::Document),
                };
            }
        }
    }

    /// A keyless table of nullable columns (TEXT where only NULLs were seen).
    fn schema(self, name: &str) -> Schema {
        keyless_schema(
            name,
            self.fields
                .into_iter()
                .map(|(n, t)| (n, t.unwrap_or(FieldType::Text))),
        )
    }
}

/// A new table without a declared key whose columns, all nullable, are `columns` in order.
fn keyless_schema(name: &str, columns: impl Iterator<Item = (String, FieldType)>) -> Schema {
    Schema {
        name: name.to_owned(),
        fields: columns
            .map(|(column, ty)| FieldDef::new(column, ty, true))
            .collect(),
        key_fields: Vec::new(),
        indexes: Vec::new(),
    }
}

/// `text` as an integer value (`i64::MIN..=u64::MAX`), if it is one.
fn integer(text: &str) -> Option<Value> {
    text.parse::<i128>().ok().and_then(Value::from_integer)
}

/// `text` as a number, if it looks like one: digits with an optional sign, point and exponent.
/// Rust's float parser also reads `NaN`, `inf` and `infinity` in any case, which in a CSV file
/// are words, not numbers.
fn number(text: &str) -> Option<f64> {
    let numeric = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    numeric.then(|| text.parse().ok()).flatten()
}

/// NaN or an infinity, written exactly as `.export` writes them: `NaN`, `inf`, `-inf`.
fn special_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// The bytes of an `x'00ff'` (or `X'..'`) hex literal, as `.export` writes bytes.
fn hex_literal(text: &str) -> Option<Vec<u8>> {
    let hex = text
        .strip_prefix("x'")
        .or_else(|| text.strip_prefix("X'"))?
        .strip_suffix('\'')?;
    unhex(hex).ok()
}

/// A CSV field as a value of column type `ty` (empty = NULL).
fn parse_field(text: &str, ty: FieldType) -> Result<Value, String> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    let bad = |what: &str| format!("{text:?} is not {what}");
    Ok(match ty {
        FieldType::Int => integer(text.trim()).ok_or_else(|| bad("an integer"))?,
        FieldType::Float => {
            let text = text.trim();
            Value::Float(
                number(text)
                    .or_else(|| special_float(text))
                    .ok_or_else(|| bad("a number"))?,
            )
        }
        FieldType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "t" | "yes" => Value::Bool(true),
            "false" | "0" | "f" | "no" => Value::Bool(false),
            _ => return Err(bad("a boolean")),
        },
        FieldType::Text => Value::Text(text.to_owned()),
        FieldType::Bytes => {
            Value::Bytes(hex_literal(text).unwrap_or_else(|| text.as_bytes().to_vec()))
        }
        FieldType::Document => {
            let json: Json = serde_json::from_str(text).map_err(|_| bad("JSON"))?;
            from_json(&json)?
        }
    })
}

fn type_of(value: &Value) -> Option<FieldType> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some(FieldType::Bool),
        Value::Int(_) | Value::UInt(_) => Some(FieldType::Int),
        Value::Float(_) => Some(FieldType::Float),
        Value::Text(_) => Some(FieldType::Text),
        Value::Bytes(_) => Some(FieldType::Bytes),
        Value::Array(_) | Value::Map(_) => Some(FieldType::Document),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_are_typed_by_every_non_empty_field() {
        let mut columns = [CsvColumn::default(); 4];
        for row in [["1", "1.5", "x", ""], [" 2 ", "3", "4", ""]] {
            for (column, text) in columns.iter_mut().zip(row) {
                if !text.is_empty() {
                    column.observe(text);
                }
            }
        }
        let types: Vec<FieldType> = columns.iter().map(CsvColumn::ty).collect();
        assert_eq!(
            types,
            [
                FieldType::Int,
                FieldType::Float,
                FieldType::Text,
                FieldType::Text
            ]
        );
    }

    #[test]
    fn numbers_hex_and_the_spellings_export_writes() {
        assert_eq!(number("1e3"), Some(1000.0));
        assert_eq!(number("-2.5"), Some(-2.5));
        for word in [
            "NaN",
            "nan",
            "Inf",
            "inf",
            "-infinity",
            "e",
            ".",
            "1e",
            "1_0",
        ] {
            assert_eq!(number(word), None, "{word}");
        }
        assert!(special_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(special_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(special_float("Inf"), None);
        assert_eq!(hex_literal("x'00ff'"), Some(vec![0, 255]));
        assert_eq!(hex_literal("X''"), Some(vec![]));
        for text in ["x'0'", "x'zz'", "'00'", "x'00", "x'é0'"] {
            assert_eq!(hex_literal(text), None, "{text}");
        }
        assert_eq!(
            parse_field("x'41'", FieldType::Bytes),
            Ok(Value::Bytes(vec![0x41]))
        );
        assert_eq!(
            parse_field("plain", FieldType::Bytes),
            Ok(Value::Bytes(b"plain".to_vec()))
        );
    }

    #[test]
    fn json_columns_widen_across_rows() {
        let mut inference = Inference::default();
        let doc = |pairs: Vec<(&str, Value)>| {
            Value::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        };
        inference.observe(&doc(vec![("a", Value::Int(1)), ("b", Value::Null)]));
        inference.observe(&doc(vec![
            ("a", Value::Float(1.5)),
            ("c", Value::Bool(true)),
            ("b", Value::Null),
        ]));
        inference.observe(&doc(vec![("c", Value::Text("x".into()))]));
        let schema = inference.schema("t");
        let got: Vec<(&str, FieldType)> = schema
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.ty))
            .collect();
        assert_eq!(
            got,
            [
                ("a", FieldType::Float),
                ("b", FieldType::Text),
                ("c", FieldType::Document)
            ]
        );
    }
}
