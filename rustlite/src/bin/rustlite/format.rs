//! Result output (aligned table, JSON, CSV) and the JSON form of values shared by `.mode json`,
//! `.export`, `dump` and `load`.
//!
//! # Table mode
//! ```text
//! +----+-------+------+
//! | id | name  | age  |
//! +----+-------+------+
//! |  1 | ada   |   36 |
//! |  2 | grace | NULL |
//! +----+-------+------+
//! (2 rows)
//! ```
//! Numbers are right-aligned, everything else left-aligned; newlines in text show as `\n`.
//!
//! # JSON mode
//! One object per row, keyed by column name. A name the result repeats (`SELECT * FROM a JOIN
//! b` where both have `v`, or `SELECT 1 AS x, 2 AS x`) gets `:N` appended at its second and
//! later uses, `N` the smallest from 1 that no other column has: `{"v":1,"v:1":2}`. No value
//! is lost.
//!
//! # JSON form of a value
//! Null, booleans, integers, finite floats, text, arrays and maps map to their JSON
//! counterparts (a float keeps its `.0`, so it reads back as a float). What JSON cannot hold is
//! an object with one `$`-key: bytes are `{"$hex": "00ff"}`, NaN and infinities are
//! `{"$float": "NaN" | "inf" | "-inf"}`.

use rustlite::{QueryResult, Value};
use serde_json::{json, Map, Number, Value as Json};
use std::io::{self, Write};

/// How results are printed (`.mode`, `--mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Aligned table with a row count.
    #[default]
    Table,
    /// One JSON array of objects, one object per line.
    Json,
    /// CSV with a header line.
    Csv,
}

impl Mode {
    /// The mode's name, as `.mode` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Table => "table",
            Mode::Json => "json",
            Mode::Csv => "csv",
        }
    }

    /// The mode called `name`.
    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "table" | "box" => Some(Mode::Table),
            "json" => Some(Mode::Json),
            "csv" => Some(Mode::Csv),
            _ => None,
        }
    }
}

/// Prints `result` in `mode`. A result without columns (a write or DDL) prints nothing here.
pub fn print_result(out: &mut dyn Write, mode: Mode, result: &QueryResult) -> io::Result<()> {
    if result.columns.is_empty() {
        return Ok(());
    }
    let mut writer = match RowWriter::new(out, mode) {
        Ok(writer) => writer,
        Err(out) => return print_table(out, &result.columns, &result.rows),
    };
    for row in &result.rows {
        writer.row(&result.columns, row)?;
    }
    writer.finish(&result.columns)
}

/// Prints rows in JSON or CSV mode as they arrive, so a query's rows need not be held (the
/// table mode sizes its columns from every row, so it has no such writer).
pub enum RowWriter<'o> {
    /// `[{..},` / `{..},` / `{..}]`, one object per line: a row is printed once the next one
    /// (or the end) tells whether it is the last.
    Json {
        out: &'o mut dyn Write,
        pending: Option<Json>,
        printed: bool,
        /// The object keys of the columns (see [`json_keys`]), made at the first row.
        keys: Vec<String>,
    },
    /// The header with the first row (or at the end, for no rows), then a record per row.
    Csv {
        writer: Box<csv::Writer<&'o mut dyn Write>>,
        header: bool,
    },
}

impl<'o> RowWriter<'o> {
    /// A writer for `mode`, or `out` back for the table mode.
    pub fn new(out: &'o mut dyn Write, mode: Mode) -> Result<RowWriter<'o>, &'o mut dyn Write> {
        match mode {
            Mode::Table => Err(out),
            Mode::Json => Ok(RowWriter::Json {
                out,
                pending: None,
                printed: false,
                keys: Vec::new(),
            }),
            Mode::Csv => Ok(RowWriter::Csv {
                writer: Box::new(csv::Writer::from_writer(out)),
                header: false,
            }),
        }
    }

    /// Prints (or holds, in JSON, until the next) one row of a result with `columns`.
    pub fn row(&mut self, columns: &[String], row: &[Value]) -> io::Result<()> {
        match self {
            RowWriter::Json {
                out,
                pending,
                printed,
                keys,
            } => {
                if keys.len() != columns.len() {
                    *keys = json_keys(columns);
                }
                let object: Map<String, Json> =
                    keys.iter().cloned().zip(row.iter().map(to_json)).collect();
                if let Some(previous) = pending.replace(Json::Object(object)) {
                    let open = if *printed { "" } else { "[" };
                    writeln!(out, "{open}{previous},")?;
                    *printed = true;
                }
                Ok(())
            }
            RowWriter::Csv { writer, header } => {
                if !*header {
                    writer.write_record(columns)?;
                    *header = true;
                }
                writer.write_record(row.iter().map(csv_cell))?;
                Ok(())
            }
        }
    }

    /// Ends the output of a result with `columns` (none: a write, which prints nothing, or a
    /// statement that failed midway, whose rows so far are closed off).
    pub fn finish(self, columns: &[String]) -> io::Result<()> {
        match self {
            RowWriter::Json {
                out,
                pending,
                printed,
                ..
            } => match pending {
                Some(last) => {
                    let open = if printed { "" } else { "[" };
                    writeln!(out, "{open}{last}]")
                }
                None if columns.is_empty() => Ok(()),
                None => writeln!(out, "[]"),
            },
            RowWriter::Csv { mut writer, header } => {
                if !header && !columns.is_empty() {
                    writer.write_record(columns)?;
                }
                writer.flush()
            }
        }
    }
}

/// The JSON mode's object keys for `columns`: each name, and for a repeated one `name:N` with
/// the smallest `N` from 1 that is no other column's key (see the module docs).
pub fn json_keys(columns: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(columns.len());
    for (i, name) in columns.iter().enumerate() {
        let taken = |key: &str| keys.iter().any(|k| k == key) || columns.iter().any(|c| c == key);
        let repeated = columns.get(..i).is_some_and(|before| before.contains(name));
        let key = if repeated {
            (1..)
                .map(|n| format!("{name}:{n}"))
                .find(|key| !taken(key))
                .unwrap_or_else(|| name.clone())
        } else {
            name.clone()
        };
        keys.push(key);
    }
    keys
}

/// One cell as text: `NULL`, text as is, bytes as `x'..'`, documents in `{k: v}` form.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Text(s) => s.replace('\n', "\\n"),
        // Keep a float's `.0` so 36.0 does not read as the integer 36.
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
        other => other.to_string().replace('\n', "\\n"),
    }
}

fn is_numeric(value: &Value) -> bool {
    matches!(value, Value::Int(_) | Value::UInt(_) | Value::Float(_))
}

fn print_table(out: &mut dyn Write, columns: &[String], rows: &[Vec<Value>]) -> io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+";
    writeln!(out, "{rule}")?;
    let header: String = columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| format!("| {} ", pad(c, *w, false)))
        .collect();
    writeln!(out, "{header}|")?;
    writeln!(out, "{rule}")?;
    for (row, values) in cells.iter().zip(rows) {
        let line: String = row
            .iter()
            .zip(&widths)
            .zip(values)
            .map(|((c, w), v)| format!("| {} ", pad(c, *w, is_numeric(v))))
            .collect();
        writeln!(out, "{line}|")?;
    }
    writeln!(out, "{rule}")?;
    match rows.len() {
        1 => writeln!(out, "(1 row)"),
        n => writeln!(out, "({n} rows)"),
    }
}

fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(text.chars().count()));
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

/// One CSV field, in the form `.import` reads back into the same value: empty for NULL, text
/// as is, bytes as `x'00ff'`, documents (maps and arrays) as JSON, an integral float with its
/// `.0` (so a new table's column is REAL again), NaN and infinities as `NaN`, `inf`, `-inf`.
pub fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Text(s) => s.clone(),
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 => format!("{f:.1}"),
        Value::Array(_) | Value::Map(_) => to_json(value).to_string(),
        other => other.to_string(),
    }
}

/// The JSON form of `value` (see the module docs).
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None => json!({ "$float": f.to_string() }),
        },
        Value::Text(s) => Json::String(s.clone()),
        Value::Bytes(b) => json!({ "$hex": hex(b) }),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// The value of a JSON form (see the module docs); the inverse of [`to_json`].
pub fn from_json(json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) if !n.is_f64() => Value::Int(i),
            (_, Some(u), _) if !n.is_f64() => Value::from(u),
            (_, _, Some(f)) => Value::Float(f),
            _ => return Err(format!("number {n} is out of range")),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(from_json).collect::<Result<_, _>>()?),
        Json::Object(fields) => {
            if fields.len() == 1 {
                if let Some(Json::String(h)) = fields.get("$hex") {
                    return unhex(h).map(Value::Bytes);
                }
                if let Some(Json::String(f)) = fields.get("$float") {
                    return f
                        .parse::<f64>()
                        .map(Value::Float)
                        .map_err(|_| format!("bad $float {f:?}"));
                }
            }
            Value::Map(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), from_json(v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
    })
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string.
pub fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {text:?}"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("bad hex {text:?}"))
        })
        .collect()
}

/// Raw bytes as a value for display: text when they are UTF-8, bytes otherwise.
pub fn bytes_value(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => Value::Text(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_round_trips_every_kind_of_value() {
        let doc = Value::Map(vec![
            ("n".into(), Value::Null),
            ("b".into(), Value::Bool(true)),
            ("i".into(), Value::Int(-7)),
            ("u".into(), Value::UInt(u64::MAX)),
            ("f".into(), Value::Float(2.0)),
            ("nan".into(), Value::Float(f64::INFINITY)),
            ("t".into(), Value::Text("x".into())),
            ("bytes".into(), Value::Bytes(vec![0, 255])),
            ("a".into(), Value::Array(vec![Value::Int(1)])),
        ]);
        let json = to_json(&doc);
        let text = json.to_string();
        assert!(text.contains(r#""f":2.0"#), "{text}");
        assert!(text.contains(r#""u":18446744073709551615"#), "{text}");
        assert!(text.contains(r#""bytes":{"$hex":"00ff"}"#), "{text}");
        let back: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(from_json(&back).unwrap(), doc);
    }

    #[test]
    fn repeated_column_names_get_unique_json_keys() {
        let names = |c: &[&str]| json_keys(&c.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(names(&["id", "v", "id", "v"]), ["id", "v", "id:1", "v:1"]);
        assert_eq!(names(&["x", "x", "x"]), ["x", "x:1", "x:2"]);
        // `v:1` is a column's own name: the repeated `v` takes `v:2`.
        assert_eq!(names(&["v", "v", "v:1"]), ["v", "v:2", "v:1"]);
    }

    #[test]
    fn table_aligns_numbers_right() {
        let result = QueryResult {
            columns: vec!["id".into(), "name".into()].into(),
            rows: vec![
                vec![Value::Int(1), Value::Text("ada".into())],
                vec![Value::Int(10), Value::Null],
            ],
            rows_affected: 0,
        };
        let mut out = Vec::new();
        print_result(&mut out, Mode::Table, &result).unwrap();
        let expected = "\
+----+------+
| id | name |
+----+------+
|  1 | ada  |
| 10 | NULL |
+----+------+
(2 rows)
";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn csv_and_json_modes() {
        let result = QueryResult {
            columns: vec!["a".into(), "b".into()].into(),
            rows: vec![vec![Value::Text("x,y".into()), Value::Null]],
            rows_affected: 0,
        };
        let mut out = Vec::new();
        print_result(&mut out, Mode::Csv, &result).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,b\n\"x,y\",\n");
        let mut out = Vec::new();
        print_result(&mut out, Mode::Json, &result).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[{\"a\":\"x,y\",\"b\":null}]\n"
        );
    }
}
