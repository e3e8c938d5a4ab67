//! Sort elision against the sort it replaces: every query runs planned as usual and planned
//! with every sort kept ([`KEEP_SORTS`]); the rows must be the same, in the same order, over
//! tables of edge values. The plans that must (not) lose their sort are pinned by EXPLAIN.

use super::KEEP_SORTS;
use crate::error::Result;
use crate::sql::execution::{self, ROWS_READ};
use crate::sql::planner::prepared::Prepared;
use crate::sql::planner::{Plan, Planner};
use crate::sql::storage::Row;
use crate::sql::{cache, execute, TableStorage};
use crate::value::Value;
use crate::{Engine, IsolationLevel, Options, Transaction};

/// splitmix64 over a fixed seed: the same values every run.
fn random(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed;
    move |n| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        usize::try_from((z ^ (z >> 31)) % n as u64).unwrap_or(0)
    }
}

fn pick<'a>(pool: &'a [&'a str], next: &mut impl FnMut(usize) -> usize) -> &'a str {
    pool.get(next(pool.len())).copied().unwrap_or("NULL")
}

/// Tables of edge values: NULLs, negatives, integers beside reals, `-0.0`, the infinities,
/// stored NaNs, empty strings and blobs, many ties; B-Tree, hash and unique indexes; a
/// composite key; a table keyed by its row id; a DOCUMENT key mixing integers and reals.
fn engine_with_tables() -> Result<Engine> {
    let engine = Engine::open_in_memory(Options::default())?;
    let mut tx = engine.begin(IsolationLevel::default());
    for ddl in [
        "CREATE TABLE v (id INTEGER PRIMARY KEY, n INTEGER, f REAL, s TEXT, b BLOB, \
         t BOOLEAN, u INTEGER, d DOCUMENT)",
        "CREATE INDEX v_n ON v (n)",
        "CREATE INDEX v_f ON v (f)",
        "CREATE INDEX v_s ON v (s)",
        "CREATE INDEX v_b ON v (b)",
        "CREATE INDEX v_t ON v USING HASH (t)",
        "CREATE UNIQUE INDEX v_u ON v (u)",
        "CREATE INDEX v_d ON v (d)",
        "CREATE TABLE k (a INTEGER, b TEXT, c REAL, PRIMARY KEY (a, b))",
        "CREATE TABLE r (id REAL PRIMARY KEY, x INTEGER)",
        "CREATE TABLE w (id TEXT PRIMARY KEY, x INTEGER)",
        "CREATE TABLE h (x INTEGER, y TEXT)",
        "CREATE TABLE dk (id DOCUMENT PRIMARY KEY, x INTEGER)",
    ] {
        execute(&mut tx, ddl, &[])?;
    }
    let mut next = random(11);
    let ints = [
        "NULL",
        "-3",
        "0",
        "5",
        "5",
        "7",
        "-9223372036854775808",
        "18446744073709551615",
    ];
    let reals = [
        "NULL", "-0.0", "0.0", "1.0", "1", "-1.5", "1e999", "-1e999", "2.5", "2",
    ];
    let texts = ["NULL", "''", "'a'", "'A'", "'ab'", "'é'", "'a b'", "'z'"];
    let blobs = ["NULL", "X''", "X'00'", "X'ff'", "X'0001'"];
    let bools = ["NULL", "true", "false"];
    for i in 0..200i64 {
        let id = (i * 7919) % 400 - 200;
        let u = if i % 3 == 0 {
            "NULL".to_string()
        } else {
            (i * 13 % 401).to_string()
        };
        let row = format!(
            "INSERT INTO v VALUES ({id}, {}, {}, {}, {}, {}, {u}, {})",
            pick(&ints, &mut next),
            pick(&reals, &mut next),
            pick(&texts, &mut next),
            pick(&blobs, &mut next),
            pick(&bools, &mut next),
            pick(&["NULL", "1", "2.5", "3", "0.5", "-1", "1.0"], &mut next),
        );
        execute(&mut tx, &row, &[])?;
        let k = format!(
            "INSERT INTO k VALUES ({}, {}, {})",
            pick(&["-1", "0", "1", "2", "9223372036854775807"], &mut next),
            if i < 100 {
                format!("'{i}'")
            } else {
                format!("'{}'", i * 31)
            },
            pick(&reals, &mut next),
        );
        execute(&mut tx, &k, &[])?;
        let h = format!(
            "INSERT INTO h VALUES ({}, {})",
            pick(&ints, &mut next),
            pick(&texts, &mut next)
        );
        execute(&mut tx, &h, &[])?;
    }
    for (i, id) in ["-1e999", "-1.5", "-0.0", "1", "2.5", "3", "1e999"]
        .iter()
        .enumerate()
    {
        execute(&mut tx, &format!("INSERT INTO r VALUES ({id}, {i})"), &[])?;
    }
    for (i, id) in ["''", "'a'", "'A'", "'ab'", "'é'", "'a b'", "'z'", "'0'"]
        .iter()
        .enumerate()
    {
        execute(&mut tx, &format!("INSERT INTO w VALUES ({id}, {i})"), &[])?;
    }
    for (i, id) in ["1", "2.5", "3", "0.5", "-1", "'x'", "-2.5"]
        .iter()
        .enumerate()
    {
        execute(&mut tx, &format!("INSERT INTO dk VALUES ({id}, {i})"), &[])?;
    }
    tx.commit()?;
    store_nans(&engine)?;
    Ok(engine)
}

/// NaNs, of both signs, as typed code stores them (SQL writes none).
fn store_nans(engine: &Engine) -> Result<()> {
    let catalog = engine.catalog()?;
    let mut tx = engine.begin(IsolationLevel::default());
    let doc = |fields: Vec<(&str, Value)>| {
        Value::Map(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    };
    if let Some(v) = catalog.get("v") {
        for (id, f) in [(1000, f64::NAN), (1001, -f64::NAN), (1002, f64::NAN)] {
            let row = doc(vec![("id", Value::Int(id)), ("f", Value::Float(f))]);
            crate::table::insert(&mut tx, &v, &row)?;
        }
    }
    if let Some(r) = catalog.get("r") {
        let row = doc(vec![("id", Value::Float(f64::NAN)), ("x", Value::Int(99))]);
        crate::table::insert(&mut tx, &r, &row)?;
    }
    tx.commit().map(drop)
}

/// Rows as text to compare, a float by its bits (`NaN != NaN`, but the same stored NaN must
/// come out in the same place).
fn shown(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .map(|row| {
            let values: Vec<String> = row
                .iter()
                .map(|v| match v {
                    Value::Float(f) => format!("{f}/{:x}", f.to_bits()),
                    other => format!("{other:?}"),
                })
                .collect();
            values.join(" ")
        })
        .collect()
}

/// The rows and EXPLAIN of `sql` planned with `params`; `keep`: with every sort kept.
fn run(
    tx: &mut Transaction,
    sql: &str,
    params: &[Value],
    keep: bool,
) -> Result<(Vec<Row>, String)> {
    let mut storage = TableStorage::new(tx);
    KEEP_SORTS.with(|k| k.set(keep));
    let plan = Planner::new(&mut storage, params).plan(cache::statement(sql)?);
    KEEP_SORTS.with(|k| k.set(false));
    let plan = plan?;
    let text = plan.explain();
    Ok((execution::execute(plan, &mut storage, None)?.rows, text))
}

/// Asserts that `sql` gives the rows of its plan with every sort kept (which has a sort);
/// its EXPLAIN.
fn same_as_sorted(tx: &mut Transaction, sql: &str) -> Result<String> {
    let (sorted, kept) = run(tx, sql, &[], true)?;
    assert!(kept.contains("Sort"), "{sql}: {kept}");
    let (rows, plan) = run(tx, sql, &[], false)?;
    assert_eq!(shown(&rows), shown(&sorted), "{sql}\n{plan}");
    Ok(plan)
}

/// The queries of the comparison: every ORDER BY shape over every access path of `v`, and
/// the other tables' keys, joins and subqueries.
fn queries() -> Vec<String> {
    let mut out = Vec::new();
    let wheres = [
        "",
        "WHERE id > 0",
        "WHERE id BETWEEN -50 AND 50",
        "WHERE id IN (3, -7, 0, 18446744073709551615, 200, -149)",
        "WHERE n = 5",
        "WHERE n > 0",
        "WHERE n BETWEEN -3 AND 5",
        "WHERE f > 0",
        "WHERE f >= -1e999",
        "WHERE s > ''",
        "WHERE s = 'a'",
        "WHERE b >= X''",
        "WHERE t = true",
        "WHERE u > 100",
        "WHERE u = 27",
        "WHERE d = 1",
        "WHERE d > 0",
    ];
    let orders = [
        "{c}",
        "{c} DESC",
        "{c} NULLS LAST",
        "{c} DESC NULLS FIRST",
        "{c}, id",
        "{c} DESC, id DESC",
        "{c} DESC, id",
        "{c}, id DESC",
    ];
    let limits = ["", " LIMIT 7", " LIMIT 5 OFFSET 3"];
    let mut i = 0usize;
    for w in wheres {
        for c in ["id", "n", "f", "s", "b", "t", "u", "d"] {
            for o in orders {
                let items = if i.is_multiple_of(2) { "*" } else { "id, s" };
                let limit = limits.get(i % limits.len()).copied().unwrap_or("");
                let order = o.replace("{c}", c);
                out.push(format!("SELECT {items} FROM v {w} ORDER BY {order}{limit}"));
                i += 1;
            }
        }
    }
    for q in [
        "SELECT * FROM k ORDER BY a",
        "SELECT * FROM k ORDER BY a DESC",
        "SELECT * FROM k ORDER BY a, b",
        "SELECT * FROM k ORDER BY a DESC, b DESC LIMIT 9",
        "SELECT * FROM k ORDER BY a DESC, b",
        "SELECT * FROM k ORDER BY b",
        "SELECT * FROM k WHERE a = 1 ORDER BY b LIMIT 4",
        "SELECT * FROM k WHERE a = 1 ORDER BY b DESC LIMIT 4",
        "SELECT * FROM k WHERE a = 1 AND b > '3' ORDER BY b DESC",
        "SELECT * FROM k WHERE a = 1 ORDER BY a, b",
        "SELECT * FROM k WHERE a > 0 ORDER BY a, c",
        "SELECT * FROM k WHERE a IN (1, 2) ORDER BY a DESC",
        "SELECT * FROM r ORDER BY id",
        "SELECT * FROM r ORDER BY id DESC LIMIT 3",
        "SELECT * FROM r WHERE id > -1e999 ORDER BY id DESC",
        "SELECT * FROM w ORDER BY id",
        "SELECT * FROM w ORDER BY id DESC LIMIT 5",
        "SELECT * FROM w WHERE id >= '' ORDER BY id",
        "SELECT * FROM h ORDER BY x",
        "SELECT * FROM h ORDER BY x DESC, y",
        "SELECT * FROM dk ORDER BY id",
        "SELECT * FROM dk ORDER BY id DESC",
        "SELECT v.id, k.b FROM v JOIN k ON k.a = v.n ORDER BY v.id LIMIT 20",
        "SELECT v.id, k.b FROM v JOIN k ON k.a = v.n ORDER BY v.id DESC LIMIT 20",
        "SELECT v.id, k.b FROM v LEFT JOIN k ON k.a = v.n ORDER BY v.id DESC",
        "SELECT v.id, k.b FROM v RIGHT JOIN k ON k.a = v.n ORDER BY v.id",
        "SELECT v.id, k.b FROM v FULL JOIN k ON k.a = v.n ORDER BY v.id DESC",
        "SELECT v.id, k.b FROM v JOIN k ON k.a < v.n ORDER BY v.id LIMIT 30",
        "SELECT v.id, k.b FROM v JOIN k ON k.a = v.n ORDER BY v.id, k.b",
        "SELECT v.n, k.b FROM v JOIN k ON k.a = v.n WHERE v.n > 0 ORDER BY v.n",
        "SELECT v.id, k.a FROM v CROSS JOIN k WHERE v.id < -190 ORDER BY v.id DESC",
        "SELECT * FROM (SELECT id, n FROM v WHERE n > 0) x ORDER BY id DESC LIMIT 4",
        "SELECT * FROM (SELECT id, n FROM v ORDER BY n LIMIT 50) x ORDER BY id",
        "SELECT DISTINCT id FROM v ORDER BY id",
        "SELECT id, count(*) FROM v GROUP BY id ORDER BY id",
        "SELECT id + 0 AS x FROM v ORDER BY x",
        "SELECT id AS x FROM v ORDER BY x DESC LIMIT 3",
        "SELECT s FROM v ORDER BY id, s LIMIT 10",
        "SELECT s FROM v ORDER BY id DESC, s LIMIT 10",
    ] {
        out.push(q.to_string());
    }
    out
}

/// Every query gives the same rows in the same order with its sort elided as with it kept;
/// the shapes the module docs promise lose their sort, the others keep it.
#[test]
fn elided_sorts_give_the_sorted_rows() -> Result<()> {
    let engine = engine_with_tables()?;
    let mut tx = engine.begin(IsolationLevel::default());
    let mut elided = 0;
    let queries = queries();
    for sql in &queries {
        let plan = same_as_sorted(&mut tx, sql)?;
        elided += usize::from(!plan.contains("Sort"));
    }
    // About a sixth of the shapes are orders an access path gives (200 of 1,127).
    assert!(elided * 6 > queries.len(), "{elided} of {}", queries.len());
    for (sql, answered) in [
        ("SELECT * FROM v ORDER BY id", Some("Scan v")),
        ("SELECT * FROM v ORDER BY id DESC", Some("Scan v (reverse)")),
        ("SELECT * FROM v ORDER BY id NULLS LAST", Some("Scan v")),
        ("SELECT s FROM v ORDER BY id, s", Some("Scan v")),
        (
            "SELECT * FROM v WHERE id > 0 ORDER BY id DESC",
            Some("(reverse)"),
        ),
        (
            "SELECT * FROM v WHERE id IN (1, 2) ORDER BY id DESC",
            Some("(reverse)"),
        ),
        (
            "SELECT * FROM v WHERE n > 0 ORDER BY n",
            Some("IndexScan v.n"),
        ),
        (
            "SELECT * FROM v WHERE n > 0 ORDER BY n, id",
            Some("IndexScan v.n"),
        ),
        (
            "SELECT * FROM v WHERE n > 0 ORDER BY n DESC, id DESC",
            Some("(reverse)"),
        ),
        (
            "SELECT * FROM v WHERE n = 5 ORDER BY id DESC",
            Some("(reverse)"),
        ),
        (
            "SELECT * FROM v WHERE n = 5 ORDER BY n, id",
            Some("IndexScan v.n"),
        ),
        (
            "SELECT * FROM v WHERE u > 100 ORDER BY u DESC",
            Some("(reverse)"),
        ),
        (
            "SELECT * FROM v WHERE t = true ORDER BY id",
            Some("IndexScan v.t"),
        ),
        (
            "SELECT * FROM v WHERE f > 0 ORDER BY f",
            Some("IndexScan v.f"),
        ),
        (
            "SELECT * FROM k WHERE a = 1 ORDER BY b DESC",
            Some("(reverse)"),
        ),
        ("SELECT * FROM k ORDER BY a DESC, b DESC", Some("(reverse)")),
        ("SELECT * FROM r ORDER BY id DESC", Some("(reverse)")),
        ("SELECT * FROM w ORDER BY id", Some("Scan w")),
        (
            "SELECT v.id FROM v JOIN k ON k.a = v.n ORDER BY v.id DESC",
            Some("(reverse)"),
        ),
        // Ties (a non-unique index, a key prefix) would come out reversed.
        ("SELECT * FROM v WHERE n > 0 ORDER BY n DESC", None),
        ("SELECT * FROM k ORDER BY a DESC", None),
        // A nullable column with NULLs on the other side; mixed directions.
        ("SELECT * FROM v WHERE n > 0 ORDER BY n NULLS LAST", None),
        ("SELECT * FROM v WHERE n > 0 ORDER BY n, id DESC", None),
        // A hash index cannot be read backwards; a DOCUMENT key orders 2.5 after 3.
        ("SELECT * FROM v WHERE t = true ORDER BY id DESC", None),
        ("SELECT * FROM dk ORDER BY id", None),
        // No order: a row-id table, a RIGHT join, DISTINCT, a key of the build side.
        ("SELECT * FROM h ORDER BY x", None),
        (
            "SELECT v.id FROM v RIGHT JOIN k ON k.a = v.n ORDER BY v.id",
            None,
        ),
        ("SELECT DISTINCT id FROM v ORDER BY id", None),
        (
            "SELECT v.id FROM v JOIN k ON k.a = v.n ORDER BY v.id, k.b",
            None,
        ),
    ] {
        let (_, plan) = run(&mut tx, sql, &[], false)?;
        match answered {
            Some(line) => assert!(
                !plan.contains("Sort") && plan.contains(line),
                "{sql}\n{plan}"
            ),
            None => assert!(
                plan.contains("Sort") && !plan.contains("reverse"),
                "{sql}\n{plan}"
            ),
        }
    }
    Ok(())
}

/// A reused plan decides on the bound access path: the same text loses its sort for one
/// binding (a key range) and keeps it for another (an index range), with the rows of the
/// statement planned with the values and every sort kept.
#[test]
fn reused_plans_decide_on_the_bound_access_path() -> Result<()> {
    let engine = engine_with_tables()?;
    let mut tx = engine.begin(IsolationLevel::default());
    let int = Value::Int;
    for (sql, params) in [
        (
            "SELECT * FROM v WHERE id > ? ORDER BY id DESC",
            vec![int(-10)],
        ),
        ("SELECT * FROM v WHERE id > ? ORDER BY id", vec![int(-10)]),
        ("SELECT id FROM v WHERE n > ? ORDER BY id", vec![int(0)]),
        (
            "SELECT id FROM v WHERE n = ? ORDER BY id DESC",
            vec![int(5)],
        ),
        (
            "SELECT id FROM v WHERE n = ? ORDER BY id DESC",
            vec![Value::Null],
        ),
        ("SELECT id FROM v WHERE n >= ? ORDER BY n", vec![int(-3)]),
        (
            "SELECT id FROM v WHERE n >= ? ORDER BY n",
            vec![Value::Float(0.5)],
        ),
        (
            "SELECT id FROM v WHERE id IN (?, ?) ORDER BY id DESC",
            vec![int(3), int(-7)],
        ),
        ("SELECT * FROM k WHERE a = ? ORDER BY b DESC", vec![int(1)]),
        (
            "SELECT * FROM k WHERE a = ? ORDER BY b DESC",
            vec![Value::Text("1".into())],
        ),
    ] {
        let Ok((sorted, _)) = run(&mut tx, sql, &params, true) else {
            assert!(
                run(&mut tx, sql, &params, false).is_err(),
                "{sql} {params:?}"
            );
            continue;
        };
        let (with_values, plan) = run(&mut tx, sql, &params, false)?;
        let mut storage = TableStorage::new(&mut tx);
        let prepared = Prepared::plan(&mut storage, cache::statement(sql)?)?.expect("a SELECT");
        let bound = prepared.bind(&params)?;
        assert_eq!(bound.explain(), plan, "{sql} {params:?}");
        let rows = execution::execute(bound, &mut storage, None)?.rows;
        assert_eq!(shown(&rows), shown(&sorted), "{sql} {params:?}\n{plan}");
        assert_eq!(shown(&with_values), shown(&sorted), "{sql} {params:?}");
    }
    let mut storage = TableStorage::new(&mut tx);
    let sql = "SELECT id FROM v WHERE n > ? ORDER BY id";
    let prepared = Prepared::plan(&mut storage, cache::statement(sql)?)?.expect("a SELECT");
    let explain = |p: Plan| p.explain();
    assert!(explain(prepared.bind(&[int(0)])?).contains("Sort"));
    let sql = "SELECT id FROM v WHERE id > ? ORDER BY id";
    let prepared = Prepared::plan(&mut storage, cache::statement(sql)?)?.expect("a SELECT");
    assert!(!explain(prepared.bind(&[int(0)])?).contains("Sort"));
    Ok(())
}

/// A table `t (id INTEGER PRIMARY KEY, a <a_type>, g INTEGER)` of ids 0..10,000, `a` = `a_of(id)`
/// (indexed by `t_a`) and `g` = `id % 3`.
fn ten_thousand_rows(a_type: &str, a_of: impl Fn(i64) -> i64) -> Result<Engine> {
    let engine = Engine::open_in_memory(Options::default())?;
    let create = format!("CREATE TABLE t (id INTEGER PRIMARY KEY, a {a_type}, g INTEGER)");
    crate::sql::query(&engine, &create, &[])?;
    crate::sql::query(&engine, "CREATE INDEX t_a ON t (a)", &[])?;
    for chunk in 0..10 {
        let values: Vec<String> = (0..1000)
            .map(|i| {
                let id = chunk * 1000 + i;
                format!("({id}, {}, {})", a_of(id), id % 3)
            })
            .collect();
        let insert = format!("INSERT INTO t VALUES {}", values.join(", "));
        crate::sql::query(&engine, &insert, &[])?;
    }
    Ok(engine)
}

/// Rows `sql` made the scans read.
fn rows_read(engine: &Engine, sql: &str, params: &[Value]) -> Result<(usize, Vec<Row>)> {
    ROWS_READ.with(|n| n.set(0));
    let rows = crate::sql::query(engine, sql, params)?.rows;
    Ok((ROWS_READ.with(std::cell::Cell::get), rows))
}

/// Under a LIMIT, an ORDER BY the access path answers stops the scan once the rows are out:
/// `ORDER BY id LIMIT 5` over 10,000 rows reads 5 of them, forwards or backwards, through a
/// key range, an index and a reused plan (an index scan's storage still fetches its rows a
/// chunk at a time below this count, see `table::index`).
#[test]
fn a_limit_over_the_key_order_stops_the_scan() -> Result<()> {
    let engine = ten_thousand_rows("INTEGER", |id| id % 97)?;
    let int = |i: i64| vec![Value::Int(i)];
    for (sql, params, want) in [
        ("SELECT * FROM t ORDER BY id LIMIT 5", vec![], int(0)),
        (
            "SELECT id FROM t ORDER BY id DESC LIMIT 5",
            vec![],
            int(9999),
        ),
        (
            "SELECT id FROM t ORDER BY id LIMIT 5 OFFSET 3",
            vec![],
            int(3),
        ),
        (
            "SELECT id FROM t WHERE id > 100 ORDER BY id LIMIT 5",
            vec![],
            int(101),
        ),
        (
            "SELECT id FROM t WHERE g = 1 ORDER BY id LIMIT 5",
            vec![],
            int(1),
        ),
        (
            "SELECT id FROM t WHERE id < ? ORDER BY id DESC LIMIT 5",
            int(500),
            int(499),
        ),
        (
            "SELECT id FROM t WHERE id < ? ORDER BY id DESC LIMIT 5",
            int(500),
            int(499),
        ),
        (
            "SELECT id FROM t WHERE a > 95 ORDER BY a, id LIMIT 5",
            vec![],
            int(96),
        ),
        (
            "SELECT id FROM t WHERE a = 7 ORDER BY id DESC LIMIT 5",
            vec![],
            int(9998),
        ),
    ] {
        let (read, rows) = rows_read(&engine, sql, &params)?;
        assert_eq!(rows.len(), 5, "{sql}");
        assert_eq!(rows.first().and_then(|r| r.first()), want.first(), "{sql}");
        assert!(read <= 24, "{sql}: {read} rows read");
    }
    let (read, _) = rows_read(&engine, "SELECT id FROM t ORDER BY a LIMIT 5", &[])?;
    assert_eq!(
        read, 10_000,
        "an order no access path gives reads the table"
    );
    Ok(())
}

/// Inside a transaction, a scan read backwards merges its own writes (inserted, updated and
/// deleted rows and index entries) as the sorted plan sees them.
#[test]
fn backward_scans_see_the_transactions_own_writes() -> Result<()> {
    let engine = engine_with_tables()?;
    let mut tx = engine.begin(IsolationLevel::default());
    for write in [
        "INSERT INTO v (id, n, u) VALUES (-500, 5, 1000), (500, 5, 1001), (7, 5, 1002)",
        "UPDATE v SET n = 5, u = u + 2000 WHERE id BETWEEN -20 AND 20",
        "DELETE FROM v WHERE id > 150",
        "INSERT INTO k VALUES (1, 'zz', 0.5), (1, '', NULL)",
        "DELETE FROM k WHERE a = 1 AND b > '5'",
    ] {
        execute(&mut tx, write, &[])?;
    }
    for sql in [
        "SELECT id FROM v ORDER BY id DESC",
        "SELECT id FROM v WHERE id < 100 ORDER BY id DESC LIMIT 30",
        "SELECT id FROM v WHERE n = 5 ORDER BY id DESC",
        "SELECT id, u FROM v WHERE u > 300 ORDER BY u DESC",
        "SELECT id, n FROM v WHERE n > 0 ORDER BY n DESC, id DESC",
        "SELECT b FROM k WHERE a = 1 ORDER BY b DESC",
    ] {
        let plan = same_as_sorted(&mut tx, sql)?;
        assert!(plan.contains("(reverse)"), "{sql}\n{plan}");
    }
    Ok(())
}

/// Under a LIMIT, a full scan ordered by a NOT NULL column with a B-Tree index reads the index
/// in order instead: the same rows as the sort over the whole table, and the shapes it must not
/// take (a nullable or hash-indexed column, ties read backwards, no LIMIT, a narrower access
/// path, an aggregate) keep their sort. Over a prepared plan, binding decides it.
#[test]
fn a_limit_reads_a_not_null_index_in_its_order() -> Result<()> {
    let engine = Engine::open_in_memory(Options::default())?;
    let mut tx = engine.begin(IsolationLevel::default());
    for ddl in [
        "CREATE TABLE o (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, s TEXT NOT NULL, \
         u INTEGER NOT NULL, n INTEGER, x INTEGER NOT NULL, d DOCUMENT NOT NULL)",
        "CREATE INDEX o_a ON o (a)",
        "CREATE INDEX o_s ON o (s)",
        "CREATE UNIQUE INDEX o_u ON o (u)",
        "CREATE INDEX o_n ON o (n)",
        "CREATE INDEX o_x ON o USING HASH (x)",
        "CREATE INDEX o_d ON o (d)",
    ] {
        execute(&mut tx, ddl, &[])?;
    }
    let mut next = random(5);
    for i in 0..300i64 {
        let id = (i * 7919) % 600 - 300;
        let row = format!(
            "INSERT INTO o VALUES ({id}, {}, {}, {}, {}, {}, {})",
            pick(
                &["-3", "0", "5", "5", "7", "-9223372036854775808"],
                &mut next
            ),
            pick(&["''", "'a'", "'A'", "'ab'", "'é'", "'z'"], &mut next),
            (i * 13) % 307,
            pick(&["NULL", "1", "2"], &mut next),
            pick(&["1", "2", "3", "4"], &mut next),
            pick(&["1", "2.5", "3"], &mut next),
        );
        execute(&mut tx, &row, &[])?;
    }
    for (sql, answered) in [
        ("SELECT * FROM o ORDER BY a LIMIT 7", Some("IndexScan o.a")),
        (
            "SELECT id FROM o ORDER BY a, id LIMIT 7",
            Some("IndexScan o.a"),
        ),
        (
            "SELECT * FROM o ORDER BY a DESC, id DESC LIMIT 7",
            Some("(reverse)"),
        ),
        (
            "SELECT * FROM o ORDER BY s LIMIT 5 OFFSET 3",
            Some("IndexScan o.s"),
        ),
        ("SELECT * FROM o ORDER BY u DESC LIMIT 5", Some("(reverse)")),
        (
            "SELECT * FROM o ORDER BY u LIMIT 500",
            Some("IndexScan o.u"),
        ),
        (
            "SELECT id, a FROM o WHERE x > 2 ORDER BY a LIMIT 9",
            Some("IndexScan o.a"),
        ),
        // Ties of a non-unique index would come out reversed.
        ("SELECT * FROM o ORDER BY a DESC LIMIT 7", None),
        // NULLs are not indexed; a hash index has no order; a DOCUMENT's keys are not its order.
        ("SELECT * FROM o ORDER BY n LIMIT 7", None),
        ("SELECT * FROM o ORDER BY x LIMIT 7", None),
        ("SELECT * FROM o ORDER BY d LIMIT 7", None),
        // Without a LIMIT the whole table is read either way; a key range is kept.
        ("SELECT * FROM o ORDER BY a", None),
        ("SELECT * FROM o WHERE id > 0 ORDER BY a LIMIT 7", None),
        (
            "SELECT a, count(*) FROM o GROUP BY a ORDER BY a LIMIT 3",
            None,
        ),
    ] {
        let plan = same_as_sorted(&mut tx, sql)?;
        match answered {
            Some(line) => assert!(
                !plan.contains("Sort") && plan.contains(line),
                "{sql}\n{plan}"
            ),
            None => assert!(plan.contains("Sort"), "{sql}\n{plan}"),
        }
    }
    // A prepared plan: the filter's parameter leaves the access path to binding, which then
    // reads the index.
    let sql = "SELECT id, a FROM o WHERE x > ? ORDER BY a LIMIT 9";
    let params = [Value::Int(2)];
    let (sorted, _) = run(&mut tx, sql, &params, true)?;
    let mut storage = TableStorage::new(&mut tx);
    let prepared = Prepared::plan(&mut storage, cache::statement(sql)?)?.expect("a SELECT");
    let bound = prepared.bind(&params)?;
    let plan = bound.explain();
    assert!(
        plan.contains("IndexScan o.a") && !plan.contains("Sort"),
        "{plan}"
    );
    let rows = execution::execute(bound, &mut storage, None)?.rows;
    assert_eq!(shown(&rows), shown(&sorted), "{plan}");
    Ok(())
}

/// `ORDER BY a LIMIT 5` over 10,000 rows, `a` NOT NULL and indexed, reads a few rows, not the
/// table (the same with a nullable `a` reads all of them, see
/// `a_limit_over_the_key_order_stops_the_scan`).
#[test]
fn a_limit_over_a_not_null_index_stops_the_scan() -> Result<()> {
    let engine = ten_thousand_rows("INTEGER NOT NULL", |id| (id * 7) % 10_007)?;
    for (sql, params) in [
        ("SELECT id, a FROM t ORDER BY a LIMIT 5", vec![]),
        (
            "SELECT id, a FROM t WHERE g = ? ORDER BY a LIMIT 5",
            vec![Value::Int(0)],
        ),
    ] {
        let (read, rows) = rows_read(&engine, sql, &params)?;
        assert_eq!(rows.len(), 5, "{sql}");
        assert_eq!(
            rows.first().and_then(|r| r.get(1)),
            Some(&Value::Int(0)),
            "{sql}"
        );
        assert!(read <= 24, "{sql}: {read} rows read");
    }
    Ok(())
}
