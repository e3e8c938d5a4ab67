//! Differential test: random tables and random SELECTs (filters, joins of every kind, GROUP BY
//! with HAVING, ORDER BY over every output column so the order is total, LIMIT/OFFSET) run on
//! RustLite and on SQLite over the same data; the results must be equal.
//!
//! Queries stay inside the dialect both engines agree on: well-typed comparisons (RustLite
//! refuses INTEGER-vs-TEXT where SQLite coerces), no division (RustLite errors on division by
//! zero where SQLite returns NULL), no `%` on REAL columns (SQLite's `%` truncates its operands
//! to integers), lowercase text (SQLite's LIKE ignores ASCII case). REAL columns hold `±inf`
//! and `-0.0` among their values, so arithmetic makes infinities and (as NULL) NaNs.
//!
//! `RUSTLITE_SEED=<n>` replays a run; `RUSTLITE_LONG=1` runs ten times as many rounds. The seed
//! is printed with every failure.

use rustlite::{Database, Value};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Qualified column references: (table alias, column).
type Cols = Vec<(String, String)>;

/// splitmix64: small, seedable, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn int(&mut self) -> i64 {
        self.below(16) as i64 - 5
    }
}

const WORDS: &[&str] = &["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"];

/// Tables: name → (int columns, text columns). Every table has `id INTEGER PRIMARY KEY`.
const TABLES: &[(&str, &[&str], &[&str])] = &[
    ("t1", &["a", "b"], &["s"]),
    ("t2", &["t1_id", "c"], &["s"]),
    ("t3", &["a", "d"], &["w"]),
];

/// REAL columns of the tables (after their int columns); the queries use them where they use
/// int columns.
const REALS: &[(&str, &[&str])] = &[("t1", &["f"]), ("t2", &[]), ("t3", &["g"])];

fn reals_of(table: &str) -> &'static [&'static str] {
    REALS
        .iter()
        .find(|(n, _)| *n == table)
        .map_or(&[], |(_, r)| r)
}

/// The values of REAL columns: ordinary ones, `-0.0`, the infinities and a huge one (whose
/// products overflow to `inf`), as SQL literals both engines read alike.
const REAL_LITERALS: &[&str] = &[
    "-2.5", "-1.0", "-0.0", "0.0", "0.5", "1.0", "2.0", "3.25", "1e999", "-1e999", "1e300",
];

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Num(f64),
    Text(String),
}

fn same(a: &[Vec<Cell>], b: &[Vec<Cell>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| match (p, q) {
                    (Cell::Num(m), Cell::Num(n)) => {
                        m == n || (m - n).abs() <= 1e-9 * m.abs().max(1.0)
                    }
                    _ => p == q,
                })
        })
}

fn lit(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Text(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

struct Gen<'a> {
    rng: &'a mut Rng,
}

impl Gen<'_> {
    /// An integer-valued expression over the given (alias, int column) pairs.
    fn int_expr(&mut self, cols: &[(String, String)]) -> String {
        let (t, c) = self.rng.pick(cols).clone();
        match self.rng.below(6) {
            0 => format!("{t}.{c} + {}", self.rng.int()),
            1 => format!("{t}.{c} * {}", self.rng.int()),
            2 => {
                let (t2, c2) = self.rng.pick(cols).clone();
                format!("{t}.{c} - {t2}.{c2}")
            }
            _ => format!("{t}.{c}"),
        }
    }

    fn predicate(
        &mut self,
        ints: &[(String, String)],
        texts: &[(String, String)],
        depth: usize,
    ) -> String {
        if depth > 0 && self.rng.chance(45) {
            let l = self.predicate(ints, texts, depth - 1);
            let r = self.predicate(ints, texts, depth - 1);
            return match self.rng.below(3) {
                0 => format!("({l} AND {r})"),
                1 => format!("({l} OR {r})"),
                _ => format!("NOT ({l})"),
            };
        }
        let ops = ["=", "<>", "<", "<=", ">", ">="];
        let op = *self.rng.pick(&ops);
        match self.rng.below(9) {
            0 | 1 => format!("{} {op} {}", self.int_expr(ints), self.rng.int()),
            2 => {
                let a = self.int_expr(ints);
                let b = self.int_expr(ints);
                format!("{a} {op} {b}")
            }
            3 => {
                let (t, c) = self.rng.pick(ints).clone();
                let not = if self.rng.chance(30) { " NOT" } else { "" };
                format!("{t}.{c} IS{not} NULL")
            }
            4 => {
                let (t, c) = self.rng.pick(ints).clone();
                // Short lists and long ones, integers and floats equal to them (`2.0`) or not.
                let len = if self.rng.chance(20) {
                    8 + self.rng.below(24)
                } else {
                    1 + self.rng.below(3)
                };
                let mut list: Vec<String> = (0..len)
                    .map(|_| match self.rng.below(6) {
                        0 => format!("{}.0", self.rng.int()),
                        1 => format!("{}.5", self.rng.int()),
                        _ => self.rng.int().to_string(),
                    })
                    .collect();
                if self.rng.chance(20) {
                    list.push("NULL".into());
                }
                let not = if self.rng.chance(30) { " NOT" } else { "" };
                format!("{t}.{c}{not} IN ({})", list.join(", "))
            }
            5 => {
                let (t, c) = self.rng.pick(ints).clone();
                let lo = self.rng.int();
                let not = if self.rng.chance(25) { " NOT" } else { "" };
                format!(
                    "{t}.{c}{not} BETWEEN {lo} AND {}",
                    lo + self.rng.below(6) as i64
                )
            }
            6 if !texts.is_empty() => {
                let (t, c) = self.rng.pick(texts).clone();
                let w = self.rng.pick(WORDS);
                format!("{t}.{c} {op} '{w}'")
            }
            6 if !texts.is_empty() && self.rng.chance(30) => {
                let (t, c) = self.rng.pick(texts).clone();
                let mut list: Vec<String> = (0..1 + self.rng.below(6))
                    .map(|_| format!("'{}'", self.rng.pick(WORDS)))
                    .collect();
                if self.rng.chance(20) {
                    list.push("NULL".into());
                }
                let not = if self.rng.chance(30) { " NOT" } else { "" };
                format!("{t}.{c}{not} IN ({})", list.join(", "))
            }
            7 if !texts.is_empty() => {
                let (t, c) = self.rng.pick(texts).clone();
                let w = self.rng.pick(WORDS);
                let pat = match self.rng.below(3) {
                    0 => format!("{}%", &w[..1]),
                    1 => format!("%{}", &w[2..]),
                    _ => format!("_{}_", &w[1..2]),
                };
                format!("{t}.{c} LIKE '{pat}'")
            }
            _ => {
                let (t, c) = self.rng.pick(ints).clone();
                format!("{t}.{c} {op} {}", self.rng.int())
            }
        }
    }

    fn order_limit(&mut self, n: usize) -> String {
        let keys: Vec<String> = (1..=n)
            .map(|i| {
                let dir = if self.rng.chance(40) { " DESC" } else { "" };
                let nulls = match self.rng.below(8) {
                    0 => " NULLS FIRST",
                    1 => " NULLS LAST",
                    _ => "",
                };
                format!("{i}{dir}{nulls}")
            })
            .collect();
        let mut s = format!(" ORDER BY {}", keys.join(", "));
        if self.rng.chance(30) {
            s.push_str(&format!(" LIMIT {}", self.rng.below(8)));
            if self.rng.chance(50) {
                s.push_str(&format!(" OFFSET {}", self.rng.below(5)));
            }
        }
        s
    }

    fn columns_of(&self, table: &str, alias: &str) -> (Cols, Cols) {
        let (_, ints, texts) = TABLES
            .iter()
            .find(|(n, _, _)| *n == table)
            .copied()
            .unwrap_or(TABLES[0]);
        let mut i: Vec<(String, String)> = ints
            .iter()
            .chain(reals_of(table))
            .map(|c| (alias.to_string(), c.to_string()))
            .collect();
        i.push((alias.to_string(), "id".to_string()));
        let t = texts
            .iter()
            .map(|c| (alias.to_string(), c.to_string()))
            .collect();
        (i, t)
    }

    fn query(&mut self) -> String {
        match self.rng.below(3) {
            0 => {
                let (table, _, _) = *self.rng.pick(TABLES);
                let (ints, texts) = self.columns_of(table, "x");
                let mut cols: Vec<String> = vec![];
                for _ in 0..1 + self.rng.below(3) {
                    cols.push(if self.rng.chance(25) && !texts.is_empty() {
                        let (t, c) = self.rng.pick(&texts).clone();
                        format!("{t}.{c}")
                    } else {
                        self.int_expr(&ints)
                    });
                }
                let distinct = if self.rng.chance(20) { "DISTINCT " } else { "" };
                let pred = self.predicate(&ints, &texts, 2);
                format!(
                    "SELECT {distinct}{} FROM {table} x WHERE {pred}{}",
                    cols.join(", "),
                    self.order_limit(cols.len())
                )
            }
            1 => {
                let kinds = [
                    "JOIN",
                    "LEFT JOIN",
                    "RIGHT JOIN",
                    "FULL OUTER JOIN",
                    "CROSS JOIN",
                ];
                let kind = *self.rng.pick(&kinds);
                let (li, lt) = self.columns_of("t1", "x");
                let right_table = if self.rng.chance(50) { "t2" } else { "t3" };
                let (ri, rt) = self.columns_of(right_table, "y");
                let right = if ri.iter().any(|(_, c)| c == "t1_id") {
                    "t2"
                } else {
                    "t3"
                };
                let on = if kind == "CROSS JOIN" {
                    String::new()
                } else {
                    let key = if right == "t2" {
                        "y.t1_id = x.id"
                    } else {
                        "y.a = x.a"
                    };
                    let extra = if self.rng.chance(30) {
                        let all = ri.to_vec();
                        format!(" AND {}", self.predicate(&all, &rt, 0))
                    } else if self.rng.chance(10) {
                        " AND y.id > x.b".to_string()
                    } else {
                        String::new()
                    };
                    let on = if self.rng.chance(15) {
                        "y.id < x.a + 3".to_string()
                    } else {
                        key.to_string()
                    };
                    format!(" ON {on}{extra}")
                };
                let mut all_i = li.clone();
                all_i.extend(ri.iter().cloned());
                let mut all_t = lt.clone();
                all_t.extend(rt.iter().cloned());
                let cols = [
                    "x.id".to_string(),
                    "y.id".to_string(),
                    self.int_expr(&all_i),
                    {
                        let (t, c) = self.rng.pick(&all_t).clone();
                        format!("{t}.{c}")
                    },
                ];
                let wher = if self.rng.chance(60) {
                    format!(" WHERE {}", self.predicate(&all_i, &all_t, 1))
                } else {
                    String::new()
                };
                format!(
                    "SELECT {} FROM t1 x {kind} {right} y{on}{wher}{}",
                    cols.join(", "),
                    self.order_limit(cols.len())
                )
            }
            _ => {
                let (table, _, _) = *self.rng.pick(TABLES);
                let (ints, texts) = self.columns_of(table, "x");
                let group = if self.rng.chance(50) && !texts.is_empty() {
                    let (t, c) = self.rng.pick(&texts).clone();
                    format!("{t}.{c}")
                } else {
                    let (t, c) = self.rng.pick(&ints).clone();
                    if self.rng.chance(30) && !reals_of(table).contains(&c.as_str()) {
                        format!("{t}.{c} % 3")
                    } else {
                        format!("{t}.{c}")
                    }
                };
                let (t, c) = self.rng.pick(&ints).clone();
                let agg = match self.rng.below(6) {
                    0 => format!("sum({t}.{c})"),
                    1 => format!("min({t}.{c})"),
                    2 => format!("max({t}.{c})"),
                    3 => format!("count({t}.{c})"),
                    4 => format!("count(DISTINCT {t}.{c})"),
                    _ => format!("avg({t}.{c})"),
                };
                let wher = if self.rng.chance(50) {
                    format!(" WHERE {}", self.predicate(&ints, &texts, 1))
                } else {
                    String::new()
                };
                let having = if self.rng.chance(40) {
                    format!(" HAVING count(*) > {}", self.rng.below(3))
                } else {
                    String::new()
                };
                format!(
                    "SELECT {group}, count(*), {agg} FROM {table} x{wher} GROUP BY {group}{having}{}",
                    self.order_limit(3)
                )
            }
        }
    }
}

fn rustlite_rows(db: &Database, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
    let r = db.query(sql, []).map_err(|e| e.to_string())?;
    Ok(r.rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| match v {
                    Value::Null => Cell::Null,
                    Value::Int(i) => Cell::Num(i as f64),
                    Value::Float(f) => Cell::Num(f),
                    Value::Text(s) => Cell::Text(s),
                    other => Cell::Text(other.to_string()),
                })
                .collect()
        })
        .collect())
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let n = stmt.column_count();
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(match row.get_ref(i).map_err(|e| e.to_string())? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(i) => Cell::Num(i as f64),
                ValueRef::Real(f) => Cell::Num(f),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Cell::Text(format!("{b:?}")),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

fn run_round(seed: u64, queries: usize) -> usize {
    let mut rng = Rng(seed);
    let db = Database::in_memory().expect("open RustLite");
    let conn = rusqlite::Connection::open_in_memory().expect("open SQLite");
    let exec = |sql: &str| {
        db.execute(sql, [])
            .unwrap_or_else(|e| panic!("seed {seed}: RustLite failed {sql}: {e}"));
        conn.execute(sql, [])
            .unwrap_or_else(|e| panic!("seed {seed}: SQLite failed {sql}: {e}"));
    };
    for (name, ints, texts) in TABLES {
        let mut cols = vec!["id INTEGER PRIMARY KEY".to_string()];
        cols.extend(ints.iter().map(|c| format!("{c} INTEGER")));
        cols.extend(reals_of(name).iter().map(|c| format!("{c} REAL")));
        cols.extend(texts.iter().map(|c| format!("{c} TEXT")));
        exec(&format!("CREATE TABLE {name} ({})", cols.join(", ")));
        for c in ints.iter().chain(reals_of(name)).chain(texts.iter()) {
            if rng.chance(40) {
                exec(&format!("CREATE INDEX {name}_{c} ON {name} ({c})"));
            }
        }
        let n = rng.below(25);
        let mut values = Vec::new();
        for id in 0..n {
            let mut row = vec![lit(&Value::Int(id as i64 * 2 - 6))];
            for _ in ints.iter() {
                row.push(lit(&if rng.chance(15) {
                    Value::Null
                } else {
                    Value::Int(rng.int())
                }));
            }
            for _ in reals_of(name) {
                row.push(if rng.chance(15) {
                    "NULL".to_string()
                } else {
                    rng.pick(REAL_LITERALS).to_string()
                });
            }
            for _ in texts.iter() {
                row.push(lit(&if rng.chance(15) {
                    Value::Null
                } else {
                    Value::Text(rng.pick(WORDS).to_string())
                }));
            }
            values.push(format!("({})", row.join(", ")));
        }
        if !values.is_empty() {
            exec(&format!("INSERT INTO {name} VALUES {}", values.join(", ")));
        }
    }
    let mut gen = Gen { rng: &mut rng };
    for _ in 0..queries {
        let sql = gen.query();
        let expected = sqlite_rows(&conn, &sql)
            .unwrap_or_else(|e| panic!("seed {seed}: SQLite refused {sql}: {e}"));
        let actual = rustlite_rows(&db, &sql)
            .unwrap_or_else(|e| panic!("seed {seed}: RustLite failed {sql}: {e}"));
        assert!(
            same(&expected, &actual),
            "seed {seed}: results differ for\n  {sql}\nSQLite:   {expected:?}\nRustLite: {actual:?}"
        );
    }
    queries
}

#[test]
fn random_selects_match_sqlite() {
    let long = std::env::var("RUSTLITE_LONG").is_ok_and(|v| v == "1");
    let seed = std::env::var("RUSTLITE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let rounds = if long { 2000 } else { 100 };
    let started = Instant::now();
    let mut total = 0;
    for r in 0..rounds {
        total += run_round(seed.wrapping_add(r), 60);
    }
    eprintln!(
        "differential: {total} queries over {rounds} databases in {:.1?} (seed {seed})",
        started.elapsed()
    );
}

/// `sum(x)` and `avg(x)` of `values` on both engines, bit for bit: SQLite's REAL sums are
/// Kahan–Babuska–Neumaier compensated (since 3.43) and RustLite's must be the same; an AVG of
/// integers is their exact sum rounded once. `None` where SQLite fails (its integer SUM
/// overflows past `i64::MAX`, where RustLite's goes on to `u64::MAX`).
fn sum_and_avg(values: &[Value]) -> [(Option<Cell>, Option<Cell>); 2] {
    let db = Database::in_memory().expect("open RustLite");
    let conn = rusqlite::Connection::open_in_memory().expect("open SQLite");
    // A DOCUMENT column holds INTEGER and REAL values as given, as SQLite's untyped column does.
    db.execute("CREATE TABLE v (id INTEGER PRIMARY KEY, x DOCUMENT)", [])
        .expect("RustLite table");
    conn.execute("CREATE TABLE v (id INTEGER PRIMARY KEY, x)", [])
        .expect("SQLite table");
    for (id, v) in values.iter().enumerate() {
        db.execute(
            "INSERT INTO v VALUES (?, ?)",
            [Value::Int(id as i64), v.clone()],
        )
        .expect("RustLite insert");
        let sv = match v {
            Value::Int(i) => rusqlite::types::Value::Integer(*i),
            Value::Float(f) => rusqlite::types::Value::Real(*f),
            other => panic!("not a number: {other:?}"),
        };
        conn.execute(
            "INSERT INTO v VALUES (?, ?)",
            rusqlite::params![id as i64, sv],
        )
        .expect("SQLite insert");
    }
    ["sum", "avg"].map(|f| {
        let sql = format!("SELECT {f}(x) FROM v");
        let sqlite = sqlite_rows(&conn, &sql)
            .ok()
            .and_then(|r| r.into_iter().flatten().next());
        let rustlite = sqlite.as_ref().and_then(|_| {
            rustlite_rows(&db, &sql)
                .unwrap_or_else(|e| panic!("{sql} over {values:?}: {e}"))
                .into_iter()
                .flatten()
                .next()
        });
        (sqlite, rustlite)
    })
}

fn assert_same_sums(values: &[Value]) {
    for (f, (sqlite, rustlite)) in ["sum", "avg"].iter().zip(sum_and_avg(values)) {
        let bits = |c: &Option<Cell>| match c {
            Some(Cell::Num(n)) => Some(n.to_bits()),
            _ => None,
        };
        assert!(
            sqlite == rustlite && bits(&sqlite) == bits(&rustlite),
            "{f} over {values:?}: SQLite {sqlite:?}, RustLite {rustlite:?}"
        );
    }
}

#[test]
fn sums_and_averages_equal_sqlites_bit_for_bit() {
    let ints = |v: &[i64]| v.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>();
    let reals = |v: &[f64]| v.iter().map(|&f| Value::Float(f)).collect::<Vec<_>>();
    for values in [
        // AVG of integers past 2^53: the exact sum, rounded once.
        ints(&[i64::MAX, 1, -i64::MAX]),
        ints(&[9_007_199_254_740_992, 1, 1]),
        ints(&[i64::MAX, i64::MAX, 3]),
        ints(&[i64::MIN, -1]),
        // REAL sums, compensated.
        reals(&[1e16, 1.0, -1e16, 0.1, 0.2]),
        reals(&[0.1; 10]),
        reals(&[1e308, 1e308]),
        reals(&[1e308, 1e308, -1e308]),
        reals(&[f64::INFINITY, 1.0]),
        reals(&[f64::INFINITY, f64::NEG_INFINITY]),
        reals(&[-0.0, -0.0]),
        // Integers mixed with REALs.
        vec![
            Value::Float(1e16),
            Value::Int(1),
            Value::Float(-1e16),
            Value::Int(2),
        ],
        vec![
            Value::Int(1),
            Value::Float(0.1),
            Value::Int(2),
            Value::Float(0.2),
        ],
        vec![
            Value::Int(9_007_199_254_740_993),
            Value::Float(0.5),
            Value::Int(1),
        ],
    ] {
        assert_same_sums(&values);
    }
    // Random REALs across magnitudes, with cancellations.
    let seed = std::env::var("RUSTLITE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let mut rng = Rng(seed);
    for _ in 0..200 {
        let mut values: Vec<f64> = Vec::new();
        for _ in 0..1 + rng.below(12) {
            let f = if !values.is_empty() && rng.chance(20) {
                -*rng.pick(&values)
            } else {
                let mantissa = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
                let sign = if rng.chance(50) { -1.0 } else { 1.0 };
                sign * mantissa * 10f64.powi(rng.below(40) as i32 - 20)
            };
            values.push(f);
        }
        let values = reals(&values);
        let seeded = std::panic::catch_unwind(|| assert_same_sums(&values));
        assert!(seeded.is_ok(), "seed {seed}");
    }
}
