//! SQL over RustLite next to SQLite (issue 5): the same schema, indexes and rows loaded into both
//! in one process, then ms per query, the median of many repetitions of each query.
//!
//! ```text
//!  users  (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL)   + UNIQUE INDEX (name)
//!  orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL,
//!          status TEXT NOT NULL)                                                 + INDEX (user_id)
//!  RustLite: Durability::Buffered, 256 MiB block cache; rows loaded through SQL
//!            `INSERT … VALUES (?,?,?,?), …` (250 rows a statement) in transactions of 10,000 rows
//!  SQLite:   WAL, synchronous=OFF, 256 MiB page cache; one prepared INSERT per row, transactions
//!            of 10,000 rows; queries through `prepare_cached` (RustLite has no prepared
//!            statement API: it caches each SELECT's parse and plan by SQL text, per thread,
//!            and binds the parameters per call)
//! ```
//! Before any query is timed, both engines read every row of both tables and every entry of
//! both indexes once, untimed (`warm_up`): after the load SQLite's page cache held what it had
//! just inserted while RustLite's block cache was cold after its memtable flush. Every query's
//! result is read completely on both sides (SQLite rows into owned values) and compared once
//! between the two engines.

use crate::engines::Result;
use crate::keys::{splitmix, Rng};
use crate::workloads::{median, report, WARM_CACHE};
use rusqlite::types::Value as SqlValue;
use rustlite::{params, Database, Durability, Options, Value};
use std::path::Path;
use std::time::Instant;

#[derive(Clone, Copy)]
pub struct SqlSizes {
    pub users: u64,
    pub orders: u64,
    /// Repetitions of the point queries.
    pub point_reps: usize,
    /// Repetitions of the 1% range.
    pub range_reps: usize,
    /// Repetitions of the full GROUP BY and the join.
    pub scan_reps: usize,
}

impl SqlSizes {
    pub fn new(quick: bool) -> Self {
        let d = if quick { 100 } else { 1 };
        SqlSizes {
            users: 10_000 / d,
            orders: 1_000_000 / d,
            point_reps: 1000,
            range_reps: if quick { 50 } else { 20 },
            scan_reps: 5,
        }
    }
}

const COUNTRIES: [&str; 20] = [
    "AR", "AU", "BR", "CA", "CN", "DE", "ES", "FR", "GB", "IN", "IT", "JP", "KR", "MX", "NL", "NO",
    "PL", "SE", "US", "ZA",
];
const STATUSES: [&str; 5] = ["new", "paid", "shipped", "delivered", "cancelled"];

const SCHEMA: [&str; 4] = [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL)",
    "CREATE UNIQUE INDEX users_name ON users (name)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL)",
    "CREATE INDEX orders_user_id ON orders (user_id)",
];

fn user(id: u64) -> (i64, String, &'static str) {
    (
        id as i64,
        format!("user{id:06}"),
        COUNTRIES[(splitmix(id ^ 0xC0) % 20) as usize],
    )
}

fn order(id: u64, users: u64) -> (i64, i64, i64, &'static str) {
    let h = splitmix(id);
    (
        id as i64,
        1 + (h % users) as i64,
        ((h >> 20) % 100_000) as i64,
        STATUSES[((h >> 40) % 5) as usize],
    )
}

/// `(id, label, sql, kind)`: kind "point" / "range" / "scan" picks the repetitions.
const QUERIES: &[(&str, &str, &str, &str)] = &[
    (
        "pk",
        "point: orders by primary key",
        "SELECT * FROM orders WHERE id = ?",
        "point",
    ),
    (
        "idx_unique",
        "point: users by unique secondary index (name)",
        "SELECT * FROM users WHERE name = ?",
        "point",
    ),
    (
        "idx_eq",
        "orders of one user via index (user_id = ?, ~100 rows)",
        "SELECT * FROM orders WHERE user_id = ?",
        "point",
    ),
    (
        "range",
        "1% range via index (user_id BETWEEN, ~1% of orders)",
        "SELECT * FROM orders WHERE user_id BETWEEN ? AND ?",
        "range",
    ),
    (
        "group_by",
        "GROUP BY status over all orders: COUNT(*), SUM(amount)",
        "SELECT status, COUNT(*), SUM(amount) FROM orders GROUP BY status",
        "scan",
    ),
    (
        "join",
        "join users, SUM(amount) GROUP BY country",
        "SELECT u.country, SUM(o.amount) FROM orders o JOIN users u ON o.user_id = u.id GROUP BY u.country",
        "scan",
    ),
];

/// The query's ids and labels, for the report.
pub fn queries() -> impl Iterator<Item = (&'static str, &'static str)> {
    QUERIES.iter().map(|q| (q.0, q.1))
}

/// What EXPLAIN must show for each query (None: not checked).
fn expected_plan(id: &str) -> Option<&'static str> {
    match id {
        "pk" => Some("KeyLookup"),
        "idx_unique" | "idx_eq" | "range" => Some("IndexScan"),
        "join" => Some("HashJoin"),
        _ => None,
    }
}

/// Parameters of repetition `rep` of query `id`.
fn query_params(id: &str, rng: &mut Rng, s: SqlSizes) -> Vec<Value> {
    match id {
        "pk" => vec![Value::Int(1 + rng.below(s.orders) as i64)],
        "idx_unique" => vec![Value::Text(user(1 + rng.below(s.users)).1)],
        "idx_eq" => vec![Value::Int(1 + rng.below(s.users) as i64)],
        "range" => {
            let width = (s.users / 100).max(1);
            let lo = 1 + rng.below(s.users - width + 1) as i64;
            vec![Value::Int(lo), Value::Int(lo + width as i64 - 1)]
        }
        _ => vec![],
    }
}

/// `?` placeholders replaced by literals (EXPLAIN runs without parameters).
fn with_literals(sql: &str, params: &[Value]) -> String {
    let mut out = String::new();
    let mut it = params.iter();
    for c in sql.chars() {
        if c == '?' {
            match it.next() {
                Some(Value::Int(i)) => out.push_str(&i.to_string()),
                Some(Value::Text(t)) => out.push_str(&format!("'{t}'")),
                Some(v) => out.push_str(&v.to_string()),
                None => out.push('?'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn to_sqlite(v: &Value) -> SqlValue {
    match v {
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Text(t) => SqlValue::Text(t.clone()),
        Value::Float(f) => SqlValue::Real(*f),
        _ => SqlValue::Null,
    }
}

/// Rows as sorted strings, to compare the engines' answers.
fn normalize_rl(rows: &[Vec<Value>]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Float(f) => format!("{f:.2}"),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

fn normalize_sqlite(rows: &[Vec<SqlValue>]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    SqlValue::Null => "NULL".to_string(),
                    SqlValue::Integer(i) => i.to_string(),
                    SqlValue::Real(f) => format!("{f:.2}"),
                    SqlValue::Text(t) => t.clone(),
                    SqlValue::Blob(b) => format!("{b:?}"),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

fn sqlite_query(conn: &rusqlite::Connection, sql: &str, p: &[Value]) -> Result<Vec<Vec<SqlValue>>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let ncols = stmt.column_count();
    let p: Vec<SqlValue> = p.iter().map(to_sqlite).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(p.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut r = Vec::with_capacity(ncols);
        for c in 0..ncols {
            r.push(row.get::<_, SqlValue>(c)?);
        }
        out.push(r);
    }
    Ok(out)
}

fn ms(f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

const BATCH_ROWS: usize = 250;
const TX_ROWS: u64 = 10_000;

fn load_rustlite(db: &Database, s: SqlSizes) -> Result<()> {
    for stmt in SCHEMA {
        db.execute(stmt, params![])?;
    }
    // users: 3 columns, orders: 4; 250 rows a statement, 10,000 rows a transaction.
    let insert =
        |table: &str, cols: usize, n: u64, row: &dyn Fn(u64, &mut Vec<Value>)| -> Result<()> {
            let one = format!("({})", vec!["?"; cols].join(", "));
            let full = format!(
                "INSERT INTO {table} VALUES {}",
                vec![one.as_str(); BATCH_ROWS].join(", ")
            );
            let mut next = 1;
            while next <= n {
                let tx_end = (next + TX_ROWS).min(n + 1);
                let mut tx = db.begin()?;
                while next < tx_end {
                    let end = (next + BATCH_ROWS as u64).min(tx_end);
                    let mut p = Vec::with_capacity(BATCH_ROWS * cols);
                    for id in next..end {
                        row(id, &mut p);
                    }
                    let rows = (end - next) as usize;
                    let sql = if rows == BATCH_ROWS {
                        full.clone()
                    } else {
                        format!(
                            "INSERT INTO {table} VALUES {}",
                            vec![one.as_str(); rows].join(", ")
                        )
                    };
                    tx.query(&sql, p)?;
                    next = end;
                }
                tx.commit()?;
            }
            Ok(())
        };
    insert("users", 3, s.users, &|id, p| {
        let (id, name, country) = user(id);
        p.extend([
            Value::Int(id),
            Value::Text(name),
            Value::Text(country.into()),
        ]);
    })?;
    insert("orders", 4, s.orders, &|id, p| {
        let (id, u, a, st) = order(id, s.users);
        p.extend([
            Value::Int(id),
            Value::Int(u),
            Value::Int(a),
            Value::Text(st.into()),
        ]);
    })?;
    Ok(())
}

fn load_sqlite(conn: &mut rusqlite::Connection, s: SqlSizes) -> Result<()> {
    for stmt in SCHEMA {
        conn.execute(stmt, [])?;
    }
    let mut next = 1;
    while next <= s.users {
        let end = (next + TX_ROWS).min(s.users + 1);
        let tx = conn.transaction()?;
        {
            let mut ins = tx.prepare_cached("INSERT INTO users VALUES (?1, ?2, ?3)")?;
            for id in next..end {
                let (id, name, country) = user(id);
                ins.execute(rusqlite::params![id, name, country])?;
            }
        }
        tx.commit()?;
        next = end;
    }
    let mut next = 1;
    while next <= s.orders {
        let end = (next + TX_ROWS).min(s.orders + 1);
        let tx = conn.transaction()?;
        {
            let mut ins = tx.prepare_cached("INSERT INTO orders VALUES (?1, ?2, ?3, ?4)")?;
            for id in next..end {
                let (id, u, a, st) = order(id, s.users);
                ins.execute(rusqlite::params![id, u, a, st])?;
            }
        }
        tx.commit()?;
        next = end;
    }
    Ok(())
}

pub fn run(dir: &Path, s: SqlSizes) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let db = Database::open_with(
        dir.join("rustlite"),
        Options::default()
            .durability(Durability::Buffered)
            .block_cache_size(WARM_CACHE),
    )?;
    let mut conn = rusqlite::Connection::open(dir.join("sqlite.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -((WARM_CACHE / 1024) as i64))?;

    let rows = (s.users + s.orders) as f64;
    let t = ms(|| load_rustlite(&db, s))?;
    if let Ok(ids) = std::env::var("RUSTLITE_BENCH_SQL_PROFILE") {
        return profile(&db, s, &ids);
    }
    report("sql_load_rustlite", rows / (t / 1e3));
    eprintln!(
        "  rustlite load: {} users + {} orders in {:.1} s",
        s.users,
        s.orders,
        t / 1e3
    );
    let t = ms(|| load_sqlite(&mut conn, s))?;
    report("sql_load_sqlite", rows / (t / 1e3));
    eprintln!(
        "  sqlite load:   {} users + {} orders in {:.1} s",
        s.users,
        s.orders,
        t / 1e3
    );
    db.flush()?;
    warm_up(&db, &conn, s)?;

    // Wrong answers and unexpected plans: every query is still measured and reported (the
    // table shows "NO" / "not the expected path"), then the child fails, which fails the run.
    let mut wrong = Vec::new();
    for &(id, _, sql, kind) in QUERIES {
        let reps = match kind {
            "point" => s.point_reps,
            "range" => s.range_reps,
            _ => s.scan_reps,
        };
        // The plans, once, with this query's first parameters as literals.
        let mut rng = Rng::new(42);
        let p0 = query_params(id, &mut rng, s);
        let lit = with_literals(sql, &p0);
        let plan = db.explain(&lit)?;
        for line in plan.lines() {
            println!("PLAN rustlite {id} {line}");
        }
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {lit}"))?;
        let details: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))?
            .collect::<std::result::Result<_, _>>()?;
        for line in details {
            println!("PLAN sqlite {id} {line}");
        }
        if let Some(want) = expected_plan(id) {
            let ok = plan.contains(want);
            report(&format!("sql_plan_ok_{id}"), if ok { 1.0 } else { 0.0 });
            if !ok {
                eprintln!("  {id}: plan lacks {want}:\n{plan}");
                wrong.push(format!("{id}: RustLite's plan lacks {want}"));
            }
        }

        // Same answer on both sides (and a warm-up).
        let a = db.query(sql, &p0)?;
        let b = sqlite_query(&conn, sql, &p0)?;
        let same = normalize_rl(&a.rows) == normalize_sqlite(&b);
        report(&format!("sql_same_{id}"), if same { 1.0 } else { 0.0 });
        report(&format!("sql_rows_{id}"), a.rows.len() as f64);
        if !same {
            eprintln!(
                "  {id}: RustLite and SQLite disagree ({} vs {} rows)",
                a.rows.len(),
                b.len()
            );
            wrong.push(format!(
                "{id}: RustLite and SQLite disagree ({} vs {} rows)",
                a.rows.len(),
                b.len()
            ));
        }

        // Interleaved: repetition i runs on RustLite then SQLite with the same parameters.
        let (mut rl, mut sq) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
        let mut rng = Rng::new(7);
        for _ in 0..reps {
            let p = query_params(id, &mut rng, s);
            rl.push(ms(|| {
                std::hint::black_box(db.query(sql, &p)?);
                Ok(())
            })?);
            sq.push(ms(|| {
                std::hint::black_box(sqlite_query(&conn, sql, &p)?);
                Ok(())
            })?);
        }
        let (m1, m2) = (median(&mut rl), median(&mut sq));
        report(&format!("sql_rustlite_{id}"), m1);
        report(&format!("sql_sqlite_{id}"), m2);
        eprintln!(
            "  {id:<10} rustlite {m1:>9.3} ms  sqlite {m2:>9.3} ms  ({:.2}×, {} rows, {reps} reps)",
            m1 / m2,
            a.rows.len()
        );
    }
    if !wrong.is_empty() {
        return Err(format!("wrong SQL answers or plans: {}", wrong.join("; ")).into());
    }
    Ok(())
}

/// Untimed reads before any query is timed, the same on both engines: every row of both tables
/// (full scans) and every entry of both indexes (a range over all of it, which also reads each
/// row through the index). Without them SQLite's page cache still held what the load had just
/// inserted while RustLite's block cache was cold after `db.flush()`. Each read must use the
/// index it is meant to warm and return every row on both sides.
fn warm_up(db: &Database, conn: &rusqlite::Connection, s: SqlSizes) -> Result<()> {
    let names = vec![Value::Text(user(1).1), Value::Text(user(s.users).1)];
    let user_ids = vec![Value::Int(1), Value::Int(s.users as i64)];
    let reads: [(&str, Vec<Value>, bool, u64); 4] = [
        ("SELECT * FROM users", vec![], false, s.users),
        ("SELECT * FROM orders", vec![], false, s.orders),
        (
            "SELECT * FROM users WHERE name BETWEEN ? AND ?",
            names,
            true,
            s.users,
        ),
        (
            "SELECT * FROM orders WHERE user_id BETWEEN ? AND ?",
            user_ids,
            true,
            s.orders,
        ),
    ];
    for (sql, p, via_index, rows) in reads {
        if via_index {
            let lit = with_literals(sql, &p);
            let plan = db.explain(&lit)?;
            let sqlite_plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {lit}"))?
                .query_map([], |r| r.get::<_, String>(3))?
                .collect::<std::result::Result<_, _>>()?;
            if !plan.contains("IndexScan") || !sqlite_plan.iter().any(|l| l.contains("INDEX")) {
                return Err(format!(
                    "warm-up {sql:?} does not read through the index: RustLite {plan:?}, SQLite {sqlite_plan:?}"
                )
                .into());
            }
        }
        let start = Instant::now();
        let a = db.query(sql, &p)?.rows.len() as u64;
        let b = sqlite_query(conn, sql, &p)?.len() as u64;
        if a != rows || b != rows {
            return Err(format!(
                "warm-up {sql:?}: RustLite read {a} rows, SQLite {b}, expected {rows}"
            )
            .into());
        }
        eprintln!(
            "  warm-up {sql}: {rows} rows on each engine in {:.2} s (untimed)",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `RUSTLITE_BENCH_SQL_PROFILE=pk,join`: after the load, runs only these queries on RustLite,
/// each for 10 s, for `perf record` (the SQLite side and the table are skipped).
fn profile(db: &Database, s: SqlSizes, ids: &str) -> Result<()> {
    db.flush()?;
    for id in ids.split(',') {
        let Some(&(_, _, sql, _)) = QUERIES.iter().find(|q| q.0 == id) else {
            return Err(format!("unknown query {id:?}").into());
        };
        let mut rng = Rng::new(7);
        let (start, mut n) = (Instant::now(), 0u64);
        while start.elapsed().as_secs() < 10 {
            let p = query_params(id, &mut rng, s);
            std::hint::black_box(db.query(sql, &p)?);
            n += 1;
        }
        eprintln!(
            "  profile {id}: {n} queries in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
